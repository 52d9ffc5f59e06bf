// Writing JSON: a string escaper that turns any bytes into a valid JSON
// string, and a small streaming writer for objects and arrays.
//
//     forkserve::JsonWriter json;
//     json.begin_object().key("name").value(name).key("tags").begin_array();
//     for (auto& t : tags) json.value(t);
//     json.end_array().end_object();
//     std::string text = std::move(json).str();
//
// For *reading* JSON use a maintained parser (Debian: nlohmann-json3-dev,
// `#include <nlohmann/json.hpp>`); doc/handlers.md shows how.
#ifndef FORKSERVE_JSON_HPP
#define FORKSERVE_JSON_HPP

#include <charconv>
#include <cmath>
#include <concepts>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace forkserve {

namespace detail {
// Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, no
// surrogates, nothing past U+10FFFF) at the start of `s`, or 0.
inline std::size_t utf8_sequence_length(std::string_view s) {
  const auto byte = [&s](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  std::size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() < n || byte(1) < lo || byte(1) > hi) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return n;
}
}  // namespace detail

// `text` as the inside of a JSON string: quotes, backslashes and control
// characters escaped, '<' '>' '&' too (so the text is also safe inside an
// HTML <script>), and each byte that is not part of well-formed UTF-8
// replaced by U+FFFD: the result is valid JSON whatever a client sent.
inline std::string json_escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() + 2);
  while (!text.empty()) {
    const std::size_t n = detail::utf8_sequence_length(text);
    if (n == 0) {
      out.append("\\ufffd");
      text.remove_prefix(1);
      continue;
    }
    if (n > 1) {
      out.append(text.substr(0, n));
      text.remove_prefix(n);
      continue;
    }
    const char c = text.front();
    text.remove_prefix(1);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == '<' || c == '>' || c == '&') {
          out.append("\\u00").push_back(kHex[(c >> 4) & 15]);
          out.push_back(kHex[c & 15]);
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

// Builds one JSON text. Misuse (a value where a key is due, end_object()
// closing an array, str() before everything is closed) throws
// std::logic_error: a bug in the handler, not bad input.
class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{', Frame::Object); }
  JsonWriter& end_object() { return close('}', Frame::Object); }
  JsonWriter& begin_array() { return open('[', Frame::Array); }
  JsonWriter& end_array() { return close(']', Frame::Array); }

  JsonWriter& key(std::string_view name) {
    if (stack_.empty() || stack_.back().kind != Frame::Object || stack_.back().key_written) {
      throw std::logic_error("JsonWriter: key() outside an object or twice");
    }
    if (stack_.back().count++ > 0) out_.push_back(',');
    out_.append("\"").append(json_escape(name)).append("\":");
    stack_.back().key_written = true;
    return *this;
  }

  JsonWriter& value(std::string_view text) {
    before_value();
    out_.append("\"").append(json_escape(text)).append("\"");
    return *this;
  }
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(bool b) {
    before_value();
    out_.append(b ? "true" : "false");
    return *this;
  }
  JsonWriter& value(std::nullptr_t) {
    before_value();
    out_.append("null");
    return *this;
  }
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  JsonWriter& value(T number) {
    before_value();
    out_.append(std::to_string(number));
    return *this;
  }
  // Non-finite numbers have no JSON form: they are written as null.
  JsonWriter& value(double number) {
    before_value();
    if (!std::isfinite(number)) {
      out_.append("null");
      return *this;
    }
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, number);
    out_.append(buffer, end);
    return *this;
  }

  // The text so far; complete once every object and array is closed.
  std::string_view view() const { return out_; }
  std::string str() && {
    if (!stack_.empty() || out_.empty()) throw std::logic_error("JsonWriter: str() of an unfinished value");
    return std::move(out_);
  }

 private:
  struct Frame {
    enum Kind { Object, Array } kind;
    std::size_t count = 0;
    bool key_written = false;
  };

  void before_value() {
    if (stack_.empty()) {
      if (!out_.empty()) throw std::logic_error("JsonWriter: a second top-level value");
      return;
    }
    Frame& top = stack_.back();
    if (top.kind == Frame::Object) {
      if (!top.key_written) throw std::logic_error("JsonWriter: a value in an object needs key() first");
      top.key_written = false;
    } else if (top.count++ > 0) {
      out_.push_back(',');
    }
  }
  JsonWriter& open(char bracket, Frame::Kind kind) {
    before_value();
    out_.push_back(bracket);
    stack_.push_back({kind});
    return *this;
  }
  JsonWriter& close(char bracket, Frame::Kind kind) {
    if (stack_.empty() || stack_.back().kind != kind || stack_.back().key_written) {
      throw std::logic_error("JsonWriter: unbalanced close");
    }
    stack_.pop_back();
    out_.push_back(bracket);
    return *this;
  }

  std::string out_;
  std::vector<Frame> stack_;
};

}  // namespace forkserve

#endif  // FORKSERVE_JSON_HPP

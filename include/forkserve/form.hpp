// Parsing what clients send in URLs, forms and cookies: percent decoding,
// application/x-www-form-urlencoded (query strings and form bodies), Cookie
// headers and media-type parameters. Pure functions over string_views; the
// hostile cases (bad escapes, junk cookies, endless input) are tested and
// fuzzed (tests/fuzz/form_fuzz.cpp).
//
//     forkserve::Fields q = forkserve::parse_urlencoded("tag=a+b&tag=c%21");
//     q.get("tag");      // "a b" (the first)
//     q.get_all("tag");  // {"a b", "c!"}
#ifndef FORKSERVE_FORM_HPP
#define FORKSERVE_FORM_HPP

#include <cstddef>
#include <forkserve/http_rules.hpp>
#include <forkserve/status.hpp>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace forkserve {

// Bounds on what the form parsers accept from a client. Past one, they throw
// HttpError 413 instead of holding more in memory.
struct FormLimits {
  std::size_t max_body_bytes = 1 << 20;      // a urlencoded body, or a whole multipart one
  std::size_t max_fields = 1000;             // fields of a form or query; parts of a multipart body
  std::size_t max_part_header_bytes = 8192;  // one multipart part's header block
};

namespace detail {
// url_decode without the exception: nullopt for a '%' not followed by two hex digits.
inline std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space = false) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      const int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
      const int lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
      if (lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A request path as the server decodes it for PATH_INFO: nullopt, which the
// server answers with 400, for a malformed escape or an encoded NUL (it would
// cut a file name short).
inline std::optional<std::string> decode_request_path(std::string_view raw_path) {
  std::optional<std::string> path = percent_decode(raw_path);
  if (path && path->find('\0') != std::string::npos) return std::nullopt;
  return path;
}
}  // namespace detail

// "%41+b" → "A+b", or "A b" with plus_is_space (form encoding). A '%' not
// followed by two hex digits throws BadRequest. Decoded bytes are not checked
// to be UTF-8: they are whatever the client sent.
inline std::string url_decode(std::string_view text, bool plus_is_space = false) {
  std::optional<std::string> out = detail::percent_decode(text, plus_is_space);
  if (!out) throw BadRequest("malformed percent escape in \"" + std::string(text.substr(0, 64)) + "\"");
  return std::move(*out);
}

// Percent-encodes every byte but RFC 3986's unreserved ones (A-Z a-z 0-9 - . _ ~),
// so the result is safe in a query value, a path segment or a cookie value.
inline std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Name/value pairs in the order they came, repeated names kept (a query, a
// form, cookies). Lookups compare names exactly.
class Fields {
 public:
  using Field = std::pair<std::string, std::string>;

  Fields() = default;
  Fields(std::initializer_list<Field> fields) : fields_(fields) {}

  void add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }

  // The first value of `name`.
  std::optional<std::string_view> get(std::string_view name) const {
    for (const Field& f : fields_) {
      if (f.first == name) return std::string_view(f.second);
    }
    return std::nullopt;
  }
  std::string_view get_or(std::string_view name, std::string_view fallback) const {
    return get(name).value_or(fallback);
  }
  std::vector<std::string_view> get_all(std::string_view name) const {
    std::vector<std::string_view> values;
    for (const Field& f : fields_) {
      if (f.first == name) values.emplace_back(f.second);
    }
    return values;
  }
  bool contains(std::string_view name) const { return get(name).has_value(); }

  std::size_t size() const { return fields_.size(); }
  bool empty() const { return fields_.empty(); }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

 private:
  std::vector<Field> fields_;
};

// "a=1&b=x+y&c" → a:"1", b:"x y", c:"". Empty pairs ("a=1&&b=2") are skipped;
// a bad escape throws BadRequest; more than `max_fields` pairs throw
// HttpError 413.
inline Fields parse_urlencoded(std::string_view text, std::size_t max_fields = FormLimits{}.max_fields) {
  Fields fields;
  while (!text.empty()) {
    const std::size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    text.remove_prefix(amp == std::string_view::npos ? text.size() : amp + 1);
    if (pair.empty()) continue;
    if (fields.size() == max_fields) {
      throw HttpError(status::content_too_large, "more than " + std::to_string(max_fields) + " form fields");
    }
    const std::size_t eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    fields.add(url_decode(name, true), url_decode(value, true));
  }
  return fields;
}

// The inverse: "a=x+y&b=%21" from fields, names and values encoded.
inline std::string to_urlencoded(const Fields& fields) {
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out.push_back('&');
    out.append(url_encode(name)).append("=").append(url_encode(value));
  }
  return out;
}

// A Cookie header ("a=1; b=\"two\"") as fields. Browsers send junk: a pair
// without '=', a name that is not a token or an empty name is skipped, not an
// error; a value's surrounding double quotes are dropped. Values are not
// percent-decoded (RFC 6265 gives them no encoding); the first of two equal
// names is the one get() returns, as browsers send the most specific first.
inline Fields parse_cookies(std::string_view header, std::size_t max_cookies = FormLimits{}.max_fields) {
  Fields cookies;
  while (!header.empty() && cookies.size() < max_cookies) {
    const std::size_t semi = header.find(';');
    const std::string_view pair = detail::trim(header.substr(0, semi));
    header.remove_prefix(semi == std::string_view::npos ? header.size() : semi + 1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = detail::trim(pair.substr(0, eq));
    std::string_view value = detail::trim(pair.substr(eq + 1));
    if (!detail::is_token(name)) continue;
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
      value = value.substr(1, value.size() - 2);
    cookies.add(std::string(name), std::string(value));
  }
  return cookies;
}

// A parsed Content-Type (or Content-Disposition) value:
// "multipart/form-data; boundary=\"x y\"" → type "multipart/form-data"
// (lower case), parameter("boundary") "x y". Malformed parameters are
// skipped; quoted strings may hold backslash escapes.
struct MediaType {
  std::string type;
  Fields parameters;  // names in lower case

  std::optional<std::string_view> parameter(std::string_view name) const { return parameters.get(name); }

  static MediaType parse(std::string_view text) {
    MediaType media;
    const std::size_t semi = text.find(';');
    for (char c : detail::trim(text.substr(0, semi))) media.type.push_back(detail::ascii_lower(c));
    if (semi == std::string_view::npos) return media;
    text.remove_prefix(semi + 1);
    while (!text.empty()) {
      text = detail::trim(text);
      const std::size_t eq = text.find('=');
      const std::size_t end = text.find(';');
      if (eq == std::string_view::npos || (end != std::string_view::npos && end < eq)) {
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);  // "; junk;"
        continue;
      }
      std::string name;
      for (char c : detail::trim(text.substr(0, eq))) name.push_back(detail::ascii_lower(c));
      text.remove_prefix(eq + 1);
      text = detail::trim(text);
      std::string value;
      if (!text.empty() && text.front() == '"') {
        std::size_t i = 1;
        bool closed = false;
        for (; i < text.size(); ++i) {
          if (text[i] == '\\' && i + 1 < text.size()) {
            value.push_back(text[++i]);
          } else if (text[i] == '"') {
            closed = true;
            ++i;
            break;
          } else {
            value.push_back(text[i]);
          }
        }
        text.remove_prefix(i);
        if (!closed) break;  // an unterminated quote ends the list
        const std::size_t next = text.find(';');
        text.remove_prefix(next == std::string_view::npos ? text.size() : next + 1);
      } else {
        const std::size_t next = text.find(';');
        value = std::string(detail::trim(text.substr(0, next)));
        text.remove_prefix(next == std::string_view::npos ? text.size() : next + 1);
      }
      if (detail::is_token(name)) media.parameters.add(std::move(name), std::move(value));
    }
    return media;
  }
};

}  // namespace forkserve

#endif  // FORKSERVE_FORM_HPP

// Request-head parser. One forward pass, bytes classified by table lookup (the
// request line, once its end is found, is split on its two spaces). Every
// check is decided by the bytes seen so far, so a prefix of a request parses
// as Incomplete or as the same error as the whole.
#include "http/request_parser.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

namespace forkserve::http {
namespace {

// RFC 9112 §2.2 lets a server skip empty lines before the request line; a
// handful covers a stray CRLF, and the bound keeps a CRLF flood from costing.
constexpr int kMaxLeadingEmptyLines = 4;

// Absolute-form without a path ("http://host") names the root.
constexpr std::string_view kRootPath = "/";

// Byte classes.
constexpr std::uint8_t kToken = 1;      // tchar, RFC 9110 §5.6.2
constexpr std::uint8_t kVisible = 2;    // VCHAR or obs-text: > 0x20 and != 0x7F
constexpr std::uint8_t kLineChar = 4;   // request line: visible or SP
constexpr std::uint8_t kValueChar = 8;  // field value: visible, SP or HTAB

constexpr std::array<std::uint8_t, 256> kByteClass = [] {
  std::array<std::uint8_t, 256> table{};
  for (int c = 0x21; c < 0x100; ++c) {
    if (c != 0x7F) table[c] = kVisible | kLineChar;
  }
  table[' '] = kLineChar;
  for (int c = 0; c < 0x100; ++c) {
    if (forkserve::detail::is_field_char(static_cast<char>(c))) table[c] |= kValueChar;
    if (forkserve::detail::is_token_char(static_cast<char>(c))) table[c] |= kToken;
  }
  return table;
}();

bool has_class(char c, std::uint8_t byte_class) {
  return (kByteClass[static_cast<unsigned char>(c)] & byte_class) != 0;
}

bool is_line_end(char c) { return c == '\r' || c == '\n'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool starts_with_ignoring_case(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Content-Length = 1*DIGIT (RFC 9110 §8.6); a sign, a list or an overflow is an error.
std::optional<unsigned long long> parse_content_length(std::string_view value) {
  if (value.empty()) return std::nullopt;
  constexpr unsigned long long kMax = std::numeric_limits<unsigned long long>::max();
  unsigned long long n = 0;
  for (char c : value) {
    if (!is_digit(c)) return std::nullopt;
    const auto digit = static_cast<unsigned long long>(c - '0');
    if (n > (kMax - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
  }
  return n;
}

class HeadParser {
 public:
  HeadParser(std::string_view buffer, const Limits& limits)
      : buf_(buffer), limits_(limits), avail_(std::min(buffer.size(), limits.max_header_bytes)) {}

  ParseResult parse() {
    std::size_t pos = 0;
    if (skip_empty_lines(pos) && request_line(pos) && fields(pos) && framing()) {
      result_.status = ParseStatus::Complete;
      result_.head_length = pos;
      result_.head = std::move(head_);
    }
    return std::move(result_);
  }

 private:
  // Each step returns true to go on, or false once result_ holds the answer.
  bool fail(int status, std::string_view reason) {
    result_.status = ParseStatus::Error;
    result_.error_status = status;
    result_.reason = reason;
    return false;
  }

  // The next byte is not here. Only the first max_header_bytes of the buffer
  // are looked at, so running out there means the head cannot fit.
  bool need_more() {
    if (avail_ == limits_.max_header_bytes) return fail(431, "request head too large");
    result_.status = ParseStatus::Incomplete;
    return false;
  }

  // At a CR or LF: step over CRLF or a bare LF.
  bool line_ending(std::size_t& pos) {
    if (buf_[pos] == '\n') {
      ++pos;
      return true;
    }
    if (pos + 1 == avail_) return need_more();
    if (buf_[pos + 1] != '\n') return fail(400, "bare CR");
    pos += 2;
    return true;
  }

  bool skip_empty_lines(std::size_t& pos) {
    for (int skipped = 0;; ++skipped) {
      if (pos == avail_) return need_more();
      if (!is_line_end(buf_[pos])) return true;
      if (skipped == kMaxLeadingEmptyLines) return fail(400, "too many empty lines before request line");
      if (!line_ending(pos)) return false;
    }
  }

  // request-line = method SP request-target SP HTTP-version (RFC 9112 §3).
  bool request_line(std::size_t& pos) {
    const std::size_t start = pos;
    // Scan at most one byte past the limit, so an endless line is caught early.
    const std::size_t room = avail_ - start;
    const std::size_t stop = limits_.max_request_line < room ? start + limits_.max_request_line + 1 : avail_;
    while (pos < stop && has_class(buf_[pos], kLineChar)) ++pos;
    if (pos - start > limits_.max_request_line) return fail(414, "request line too long");
    if (pos == avail_) return need_more();
    if (!is_line_end(buf_[pos])) return fail(400, "invalid character in request line");
    const std::string_view line = buf_.substr(start, pos - start);
    return line_ending(pos) && split_request_line(line);
  }

  // The line holds only SP and visible bytes here.
  bool split_request_line(std::string_view line) {
    head_.request_line = line;
    const std::size_t method_end = line.find(' ');
    head_.method = line.substr(0, method_end);
    if (!is_token(head_.method)) return fail(400, "invalid method");
    if (method_end == std::string_view::npos) return fail(400, "missing request target");
    const std::size_t target_end = line.find(' ', method_end + 1);
    if (target_end == std::string_view::npos) return fail(400, "missing HTTP version");
    head_.target = line.substr(method_end + 1, target_end - method_end - 1);
    head_.version = line.substr(target_end + 1);
    return target() && version();
  }

  bool target() {
    const std::string_view t = head_.target;
    if (t.empty()) return fail(400, "empty request target");
    if (t == "*") {  // asterisk-form, RFC 9112 §3.2.4
      if (head_.method != "OPTIONS") return fail(400, "asterisk-form target without OPTIONS");
      head_.path = t;
      return true;
    }
    if (t[0] == '/') return split_query(t);  // origin-form
    // absolute-form, RFC 9112 §3.2.2: keep the path, the authority goes.
    std::string_view rest;
    if (starts_with_ignoring_case(t, "http://")) {
      rest = t.substr(7);
    } else if (starts_with_ignoring_case(t, "https://")) {
      rest = t.substr(8);
    } else {
      return fail(400, "invalid request target");
    }
    const std::size_t authority_end = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, authority_end);
    if (authority.empty()) return fail(400, "absolute-form target without host");
    if (authority.find('@') != std::string_view::npos) return fail(400, "userinfo in request target");
    if (authority_end == std::string_view::npos) {
      head_.path = kRootPath;
      return true;
    }
    if (rest[authority_end] == '?') {
      head_.path = kRootPath;
      head_.query = rest.substr(authority_end + 1);
      return true;
    }
    return split_query(rest.substr(authority_end));
  }

  bool split_query(std::string_view path_and_query) {
    const std::size_t q = path_and_query.find('?');
    head_.path = path_and_query.substr(0, q);
    if (q != std::string_view::npos) head_.query = path_and_query.substr(q + 1);
    return true;
  }

  // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
  bool version() {
    const std::string_view v = head_.version;
    if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7])) {
      return fail(400, "invalid HTTP version");
    }
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) return fail(505, "HTTP version not supported");
    head_.version_minor = v[7] - '0';
    return true;
  }

  // Field lines up to and including the blank line.
  bool fields(std::size_t& pos) {
    for (;;) {
      if (pos == avail_) return need_more();
      const char first = buf_[pos];
      if (is_line_end(first)) return line_ending(pos);
      // obs-fold, or whitespace before the first field (RFC 9112 §2.2, §5.2).
      if (forkserve::detail::is_space(first)) return fail(400, "header line starts with whitespace");
      if (!field_line(pos)) return false;
    }
  }

  // field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).
  bool field_line(std::size_t& pos) {
    const std::size_t name_start = pos;
    while (pos < avail_ && has_class(buf_[pos], kToken)) ++pos;
    if (pos == avail_) return need_more();
    if (buf_[pos] != ':') {
      if (pos == name_start) return fail(400, "invalid header name");
      if (forkserve::detail::is_space(buf_[pos])) return fail(400, "header name contains whitespace");
      if (is_line_end(buf_[pos])) return fail(400, "header line without colon");
      return fail(400, "invalid header name");
    }
    if (pos == name_start) return fail(400, "empty header name");
    const std::string_view name = buf_.substr(name_start, pos - name_start);
    ++pos;
    while (pos < avail_ && forkserve::detail::is_space(buf_[pos])) ++pos;
    const std::size_t value_start = pos;
    while (pos < avail_ && has_class(buf_[pos], kValueChar)) ++pos;
    if (pos == avail_) return need_more();
    if (!is_line_end(buf_[pos])) return fail(400, "invalid character in header value");
    std::size_t value_end = pos;
    while (value_end > value_start && forkserve::detail::is_space(buf_[value_end - 1])) --value_end;
    const std::string_view value = buf_.substr(value_start, value_end - value_start);
    return line_ending(pos) && add_field(name, value);
  }

  bool add_field(std::string_view name, std::string_view value) {
    if (head_.headers.size() == limits_.max_headers) return fail(431, "too many headers");
    // Framing headers decide where the body ends; any doubt is a smuggling risk (RFC 9112 §6.3).
    if (iequals(name, "Content-Length")) {
      if (head_.content_length) return fail(400, "two Content-Length headers");
      if (head_.chunked) return fail(400, "both Transfer-Encoding and Content-Length");
      head_.content_length = parse_content_length(value);
      if (!head_.content_length) return fail(400, "invalid Content-Length");
    } else if (iequals(name, "Transfer-Encoding")) {
      if (head_.content_length) return fail(400, "both Transfer-Encoding and Content-Length");
      // Only exactly one "chunked": a list ("gzip, chunked") or a second
      // field would need codings we do not decode.
      if (head_.chunked || !iequals(value, "chunked"))
        return fail(501, "Transfer-Encoding other than chunked is not supported");
      head_.chunked = true;
    } else if (iequals(name, "Host")) {
      if (has_host_) return fail(400, "two Host headers");
      has_host_ = true;
    }
    if (head_.headers.empty()) head_.headers.reserve(std::min<std::size_t>(limits_.max_headers, 16));
    head_.headers.push_back({name, value});
    return true;
  }

  // Checks that need the whole head.
  bool framing() {
    if (head_.version_minor == 1 && !has_host_) return fail(400, "missing Host header");
    // RFC 9112 §6.1: HTTP/1.0 has no transfer codings; its framing cannot be trusted.
    if (head_.chunked && head_.version_minor == 0)
      return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    return true;
  }

  const std::string_view buf_;
  const Limits& limits_;
  const std::size_t avail_;  // bytes the head may span: min(buffer size, max_header_bytes)
  RequestHead head_;
  bool has_host_ = false;
  ParseResult result_;
};

}  // namespace

ParseResult parse_request_head(std::string_view buffer, const Limits& limits) {
  return HeadParser(buffer, limits).parse();
}

const HeaderField* RequestHead::find(std::string_view name) const {
  for (const HeaderField& field : headers) {
    if (iequals(field.name, name)) return &field;
  }
  return nullptr;
}

bool RequestHead::expects_continue() const {
  const HeaderField* expect = find("Expect");
  return version_minor == 1 && expect != nullptr && iequals(expect->value, "100-continue");
}

}  // namespace forkserve::http

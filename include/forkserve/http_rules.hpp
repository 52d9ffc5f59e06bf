// What the server accepts from a handler, as one definition: the server
// checks start_response with these (src/http/response.cpp), and so does
// forkserve::testing's client, so a test fails exactly where production would.
// Also the HTTP name rules the helpers share.
#ifndef FORKSERVE_HTTP_RULES_HPP
#define FORKSERVE_HTTP_RULES_HPP

#include <array>
#include <optional>
#include <string_view>

namespace forkserve {

namespace detail {
constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
// RFC 9110 tchar.
constexpr bool is_token_char(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
constexpr bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_token_char(c)) return false;
  }
  return true;
}
// The value of one hex digit (either case), or -1.
constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
// Optional whitespace (RFC 9110 §5.6.3): spaces and tabs.
constexpr bool is_space(char c) { return c == ' ' || c == '\t'; }
// `s` without the optional whitespace around it.
constexpr std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}
// Field content: visible ASCII, space, tab and obs-text; no other control bytes.
constexpr bool is_field_char(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}
constexpr bool is_field_text(std::string_view text) {
  for (char c : text) {
    if (!is_field_char(c)) return false;
  }
  return true;
}
}  // namespace detail

// ASCII case-insensitive equality, as HTTP compares names.
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (detail::ascii_lower(a[i]) != detail::ascii_lower(b[i])) return false;
  }
  return true;
}

namespace rules {

// Connection management is the server's: a handler may not send these.
inline constexpr std::array<std::string_view, 9> kHopByHopHeaders = {
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
    "TE",         "Trailer",    "Trailers",           "Transfer-Encoding",
    "Upgrade"};

// nullopt if `status` is "NNN Reason" (200-599, reason without control
// characters), else what is wrong with it.
constexpr std::optional<std::string_view> check_status(std::string_view status) {
  if (status.size() < 4 || status[3] != ' ') return "status must look like \"200 OK\"";
  for (int i = 0; i < 3; ++i) {
    if (status[i] < '0' || status[i] > '9') return "status code must be three digits";
  }
  // 1xx are interim responses: the server never has a final one to follow them with.
  if (status[0] < '2' || status[0] > '5') return "status code must be between 200 and 599";
  if (!detail::is_field_text(status.substr(4))) return "status reason contains a control character";
  return std::nullopt;
}

// nullopt if the header may be sent, else why not: a name that is not a
// token, a value with CR, LF, NUL or another control character, or a
// hop-by-hop header.
constexpr std::optional<std::string_view> check_header(std::string_view name, std::string_view value) {
  if (!detail::is_token(name)) return "header name is not a token";
  if (!detail::is_field_text(value)) return "header value contains CR, LF, NUL or another control character";
  for (std::string_view hop : kHopByHopHeaders) {
    if (iequals(name, hop)) return "hop-by-hop header is the server's to send";
  }
  return std::nullopt;
}

}  // namespace rules
}  // namespace forkserve

#endif  // FORKSERVE_HTTP_RULES_HPP

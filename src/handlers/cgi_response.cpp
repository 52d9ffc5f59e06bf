#include "handlers/cgi_response.hpp"

#include <optional>

#include "http/request_parser.hpp"

namespace forkserve::handlers {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool is_value_byte(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "NNN" or "NNN reason" → "NNN reason"; nullopt when not a final status.
std::optional<std::string> status_line_of(std::string_view value) {
  if (value.size() < 3 || !is_digit(value[0]) || !is_digit(value[1]) || !is_digit(value[2]))
    return std::nullopt;
  int code = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
  if (code < 200 || code > 599) return std::nullopt;
  std::string_view rest = value.substr(3);
  if (!rest.empty() && rest.front() != ' ') return std::nullopt;
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  std::string line(value.substr(0, 3));
  line.append(" ").append(rest.empty() ? http::reason_phrase(code) : rest);
  return line;
}

// RFC 3986 absolute URI: scheme ":" ...; scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
bool is_absolute_uri(std::string_view value) {
  std::size_t colon = value.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  for (std::size_t i = 0; i < colon; ++i) {
    char c = value[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alpha && (i == 0 || !(is_digit(c) || c == '+' || c == '-' || c == '.'))) return false;
  }
  return true;
}

CgiHead error(std::string_view reason) {
  CgiHead head;
  head.status = CgiHeadStatus::Error;
  head.reason = reason;
  return head;
}

}  // namespace

CgiHead parse_cgi_head(std::string_view output, std::size_t max_bytes) {
  CgiHead head;
  std::optional<std::string> status;
  std::optional<std::string> location;
  bool content_type = false;
  std::size_t pos = 0;
  while (true) {
    std::size_t lf = output.find('\n', pos);
    if (lf == std::string_view::npos || lf >= max_bytes) {
      if (output.size() >= max_bytes) return error("header block too long");
      // A control byte in what has arrived is already fatal.
      for (std::size_t i = pos; i < output.size(); ++i) {
        if (!is_value_byte(output[i]) && !(output[i] == '\r' && i + 1 == output.size())) {
          return error("control character in a header line");
        }
      }
      return head;  // Incomplete
    }
    std::string_view line = output.substr(pos, lf - pos);
    pos = lf + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    if (is_blank(line.front())) return error("continuation line in the header block");
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return error("header line without a colon");
    std::string_view name = line.substr(0, colon);
    if (!http::is_token(name)) return error("invalid header name");
    std::string_view value = line.substr(colon + 1);
    for (char c : value) {
      if (!is_value_byte(c)) return error("control character in a header value");
    }
    while (!value.empty() && is_blank(value.front())) value.remove_prefix(1);
    while (!value.empty() && is_blank(value.back())) value.remove_suffix(1);

    if (http::iequals(name, "Status")) {
      if (status) return error("two Status headers");
      status = status_line_of(value);
      if (!status) return error("Status is not a final HTTP status code and reason");
    } else if (http::iequals(name, "Location")) {
      if (location) return error("two Location headers");
      bool local = value.size() > 0 && value.front() == '/' && (value.size() == 1 || value[1] != '/');
      if (!local && !is_absolute_uri(value))
        return error("Location is neither a local path nor an absolute URI");
      location = std::string(value);
    } else {
      if (http::iequals(name, "Content-Type")) {
        if (content_type) return error("two Content-Type headers");
        content_type = true;
      }
      head.headers.push_back({std::string(name), std::string(value)});
    }
  }
  if (!status && !location && !content_type) return error("no Content-Type, Location or Status header");

  head.status = CgiHeadStatus::Complete;
  head.head_length = pos;
  if (location && location->front() == '/' && (!status || status->starts_with("200"))) {
    head.kind = CgiResponseKind::LocalRedirect;
    head.location = std::move(*location);
    head.status_line = "200 OK";
    return head;
  }
  if (location) {
    head.kind = location->front() == '/' ? CgiResponseKind::Document : CgiResponseKind::ClientRedirect;
    head.headers.push_back({"Location", std::move(*location)});
    if (!status) status = "302 Found";
  }
  head.status_line = status ? std::move(*status) : "200 OK";
  return head;
}

int nph_status(std::string_view output) {
  // "HTTP/d.d NNN"
  if (output.size() < 12 || !output.starts_with("HTTP/") || output[8] != ' ') return 0;
  std::string_view code = output.substr(9, 3);
  if (!is_digit(code[0]) || !is_digit(code[1]) || !is_digit(code[2])) return 0;
  return (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
}

}  // namespace forkserve::handlers

#include "http/response.hpp"

#include <forkserve/version.hpp>

#include <algorithm>
#include <array>

#include "http/request_parser.hpp"

namespace forkserve::http {
namespace {

// Field content: visible ASCII, space, tab and obs-text; no other control bytes.
bool is_field_text(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

constexpr std::array<std::string_view, 9> kHopByHop = {
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE",
    "Trailer",    "Trailers",   "Transfer-Encoding",  "Upgrade"};

bool has_header(const std::vector<OwnedHeader>& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [name](const OwnedHeader& h) { return iequals(h.name, name); });
}

}  // namespace

std::optional<std::string_view> check_status(std::string_view status) {
  if (status.size() < 4 || status[3] != ' ') return "status must look like \"200 OK\"";
  for (int i = 0; i < 3; ++i) {
    if (status[i] < '0' || status[i] > '9') return "status code must be three digits";
  }
  // 1xx are interim responses: the server never has a final one to follow them with.
  if (status[0] < '2' || status[0] > '5') return "status code must be between 200 and 599";
  if (!is_field_text(status.substr(4))) return "status reason contains a control character";
  return std::nullopt;
}

std::optional<std::string_view> check_header(std::string_view name, std::string_view value) {
  if (!is_token(name)) return "header name is not a token";
  if (!is_field_text(value)) return "header value contains CR, LF, NUL or another control character";
  for (std::string_view hop : kHopByHop) {
    if (iequals(name, hop)) return "hop-by-hop header is the server's to send";
  }
  return std::nullopt;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string serialize_head(std::string_view status, const std::vector<OwnedHeader>& headers,
                           std::optional<unsigned long long> content_length, std::string_view date) {
  std::string head;
  head.reserve(128 + headers.size() * 48);
  head.append("HTTP/1.0 ").append(status).append("\r\n");
  if (!has_header(headers, "Date")) head.append("Date: ").append(date).append("\r\n");
  if (!has_header(headers, "Server")) head.append("Server: forkserve/" FORKSERVE_VERSION "\r\n");
  for (const OwnedHeader& h : headers) head.append(h.name).append(": ").append(h.value).append("\r\n");
  if (content_length && !has_header(headers, "Content-Length")) {
    head.append("Content-Length: ").append(std::to_string(*content_length)).append("\r\n");
  }
  head.append("Connection: close\r\n\r\n");
  return head;
}

std::string error_response(int status, std::string_view detail, std::string_view date,
                           const std::vector<OwnedHeader>& extra_headers) {
  std::string status_line = std::to_string(status);
  status_line.append(" ").append(reason_phrase(status));
  std::string body = status_line;
  if (!detail.empty()) body.append(": ").append(detail);
  body.append("\n");
  std::vector<OwnedHeader> headers = extra_headers;
  headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  return serialize_head(status_line, headers, body.size(), date) + body;
}

}  // namespace forkserve::http

#include "http/response.hpp"

#include <forkserve/http_rules.hpp>
#include <forkserve/version.hpp>

#include <algorithm>
#include <array>

#include "http/request_parser.hpp"

namespace forkserve::http {
namespace {

bool has_header(const std::vector<OwnedHeader>& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(),
                     [name](const OwnedHeader& h) { return iequals(h.name, name); });
}

}  // namespace

std::optional<std::string_view> check_status(std::string_view status) { return rules::check_status(status); }

std::optional<std::string_view> check_header(std::string_view name, std::string_view value) {
  return rules::check_header(name, value);
}

std::string_view reason_phrase(int status) {
  // RFC 9110 §15 (and RFC 6585's 428, 429, 431): a CGI program may set any of them.
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
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

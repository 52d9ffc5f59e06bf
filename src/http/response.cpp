#include "http/response.hpp"

#include <algorithm>
#include <array>
#include <forkserve/http_rules.hpp>
#include <forkserve/status.hpp>
#include <forkserve/version.hpp>

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

// One table with the SDK's forkserve::Status, so a CGI "Status: 422" or a
// static answer gets the same phrase a handler's constant does.
std::string_view reason_phrase(int status) {
  if (const auto line = detail::status_line_for(status)) return line->substr(4);
  return "Unknown";
}

std::string status_line(int status) {
  return std::to_string(status).append(" ").append(reason_phrase(status));
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
  const std::string line = status_line(status);
  std::string body = line;
  if (!detail.empty()) body.append(": ").append(detail);
  body.append("\n");
  std::vector<OwnedHeader> headers = extra_headers;
  headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  return serialize_head(line, headers, body.size(), date) + body;
}

}  // namespace forkserve::http

#include "connection/environ.hpp"

#include <algorithm>
#include <forkserve/request.hpp>
#include <forkserve/version.hpp>

#include "http/url.hpp"

namespace forkserve {
namespace {

// The host part of a Host header value: "example.com:8080" → "example.com",
// "[::1]:8080" → "::1".
std::string_view host_name(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(1, close - 1);
  }
  return host.substr(0, host.find(':'));
}

}  // namespace

bool needs_local_host(const http::RequestHead& head) {
  const http::HeaderField* host = head.find("Host");
  return host == nullptr || host_name(host->value).empty();
}

EnvironResult build_environ(const http::RequestHead& head, const ConnectionInfo& connection) {
  EnvironResult result;
  auto path = http::percent_decode(head.path);
  if (!path) {
    result.error_status = 400;
    result.reason = "malformed or NUL percent-escape in the path";
    return result;
  }

  EnvironVariables& vars = result.variables;
  vars.reserve(24 + head.headers.size());
  auto add = [&vars](std::string name, std::string_view value) { vars.emplace_back(std::move(name), value); };

  add("REQUEST_METHOD", head.method);
  add("SCRIPT_NAME", "");
  add("PATH_INFO", *path);
  add("QUERY_STRING", head.query);
  add("REQUEST_URI", head.target);
  add("SERVER_PROTOCOL", head.version);
  add("SERVER_SOFTWARE", "forkserve/" FORKSERVE_VERSION);
  add("GATEWAY_INTERFACE", "CGI/1.1");
  add("REMOTE_ADDR", connection.remote.host);
  add("REMOTE_HOST", connection.remote.host);  // no DNS lookups in the request path
  add("REMOTE_PORT", std::to_string(connection.remote.port));
  add("SERVER_PORT", std::to_string(connection.local.port));
  add("forkserve.raw_path", head.path);
  add("wsgi.url_scheme", "http");

  const http::HeaderField* host = head.find("Host");
  add("SERVER_NAME",
      needs_local_host(head) ? std::string_view(connection.local.host) : host_name(host->value));
  if (head.content_length) add("CONTENT_LENGTH", std::to_string(*head.content_length));

  for (const http::HeaderField& field : head.headers) {
    std::string name = environ_name_of_header(field.name);
    // Content-Length is the parsed one above (none for a chunked body).
    if (!name.empty() && name != "CONTENT_LENGTH") add(std::move(name), field.value);
  }
  detail::sort_and_merge_environ(vars);
  return result;
}

}  // namespace forkserve

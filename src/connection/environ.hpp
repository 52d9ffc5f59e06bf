// Request head + connection → the handler's environ (RFC 3875 meta-variables
// and PEP 3333 names). Pure: tested without sockets.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/address.hpp"
#include "http/request_parser.hpp"

namespace forkserve {

struct ConnectionInfo {
  Endpoint remote;
  Endpoint local;
};

using EnvironVariables = std::vector<std::pair<std::string, std::string>>;

struct EnvironResult {
  EnvironVariables variables;  // sorted by name, names unique
  int error_status = 0;        // non-zero: answer this instead of calling the handler
  std::string_view reason;
};

// Header names containing '_' are left out: HTTP_X_A would otherwise be
// reachable both as "X-A" and "X_A", a classic way to spoof a header a proxy
// in front of us set.
EnvironResult build_environ(const http::RequestHead& head, const ConnectionInfo& connection);

// True when SERVER_NAME falls back to the connection's local address (no
// usable Host header).
bool needs_local_host(const http::RequestHead& head);

}  // namespace forkserve

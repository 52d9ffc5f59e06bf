// The listening socket.
#pragma once

#include <string>

#include "address.hpp"
#include "io.hpp"

namespace forkserve {

struct Listener {
  UniqueFd fd;        // non-blocking, close-on-exec
  Endpoint endpoint;  // the address actually bound (port resolved when 0 was asked)
};

// socket + SO_REUSEADDR + bind + listen(backlog). On failure returns an
// empty fd and sets `error` to e.g. "bind 0.0.0.0:8888: Address already in use".
Listener open_listener(const std::string& host, std::uint16_t port, int backlog, std::string& error);

}  // namespace forkserve

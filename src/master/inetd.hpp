// --inetd: serve the one connection a super-server (inetd, xinetd, tcpserver,
// systemd with Accept=yes) hands over on standard input, in this process, and
// exit. The request takes the same path as in a forked child.
#pragma once

#include <forkserve/module.h>
#include <sys/socket.h>

#include <string>

#include "core/config.hpp"
#include "net/io.hpp"
#include "core/log.hpp"

namespace forkserve {

struct InetdClient {
  UniqueFd fd;  // the connection, moved off standard input; close-on-exec
  sockaddr_storage peer{};
  std::string error;  // set when there is no connection to serve
};

// Takes the connection from standard input, or from fd 3 when systemd passes
// it there (Accept=yes: LISTEN_FDS=1 naming this process); call before
// opening the logs. Standard input and error that are that same socket (as
// inetd and xinetd set them up) become /dev/null, and standard output that is
// becomes standard error, so that neither log lines nor a handler's stray
// output reach the client. The peer is TCPREMOTEIP/TCPREMOTEPORT when set
// (tcpserver), else getpeername().
InetdClient take_inetd_client();

// Serves the request on `client`; returns the exit status.
int serve_inetd(InetdClient& client, const Config& config, const forkserve_module& module, LogFiles& logs);

}  // namespace forkserve

// One connection, one request: everything a child does between fork() and _exit().
#pragma once

#include <forkserve/module.h>
#include <sys/socket.h>

#include "core/config.hpp"
#include "net/address.hpp"
#include "net/io.hpp"

namespace forkserve {

struct Connection {
  int fd = -1;  // the accepted socket, non-blocking; the child owns it
  sockaddr_storage peer{};
  Deadline accepted_at{};
  // The listening socket's address: the connection's own, except for the host
  // of a wildcard listener (0.0.0.0, ::), looked up only if the environ needs it.
  Endpoint local{};
  // Shared with the parent: the child writes "GET /path" here so that the
  // parent can name the request if the child dies.
  char* label = nullptr;
  std::size_t label_size = 0;
};

// Reads and parses the request, calls the handler, writes the response, logs
// one access line and closes. Returns the child's exit status. The module's
// post_fork has been run by then. Leaves the phase alarm (SIGALRM) armed, so
// that nothing after it can keep the process alive past --write-timeout.
int serve_connection(const Connection& connection, const Config& config, const forkserve_module& module,
                     int access_log_fd);

// For a process that serves another connection next: the alarm, should it
// still go off, then does nothing.
void disarm_phase_alarm();

// The longest a connection can legitimately take: every phase's deadline,
// the lingering close (2 s), and slack for a loaded machine. Past it, the
// parent kills the process serving it, whatever its handler did.
std::chrono::seconds lifetime_limit(const Config& config);

// Ends a child process: the one way out, for the normal path and for the
// timeout handler alike.
[[noreturn]] void end_child(int status);

}  // namespace forkserve

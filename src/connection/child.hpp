// One connection, one request: everything a child does between fork() and _exit().
#pragma once

#include <forkserve/module.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <optional>

#include "core/config.hpp"
#include "net/address.hpp"
#include "net/io.hpp"
#include "net/listener.hpp"

namespace forkserve {

// What the parent needs to write a request's access line when the process
// serving it could not: it died, exit()ed or was killed before writing it.
// In memory shared with the parent, which reads it only after that process
// has ended, bounds every length and escapes every byte it writes.
struct RequestRecord {
  std::atomic<std::uint32_t> serving{0};  // 1 while counted in stats().busy
  std::atomic<std::uint32_t> pending{0};  // pending_mark() from the parsed head until the access line is out
  std::atomic<std::int32_t> status{0};    // the status sent, 0 until the head went out
  std::atomic<std::uint64_t> body_bytes{0};  // set only when the line is handed to the parent
  std::int64_t started = 0;               // unix seconds
  char remote_addr[64] = {};
  char request_line[512] = {};  // cut to fit
  char referer[256] = {};       // empty: none (Combined only)
  char user_agent[256] = {};
  unsigned char has_referer = 0;  // not bool: a handler can write any byte here
  unsigned char has_user_agent = 0;
};

// What RequestRecord::pending holds while the process `pid` owes its
// request's access line: derived from the pid and a number drawn when the
// server starts, so that a handler scribbling over the shared records (0xff,
// zeros, another slot's bytes) does not make the parent write lines, or blame
// an exit(), for other processes' requests. Never 0.
std::uint32_t pending_mark(pid_t pid);

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
  // With --status-path: the listen queues when the connection was taken
  // (the child no longer holds the listening sockets when it answers).
  std::optional<ListenQueue> listen_queue;
  // Shared with the parent (see RequestRecord); nullptr under --inetd.
  RequestRecord* record = nullptr;
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

// The exit status of a process that left its request's access line to the
// parent (see RequestRecord) and ended: its handler closed the access log's
// descriptor, or a stalled log held the process past its deadline.
constexpr int kExitLineLeftToParent = 3;

}  // namespace forkserve

// The listening sockets: opened here, or inherited from systemd.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "net/address.hpp"
#include "net/io.hpp"

namespace forkserve {

struct Listener {
  UniqueFd fd;        // non-blocking, close-on-exec
  Endpoint endpoint;  // the address actually bound (port resolved when 0 was asked)
  int backlog = 0;    // as the kernel has it (for an inherited socket, what systemd set); 0 if unknown
  bool inherited = false;  // from systemd, which keeps its own copy for the next instance
};

struct ListenOptions {
  int backlog = 128;
  bool reuse_port = false;  // SO_REUSEPORT: other sockets may bind the same address and port
  bool v6_only = false;     // for "::": IPv6 only, because IPv4 is served by another socket
  // TCP_DEFER_ACCEPT: a connection is handed to accept() only once its first
  // bytes arrived (or after this many seconds), so a client that connects and
  // says nothing holds no process. 0: at once.
  int defer_accept_seconds = 0;
};

// Whether `where` is "::" on a port that an IPv4 address in `all` also
// listens on: then "::" must be IPv6 only, else the two binds collide. Pure.
bool ipv4_served_elsewhere(const Endpoint& where, const std::vector<Endpoint>& all);

// socket + SO_REUSEADDR (+ SO_REUSEPORT) + bind + listen(backlog). On failure
// returns an empty fd and sets `error` to e.g.
// "bind 0.0.0.0:8888: Address already in use".
Listener open_listener(const Endpoint& where, const ListenOptions& options, std::string& error);

// What accepting one connection from a non-blocking listener gave.
enum class AcceptStatus {
  Accepted,
  Empty,      // nothing queued (EAGAIN)
  Transient,  // that connection failed, not the listener (EINTR, ECONNABORTED, EPROTO, network errors): go on
  Exhausted,  // out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): pause, then retry
  Broken,     // the listener itself is unusable (EBADF, ENOTSOCK, EINVAL, ...): stop using it
};
struct AcceptedClient {
  AcceptStatus status = AcceptStatus::Empty;
  UniqueFd fd;  // non-blocking, close-on-exec, when Accepted
  sockaddr_storage peer{};
  int error = 0;  // errno otherwise
};
AcceptedClient accept_client(int listener_fd);

// How long to stop accepting after AcceptStatus::Exhausted: the listener stays
// readable, so without a pause the caller would spin on the same failure.
constexpr std::chrono::milliseconds kAcceptBackoff{100};

// systemd socket activation (the sd_listen_fds(3) protocol, without
// libsystemd): the number of descriptors passed from fd 3 on, if LISTEN_PID
// names `self` and LISTEN_FDS is a count; else nullopt. Pure.
std::optional<int> systemd_fd_count(const char* listen_pid, const char* listen_fds, pid_t self);

struct InheritedSockets {
  bool activated = false;  // the environment named this process
  std::vector<Listener> listeners;
  std::string error;  // set when a passed descriptor cannot be served
};

// When systemd passed sockets to this process, takes them as they are (no
// bind, no listen: the backlog systemd set stays): each must be a listening
// TCP socket; it is made non-blocking and close-on-exec. In every case unsets
// LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES, so neither handlers nor programs
// they run mistake the variables for their own.
InheritedSockets take_systemd_sockets();

// Connections waiting to be accepted on these listening sockets, and the
// sum of their backlogs: Linux's TCP_INFO on a listening socket reports them
// as tcpi_unacked and tcpi_sacked. nullopt if no socket tells.
struct ListenQueue {
  std::uint64_t waiting = 0;
  std::uint64_t backlog = 0;
};
std::optional<ListenQueue> read_listen_queue(std::span<const int> listener_fds);

}  // namespace forkserve

#include "net/listener.hpp"

#include <arpa/inet.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace forkserve {
namespace {

constexpr int kFirstSystemdFd = 3;  // SD_LISTEN_FDS_START

// The accept queue limit the kernel applies to a listening TCP socket (for a
// socket in LISTEN state, TCP_INFO reports it in tcpi_sacked); 0 if unknown.
int kernel_backlog(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0 || info.tcpi_state != TCP_LISTEN) return 0;
  return static_cast<int>(info.tcpi_sacked);
}

template <typename Int>
std::optional<Int> to_number(const char* text) {
  if (text == nullptr) return std::nullopt;
  std::string_view view(text);
  Int value{};
  auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (view.empty() || ec != std::errc{} || end != view.data() + view.size()) return std::nullopt;
  return value;
}

// Takes one descriptor systemd passed: it must be a listening TCP socket.
Listener take_inherited(int fd, std::string& error) {
  std::string what = "LISTEN_FDS: fd " + std::to_string(fd);
  int accepting = 0;
  int type = 0;
  socklen_t length = sizeof accepting;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) != 0) {
    error = what + ": " + std::strerror(errno);
    return {};
  }
  length = sizeof type;
  ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length);
  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length);
  bool tcp = type == SOCK_STREAM && (bound.ss_family == AF_INET || bound.ss_family == AF_INET6);
  if (!tcp || accepting == 0) {
    // Accept=yes passes a connection, not a listener: that needs --inetd.
    error = what + " is not a listening TCP socket" + (tcp ? " (for Accept=yes, run with --inetd)" : "");
    return {};
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0 || ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
    error = what + ": fcntl: " + std::strerror(errno);
    return {};
  }
  return Listener{UniqueFd(fd), to_endpoint(bound), kernel_backlog(fd), true};
}

}  // namespace

Listener open_listener(const Endpoint& where, const ListenOptions& options, std::string& error) {
  socklen_t length = 0;
  auto address = make_address(where.host, where.port, length);
  auto fail = [&](const char* operation) {
    error = std::string(operation) + " " + to_string(where) + ": " + std::strerror(errno);
    return Listener{};
  };
  if (!address) {
    errno = EINVAL;
    return fail("address");
  }

  UniqueFd fd(::socket(address->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail("socket");
  int on = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
    return fail("setsockopt SO_REUSEADDR");
  }
  if (options.reuse_port && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
    return fail("setsockopt SO_REUSEPORT");
  }
  if (address->ss_family == AF_INET6) {
    // "::" means every address, IPv4 included, whatever the system default
    // (net.ipv6.bindv6only), unless another socket serves IPv4 on this port.
    int v6only = options.v6_only ? 1 : 0;
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (options.defer_accept_seconds > 0 &&
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &options.defer_accept_seconds,
                   sizeof options.defer_accept_seconds) != 0) {
    return fail("setsockopt TCP_DEFER_ACCEPT");
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&*address), length) != 0) return fail("bind");
  if (::listen(fd.get(), options.backlog) != 0) return fail("listen");

  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    return fail("getsockname");
  }
  int backlog = kernel_backlog(fd.get());
  return Listener{std::move(fd), to_endpoint(bound), backlog > 0 ? backlog : options.backlog};
}

AcceptedClient accept_client(int listener_fd) {
  AcceptedClient client;
  socklen_t length = sizeof client.peer;
  client.fd = UniqueFd(::accept4(listener_fd, reinterpret_cast<sockaddr*>(&client.peer), &length,
                                 SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (client.fd) {
    client.status = AcceptStatus::Accepted;
    return client;
  }
  client.error = errno;
  switch (errno) {
    case EAGAIN:
#if EAGAIN != EWOULDBLOCK
    case EWOULDBLOCK:
#endif
      client.status = AcceptStatus::Empty;
      break;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      client.status = AcceptStatus::Exhausted;
      break;
    case EBADF:
    case ENOTSOCK:
    case EINVAL:
    case EFAULT:
    case EOPNOTSUPP:
      client.status = AcceptStatus::Broken;
      break;
    default:  // EINTR, ECONNABORTED, EPROTO, EPERM (a firewall), and the network errors accept(2) passes on
      client.status = AcceptStatus::Transient;
  }
  return client;
}

bool ipv4_served_elsewhere(const Endpoint& where, const std::vector<Endpoint>& all) {
  // Any spelling of the IPv6 wildcard ("::", "0::0", ...).
  in6_addr address{};
  bool any = ::inet_pton(AF_INET6, where.host.c_str(), &address) == 1 && IN6_IS_ADDR_UNSPECIFIED(&address);
  if (!any || where.port == 0) return false;  // port 0: each socket gets its own
  for (const Endpoint& other : all) {
    if (other.port == where.port && other.host.find(':') == std::string::npos) return true;
  }
  return false;
}

std::optional<int> systemd_fd_count(const char* listen_pid, const char* listen_fds, pid_t self) {
  auto pid = to_number<pid_t>(listen_pid);
  auto count = to_number<int>(listen_fds);
  // More than could be open is not a count systemd would pass (and 3 + it must not overflow).
  if (!pid || *pid != self || !count || *count < 1 || *count > ::sysconf(_SC_OPEN_MAX) - kFirstSystemdFd) {
    return std::nullopt;
  }
  return count;
}

InheritedSockets take_systemd_sockets() {
  InheritedSockets result;
  auto count = systemd_fd_count(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"), ::getpid());
  for (const char* name : {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}) ::unsetenv(name);
  if (!count) return result;
  result.activated = true;
  for (int fd = kFirstSystemdFd; fd < kFirstSystemdFd + *count; ++fd) {
    Listener listener = take_inherited(fd, result.error);
    if (!listener.fd) {
      result.listeners.clear();
      return result;
    }
    result.listeners.push_back(std::move(listener));
  }
  return result;
}

std::optional<ListenQueue> read_listen_queue(std::span<const int> listener_fds) {
  std::optional<ListenQueue> queue;
  for (int fd : listener_fds) {
    tcp_info info{};
    socklen_t length = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0 || info.tcpi_state != TCP_LISTEN) continue;
    if (!queue) queue.emplace();
    queue->waiting += info.tcpi_unacked;
    queue->backlog += info.tcpi_sacked;
  }
  return queue;
}

}  // namespace forkserve

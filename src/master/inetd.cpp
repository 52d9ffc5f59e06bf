#include "master/inetd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "connection/connection_server.hpp"
#include "net/listener.hpp"

namespace forkserve {
namespace {

bool same_file(int a, int b) {
  struct stat sa {};
  struct stat sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// tcpserver's TCPREMOTEIP and TCPREMOTEPORT, when both are set and valid.
bool peer_from_tcpserver(sockaddr_storage& peer) {
  const char* ip = std::getenv("TCPREMOTEIP");
  const char* port_text = std::getenv("TCPREMOTEPORT");
  if (ip == nullptr || port_text == nullptr) return false;
  std::string_view port_view(port_text);
  std::uint16_t port = 0;
  auto [end, ec] = std::from_chars(port_view.data(), port_view.data() + port_view.size(), port);
  if (ec != std::errc{} || end != port_view.data() + port_view.size()) return false;
  socklen_t length = 0;
  auto address = make_address(ip, port, length);
  if (!address) return false;
  peer = *address;
  return true;
}

bool is_stream_socket(int fd) {
  int type = 0;
  socklen_t length = sizeof type;
  return ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_STREAM;
}

bool is_listening(int fd) {
  int accepting = 0;
  socklen_t length = sizeof accepting;
  return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0 && accepting != 0;
}

}  // namespace

InetdClient take_inetd_client() {
  InetdClient client;
  // systemd with Accept=yes passes the connection as fd 3 (LISTEN_FDS=1), and
  // on standard input too only with StandardInput=socket.
  auto systemd_fds = systemd_fd_count(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"), ::getpid());
  for (const char* name : {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}) ::unsetenv(name);
  constexpr int kSystemdFd = 3;
  bool from_systemd = systemd_fds == 1 && is_stream_socket(kSystemdFd) && !is_listening(kSystemdFd);
  int source = from_systemd ? kSystemdFd : STDIN_FILENO;
  if (!from_systemd && !is_stream_socket(STDIN_FILENO)) {
    client.error = "--inetd: standard input is not a stream socket";
    return client;
  }
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) {
    client.error = std::string("open /dev/null: ") + std::strerror(errno);
    return client;
  }
  client.fd = UniqueFd(::fcntl(source, F_DUPFD_CLOEXEC, kSystemdFd + 1));
  if (!client.fd) {
    client.error = std::string("--inetd: dup ") + (from_systemd ? "fd 3" : "standard input") + ": " +
                   std::strerror(errno);
    return client;
  }
  if (from_systemd) ::close(kSystemdFd);
  // Standard output (the access log '-') that is the client's socket joins
  // standard error (tcpserver's log, say), or /dev/null when that is the
  // socket too, as inetd and xinetd set it up.
  for (int fd : {STDIN_FILENO, STDERR_FILENO}) {
    if (same_file(fd, client.fd.get())) ::dup2(null_fd.get(), fd);
  }
  if (same_file(STDOUT_FILENO, client.fd.get())) ::dup2(STDERR_FILENO, STDOUT_FILENO);
  // Any other descriptors systemd passed stay out of programs a handler runs.
  for (int fd = kSystemdFd; systemd_fds && fd < kSystemdFd + *systemd_fds; ++fd) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }

  if (!peer_from_tcpserver(client.peer)) {
    socklen_t peer_length = sizeof client.peer;
    if (::getpeername(client.fd.get(), reinterpret_cast<sockaddr*>(&client.peer), &peer_length) != 0) {
      client.peer = {};  // REMOTE_ADDR "unknown"
    }
  }
  return client;
}

int serve_inetd(InetdClient& client, const Config& config, const forkserve_module& module, LogFiles& logs) {
  // This process serves the connection as a forked child would.
  ConnectionServer server(config, module, logs);
  set_nonblocking(client.fd.get());
  server.serve(std::move(client.fd), client.peer, Clock::now());
  return 0;
}

}  // namespace forkserve

#include "inetd.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "child.hpp"
#include "listener.hpp"

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

// With Accept=yes systemd also passes the connection as fd 3 (LISTEN_FDS=1):
// keep it from programs a handler runs, and the variables from the handler.
void release_systemd_descriptors() {
  auto count = systemd_fd_count(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"), ::getpid());
  for (int fd = 3; count && fd < 3 + *count; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  for (const char* name : {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}) ::unsetenv(name);
}

}  // namespace

InetdClient take_inetd_client() {
  InetdClient client;
  int type = 0;
  socklen_t length = sizeof type;
  if (::getsockopt(STDIN_FILENO, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM) {
    client.error = "--inetd: standard input is not a stream socket";
    return client;
  }
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) {
    client.error = std::string("open /dev/null: ") + std::strerror(errno);
    return client;
  }
  for (int fd : {STDOUT_FILENO, STDERR_FILENO}) {
    if (same_file(fd, STDIN_FILENO)) ::dup2(null_fd.get(), fd);
  }
  client.fd = UniqueFd(::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3));
  if (!client.fd) {
    client.error = std::string("--inetd: dup standard input: ") + std::strerror(errno);
    return client;
  }
  ::dup2(null_fd.get(), STDIN_FILENO);
  release_systemd_descriptors();

  if (!peer_from_tcpserver(client.peer)) {
    socklen_t peer_length = sizeof client.peer;
    if (::getpeername(client.fd.get(), reinterpret_cast<sockaddr*>(&client.peer), &peer_length) != 0) {
      client.peer = {};  // REMOTE_ADDR "unknown"
    }
  }
  return client;
}

int serve_inetd(InetdClient& client, const Config& config, const forkserve_module& module, LogFiles& logs) {
  ::signal(SIGPIPE, SIG_IGN);  // a vanished client is an EPIPE, as in a forked child
  Connection connection;
  connection.fd = client.fd.release();  // serve_connection owns and closes it
  connection.peer = client.peer;
  connection.accepted_at = Clock::now();
  return serve_connection(connection, config, module, logs.access_fd());
}

}  // namespace forkserve

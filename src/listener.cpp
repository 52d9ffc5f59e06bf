#include "listener.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace forkserve {

Listener open_listener(const std::string& host, std::uint16_t port, int backlog, std::string& error) {
  socklen_t length = 0;
  auto address = make_address(host, port, length);
  std::string where = to_string({host, port});
  auto fail = [&](const char* operation) {
    error = std::string(operation) + " " + where + ": " + std::strerror(errno);
    return Listener{};
  };
  if (!address) {
    errno = EINVAL;
    return fail("address");
  }

  UniqueFd fd(::socket(address->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return fail("socket");
  int on = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) return fail("setsockopt");
  if (address->ss_family == AF_INET6) {
    // "::" means every address, IPv4 included, whatever the system default.
    int v6only = 0;
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&*address), length) != 0) return fail("bind");
  if (::listen(fd.get(), backlog) != 0) return fail("listen");

  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    return fail("getsockname");
  }
  return Listener{std::move(fd), to_endpoint(bound)};
}

}  // namespace forkserve

// Where the server listens: IPv6, dual-stack "::", several --listen at once,
// and --reuse-port for instances sharing a port. Loopback only.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "integration/environ_dump.hpp"
#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

// Whether this kernel can bind ::1 at all (IPv6 may be disabled or absent).
bool have_ipv6_loopback() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

#define SKIP_WITHOUT_IPV6() \
  if (!have_ipv6_loopback()) GTEST_SKIP() << "the kernel cannot bind ::1 (no IPv6)"

std::string startup_line(const ServerProcess& server, const std::string& host, std::uint16_t port) {
  std::string workers = workers_under_test() ? ", " + std::to_string(*workers_under_test()) + " workers" : "";
  return "forkserve: serving HTTP on " + host + " port " + std::to_string(port) + " (backlog 128, pid " +
         std::to_string(server.pid()) + workers + ")\n";
}

TEST(AddressesTest, ListensOnIpv4AndIpv6LoopbackAtOnce) {
  SKIP_WITHOUT_IPV6();
  ServerProcess server(
      {"--handler", module_path("environ_dump.so"), "--listen", "127.0.0.1:0", "--listen", "[::1]:0"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(server.ports().size(), 2u);
  EXPECT_EQ(server.startup_line(), startup_line(server, "127.0.0.1", server.ports()[0]) +
                                       startup_line(server, "::1", server.ports()[1]));

  HttpReply v4 = exchange("127.0.0.1", server.ports()[0], "GET /four HTTP/1.0\r\n\r\n");
  ASSERT_EQ(v4.status, 200) << v4.summary();
  EXPECT_EQ(environ_variable(v4.body, "REMOTE_ADDR"), "127.0.0.1");
  HttpReply v6 = exchange("::1", server.ports()[1], "GET /six HTTP/1.0\r\n\r\n");
  ASSERT_EQ(v6.status, 200) << v6.summary();
  EXPECT_EQ(environ_variable(v6.body, "REMOTE_ADDR"), "::1");
  EXPECT_EQ(environ_variable(v6.body, "SERVER_PORT"), std::to_string(server.ports()[1]));
}

TEST(AddressesTest, DualStackHostServesIpv4ClientsAsPlainIpv4) {
  SKIP_WITHOUT_IPV6();
  ServerProcess server({"--handler", module_path("environ_dump.so"), "--host", "::"});
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_EQ(server.startup_line(), startup_line(server, "::", server.port()));
  HttpReply reply = exchange("127.0.0.1", server.port(), "GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(environ_variable(reply.body, "REMOTE_ADDR"), "127.0.0.1") << "not ::ffff:127.0.0.1";
  EXPECT_EQ(environ_variable(reply.body, "SERVER_NAME"), "127.0.0.1");
  HttpReply v6 = exchange("::1", server.port(), "GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(v6.status, 200) << v6.summary();
  EXPECT_EQ(environ_variable(v6.body, "REMOTE_ADDR"), "::1");
}

TEST(AddressesTest, EveryListenAddressAnswers) {
  ServerProcess server({"--handler", module_path("hello.so"), "--listen", "127.0.0.1:0", "--listen",
                        "127.0.0.1:0", "--listen", "127.0.0.1:0"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(server.ports().size(), 3u) << server.startup_line();
  for (std::uint16_t port : server.ports()) {
    HttpReply reply = exchange(port, "GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(reply.body, "Hello, World!") << "port " << port << ": " << reply.summary();
  }
}

// A listening socket the test holds on 127.0.0.1, to make a port busy.
struct BusyPort {
  BusyPort() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd, 1) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot make a busy port";
    }
    port = ntohs(address.sin_port);
  }
  ~BusyPort() { ::close(fd); }
  int fd = -1;
  std::uint16_t port = 0;
};

TEST(AddressesTest, ListenReplacesHostAndPort) {
  BusyPort busy;
  // Were --host/--port still bound too, the busy port would stop the start.
  ServerProcess server(
      {"--handler", module_path("hello.so"), "--port", std::to_string(busy.port), "--listen", "127.0.0.1:0"});
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_NE(server.port(), busy.port);
  EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "Hello, World!");
}

TEST(AddressesTest, ReusePortLetsTwoInstancesShareAPort) {
  ServerProcess first({"--handler", module_path("hello.so"), "--reuse-port"});
  ASSERT_TRUE(first.ready()) << first.error();
  std::string port = std::to_string(first.port());
  ServerProcess second({"--handler", module_path("hello.so"), "--reuse-port", "--port", port});
  ASSERT_TRUE(second.ready()) << second.error();
  EXPECT_EQ(second.port(), first.port());

  ProcessResult without = run_process({server_binary(), "--host", "127.0.0.1", "--port", port});
  EXPECT_TRUE(without.status.exited && without.status.code == 1) << describe(without.status);
  EXPECT_EQ(without_timestamps(without.err), "forkserve: bind 127.0.0.1:" + port + ": Address already in use\n");
  EXPECT_EQ(without.out, "");

  // With the first gone, the port is still served: by the second.
  ASSERT_TRUE(first.stop().exited);
  HttpReply reply = exchange(second.port(), "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(reply.body, "Hello, World!") << reply.summary();
}

}  // namespace
}  // namespace forkserve::integration

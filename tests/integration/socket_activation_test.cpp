// systemd socket activation: the harness hands the server listening sockets
// as fds 3, 4, ... with LISTEN_FDS and LISTEN_PID set, as systemd does, and
// the server must serve those very sockets without binding or listening anew.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

// A socket the test makes, as systemd would: bound to 127.0.0.1:0 and, if
// `backlog` is given, listening with it.
class TestSocket {
 public:
  explicit TestSocket(std::optional<int> backlog) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        (backlog && ::listen(fd_, *backlog) != 0) ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot make the test socket: " << std::strerror(errno);
      return;
    }
    port_ = ntohs(address.sin_port);
  }
  TestSocket(const TestSocket&) = delete;
  TestSocket& operator=(const TestSocket&) = delete;
  ~TestSocket() { close(); }

  int fd() const { return fd_; }
  std::uint16_t port() const { return port_; }
  // Once the server holds its copy: from then on only the server can accept.
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

ProcessLimits activation(std::vector<int> fds, bool pid_elsewhere = false) {
  ProcessLimits limits;
  limits.listen_fds = std::move(fds);
  limits.listen_pid_elsewhere = pid_elsewhere;
  return limits;
}

TEST(SocketActivationTest, StoppingLeavesTheInheritedSocketListeningForTheNextInstance) {
  // systemd keeps its copy and queues connections until it starts the next
  // instance; the server must not shut the socket down for everyone.
  TestSocket socket(16);
  ServerProcess server({"--handler", module_path("hello.so")}, activation({socket.fd()}));
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(exchange(socket.port(), "GET / HTTP/1.0\r\n\r\n").status, 200);
  ExitStatus status = server.stop();
  ASSERT_TRUE(status.exited && status.code == 0) << describe(status);
  EXPECT_EQ(connect_error(socket.port()), 0) << "the socket systemd holds no longer accepts connections";
}

TEST(SocketActivationTest, ServesTheInheritedSocketWithTheBacklogSystemdSet) {
  // A backlog nobody would pick, and a different one on the command line: had
  // the server called listen() again, the kernel would report that one.
  TestSocket socket(7);
  ServerProcess server({"--handler", module_path("hello.so"), "--backlog", "100"}, activation({socket.fd()}));
  ASSERT_TRUE(server.ready()) << server.error();
  socket.close();
  EXPECT_EQ(server.port(), socket.port())
      << "the harness's --port 0 must be ignored: " << server.startup_line();
  std::string workers = workers_under_test() ? ", " + std::to_string(*workers_under_test()) + " workers" : "";
  EXPECT_EQ(server.startup_line(), "forkserve: serving HTTP on 127.0.0.1 port " +
                                       std::to_string(socket.port()) + " (backlog 7, pid " +
                                       std::to_string(server.pid()) + workers + ")\n");
  HttpReply reply = exchange(socket.port(), "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.body, "Hello, World!");
}

TEST(SocketActivationTest, ServesSeveralInheritedSocketsWithOneStartupLineEach) {
  TestSocket first(16);
  TestSocket second(16);
  ServerProcess server({"--handler", module_path("hello.so")}, activation({first.fd(), second.fd()}));
  ASSERT_TRUE(server.ready()) << server.error();
  first.close();
  second.close();
  ASSERT_EQ(server.ports(), (std::vector<std::uint16_t>{first.port(), second.port()}))
      << server.startup_line();
  for (std::uint16_t port : server.ports()) {
    HttpReply reply = exchange(port, "GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(reply.body, "Hello, World!") << "port " << port << ": " << reply.summary();
  }
}

TEST(SocketActivationTest, IgnoresVariablesNamingAnotherProcess) {
  TestSocket socket(16);
  ServerProcess server({"--handler", module_path("hello.so")}, activation({socket.fd()}, true));
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_NE(server.port(), socket.port()) << "LISTEN_PID named the test, not the server";
  HttpReply reply = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(reply.body, "Hello, World!") << reply.summary();
}

TEST(SocketActivationTest, HandlersDoNotSeeTheActivationVariables) {
  TestSocket socket(16);
  ServerProcess server({"--handler", fixture_path("process_env.so")}, activation({socket.fd()}));
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(server.port(), socket.port());
  for (std::string name : {"LISTEN_PID", "LISTEN_FDS"}) {
    HttpReply reply = exchange(server.port(), "GET /?" + name + " HTTP/1.0\r\n\r\n");
    EXPECT_EQ(reply.body, name + " unset") << reply.summary();
  }
}

TEST(SocketActivationTest, RefusesAnInheritedSocketThatIsNotListening) {
  TestSocket bound_only(std::nullopt);
  ServerProcess server({}, activation({bound_only.fd()}));
  ASSERT_FALSE(server.ready());
  ExitStatus status = server.wait_for_exit(milliseconds(10'000));
  EXPECT_TRUE(status.exited && status.code == 1) << describe(status);
  EXPECT_EQ(without_timestamps(server.stderr_text()),
            "forkserve: LISTEN_FDS: fd 3 is not a listening TCP socket (for Accept=yes, run with --inetd)\n");
}

}  // namespace
}  // namespace forkserve::integration

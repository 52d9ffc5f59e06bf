// Start-up as a user sees it: the start-up line, bad flags (exit 2, one
// stderr line) and a port already in use (exit 1, the bind error).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <ostream>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

ProcessResult run_server(std::vector<std::string> args) {
  std::vector<std::string> argv = {server_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

// A listening socket on 127.0.0.1 with a kernel-chosen port, closed on destruction.
class BusyPort {
 public:
  BusyPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      error_ = errno;
      return;
    }
    port_ = ntohs(address.sin_port);
  }
  BusyPort(const BusyPort&) = delete;
  BusyPort& operator=(const BusyPort&) = delete;
  ~BusyPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  int error() const { return error_; }

 private:
  int fd_ = -1;
  int error_ = 0;
  std::uint16_t port_ = 0;
};

TEST(CommandLineTest, StartupLineNamesTheListeningPortAndThePid) {
  ServerProcess server;
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_EQ(server.startup_line(), "forkserve: serving HTTP on 127.0.0.1 port " +
                                       std::to_string(server.port()) + " (backlog 128, pid " +
                                       std::to_string(server.pid()) +
                                       (workers_under_test() ? ", " + std::to_string(*workers_under_test()) + " workers"
                                                             : "") +
                                       ")\n");
  EXPECT_EQ(connect_error(server.port()), 0) << "nothing listens on the announced port";
}

TEST(CommandLineTest, BacklogFlagIsShownInTheStartupLine) {
  ServerProcess server({"--backlog", "7"});
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_NE(server.startup_line().find("(backlog 7, pid "), std::string::npos) << server.startup_line();
}

struct BadFlag {
  std::vector<std::string> args;
  std::string_view expected_text;  // a word the one stderr line must contain
};

// Names the case in test output instead of dumping its bytes.
void PrintTo(const BadFlag& flag, std::ostream* out) {
  for (const std::string& arg : flag.args) *out << arg << ' ';
}

class BadFlagTest : public ::testing::TestWithParam<BadFlag> {};

TEST_P(BadFlagTest, ExitsWith2AndOneStderrLine) {
  std::vector<std::string> args = {"--host", "127.0.0.1"};
  args.insert(args.end(), GetParam().args.begin(), GetParam().args.end());
  ProcessResult run = run_server(args);
  EXPECT_TRUE(run.status.exited) << describe(run.status);
  EXPECT_EQ(run.status.code, 2) << describe(run.status) << "; stderr: " << run.err;
  EXPECT_EQ(run.out, "") << "no start-up line for a bad command line";
  EXPECT_TRUE(run.err.starts_with("forkserve: ")) << run.err;
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "exactly one stderr line: " << run.err;
  EXPECT_NE(run.err.find(GetParam().expected_text), std::string::npos) << run.err;
}

INSTANTIATE_TEST_SUITE_P(Flags, BadFlagTest,
                         ::testing::Values(BadFlag{{"--port", "70000"}, "70000"},
                                           BadFlag{{"--port", "-1"}, "--port"},
                                           BadFlag{{"--backlog", "0"}, "--backlog"},
                                           BadFlag{{"--root", "/nonexistent"}, "/nonexistent"},
                                           BadFlag{{"--bogus"}, "--bogus"}, BadFlag{{"--port"}, "--port"},
                                           BadFlag{{"--host", "not-an-address"}, "not-an-address"},
                                           BadFlag{{"--port", "0", "stray-argument"}, "stray-argument"}),
                         [](const ::testing::TestParamInfo<BadFlag>& info) {
                           std::string name;
                           for (const std::string& arg : info.param.args) {
                             for (char c : arg) {
                               if (std::isalnum(static_cast<unsigned char>(c))) name += c;
                             }
                             name += '_';
                           }
                           return name + std::to_string(info.index);
                         });

TEST(CommandLineTest, PortInUseExitsWith1AndNamesTheBindError) {
  BusyPort busy;
  ASSERT_EQ(busy.error(), 0) << std::strerror(busy.error());
  ProcessResult run = run_server({"--host", "127.0.0.1", "--port", std::to_string(busy.port())});
  EXPECT_TRUE(run.status.exited) << describe(run.status);
  EXPECT_EQ(run.status.code, 1) << describe(run.status) << "; stderr: " << run.err;
  EXPECT_EQ(run.out, "") << "no start-up line when the port is taken";
  EXPECT_EQ(without_timestamps(run.err),
            "forkserve: bind 127.0.0.1:" + std::to_string(busy.port()) + ": Address already in use\n");
}

TEST(CommandLineTest, HelpPrintsUsageAndExits0) {
  ProcessResult run = run_server({"--help"});
  EXPECT_TRUE(run.status.exited && run.status.code == 0) << describe(run.status);
  EXPECT_TRUE(run.out.starts_with("Usage: forkserve")) << run.out;
  for (std::string_view flag : {"--port", "--root", "--handler", "--access-log", "--backlog"}) {
    EXPECT_NE(run.out.find(flag), std::string::npos) << flag;
  }
  EXPECT_EQ(run.err, "");
}

}  // namespace
}  // namespace forkserve::integration

// --syslog: once serving, the server's error messages go to syslog(3)
// (facility daemon, tag forkserve[pid]) instead of the error log. No syslog
// daemon is needed: the server runs in its own mount namespace where /dev is
// a directory of the test's, whose "log" is a datagram socket the test reads.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kSettles{5'000};
constexpr std::string_view kHandlerMessage = "throws fixture: failed before start_response";

// A fake /dev/log: a bound AF_UNIX datagram socket.
class FakeSyslog {
 public:
  explicit FakeSyslog(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path) return;
    path.copy(address.sun_path, path.size());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  FakeSyslog(const FakeSyslog&) = delete;
  FakeSyslog& operator=(const FakeSyslog&) = delete;
  ~FakeSyslog() { ::close(fd_); }

  bool bound() const { return bound_; }

  // Every datagram that arrives until one contains `needle` or the timeout passes.
  std::vector<std::string> receive_until(std::string_view needle, milliseconds timeout) {
    Deadline deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buffer[4096];
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) continue;
      received_.emplace_back(buffer, static_cast<std::size_t>(n));
      if (received_.back().find(needle) != std::string::npos) break;
    }
    return received_;
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
  std::vector<std::string> received_;
};

bool can_unshare_mounts() {
  if (::geteuid() != 0 || !find_in_path("unshare")) return false;
  ProcessResult probe = run_process({"unshare", "--mount", "true"});
  return probe.status.exited && probe.status.code == 0;
}

// Runs the server in a mount namespace whose /dev is `dev`, where `syslog` listens.
ProcessLimits with_dev(const TempDir& dev) {
  ProcessLimits through;
  through.exec_through = {
      *find_in_path("unshare"), "--mount", "sh", "-c", "mount --bind \"$0\" /dev && exec \"$@\"", dev.path()};
  return through;
}

TEST(SyslogTest, ErrorMessagesGoToSyslogAsDaemonErrWithThePid) {
  if (!can_unshare_mounts())
    GTEST_SKIP() << "needs root and unshare --mount, to put a fake /dev/log in place";
  TempDir dev;
  FakeSyslog syslog(dev.path() + "/log");
  ASSERT_TRUE(syslog.bound()) << dev.path();
  ServerProcess server({"--handler", fixture_path("throws.so"), "--syslog"}, with_dev(dev));
  ASSERT_TRUE(server.ready()) << server.error();

  ASSERT_EQ(exchange(server.port(), "GET /fails HTTP/1.0\r\n\r\n").status, 500);
  std::vector<std::string> messages = syslog.receive_until(kHandlerMessage, kSettles);
  std::size_t found = 0;
  for (const std::string& message : messages) {
    if (message.find(kHandlerMessage) == std::string::npos) continue;
    ++found;
    // <facility daemon (3) * 8 + severity err (3)>, then the tag with a pid.
    EXPECT_TRUE(message.starts_with("<27>")) << message;
    EXPECT_NE(message.find(" forkserve["), std::string::npos) << message;
    EXPECT_NE(message.find("GET /fails"), std::string::npos) << message;
  }
  EXPECT_EQ(found, 1U) << "syslog received " << messages.size() << " messages";
  EXPECT_EQ(count_lines_containing(server.stderr_text(), kHandlerMessage), 0U)
      << "also in the error log: " << server.stderr_text();
}

// The timeout's line is written from the child's signal handler: it goes to
// syslog too, not to an error log nobody reads under --daemon --syslog.
TEST(SyslogTest, HandlerTimeoutLineAlsoGoesToSyslog) {
  if (!can_unshare_mounts())
    GTEST_SKIP() << "needs root and unshare --mount, to put a fake /dev/log in place";
  TempDir dev;
  FakeSyslog syslog(dev.path() + "/log");
  ASSERT_TRUE(syslog.bound()) << dev.path();
  ServerProcess server({"--handler", fixture_path("slow.so"), "--syslog", "--handler-timeout", "1"}, with_dev(dev));
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_EQ(exchange(server.port(), "GET /slow?ms=3000 HTTP/1.0\r\n\r\n").status, 503);
  std::vector<std::string> messages = syslog.receive_until("handler timeout", kSettles);
  ASSERT_FALSE(messages.empty());
  EXPECT_TRUE(messages.back().starts_with("<27>")) << messages.back();
  EXPECT_NE(messages.back().find("handler timeout"), std::string::npos) << messages.back();
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "handler timeout"), 0U) << server.stderr_text();
}

}  // namespace
}  // namespace forkserve::integration

// As PID 1 of a container, forkserve inherits every orphan in it. It must
// reap them (or they pile up as zombies) without taking them for its own
// children: no "child N exited" line for a process it never forked. The test
// makes a pid namespace with unshare(1) and forkserve its PID 1; the
// orphan.so fixture leaves an orphan behind at every request.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <regex>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kSettles{5'000};
constexpr int kOrphans = 3;

// The pid `host_pid` has in its own (innermost) namespace, from NSpid.
std::string innermost_pid(pid_t host_pid) {
  for (const std::string& line : lines_of(read_file("/proc/" + std::to_string(host_pid) + "/status"))) {
    if (line.starts_with("NSpid:")) return line.substr(line.find_last_of(" \t") + 1);
  }
  return {};
}

// `unshare --pid --fork --kill-child forkserve ...`, stdout on a pipe, stderr
// in a file; killed (with everything in its namespace) on destruction.
class NamespacedServer {
 public:
  explicit NamespacedServer(const std::vector<std::string>& server_args) {
    std::vector<std::string> argv = {*find_in_path("unshare"),
                                     "--pid",
                                     "--fork",
                                     "--kill-child",
                                     server_binary(),
                                     "--host",
                                     "127.0.0.1",
                                     "--port",
                                     "0",
                                     "--access-log",
                                     dir_.path() + "/access.log"};
    argv.insert(argv.end(), server_args.begin(), server_args.end());
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return;
    int err = ::open(stderr_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    unshare_pid_ = ::fork();
    if (unshare_pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      ::close_range(3, ~0U, 0);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err);
    stdout_fd_ = out[0];
    read_startup_line();
  }
  NamespacedServer(const NamespacedServer&) = delete;
  NamespacedServer& operator=(const NamespacedServer&) = delete;
  ~NamespacedServer() {
    if (unshare_pid_ > 0) {
      ::kill(unshare_pid_, SIGKILL);  // --kill-child takes the server, PID 1 the rest of the namespace
      ::waitpid(unshare_pid_, nullptr, 0);
    }
    if (stdout_fd_ >= 0) ::close(stdout_fd_);
  }

  bool ready() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  const std::string& startup_line() const { return startup_line_; }
  pid_t host_pid() const { return server_host_pid_; }  // the server, as this test's /proc sees it
  std::string stderr_path() const { return dir_.path() + "/stderr.log"; }

  // SIGTERM to the server; true if it (and so unshare) exited 0.
  bool stop() {
    ::kill(server_host_pid_, SIGTERM);
    bool exited_cleanly = false;
    eventually(
        [&] {
          int status = 0;
          if (::waitpid(unshare_pid_, &status, WNOHANG) != unshare_pid_) return false;
          exited_cleanly = WIFEXITED(status) && WEXITSTATUS(status) == 0;
          unshare_pid_ = -1;
          return true;
        },
        milliseconds(15'000));
    return exited_cleanly;
  }

 private:
  void read_startup_line() {
    std::string received;
    Deadline deadline = Clock::now() + milliseconds(10'000);
    while (received.find('\n') == std::string::npos && Clock::now() < deadline) {
      pollfd p{stdout_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buffer[256];
      ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
      if (n <= 0) return;
      received.append(buffer, static_cast<std::size_t>(n));
    }
    startup_line_ = received;
    static const std::regex kStartup(
        R"(forkserve: serving HTTP on 127\.0\.0\.1 port (\d+) \(backlog \d+, pid (\d+)\)\n)");
    std::smatch match;
    if (!std::regex_match(startup_line_, match, kStartup)) return;
    std::vector<ProcessInfo> children = children_of(unshare_pid_);
    if (children.size() != 1) return;
    server_host_pid_ = children.front().pid;
    port_ = static_cast<std::uint16_t>(std::stoi(match[1]));
  }

  TempDir dir_;
  pid_t unshare_pid_ = -1;
  pid_t server_host_pid_ = -1;
  int stdout_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string startup_line_;
};

// Whether this machine lets us make a pid namespace at all.
bool can_unshare_pid() {
  if (!find_in_path("unshare")) return false;
  ProcessResult probe = run_process({"unshare", "--pid", "--fork", "--kill-child", "true"});
  return probe.status.exited && probe.status.code == 0;
}

TEST(Pid1Test, AsPid1ReapsForeignOrphansWithoutLoggingThemAsItsChildren) {
  if (!can_unshare_pid())
    GTEST_SKIP() << "unshare --pid is missing or not permitted here (needs root or user namespaces)";
  NamespacedServer server({"--handler", fixture_path("orphan.so")});
  ASSERT_TRUE(server.ready()) << "start-up line: '" << server.startup_line() << "', stderr: '"
                              << read_file(server.stderr_path()) << "'";
  EXPECT_NE(server.startup_line().find("pid 1)"), std::string::npos) << server.startup_line();

  std::vector<std::string> orphans;
  for (int i = 0; i < kOrphans; ++i) {
    HttpReply reply = exchange(server.port(), "GET /orphan HTTP/1.0\r\n\r\n");
    ASSERT_EQ(reply.status, 200) << reply.summary();
    orphans.push_back(reply.body);
  }
  // Each orphan exits (status 3) only once re-parented, that is, once it is
  // the server's child; then nobody but the server can reap it.
  auto orphan_still_there = [&] {
    for (const ProcessInfo& child : children_of(server.host_pid())) {
      if (child.state == 'Z') return true;
      for (const std::string& orphan : orphans) {
        if (innermost_pid(child.pid) == orphan) return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(eventually([&] { return !orphan_still_there(); }, kSettles))
      << "orphans left as zombies of the server: " << count_zombie_children(server.host_pid());

  EXPECT_EQ(exchange(server.port(), "GET /still-serving HTTP/1.0\r\n\r\n").status, 200);
  EXPECT_TRUE(server.stop()) << "did not exit 0 on SIGTERM";
  std::string err = read_file(server.stderr_path());
  for (const std::string& orphan : orphans) {
    EXPECT_EQ(count_lines_containing(err, "child " + orphan + " "), 0U)
        << "orphan logged as a child: " << err;
  }
  EXPECT_EQ(count_lines_containing(err, "exited with status 3"), 0U) << err;
}

}  // namespace
}  // namespace forkserve::integration

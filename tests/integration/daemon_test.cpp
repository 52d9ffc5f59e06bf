// --daemon: the launching command returns once the server accepts, printing
// its start-up line; the server keeps serving from a new session without a
// terminal, in "/", and is stopped through its pidfile.
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <regex>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kSettles{5'000};

bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Fields 6 and 7 of /proc/PID/stat: session id and controlling terminal.
struct Session {
  long sid = -1;
  long tty = -1;
};
Session session_of(pid_t pid) {
  std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::size_t close = text.rfind(')');
  Session session;
  if (close == std::string::npos) return session;
  char* next = text.data() + close + 2;
  std::strtol(next + 1, &next, 10);  // state (one character), then ppid
  std::strtol(next, &next, 10);      // pgrp
  session.sid = std::strtol(next, &next, 10);
  session.tty = std::strtol(next, &next, 10);
  return session;
}

// Stops a daemon the test started, whatever happens to the test.
struct DaemonGuard {
  pid_t pid = 0;
  ~DaemonGuard() {
    if (pid > 0) ::kill(pid, SIGKILL);
  }
};

TEST(DaemonTest, LauncherReturnsWithTheStartupLineAndTheDetachedServerKeepsServing) {
  TempDir run;
  const std::string pidfile = run.path() + "/forkserve.pid";
  const std::string access_log = run.path() + "/access.log";
  ProcessResult launch =
      run_process({server_binary(), "--host", "127.0.0.1", "--port", "0", "--handler",
                   module_path("hello.so"), "--daemon", "--pidfile", pidfile, "--access-log", access_log});
  ASSERT_TRUE(launch.status.exited && launch.status.code == 0)
      << describe(launch.status) << ": " << launch.err;

  static const std::regex kStartup(
      R"(forkserve: serving HTTP on 127\.0\.0\.1 port (\d+) \(backlog \d+, pid (\d+)\)\n)");
  std::smatch match;
  ASSERT_TRUE(std::regex_match(launch.out, match, kStartup)) << "stdout: '" << launch.out << "'";
  const auto port = static_cast<std::uint16_t>(std::stoi(match[1]));
  const pid_t pid = static_cast<pid_t>(std::stol(match[2]));
  DaemonGuard guard{pid};
  EXPECT_EQ(read_file(pidfile), std::to_string(pid) + "\n") << "the pidfile must name the daemon";

  // The launcher has exited and been reaped; the server it left behind serves.
  HttpReply reply = exchange(port, "GET /after-launch HTTP/1.0\r\n\r\n");
  EXPECT_EQ(reply.status, 200) << reply.summary();
  EXPECT_NE(parent_of(pid), ::getpid());
  Session session = session_of(pid);
  EXPECT_NE(session.sid, static_cast<long>(::getsid(0))) << "still in the launcher's session";
  EXPECT_NE(session.sid, static_cast<long>(pid)) << "a session leader could acquire a terminal";
  EXPECT_EQ(session.tty, 0) << "has a controlling terminal";
  char cwd[PATH_MAX];
  ssize_t n = ::readlink(("/proc/" + std::to_string(pid) + "/cwd").c_str(), cwd, sizeof cwd);
  EXPECT_EQ(std::string(cwd, n > 0 ? static_cast<std::size_t>(n) : 0), "/");
  // Once the start-up line is out, standard output is /dev/null, not a pipe
  // nobody reads any more (a handler writing there would get EPIPE).
  char out[PATH_MAX];
  n = ::readlink(("/proc/" + std::to_string(pid) + "/fd/1").c_str(), out, sizeof out);
  EXPECT_EQ(std::string(out, n > 0 ? static_cast<std::size_t>(n) : 0), "/dev/null");
  EXPECT_TRUE(eventually([&] { return count_lines_containing(read_file(access_log), "/after-launch") == 1; },
                         kSettles))
      << read_file(access_log);

  // Stopped through the pidfile, it exits cleanly: the pidfile goes away.
  ASSERT_EQ(::kill(std::stoi(read_file(pidfile)), SIGTERM), 0);
  EXPECT_TRUE(eventually([&] { return !file_exists(pidfile); }, kSettles)) << "pidfile left after SIGTERM";
  EXPECT_TRUE(eventually([&] { return has_exited(pid); }, kSettles)) << "the daemon did not exit";
  guard.pid = 0;
}

// The production shape: bound as root, then chroot, unprivileged, detached.
TEST(DaemonTest, DaemonInAChrootAsNobodyServesTheJailedRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "chroot and --user need root";
  if (::getpwnam("nobody") == nullptr) GTEST_SKIP() << "no user 'nobody' on this system";
  TempDir jail;  // no /dev inside: --daemon must have opened /dev/null before the chroot
  ASSERT_EQ(::chmod(jail.path().c_str(), 0755), 0);
  jail.make_dir("www");
  jail.write_file("www/index.html", "jailed\n");
  TempDir run;
  const std::string pidfile = run.path() + "/forkserve.pid";
  ProcessResult launch =
      run_process({server_binary(), "--host", "127.0.0.1", "--port", "0", "--daemon", "--chroot", jail.path(),
                   "--root", jail.path() + "/www", "--user", "nobody", "--pidfile", pidfile, "--access-log",
                   run.path() + "/access.log"});
  ASSERT_TRUE(launch.status.exited && launch.status.code == 0)
      << describe(launch.status) << ": " << launch.err;
  std::smatch match;
  static const std::regex kPort(R"(port (\d+) .*pid (\d+)\)\n)");
  ASSERT_TRUE(std::regex_search(launch.out, match, kPort)) << launch.out;
  DaemonGuard guard{static_cast<pid_t>(std::stol(match[2]))};
  EXPECT_EQ(read_file(pidfile), std::string(match[2]) + "\n");

  HttpReply reply = exchange(static_cast<std::uint16_t>(std::stoi(match[1])), "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.body, "jailed\n");
  EXPECT_EQ(::kill(guard.pid, SIGTERM), 0);
  // As nobody it may not unlink a file in a root-owned directory: it empties it.
  EXPECT_TRUE(eventually([&] { return read_file(pidfile).empty(); }, kSettles)) << read_file(pidfile);
  EXPECT_TRUE(eventually([&] { return has_exited(guard.pid); }, kSettles));
  guard.pid = 0;
}

TEST(DaemonTest, StartupFailureIsReportedByTheLaunchingCommand) {
  ProcessResult launch = run_process({server_binary(), "--host", "127.0.0.1", "--port", "0", "--daemon",
                                      "--pidfile", "/nonexistent-forkserve-dir/forkserve.pid"});
  EXPECT_TRUE(launch.status.exited && launch.status.code == 1) << describe(launch.status);
  EXPECT_EQ(count_lines_containing(launch.err, "/nonexistent-forkserve-dir"), 1U) << launch.err;
  EXPECT_EQ(launch.out, "");
}

}  // namespace
}  // namespace forkserve::integration

// --pidfile: the file holds the server's pid while it runs, is removed at a
// clean exit, keeps a second instance out, is taken over when left behind by
// a dead one, and is out of reach of the children that run handler code.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kSettles{5'000};

bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::string pid_line(pid_t pid) { return std::to_string(pid) + "\n"; }

TEST(PidfileTest, HoldsThePidWhileServingAndIsRemovedOnSigterm) {
  TempDir run;
  const std::string pidfile = run.path() + "/forkserve.pid";
  ServerProcess server({"--handler", module_path("hello.so"), "--pidfile", pidfile});
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_EQ(read_file(pidfile), pid_line(server.pid()));

  ExitStatus status = server.stop();
  EXPECT_TRUE(status.exited && status.code == 0) << describe(status);
  EXPECT_FALSE(file_exists(pidfile)) << "left behind after a clean exit: '" << read_file(pidfile) << "'";
}

TEST(PidfileTest, SecondInstanceIsRefusedWithOneLineAndTheFileKept) {
  TempDir run;
  const std::string pidfile = run.path() + "/forkserve.pid";
  ServerProcess first({"--handler", module_path("hello.so"), "--pidfile", pidfile});
  ASSERT_TRUE(first.ready()) << first.error();

  ProcessResult second = run_process({server_binary(), "--host", "127.0.0.1", "--port", "0", "--handler",
                                      module_path("hello.so"), "--pidfile", pidfile});
  EXPECT_TRUE(second.status.exited && second.status.code == 1) << describe(second.status);
  EXPECT_EQ(second.out, "") << "the second instance must not serve";
  EXPECT_EQ(count_lines_containing(second.err, "pidfile " + pidfile + " is held by a running instance (pid " +
                                                   std::to_string(first.pid()) + ")"),
            1U)
      << second.err;
  EXPECT_EQ(count_lines_containing(second.err, "forkserve: "), 1U) << "one line: " << second.err;
  EXPECT_EQ(read_file(pidfile), pid_line(first.pid())) << "the refused instance must not touch the file";
  EXPECT_EQ(exchange(first.port(), "GET / HTTP/1.0\r\n\r\n").status, 200);
}

TEST(PidfileTest, StaleFileFromAKilledInstanceIsTakenOver) {
  TempDir run;
  const std::string pidfile = run.path() + "/forkserve.pid";
  {
    ServerProcess killed({"--handler", module_path("hello.so"), "--pidfile", pidfile});
    ASSERT_TRUE(killed.ready()) << killed.error();
    killed.signal(SIGKILL);
    ASSERT_FALSE(killed.wait_for_exit(kSettles).timed_out);
    ASSERT_EQ(read_file(pidfile), pid_line(killed.pid())) << "SIGKILL leaves the file behind";
  }
  ServerProcess next({"--handler", module_path("hello.so"), "--pidfile", pidfile});
  ASSERT_TRUE(next.ready()) << next.error();
  EXPECT_EQ(read_file(pidfile), pid_line(next.pid()));
}

TEST(PidfileTest, LeftoverFileWithLongerContentIsRewrittenWhole) {
  TempDir run;
  const std::string pidfile = run.write_file("forkserve.pid", "4194304999\nleftover\n");
  ServerProcess server({"--handler", module_path("hello.so"), "--pidfile", pidfile});
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_EQ(read_file(pidfile), pid_line(server.pid()));
}

// Handler code runs in children (or workers) forked from the parent that
// holds the lock; it must find no descriptor of the pidfile or its directory.
TEST(PidfileTest, HandlerCodeHoldsNoDescriptorOfThePidfileOrItsDirectory) {
  TempDir run;
  const std::string pidfile = run.path() + "/forkserve.pid";
  ServerProcess server({"--handler", fixture_path("open_fds.so"), "--pidfile", pidfile});
  ASSERT_TRUE(server.ready()) << server.error();
  HttpReply reply = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  ASSERT_GE(count_lines_containing(reply.body, "socket:"), 1U)
      << "the fixture lists the client socket: " << reply.body;
  for (const std::string& line : lines_of(reply.body)) {
    std::string target = line.substr(line.find(' ') + 1);
    EXPECT_NE(target, pidfile) << "handler code could unlock or rewrite the pidfile";
    EXPECT_NE(target, run.path()) << "handler code holds the pidfile's directory";
  }

  std::string parent_fds;
  const std::string fd_dir = "/proc/" + std::to_string(server.pid()) + "/fd";
  if (DIR* fds = ::opendir(fd_dir.c_str())) {
    while (const dirent* entry = ::readdir(fds)) {
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(::dirfd(fds), entry->d_name, target, sizeof target);
      if (n > 0) parent_fds.append(target, static_cast<std::size_t>(n)) += '\n';
    }
    ::closedir(fds);
  }
  EXPECT_EQ(count_lines_containing(parent_fds, pidfile), 1U)
      << "the parent holds the locked file open: " << parent_fds;
}

TEST(PidfileTest, UnwritableLocationStopsStartUpWithOneLine) {
  ProcessResult result = run_process({server_binary(), "--host", "127.0.0.1", "--port", "0", "--pidfile",
                                      "/nonexistent-forkserve-dir/forkserve.pid"});
  EXPECT_TRUE(result.status.exited && result.status.code == 1) << describe(result.status);
  EXPECT_EQ(count_lines_containing(result.err, "/nonexistent-forkserve-dir"), 1U) << result.err;
  EXPECT_EQ(result.out, "");
}

}  // namespace
}  // namespace forkserve::integration

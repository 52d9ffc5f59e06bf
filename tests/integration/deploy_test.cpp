// Deploys that go wrong must never cost the parent: whatever is at the
// --handler path when SIGHUP comes (a truncated copy, not an ELF file, a
// module whose init() throws or crashes, the live file rewritten in place),
// the parent stays up, keeps serving the module it has, logs one line saying
// why, and still shuts down cleanly. Runs against both modes.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kSettle{10'000};

// A new file renamed over `target`, as `install` and `mv` deploy.
void rename_into_place(const TempDir& dir, std::string_view content, const std::string& target) {
  const std::string staged = dir.write_file("staged.so", content);
  ASSERT_EQ(std::rename(staged.c_str(), target.c_str()), 0) << std::strerror(errno);
}

// `cp source target`: the same inode truncated and rewritten, under whoever has it mapped.
void copy_in_place(const std::string& source, const std::string& target) {
  std::filesystem::copy_file(source, target, std::filesystem::copy_options::overwrite_existing);
}

// Processes of the server that died, as the parent reports them (the reload's
// own line may name the signal that ended its trial process).
std::size_t deaths_logged(const ServerProcess& server) {
  std::size_t deaths = 0;
  for (const std::string& line : lines_of(server.stderr_text())) {
    if (line.find("killed by signal") != std::string::npos && line.find("SIGHUP") == std::string::npos)
      ++deaths;
  }
  return deaths;
}

std::string hello_body(const ServerProcess& server) {
  return exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body;
}

// Signals SIGHUP and waits for its one line; returns that line.
std::string reload(const ServerProcess& server) {
  const std::size_t before = count_lines_containing(server.stderr_text(), "SIGHUP");
  server.signal(SIGHUP);
  std::string line;
  eventually(
      [&] {
        std::vector<std::string> lines;
        for (const std::string& l : lines_of(server.stderr_text())) {
          if (l.find("SIGHUP") != std::string::npos) lines.push_back(l);
        }
        if (lines.size() <= before) return false;
        line = lines.back();
        return true;
      },
      kSettle);
  return line;
}

// The parent is up, still serves hello, logged exactly one line about the
// reload saying it kept the old module and why (`reason`), and stops with 0.
void expect_old_module_kept(ServerProcess& server, std::string_view reason) {
  const std::string line = reload(server);
  EXPECT_NE(line.find("keeping the old one"), std::string::npos) << server.stderr_text();
  EXPECT_NE(line.find(reason), std::string::npos) << line;
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "SIGHUP"), 1U) << server.stderr_text();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(hello_body(server), "Hello, World!");
  EXPECT_NE(process_info(server.pid()).state, 'Z');
  EXPECT_EQ(deaths_logged(server), 0U) << server.stderr_text();
  server.signal(SIGINT);
  ExitStatus status = server.wait_for_exit(milliseconds(20'000));
  EXPECT_TRUE(status.exited && status.code == 0) << describe(status) << "\n" << server.stderr_text();
}

class DeployTest : public ::testing::Test {
 protected:
  // Serves hello.so from a file in `dir`, started with `arg` as its ARG.
  void start(const std::string& arg = "") {
    ASSERT_NO_FATAL_FAILURE(rename_into_place(dir, read_file(module_path("hello.so")), live));
    server.emplace(std::vector<std::string>{"--handler", arg.empty() ? live : live + ":" + arg});
    ASSERT_TRUE(server->ready()) << server->error();
    ASSERT_EQ(hello_body(*server), "Hello, World!");
  }

  TempDir dir;
  const std::string live = dir.path() + "/live.so";
  std::optional<ServerProcess> server;
};

TEST_F(DeployTest, TruncatedModuleFileIsRefusedAndTheOldOneServes) {
  ASSERT_NO_FATAL_FAILURE(start());
  const std::string whole = read_file(module_path("environ_dump.so"));
  ASSERT_GT(whole.size(), 5000U);
  ASSERT_NO_FATAL_FAILURE(rename_into_place(dir, whole.substr(0, 5000), live));  // head -c 5000
  expect_old_module_kept(*server, "handler " + live + ": ");
}

TEST_F(DeployTest, FileThatIsNotElfIsRefusedAndTheOldOneServes) {
  ASSERT_NO_FATAL_FAILURE(start());
  ASSERT_NO_FATAL_FAILURE(rename_into_place(dir, "#!/bin/sh\necho not a module\n", live));
  expect_old_module_kept(*server, "handler " + live + ": ");
}

TEST_F(DeployTest, ModuleWhoseInitThrowsIsRefusedWithItsMessage) {
  ASSERT_NO_FATAL_FAILURE(start("throw"));
  ASSERT_NO_FATAL_FAILURE(rename_into_place(dir, read_file(fixture_path("bad_init.so")), live));
  expect_old_module_kept(*server, "init failed: bad_init fixture: refusing to start");
}

TEST_F(DeployTest, ModuleWhoseInitSegfaultsIsRefusedNamingTheSignal) {
  ASSERT_NO_FATAL_FAILURE(start("segfault"));
  ASSERT_NO_FATAL_FAILURE(rename_into_place(dir, read_file(fixture_path("bad_init.so")), live));
  // AddressSanitizer turns the SIGSEGV into an abort.
  expect_old_module_kept(*server, FORKSERVE_SANITIZED ? "signal 6" : "signal 11");
}

TEST_F(DeployTest, ModuleWhoseInitAbortsIsRefusedNamingTheSignal) {
  ASSERT_NO_FATAL_FAILURE(start("abort"));
  ASSERT_NO_FATAL_FAILURE(rename_into_place(dir, read_file(fixture_path("bad_init.so")), live));
  expect_old_module_kept(*server, "signal 6");
}

// A reloaded module's init() runs in the parent. One that sets SIGCHLD to be
// ignored would let children reap themselves, their slots never come free
// and, past --max-children, nothing be served: the parent undoes it.
TEST_F(DeployTest, ReloadedModuleThatIgnoresSigchldCannotStopTheParentReaping) {
  ASSERT_NO_FATAL_FAILURE(rename_into_place(dir, read_file(fixture_path("bad_init.so")), live));
  server.emplace(std::vector<std::string>{"--handler", live + ":ignore-signals", "--max-children", "2"});
  ASSERT_TRUE(server->ready()) << server->error();
  install_new_build(fixture_path("bad_init.so"), live);
  const std::string line = reload(*server);
  ASSERT_EQ(line.find("keeping the old one"), std::string::npos) << line;
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(exchange(server->port(), "GET / HTTP/1.0\r\n\r\n").body, "bad_init ok") << server->stderr_text();
  }
  EXPECT_EQ(count_lines_containing(server->stderr_text(), "killing it"), 0U) << server->stderr_text();
  server->signal(SIGTERM);
  ExitStatus status = server->wait_for_exit(milliseconds(20'000));
  EXPECT_TRUE(status.exited && status.code == 0) << describe(status);
}

// Exit status 0 from a trial is not a pass: only the trial's own report is.
TEST_F(DeployTest, ModuleWhoseInitCallsExitIsRefused) {
  ASSERT_NO_FATAL_FAILURE(start("exit"));
  ASSERT_NO_FATAL_FAILURE(rename_into_place(dir, read_file(fixture_path("bad_init.so")), live));
  // Under LeakSanitizer, exit() may end in its leak report instead.
  expect_old_module_kept(*server,
                         FORKSERVE_SANITIZED ? "a trial process: " : "ended a trial process: exit status 0");
}

// `cp new.so live.so` rewrites the very file the server has loaded. Nothing
// running may notice: the request in flight finishes, later ones get the old
// module until SIGHUP, which then finds the change although the inode is the
// same, and the server still stops cleanly.
TEST(DeployInPlaceTest, CopyOverTheLiveModuleChangesNothingUntilSighupThenLoadsIt) {
  TempDir dir;
  const std::string live = dir.path() + "/live.so";
  std::filesystem::copy_file(fixture_path("slow.so"), live);
  ServerProcess server({"--handler", live});
  ASSERT_TRUE(server.ready()) << server.error();
  Client in_flight(server.port());
  ASSERT_TRUE(in_flight.connected());
  ASSERT_TRUE(in_flight.send("GET /slow?ms=1500 HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return !serving_processes(server.pid()).empty(); }, kSettle));

  copy_in_place(module_path("hello.so"), live);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(exchange(server.port(), "GET /fast HTTP/1.0\r\n\r\n").body, "fast\n");
  HttpReply slow = in_flight.read_reply();
  EXPECT_EQ(slow.status, 200) << slow.summary();
  EXPECT_EQ(slow.body, "slow done\n");

  const std::string line = reload(server);
  EXPECT_NE(line.find("reloaded handler " + live), std::string::npos) << server.stderr_text();
  EXPECT_TRUE(eventually([&] { return hello_body(server) == "Hello, World!"; }, kSettle))
      << server.stderr_text();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(hello_body(server), "Hello, World!");
  EXPECT_EQ(deaths_logged(server), 0U) << server.stderr_text();
  server.signal(SIGINT);
  ExitStatus status = server.wait_for_exit(milliseconds(20'000));
  EXPECT_TRUE(status.exited && status.code == 0) << describe(status) << "\n" << server.stderr_text();
}

TEST(DeployInPlaceTest, SameBytesCopiedAgainAreUnchanged) {
  TempDir dir;
  const std::string live = dir.path() + "/live.so";
  std::filesystem::copy_file(module_path("hello.so"), live);
  ServerProcess server({"--handler", live});
  ASSERT_TRUE(server.ready()) << server.error();
  copy_in_place(module_path("hello.so"), live);  // new mtime, same content
  const std::string line = reload(server);
  EXPECT_NE(line.find("is unchanged"), std::string::npos) << server.stderr_text();
  EXPECT_EQ(hello_body(server), "Hello, World!");
}

// In a --chroot jail without /proc the private copy cannot be opened by a
// path, so the module is loaded from its file (by its path inside the jail):
// renamed deploys still reload, back and forth, each after its trial.
TEST(DeployInJailTest, WithoutProcRenamedModulesStillReloadBackAndForth) {
  if (::geteuid() != 0) GTEST_SKIP() << "chroot needs root";
  TempDir jail;  // empty: no /proc inside
  TempDir dir;
  const std::string live = dir.path() + "/live.so";
  std::filesystem::copy_file(module_path("hello.so"), live);
  // The same path as seen from inside the jail, where SIGHUP looks.
  const std::string inside = jail.path() + live;
  std::filesystem::create_directories(jail.path() + dir.path());
  std::filesystem::copy_file(module_path("hello.so"), inside);
  ServerProcess server({"--handler", live, "--chroot", jail.path()});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(hello_body(server), "Hello, World!");

  for (int i = 1; i <= 3; ++i) {
    const bool dump = i % 2 == 1;
    const std::string staged = jail.path() + dir.path() + "/staged.so";
    std::filesystem::copy_file(module_path(dump ? "environ_dump.so" : "hello.so"), staged);
    ASSERT_EQ(std::rename(staged.c_str(), inside.c_str()), 0) << std::strerror(errno);
    const std::string line = reload(server);
    ASSERT_NE(line.find("reloaded handler " + live), std::string::npos) << server.stderr_text();
    EXPECT_TRUE(eventually(
        [&] {
          std::string body = hello_body(server);
          return dump ? body.find("REQUEST_METHOD=GET") != std::string::npos : body == "Hello, World!";
        },
        kSettle))
        << "reload " << i << ": " << server.stderr_text();
    // With --workers, the next SIGHUP waits for the switch to end (old set
    // gone): one during a switch goes back to the serving module first.
    if (std::optional<int> workers = workers_under_test()) {
      EXPECT_TRUE(eventually(
          [&] { return children_of(server.pid()).size() == static_cast<std::size_t>(*workers); }, kSettle));
    }
  }
}

}  // namespace
}  // namespace forkserve::integration

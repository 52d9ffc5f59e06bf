// A reload proves the new module in a trial process while the parent goes
// on serving: a module whose init() is slow or hangs never stops the server
// from answering with the module it has, a later SIGHUP replaces a trial
// still under way (the newest file wins), SIGTERM ends a trial at once, and
// a trial past --init-timeout is killed. No trial process outlives its use or
// is counted as a child or worker. Runs against both modes.
#include <gtest/gtest.h>
#include <signal.h>

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kSettle{10'000};

class ReloadTrialTest : public ::testing::Test {
 protected:
  // Serves hello.so from `live`, with the ARG slow_init.so will be started
  // with once it is deployed there: sleep `init_ms` in init().
  void start(int init_ms, std::vector<std::string> extra = {}, std::string_view arg_tail = "") {
    install_new_build(module_path("hello.so"), live);
    std::vector<std::string> args{"--handler",
                                  live + ":" + std::to_string(init_ms) + "," + inits + std::string(arg_tail)};
    args.insert(args.end(), extra.begin(), extra.end());
    server.emplace(args);
    ASSERT_TRUE(server->ready()) << server->error();
    ASSERT_EQ(body(), "Hello, World!");
  }

  std::string body() const { return exchange(server->port(), "GET / HTTP/1.0\r\n\r\n").body; }

  // Processes that ran slow_init's init() other than the server itself: trials.
  std::vector<pid_t> trials() const {
    std::vector<pid_t> pids;
    for (const std::string& line : lines_of(read_file(inits))) {
      if (!line.empty() && std::isdigit(line[0]) && std::stoi(line) != server->pid())
        pids.push_back(std::stoi(line));
    }
    return pids;
  }
  // Helper processes slow_init's init() started (ARG ending ",helper").
  std::vector<pid_t> helpers() const {
    std::vector<pid_t> pids;
    for (const std::string& line : lines_of(read_file(inits))) {
      if (line.starts_with("helper ")) pids.push_back(std::stoi(line.substr(7)));
    }
    return pids;
  }
  bool parent_ran_init() const {
    for (const std::string& line : lines_of(read_file(inits))) {
      if (!line.empty() && std::isdigit(line[0]) && std::stoi(line) == server->pid()) return true;
    }
    return false;
  }

  // Deploys slow_init.so, sends SIGHUP and returns the trial process once its init() runs.
  pid_t reload_slow_module() {
    const std::size_t before = trials().size();
    install_new_build(fixture_path("slow_init.so"), live);
    server->signal(SIGHUP);
    EXPECT_TRUE(eventually([&] { return trials().size() > before; }, kSettle)) << server->stderr_text();
    return trials().empty() ? -1 : trials().back();
  }

  std::size_t sighup_lines() const { return count_lines_containing(server->stderr_text(), "SIGHUP"); }

  static bool gone(pid_t pid) { return process_info(pid).state == '?'; }
  // Not running: gone, or a zombie its new parent has yet to reap.
  static bool ended(pid_t pid) { return gone(pid) || process_info(pid).state == 'Z'; }

  TempDir dir;
  const std::string live = dir.path() + "/live.so";
  const std::string inits = dir.path() + "/inits";  // pids of the processes that ran slow_init's init()
  std::optional<ServerProcess> server;
};

TEST_F(ReloadTrialTest, RequestsDuringASlowTrialAreAnsweredByTheOldModule) {
  ASSERT_NO_FATAL_FAILURE(start(2'000));
  const pid_t trial = reload_slow_module();
  ASSERT_GT(trial, 0);
  // The parent goes on accepting while the trial sleeps: every answer comes
  // from the old module, and the trial has not ended when they are in.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(body(), "Hello, World!");
  EXPECT_FALSE(gone(trial)) << "the trial ended before the requests were answered: they waited for it";
  EXPECT_EQ(sighup_lines(), 0U) << server->stderr_text();

  ASSERT_TRUE(eventually([&] { return sighup_lines() == 1; }, kSettle)) << server->stderr_text();
  EXPECT_NE(server->stderr_text().find("SIGHUP: reloaded handler " + live), std::string::npos)
      << server->stderr_text();
  EXPECT_TRUE(eventually([&] { return body() == "slow_init ok"; }, kSettle));
  EXPECT_TRUE(gone(trial));  // reaped: no zombie
  EXPECT_EQ(server->stderr_text().find("killed by signal"), std::string::npos) << server->stderr_text();
  EXPECT_TRUE(eventually([&] { return count_zombie_children(server->pid()) == 0; }, kSettle));
}

TEST_F(ReloadTrialTest, SighupDuringASlowTrialReplacesItAndTheNewestModuleWins) {
  ASSERT_NO_FATAL_FAILURE(start(30'000));
  const pid_t slow = reload_slow_module();
  ASSERT_GT(slow, 0);
  install_new_build(module_path("environ_dump.so"), live);
  server->signal(SIGHUP);

  // One line for both SIGHUPs: the newest module, long before the slow
  // trial could have ended; that trial is killed and reaped, silently.
  ASSERT_TRUE(eventually([&] { return sighup_lines() == 1; }, kSettle)) << server->stderr_text();
  EXPECT_NE(server->stderr_text().find("SIGHUP: reloaded handler " + live), std::string::npos)
      << server->stderr_text();
  EXPECT_TRUE(eventually([&] { return gone(slow); }, kSettle));
  auto newest_answers = [&] { return body().find("REQUEST_METHOD=GET") != std::string::npos; };
  EXPECT_TRUE(eventually(newest_answers, kSettle));  // with --workers, once a new worker is ready
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(newest_answers());
  EXPECT_EQ(trials().size(), 1U);
  EXPECT_FALSE(parent_ran_init());  // the slow module never reached the parent
  EXPECT_EQ(sighup_lines(), 1U) << server->stderr_text();
  EXPECT_EQ(server->stderr_text().find("killed by signal"), std::string::npos) << server->stderr_text();
}

TEST_F(ReloadTrialTest, SigtermDuringASlowTrialExitsAtOnceAndLeavesNoProcess) {
  ASSERT_NO_FATAL_FAILURE(start(30'000));
  const pid_t trial = reload_slow_module();
  ASSERT_GT(trial, 0);
  server->signal(SIGTERM);
  ExitStatus status = server->wait_for_exit(milliseconds(8'000));  // the trial would sleep 30 s
  EXPECT_TRUE(status.exited && status.code == 0) << describe(status) << "\n" << server->stderr_text();
  EXPECT_TRUE(gone(trial)) << "state " << process_info(trial).state;
  EXPECT_FALSE(parent_ran_init());
}

TEST_F(ReloadTrialTest, TrialPastInitTimeoutIsKilledLoggedOnceAndTheOldModuleServes) {
  ASSERT_NO_FATAL_FAILURE(start(30'000, {"--init-timeout", "1"}));
  const pid_t trial = reload_slow_module();
  ASSERT_GT(trial, 0);
  ASSERT_TRUE(eventually([&] { return sighup_lines() == 1; }, kSettle)) << server->stderr_text();
  EXPECT_NE(server->stderr_text().find("SIGHUP: handler " + live +
                                       ": loading it and its init() took longer than 1 s (stopped); "
                                       "keeping the old one"),
            std::string::npos)
      << server->stderr_text();
  EXPECT_TRUE(eventually([&] { return gone(trial); }, kSettle));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(body(), "Hello, World!");
  EXPECT_EQ(sighup_lines(), 1U) << server->stderr_text();
  EXPECT_EQ(server->stderr_text().find("killed by signal"), std::string::npos) << server->stderr_text();
  EXPECT_FALSE(parent_ran_init());
  server->signal(SIGINT);
  ExitStatus status = server->wait_for_exit(milliseconds(20'000));
  EXPECT_TRUE(status.exited && status.code == 0) << describe(status) << "\n" << server->stderr_text();
}

TEST_F(ReloadTrialTest, ProcessesATrialsInitStartedEndWithTheTrial) {
  ASSERT_NO_FATAL_FAILURE(start(30'000, {"--init-timeout", "1"}, ",helper"));
  const pid_t trial = reload_slow_module();
  ASSERT_GT(trial, 0);
  ASSERT_TRUE(eventually([&] { return !helpers().empty(); }, kSettle));
  const pid_t helper = helpers().front();
  EXPECT_FALSE(ended(helper));  // it would sleep a minute
  ASSERT_TRUE(eventually([&] { return sighup_lines() == 1; }, kSettle)) << server->stderr_text();
  EXPECT_TRUE(eventually([&] { return gone(trial) && ended(helper); }, kSettle))
      << "helper " << helper << " state " << process_info(helper).state;
}

// At start-up the trial is waited for (nothing is served yet), within the same bound.
TEST(ReloadTrialStartupTest, ModuleSlowerThanInitTimeoutAtStartupIsRefused) {
  TempDir dir;
  const std::string inits = dir.path() + "/inits";
  ServerProcess server(
      {"--handler", fixture_path("slow_init.so") + ":30000," + inits, "--init-timeout", "1"});
  EXPECT_FALSE(server.ready());
  ExitStatus status = server.wait_for_exit(milliseconds(8'000));
  EXPECT_TRUE(status.exited && status.code == 1) << describe(status);
  EXPECT_NE(server.stderr_text().find("took longer than 1 s (stopped)"), std::string::npos)
      << server.stderr_text();
  const std::vector<std::string> pids = lines_of(read_file(inits));
  ASSERT_EQ(pids.size(), 1U);  // the trial's; the parent never ran it
  EXPECT_EQ(process_info(std::stoi(pids[0])).state, '?');
}

}  // namespace
}  // namespace forkserve::integration

// What only the pre-forked worker mode (--workers N) does: replace workers
// that die or have served --max-requests, and give up on workers that die
// before serving anything. (Everything else runs against both modes: see the
// Workers.* tests.)
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <string>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kSettle{10'000};

std::vector<pid_t> child_pids(pid_t parent) {
  std::vector<pid_t> pids;
  for (const ProcessInfo& child : children_of(parent)) pids.push_back(child.pid);
  std::sort(pids.begin(), pids.end());
  return pids;
}

// True when none of `pids` runs any more (gone, or a zombie left to init).
bool all_gone(const std::vector<pid_t>& pids) { return std::all_of(pids.begin(), pids.end(), has_exited); }

// These tests choose their own --workers; the Workers.* run would only repeat them.
#define SKIP_IN_THE_WORKERS_RUN() \
  if (workers_under_test()) GTEST_SKIP() << "runs once, with its own --workers"

TEST(WorkersTest, NWorkersAreStartedAndServeManyConnectionsEach) {
  SKIP_IN_THE_WORKERS_RUN();
  ServerProcess server({"--handler", module_path("hello.so"), "--workers", "3"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_TRUE(eventually([&] { return child_pids(server.pid()).size() == 3; }, kSettle));
  const std::vector<pid_t> workers = child_pids(server.pid());
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "Hello, World!");
  }
  EXPECT_EQ(child_pids(server.pid()), workers) << "30 connections were not served by the same 3 processes";
}

TEST(WorkersTest, WorkerKilledByACrashIsReplaced) {
  SKIP_IN_THE_WORKERS_RUN();
  ServerProcess server({"--handler", fixture_path("crashes.so"), "--workers", "2"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_TRUE(eventually([&] { return child_pids(server.pid()).size() == 2; }, kSettle));
  const std::vector<pid_t> before = child_pids(server.pid());

  HttpReply crashed = exchange(server.port(), "GET /segv HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(crashed.raw.empty()) << crashed.summary();
  ASSERT_TRUE(eventually(
      [&] {
        std::vector<pid_t> now = child_pids(server.pid());
        return now.size() == 2 && now != before;
      },
      kSettle))
      << "the crashed worker was not replaced";
  std::vector<pid_t> after = child_pids(server.pid());
  std::vector<pid_t> kept;
  std::set_intersection(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(kept));
  EXPECT_EQ(kept.size(), 1U) << "exactly one worker should have been replaced";
  for (int i = 0; i < 4; ++i) EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "alive\n");
  EXPECT_EQ(count_zombie_children(server.pid()), 0U);
}

TEST(WorkersTest, MaxRequestsRecyclesAWorkerAfterNConnections) {
  SKIP_IN_THE_WORKERS_RUN();
  ServerProcess server({"--handler", module_path("hello.so"), "--workers", "1", "--max-requests", "3"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_TRUE(eventually([&] { return child_pids(server.pid()).size() == 1; }, kSettle));
  const pid_t first = child_pids(server.pid()).at(0);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "Hello, World!");
  ASSERT_TRUE(eventually(
      [&] {
        std::vector<pid_t> now = child_pids(server.pid());
        return now.size() == 1 && now[0] != first;
      },
      kSettle))
      << "the worker was not replaced after 3 connections";
  EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "Hello, World!");
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "exited"), 0U)
      << "a recycled worker is not an error: " << server.stderr_text();
}

TEST(WorkersTest, WorkersDyingBeforeTheirFirstConnectionStopTheServerWithStatus1) {
  SKIP_IN_THE_WORKERS_RUN();
  ServerProcess server({"--handler", fixture_path("fails_after_fork.so"), "--workers", "2"});
  ASSERT_TRUE(server.ready()) << server.error();
  ExitStatus status = server.wait_for_exit(milliseconds(20'000));
  EXPECT_TRUE(status.exited && status.code == 1) << describe(status) << "; stderr: " << server.stderr_text();
  const std::string log = server.stderr_text();
  EXPECT_EQ(count_lines_containing(log, "died before they were ready"), 1U) << log;
  // Paused and then stopped: a handful of attempts, not a fork storm; the
  // workers still starting are stopped, not killed.
  EXPECT_EQ(count_lines_containing(log, "killed by signal"), 0U) << log;
  EXPECT_LE(count_lines_containing(log, "exited with status 3"), 8U) << log;
}

TEST(WorkersTest, OldWorkersLeaveAfterSighupEvenUnderSustainedLoad) {
  SKIP_IN_THE_WORKERS_RUN();
  ServerProcess server({"--handler", fixture_path("slow.so"), "--workers", "2"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_TRUE(eventually([&] { return child_pids(server.pid()).size() == 2; }, kSettle));
  const std::vector<pid_t> old_workers = child_pids(server.pid());

  // Keep the listener busy from four clients, so a worker never finds it idle.
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      while (!stop) {
        if (exchange(server.port(), "GET /slow?ms=50 HTTP/1.0\r\n\r\n").status != 200) ++failures;
      }
    });
  }
  server.signal(SIGHUP);
  bool replaced = eventually([&] { return all_gone(old_workers); }, kSettle);
  stop = true;
  for (std::thread& client : clients) client.join();
  EXPECT_TRUE(replaced) << "the old workers kept serving under load";
  EXPECT_EQ(failures.load(), 0) << "requests failed across the replacement";
  EXPECT_EQ(child_pids(server.pid()).size(), 2U);
}

TEST(WorkersTest, WorkersLeaveWhenTheParentIsKilled) {
  SKIP_IN_THE_WORKERS_RUN();
  ServerProcess server({"--handler", module_path("hello.so"), "--workers", "2"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_TRUE(eventually([&] { return child_pids(server.pid()).size() == 2; }, kSettle));
  const std::vector<pid_t> workers = child_pids(server.pid());
  server.signal(SIGKILL);
  EXPECT_TRUE(eventually([&] { return all_gone(workers); }, kSettle)) << "orphaned workers kept the port";
  EXPECT_TRUE(eventually([&] { return connect_error(server.port()) == ECONNREFUSED; }, kSettle));
}

TEST(WorkersTest, StoppingAnIdlePoolWithGraceZeroIsAStopNotABootFailure) {
  SKIP_IN_THE_WORKERS_RUN();
  ServerProcess server({"--handler", module_path("hello.so"), "--workers", "8", "--grace", "0"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_TRUE(eventually([&] { return child_pids(server.pid()).size() == 8; }, kSettle));
  ExitStatus status = server.stop();
  EXPECT_TRUE(status.exited && status.code == 0) << describe(status) << "; stderr: " << server.stderr_text();
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "before they were ready"), 0U) << server.stderr_text();
}

TEST(WorkersTest, ReloadedModuleWhoseWorkersDieAtStartIsRolledBack) {
  SKIP_IN_THE_WORKERS_RUN();
  TempDir dir;
  const std::string handler = dir.path() + "/handler.so";
  auto install = [&](const std::string& source) {
    std::filesystem::copy_file(source, handler + ".new", std::filesystem::copy_options::overwrite_existing);
    ASSERT_EQ(std::rename((handler + ".new").c_str(), handler.c_str()), 0);
  };
  ASSERT_NO_FATAL_FAILURE(install(module_path("hello.so")));
  ServerProcess server({"--handler", handler, "--workers", "2"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "Hello, World!");

  ASSERT_NO_FATAL_FAILURE(install(fixture_path("fails_after_fork.so")));
  server.signal(SIGHUP);
  EXPECT_TRUE(eventually(
      [&] { return count_lines_containing(server.stderr_text(), "back to the previous handler") == 1; }, kSettle))
      << server.stderr_text();
  EXPECT_NE(process_info(server.pid()).state, '?') << "the server gave up: " << server.stderr_text();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "Hello, World!");
}

TEST(WorkersTest, MaxRequestsWithoutWorkersIsAUsageError) {
  SKIP_IN_THE_WORKERS_RUN();
  ProcessResult result = run_process({server_binary(), "--max-requests", "5"});
  EXPECT_TRUE(result.status.exited && result.status.code == 2) << describe(result.status);
  EXPECT_EQ(count_lines_containing(result.err, "--max-requests needs --workers"), 1U) << result.err;
}

}  // namespace
}  // namespace forkserve::integration

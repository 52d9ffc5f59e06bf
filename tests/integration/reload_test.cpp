// SIGHUP re-loads the --handler module: connections after it run the file as
// it is now, a request in flight finishes on the old one, and a broken file
// leaves the old module serving. Runs against both modes.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kSettle{10'000};

// Puts a copy of `source` at `target` the way an install does: a new file
// renamed over the old one, so processes that mapped the old file keep it.
void install_module(const std::string& source, const std::string& target) {
  const std::string staged = target + ".new";
  std::filesystem::copy_file(source, staged, std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(std::rename(staged.c_str(), target.c_str()), 0) << std::strerror(errno);
}

bool serves_environ_dump(const ServerProcess& server) {
  return exchange(server.port(), "GET /x HTTP/1.0\r\n\r\n").body.find("REQUEST_METHOD=GET") != std::string::npos;
}

TEST(ReloadTest, SighupLoadsTheReplacedModuleFileForNewConnections) {
  TempDir dir;
  const std::string handler = dir.path() + "/handler.so";
  ASSERT_NO_FATAL_FAILURE(install_module(module_path("hello.so"), handler));
  ServerProcess server({"--handler", handler});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "Hello, World!");

  // Workers: the old set serves until a new worker is ready, then leaves.
  const std::vector<ProcessInfo> old_workers = workers_under_test() ? children_of(server.pid()) : std::vector<ProcessInfo>{};
  ASSERT_NO_FATAL_FAILURE(install_module(module_path("environ_dump.so"), handler));
  server.signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return count_lines_containing(server.stderr_text(), "reloaded handler") == 1; }, kSettle))
      << server.stderr_text();
  EXPECT_TRUE(eventually([&] { return serves_environ_dump(server); }, kSettle))
      << "still the old module after SIGHUP; stderr: " << server.stderr_text();
  EXPECT_TRUE(wait_for_old_workers_to_leave(old_workers, kSettle))
      << "an old worker stayed after the new set was ready";
  // And every connection from then on.
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(serves_environ_dump(server));
  EXPECT_TRUE(eventually([&] { return count_zombie_children(server.pid()) == 0; }, kSettle));
}

TEST(ReloadTest, SighupWithABrokenModuleFileKeepsTheOldModule) {
  TempDir dir;
  const std::string handler = dir.path() + "/handler.so";
  ASSERT_NO_FATAL_FAILURE(install_module(module_path("hello.so"), handler));
  ServerProcess server({"--handler", handler});
  ASSERT_TRUE(server.ready()) << server.error();

  const std::string broken = dir.write_file("broken.so", "not a shared object\n");
  ASSERT_EQ(std::rename(broken.c_str(), handler.c_str()), 0);
  server.signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return count_lines_containing(server.stderr_text(), "keeping the old one") == 1; }, kSettle))
      << server.stderr_text();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "Hello, World!");
  EXPECT_NE(process_info(server.pid()).state, 'Z');
}

TEST(ReloadTest, RequestInFlightAcrossSighupFinishesNormally) {
  ServerProcess server({"--handler", fixture_path("slow.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  Client client(server.port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send("GET /slow?ms=1500 HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return !children_of(server.pid()).empty(); }, kSettle));
  std::vector<ProcessInfo> before = children_of(server.pid());
  server.signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return count_lines_containing(server.stderr_text(), "SIGHUP") == 1; }, kSettle));
  EXPECT_EQ(exchange(server.port(), "GET /fast HTTP/1.0\r\n\r\n").body, "fast\n");
  HttpReply slow = client.read_reply();
  EXPECT_EQ(slow.status, 200) << slow.summary();
  EXPECT_EQ(slow.body, "slow done\n");
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "killed by signal"), 0U) << server.stderr_text();
  if (workers_under_test()) {  // a whole new set of workers has replaced the old one
    EXPECT_TRUE(eventually(
        [&] {
          std::vector<ProcessInfo> now = children_of(server.pid());
          if (now.size() != static_cast<std::size_t>(*workers_under_test())) return false;
          for (const ProcessInfo& old : before) {
            for (const ProcessInfo& child : now) {
              if (child.pid == old.pid) return false;
            }
          }
          return true;
        },
        kSettle));
  }
}

// Connections arriving while an old set of workers is being retired: each is
// answered promptly, none waits in the backlog for the next connection. One
// client at a time, so a connection whose wake-up was lost is never rescued
// by another one and shows as a timeout.
TEST(ReloadTest, EveryConnectionDuringRepeatedSighupsIsAnswered) {
  ServerProcess server({"--handler", module_path("hello.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  constexpr int kReloads = 100;
  constexpr milliseconds kAnswerDeadline{3'000};  // a served one takes milliseconds
  std::atomic<bool> reloading{true};
  std::atomic<int> answered{0};
  std::atomic<bool> failed{false};
  std::string first_failure;  // read after join
  std::thread client([&] {
    while (reloading.load()) {
      HttpReply reply = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n", kAnswerDeadline);
      if (reply.body != "Hello, World!") {
        first_failure = reply.summary();
        failed.store(true);
        return;
      }
      answered.fetch_add(1);
    }
  });
  for (int i = 1; i <= kReloads && !failed.load(); ++i) {
    server.signal(SIGHUP);
    const int answered_before = answered.load();
    // The reload (a fresh set of workers, the module unchanged) is logged,
    // and connections made after it were answered.
    EXPECT_TRUE(eventually(
        [&] {
          return failed.load() ||
                 (count_lines_containing(server.stderr_text(), "SIGHUP: ") == static_cast<std::size_t>(i) &&
                  answered.load() > answered_before + 1);
        },
        kSettle))
        << server.stderr_text();
  }
  reloading.store(false);
  client.join();
  EXPECT_EQ(first_failure, "") << "a connection during a reload was not answered within "
                               << kAnswerDeadline.count() << " ms; stderr: " << server.stderr_text();
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "killed by signal"), 0U) << server.stderr_text();
}

}  // namespace
}  // namespace forkserve::integration

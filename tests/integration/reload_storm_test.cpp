// SIGHUPs in quick succession: whatever their spacing (1, 3, 6 ms apart, or
// while a switch to a new set of workers is still under way), the server
// settles within 2 s of the last one on the newest module, with exactly
// --workers workers and none of the old sets; and once settled the parent
// sleeps, waking for nothing. Runs against both modes.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
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

constexpr milliseconds kConverge{2'000};  // from the last SIGHUP, as promised
constexpr milliseconds kSettle{10'000};
constexpr milliseconds kAsleepWindow{1'500};

// A fresh copy of `source` renamed over `target`: a new inode each time, as a deploy leaves it.
void install_module(const std::string& source, const std::string& target) {
  const std::string staged = target + ".new";
  std::filesystem::copy_file(source, staged, std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(std::rename(staged.c_str(), target.c_str()), 0) << std::strerror(errno);
}

// The two modules the storm alternates, told apart by their answer to GET /x.
struct Module {
  std::string path;
  bool (*answers)(const HttpReply&);
};
const Module kHello{module_path("hello.so"), [](const HttpReply& r) { return r.body == "Hello, World!"; }};
const Module kDump{module_path("environ_dump.so"),
                   [](const HttpReply& r) { return r.body.find("REQUEST_METHOD=GET") != std::string::npos; }};

std::vector<pid_t> child_pids(pid_t parent) {
  std::vector<pid_t> pids;
  for (const ProcessInfo& child : children_of(parent)) {
    if (child.state != 'Z') pids.push_back(child.pid);
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

// Settled: exactly the workers asked for (none in the default mode once idle),
// none of `old`, and several connections in a row answered by `newest`.
bool settled_on(const ServerProcess& server, const Module& newest, const std::vector<pid_t>& old) {
  std::vector<pid_t> now = child_pids(server.pid());
  if (now.size() != static_cast<std::size_t>(workers_under_test().value_or(0))) return false;
  for (pid_t pid : old) {
    if (std::binary_search(now.begin(), now.end(), pid)) return false;
  }
  for (int i = 0; i < 8; ++i) {
    if (!newest.answers(exchange(server.port(), "GET /x HTTP/1.0\r\n\r\n", milliseconds(2'000))))
      return false;
  }
  return child_pids(server.pid()).size() == now.size();
}

// The parent neither woke nor ran for a while: no timer, no polling.
void expect_parent_asleep(const ServerProcess& server) {
  // Whatever the last connection left (a child exiting) is over first, and
  // every wake-up already sent has been taken: each worker has reported
  // ready and waits for connections, and the parent has read every report
  // (and the wake-up from the last connection) and sleeps again.
  ASSERT_TRUE(eventually(
      [&] {
        if (count_zombie_children(server.pid()) != 0) return false;
        for (pid_t worker : workers_under_test() ? child_pids(server.pid()) : std::vector<pid_t>{}) {
          if (sleeping_in(worker) != "do_epoll_wait") return false;
        }
        return !has_unread_eventfd(server.pid()) && process_info(server.pid()).state == 'S';
      },
      kSettle));
  std::optional<unsigned long long> before = voluntary_context_switches(server.pid());
  ASSERT_TRUE(before.has_value());
  std::this_thread::sleep_for(kAsleepWindow);  // the behaviour under test is doing nothing for a while
  std::optional<unsigned long long> after = voluntary_context_switches(server.pid());
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(*after, *before) << "the idle parent woke " << (*after - *before) << " times in "
                             << kAsleepWindow.count() << " ms";
}

class ReloadStormTest : public ::testing::TestWithParam<int> {};

TEST_P(ReloadStormTest, SighupsMillisecondsApartSettleOnTheNewestModuleAndTheParentSleeps) {
  const milliseconds spacing(GetParam());
  TempDir dir;
  const std::string handler = dir.path() + "/handler.so";
  ASSERT_NO_FATAL_FAILURE(install_module(kHello.path, handler));
  ServerProcess server({"--handler", handler});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_TRUE(eventually([&] { return settled_on(server, kHello, {}); }, kSettle)) << server.stderr_text();
  const std::vector<pid_t> before = child_pids(server.pid());

  // Three reloads, alternating the modules: the last one installs environ_dump.
  const Module* newest = &kHello;
  for (const Module* next : {&kDump, &kHello, &kDump}) {
    newest = next;
    ASSERT_NO_FATAL_FAILURE(install_module(newest->path, handler));
    server.signal(SIGHUP);
    std::this_thread::sleep_for(spacing);  // the spacing is what this test is about
  }
  Clock::time_point last_hup = Clock::now() - spacing;
  EXPECT_TRUE(eventually([&] { return settled_on(server, *newest, before); }, kConverge))
      << "not settled " << kConverge.count()
      << " ms after the last SIGHUP: " << child_pids(server.pid()).size()
      << " processes; stderr: " << server.stderr_text();
  EXPECT_LE(Clock::now() - last_hup, kConverge + milliseconds(1'000));
  EXPECT_TRUE(eventually([&] { return settled_on(server, *newest, before); }, kSettle))
      << server.stderr_text();
  EXPECT_NE(process_info(server.pid()).state, 'Z');
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "killed by signal"), 0U) << server.stderr_text();
  expect_parent_asleep(server);
}

INSTANTIATE_TEST_SUITE_P(Spacing, ReloadStormTest, ::testing::Values(1, 3, 6),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::to_string(info.param) + "ms";
                         });

TEST(ReloadStormTest, SighupWhileTheOldSetStillDrainsSettlesOnTheNewestModule) {
  TempDir dir;
  const std::string handler = dir.path() + "/handler.so";
  const Module slow{fixture_path("slow.so"), [](const HttpReply& r) { return r.body == "fast\n"; }};
  ASSERT_NO_FATAL_FAILURE(install_module(slow.path, handler));
  ServerProcess server({"--handler", handler});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_TRUE(eventually([&] { return settled_on(server, slow, {}); }, kSettle)) << server.stderr_text();
  const std::vector<pid_t> before = child_pids(server.pid());

  // A request in flight keeps a process of the first module busy (its worker
  // set cannot leave yet) while the next two reloads come in.
  Client busy(server.port());
  ASSERT_TRUE(busy.send("GET /slow?ms=1200 HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(eventually([&] { return !serving_processes(server.pid()).empty(); }, kSettle));
  ASSERT_NO_FATAL_FAILURE(install_module(kHello.path, handler));
  server.signal(SIGHUP);
  ASSERT_TRUE(
      eventually([&] { return kHello.answers(exchange(server.port(), "GET /x HTTP/1.0\r\n\r\n")); }, kSettle))
      << server.stderr_text();
  ASSERT_NO_FATAL_FAILURE(install_module(kDump.path, handler));
  server.signal(SIGHUP);
  std::this_thread::sleep_for(milliseconds(1));  // a second reload right behind, while the new set boots
  ASSERT_NO_FATAL_FAILURE(install_module(slow.path, handler));
  server.signal(SIGHUP);

  EXPECT_TRUE(eventually([&] { return settled_on(server, slow, before); }, kConverge))
      << child_pids(server.pid()).size() << " processes; stderr: " << server.stderr_text();
  HttpReply in_flight = busy.read_reply();
  EXPECT_EQ(in_flight.body, "slow done\n") << "the request in flight was cut: " << in_flight.summary();
  EXPECT_TRUE(eventually([&] { return settled_on(server, slow, before); }, kSettle)) << server.stderr_text();
  expect_parent_asleep(server);
}

TEST(ReloadStormTest, IdleServerParentSleeps) {
  ServerProcess server({"--handler", module_path("hello.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_TRUE(eventually([&] { return settled_on(server, kHello, {}); }, kSettle)) << server.stderr_text();
  expect_parent_asleep(server);
}

}  // namespace
}  // namespace forkserve::integration

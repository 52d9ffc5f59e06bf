// Sustained load with ApacheBench: 20 000 requests (4 000 under
// AddressSanitizer, whose every fork copies the page tables of its shadow
// memory), 100 at a time, all answered, children reaped as they go, one
// access-log line each, and nothing left behind afterwards.
// Skipped when `ab` (apache2-utils) is not installed; the test never installs it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>
#include <regex>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr int kRequests = 4'000;
#else
constexpr int kRequests = 20'000;
#endif
constexpr int kConcurrency = 100;
constexpr milliseconds kAbTimeout{100'000};
constexpr milliseconds kSettleTime{10'000};

// The number after `label` in ab's report ("Failed requests:        0"); -1 if absent.
long ab_count(const std::string& report, const std::string& label) {
  std::smatch match;
  if (!std::regex_search(report, match, std::regex(label + R"(:\s+(\d+))"))) return -1;
  return std::stol(match[1]);
}

TEST(LoadTest, AbThousandsOfRequestsAllSucceedWithoutLeaks) {
  std::optional<std::string> ab = find_in_path("ab");
  if (!ab) GTEST_SKIP() << "ab (apache2-utils) is not installed";
  ServerProcess server({"--handler", module_path("hello.so")});  // the harness adds --access-log
  ASSERT_TRUE(server.ready()) << server.error();
  const int baseline = count_open_fds(server.pid());
  ASSERT_GT(baseline, 0);

  // Exited children must be reaped during the load, not only after it: the
  // parent once kept accepting without reaping until zombies filled
  // --max-children. Sampled from /proc while ab runs.
  std::atomic<bool> running{true};
  std::size_t most_zombies = 0;
  std::thread sampler([&] {
    while (running) {
      most_zombies = std::max(most_zombies, count_zombie_children(server.pid()));
      std::this_thread::sleep_for(milliseconds(5));
    }
  });
  ProcessResult run =
      run_process({*ab, "-q", "-n", std::to_string(kRequests), "-c", std::to_string(kConcurrency),
                   "http://127.0.0.1:" + std::to_string(server.port()) + "/"},
                  kAbTimeout);
  running = false;
  sampler.join();
  EXPECT_LT(most_zombies, static_cast<std::size_t>(kConcurrency)) << "children were not reaped under load";
  RecordProperty("most_zombies_during_load", static_cast<int>(most_zombies));
  ASSERT_TRUE(run.status.exited && run.status.code == 0) << "ab " << describe(run.status) << "\n"
                                                         << run.out << run.err;
  EXPECT_EQ(ab_count(run.out, "Complete requests"), kRequests) << run.out;
  EXPECT_EQ(ab_count(run.out, "Failed requests"), 0) << run.out;
  EXPECT_EQ(run.out.find("Non-2xx responses"), std::string::npos) << run.out;

  EXPECT_TRUE(eventually([&] { return count_zombie_children(server.pid()) == 0; }, kSettleTime))
      << count_zombie_children(server.pid()) << " zombie children";
  EXPECT_TRUE(eventually([&] { return count_open_fds(server.pid()) == baseline; }, kSettleTime))
      << "parent holds " << count_open_fds(server.pid()) << " descriptors, " << baseline
      << " before the load";
  std::size_t logged = 0;
  EXPECT_TRUE(eventually(
      [&] {
        return (logged = count_lines_containing(read_file(server.access_log_path()),
                                                "\"GET / HTTP/1.0\" 200 13")) ==
               static_cast<std::size_t>(kRequests);
      },
      kSettleTime))
      << logged << " access-log lines for " << kRequests << " requests";
  HttpReply after = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(after.body, "Hello, World!") << after.summary();
}

}  // namespace
}  // namespace forkserve::integration

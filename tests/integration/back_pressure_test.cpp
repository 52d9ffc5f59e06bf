// --max-children: at the cap new connections wait in the backlog, so a burst
// far larger than the cap is answered in full, never by more children at
// once than allowed, and the cap is reported once rather than per connection.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

using std::chrono::duration_cast;

constexpr std::size_t kMaxChildren = 8;
constexpr milliseconds kSampleInterval{2};
constexpr milliseconds kBurstTimeout{60'000};

milliseconds since(Clock::time_point start) { return duration_cast<milliseconds>(Clock::now() - start); }

bool answered(const HttpReply& reply) {
  return reply.status == 200 && reply.body == "slow done\n" && reply.closed_by_server && reply.error == 0;
}

// Counts the server's children from /proc in a background thread, every few
// milliseconds, and keeps the largest count. A scan of /proc is not atomic:
// it may list a child that was reaped during the scan next to the one forked
// in its place. So each scan is confirmed: only the children still there
// afterwards count, and all of those were alive together at the scan's end.
// Unreaped (zombie) children count too: each still holds one of the slots.
class ChildSampler {
 public:
  explicit ChildSampler(pid_t parent)
      : thread_([this, parent] {
          while (!stop_.load()) {
            std::size_t alive = 0;
            for (const ProcessInfo& child : children_of(parent)) {
              if (parent_of(child.pid) == parent) ++alive;
            }
            max_alive_ = std::max(max_alive_.load(), alive);
            ++samples_;
            std::this_thread::sleep_for(kSampleInterval);
          }
        }) {}
  ChildSampler(const ChildSampler&) = delete;
  ChildSampler& operator=(const ChildSampler&) = delete;
  ~ChildSampler() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::size_t max_alive() const { return max_alive_.load(); }
  std::size_t samples() const { return samples_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> max_alive_{0};
  std::atomic<std::size_t> samples_{0};
  std::thread thread_;
};

class BackPressureTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ready()) << server_.error(); }

  // The backlog is larger than any burst here, so a waiting client waits in
  // the queue rather than on SYN retransmissions.
  ServerProcess server_{{"--handler", fixture_path("slow.so"), "--max-children", std::to_string(kMaxChildren),
                         "--backlog", "512"}};
};

TEST_F(BackPressureTest, TwoHundredClientsAreAllAnsweredByAtMostEightChildrenAtOnce) {
  constexpr std::size_t kClients = 200;
  constexpr milliseconds kHandlerTime{150};
  // Served at most 8 at a time, the burst takes at least 25 handler times.
  constexpr milliseconds kSerialisedAtLeast{kClients / kMaxChildren * kHandlerTime.count() * 95 / 100};

  ChildSampler sampler(server_.pid());
  Clock::time_point start = Clock::now();
  std::vector<HttpReply> replies = exchange_concurrently(
      server_.port(), "GET /slow?ms=" + std::to_string(kHandlerTime.count()) + " HTTP/1.0\r\n\r\n", kClients,
      kBurstTimeout);
  milliseconds burst = since(start);
  sampler.stop();

  std::size_t complete = 0;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (answered(replies[i])) {
      ++complete;
    } else if (i - complete < 5) {
      ADD_FAILURE() << "client " << i << ": " << replies[i].summary();
    }
  }
  EXPECT_EQ(complete, kClients) << "refused, reset or unanswered connections";
  EXPECT_LE(sampler.max_alive(), kMaxChildren) << "more children than --max-children were alive at once";
  EXPECT_GE(sampler.max_alive(), 2U) << "the sampler never saw concurrent children (" << sampler.samples()
                                     << " samples): the test proves nothing";
  EXPECT_GE(burst, kSerialisedAtLeast)
      << "the burst finished faster than 8 children at a time could serve it";
  RecordProperty("max_children_observed", static_cast<int>(sampler.max_alive()));
  RecordProperty("samples", static_cast<int>(sampler.samples()));
  std::printf("%zu clients in %lld ms; at most %zu children alive at once (%zu samples)\n", kClients,
              static_cast<long long>(burst.count()), sampler.max_alive(), sampler.samples());
}

TEST_F(BackPressureTest, ReachingTheCapIsLoggedOnceNotPerConnection) {
  if (workers_under_test()) GTEST_SKIP() << "--max-children caps forked children; with --workers the workers are the cap";
  constexpr std::size_t kClients = 100;
  Clock::time_point start = Clock::now();
  std::vector<HttpReply> replies =
      exchange_concurrently(server_.port(), "GET /slow?ms=100 HTTP/1.0\r\n\r\n", kClients, kBurstTimeout);
  milliseconds burst = since(start);
  for (const HttpReply& reply : replies) ASSERT_TRUE(answered(reply)) << reply.summary();

  const std::string log = server_.stderr_text();
  const std::size_t at_cap = count_lines_containing(log, "at --max-children");
  const std::size_t cap_lines = count_lines_containing(log, "max-children");
  EXPECT_GE(at_cap, 1U) << "a burst of " << kClients << " never reached the cap of " << kMaxChildren << ":\n"
                        << log;
  // Once per burst; were it rate-limited to once a second, once per second the burst touched.
  const auto allowed = static_cast<std::size_t>(duration_cast<std::chrono::seconds>(burst).count()) + 2;
  EXPECT_LE(at_cap, allowed) << cap_lines << " lines about the cap for " << kClients << " connections in "
                             << burst.count() << " ms; the first ones:\n"
                             << log.substr(0, 600);
}

}  // namespace
}  // namespace forkserve::integration

// The tutorial's failures, each made impossible: one slow client blocking
// everyone, leaked descriptors and zombies, descriptor exhaustion, and an
// accept loop that dies when a signal interrupts it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "integration/http_client.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

using std::chrono::duration_cast;

// The slow fixture's /slow delay, and the bounds the tests hold the server to
// (generous: two shared cores).
constexpr milliseconds kSlowDelay{2'000};
constexpr milliseconds kFastAnswerBound{1'000};
constexpr milliseconds kTwoSlowBound{3'500};
// How long reaping and closing may take to settle after the last reply.
constexpr milliseconds kSettleTime{5'000};
// One small reply in a loop of hundreds: far above the normal few ms, low
// enough that a hanging server fails the loop quickly.
constexpr milliseconds kReplyTimeout{5'000};

constexpr std::string_view kFileBody = "a small file\n";
constexpr std::string_view kGetFile = "GET /file.txt HTTP/1.0\r\n\r\n";

milliseconds since(Clock::time_point start) { return duration_cast<milliseconds>(Clock::now() - start); }

// A whole answer: the status, the exact body, and the server closed the connection.
bool answered(const HttpReply& reply, std::string_view body) {
  return reply.status == 200 && reply.body == body && reply.closed_by_server;
}

class SlowHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ready()) << server_.error(); }
  ServerProcess server_{{"--handler", fixture_path("slow.so")}};
};

TEST_F(SlowHandlerTest, SlowRequestDoesNotDelayASecondClient) {
  Client slow(server_.port());
  ASSERT_TRUE(slow.connected()) << std::strerror(slow.error());
  ASSERT_TRUE(slow.send("GET /slow HTTP/1.0\r\n\r\n"));

  Clock::time_point start = Clock::now();
  HttpReply fast = exchange(server_.port(), "GET /fast HTTP/1.0\r\n\r\n");
  milliseconds fast_time = since(start);
  EXPECT_TRUE(answered(fast, "fast\n")) << fast.summary();
  EXPECT_LT(fast_time, kFastAnswerBound) << "the second client waited for the slow one";

  HttpReply slow_reply = slow.read_reply();
  EXPECT_TRUE(answered(slow_reply, "slow done\n")) << slow_reply.summary();
}

TEST_F(SlowHandlerTest, TwoSlowRequestsAreServedAtTheSameTime) {
  Clock::time_point start = Clock::now();
  Client first(server_.port());
  Client second(server_.port());
  ASSERT_TRUE(first.connected() && second.connected());
  ASSERT_TRUE(first.send("GET /slow HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(second.send("GET /slow HTTP/1.0\r\n\r\n"));
  HttpReply first_reply = first.read_reply();
  HttpReply second_reply = second.read_reply();
  milliseconds both = since(start);

  EXPECT_TRUE(answered(first_reply, "slow done\n")) << first_reply.summary();
  EXPECT_TRUE(answered(second_reply, "slow done\n")) << second_reply.summary();
  EXPECT_GE(both, kSlowDelay - milliseconds(100)) << "the fixture did not sleep: the test proves nothing";
  EXPECT_LT(both, kTwoSlowBound) << "two slow requests were served one after the other";
}

TEST(ResourceTest, SequentialRequestsLeaveFdCountAtBaselineAndNoZombies) {
  constexpr int kRequests = 300;
  ServerProcess server;
  ASSERT_TRUE(server.ready()) << server.error();
  server.write_root_file("file.txt", kFileBody);
  const int baseline = count_open_fds(server.pid());
  ASSERT_GT(baseline, 0);

  for (int i = 0; i < kRequests; ++i) {
    HttpReply reply = exchange(server.port(), kGetFile, kReplyTimeout);
    ASSERT_TRUE(answered(reply, kFileBody)) << "request " << i << ": " << reply.summary();
  }

  EXPECT_TRUE(eventually([&] { return count_open_fds(server.pid()) == baseline; }, kSettleTime))
      << "parent holds " << count_open_fds(server.pid()) << " descriptors, " << baseline << " before traffic";
  EXPECT_TRUE(eventually([&] { return count_zombie_children(server.pid()) == 0; }, kSettleTime))
      << count_zombie_children(server.pid()) << " zombie children after " << kRequests << " requests";
}

TEST(ResourceTest, LowDescriptorLimitStillAnswersEveryRequestAndBurst) {
  constexpr rlim_t kMaxOpenFiles = 64;
  constexpr int kSequential = 500;
  constexpr std::size_t kBurst = 100;
  ServerProcess server({}, ProcessLimits::max_open_files(kMaxOpenFiles));
  ASSERT_TRUE(server.ready()) << server.error();
  rlimit limit{};
  ASSERT_EQ(::prlimit(server.pid(), RLIMIT_NOFILE, nullptr, &limit), 0) << std::strerror(errno);
  ASSERT_EQ(limit.rlim_cur, kMaxOpenFiles) << "the limit did not reach the server";
  server.write_root_file("file.txt", kFileBody);
  const int baseline = count_open_fds(server.pid());
  ASSERT_GT(baseline, 0);

  for (int i = 0; i < kSequential; ++i) {
    HttpReply reply = exchange(server.port(), kGetFile, kReplyTimeout);
    ASSERT_TRUE(answered(reply, kFileBody)) << "request " << i << ": " << reply.summary();
  }

  // More connections at once than the server may hold descriptors.
  std::vector<HttpReply> replies = exchange_concurrently(server.port(), kGetFile, kBurst);
  std::size_t complete = 0;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (answered(replies[i], kFileBody)) {
      ++complete;
    } else {
      ADD_FAILURE() << "burst connection " << i << ": " << replies[i].summary();
    }
  }
  EXPECT_EQ(complete, kBurst);

  EXPECT_TRUE(eventually([&] { return count_open_fds(server.pid()) == baseline; }, kSettleTime))
      << "parent holds " << count_open_fds(server.pid()) << " descriptors, " << baseline << " before traffic";
  HttpReply after = exchange(server.port(), kGetFile, kReplyTimeout);
  EXPECT_TRUE(answered(after, kFileBody)) << after.summary();
}

TEST(ResourceTest, SigchldStormDoesNotBreakTheAcceptLoop) {
  constexpr int kRequests = 200;
  constexpr int kMinSignals = 2'000;
  constexpr int kMaxSignals = 500'000;  // bounds the storm should requests stall
  ServerProcess server({"--handler", module_path("hello.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  const pid_t pid = server.pid();

  std::atomic<bool> requests_done{false};
  std::atomic<int> sent{0};
  std::atomic<int> kill_error{0};
  std::thread storm([&] {
    while ((!requests_done.load() || sent.load() < kMinSignals) && sent.load() < kMaxSignals) {
      if (::kill(pid, SIGCHLD) != 0) {
        kill_error = errno;
        return;
      }
      ++sent;
    }
  });
  int succeeded = 0;
  std::string first_failure;
  for (int i = 0; i < kRequests; ++i) {
    HttpReply reply = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n", kReplyTimeout);
    if (answered(reply, "Hello, World!")) {
      ++succeeded;
    } else {
      first_failure = "request " + std::to_string(i) + ": " + reply.summary();
      break;  // one hanging request is enough; do not wait out the rest
    }
  }
  requests_done = true;
  storm.join();

  EXPECT_EQ(kill_error.load(), 0) << "kill: " << std::strerror(kill_error.load());
  EXPECT_GE(sent.load(), kMinSignals);
  EXPECT_EQ(succeeded, kRequests) << first_failure;
  ProcessInfo info = process_info(pid);
  EXPECT_TRUE(info.state != 'Z' && info.state != '?') << "server state " << info.state;
  HttpReply after = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n", kReplyTimeout);
  EXPECT_TRUE(answered(after, "Hello, World!")) << after.summary();
}

}  // namespace
}  // namespace forkserve::integration

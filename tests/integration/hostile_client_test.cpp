// Slowloris: a client that trickles its request head one byte a second holds
// one child until --header-timeout, then gets 408, and nobody else waits for it.
#include <gtest/gtest.h>
#include <poll.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

using std::chrono::duration_cast;

constexpr int kHeaderTimeoutSeconds = 2;
// When the 408 may arrive, counted from connect (generous: shared cores, ASan).
constexpr milliseconds kEarliest408{1'500};
constexpr milliseconds kLatest408{6'000};
constexpr milliseconds kOtherClientBound{1'000};
constexpr milliseconds kChildGone{5'000};
// The trickle: one byte a second, never more than this many.
constexpr std::string_view kTrickle = "X-Slow: 0123456789";
constexpr milliseconds kTricklePace{1'000};

milliseconds since(Clock::time_point start) { return duration_cast<milliseconds>(Clock::now() - start); }

// True when fd has something to read within `timeout`.
bool readable_within(int fd, milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  int ready;
  while ((ready = ::poll(&p, 1, static_cast<int>(timeout.count()))) < 0 && errno == EINTR) {
  }
  return ready > 0;
}

TEST(SlowlorisTest, TrickledHeadGets408AtHeaderTimeoutWhileOtherClientsAreServed) {
  ServerProcess server(
      {"--handler", module_path("hello.so"), "--header-timeout", std::to_string(kHeaderTimeoutSeconds)});
  ASSERT_TRUE(server.ready()) << server.error();

  Clock::time_point start = Clock::now();
  Client slow(server.port());
  ASSERT_TRUE(slow.connected()) << std::strerror(slow.error());
  // Workers: the one serving the slow client lives on afterwards.
  const bool child_per_connection = !workers_under_test();
  pid_t slow_child = 0;
  if (child_per_connection) {
    ASSERT_TRUE(eventually([&] { return children_of(server.pid()).size() == 1; }, milliseconds(5'000)))
        << "no child for the slow connection";
    slow_child = children_of(server.pid()).at(0).pid;
  }

  ASSERT_TRUE(slow.send("GET / HTTP/1.0\r\n"));
  bool other_served = false;
  milliseconds other_time{0};
  HttpReply other;
  std::size_t trickled = 0;
  while (trickled < kTrickle.size() && !slow.readable_now()) {
    if (!slow.send(kTrickle.substr(trickled, 1))) break;  // the server may have given up on us
    ++trickled;
    if (!other_served) {  // mid-attack: another client must not notice it
      Clock::time_point other_start = Clock::now();
      other = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n");
      other_time = since(other_start);
      other_served = true;
    }
    readable_within(slow.fd(), kTricklePace);
  }
  HttpReply reply = slow.read_reply(kLatest408);
  milliseconds answered_after = since(start);

  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 408 Request Timeout");
  EXPECT_TRUE(reply.closed_by_server) << reply.summary();
  EXPECT_GE(answered_after, kEarliest408) << "408 before --header-timeout " << kHeaderTimeoutSeconds << " s";
  EXPECT_LE(answered_after, kLatest408);
  EXPECT_LT(trickled, kTrickle.size()) << "the server let the trickle run to its end";

  EXPECT_TRUE(other_served);
  EXPECT_EQ(other.status, 200) << other.summary();
  EXPECT_EQ(other.body, "Hello, World!");
  EXPECT_LT(other_time, kOtherClientBound) << "another client waited for the slow one";

  slow.close();
  if (child_per_connection) {
    EXPECT_TRUE(eventually([&] { return process_info(slow_child).state == '?'; }, kChildGone))
        << "the slow client's child " << slow_child << " is still there, state "
        << process_info(slow_child).state;
  }
  const std::string log = server.stderr_text();
  EXPECT_EQ(count_lines_containing(log, "client timeout"), 1U) << log;
  EXPECT_EQ(count_lines_containing(log, "handler timeout"), 0U) << log;
  RecordProperty("slowloris_408_after_ms", static_cast<int>(answered_after.count()));
  std::printf("slowloris: 408 after %lld ms (%zu bytes trickled); other client served in %lld ms\n",
              static_cast<long long>(answered_after.count()), trickled,
              static_cast<long long>(other_time.count()));
}

}  // namespace
}  // namespace forkserve::integration

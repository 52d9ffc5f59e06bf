// Graceful stop: SIGTERM/SIGINT close the listener at once, let in-flight
// requests finish, and the server exits 0; --grace bounds the wait, and a
// second signal ends it at once.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

// Bounded waits; none of them is a fixed sleep.
constexpr milliseconds kChildAppears{5'000};
constexpr milliseconds kListenerCloses{3'000};
constexpr milliseconds kExitAfterRequests{15'000};
constexpr milliseconds kLogLineAppears{5'000};

using std::chrono::duration_cast;

milliseconds since(Clock::time_point start) { return duration_cast<milliseconds>(Clock::now() - start); }

// Sends `request` and waits until the server has forked the child serving it,
// so the request is in flight (accepted), not waiting in the backlog; returns
// that child's pid (0 if none appeared).
pid_t start_in_flight(const ServerProcess& server, Client& client, std::string_view request) {
  if (!client.connected() || !client.send(request)) return 0;
  std::vector<pid_t> serving;
  eventually([&] { return !(serving = serving_processes(server.pid())).empty(); }, kChildAppears);
  return serving.empty() ? 0 : serving.front();
}

class ShutdownTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ready()) << server_.error(); }

  // start_in_flight() on this fixture's server; fails the test if no child appears.
  void start_in_flight(Client& client, std::string_view request) {
    ASSERT_TRUE(client.connected()) << std::strerror(client.error());
    ASSERT_NE(integration::start_in_flight(server_, client, request), 0)
        << "the server never forked a child for the request";
  }

  ServerProcess server_{{"--handler", fixture_path("slow.so")}};
};

TEST_F(ShutdownTest, SigtermLetsTheInFlightRequestFinishThenExitsZero) {
  Client client(server_.port());
  ASSERT_NO_FATAL_FAILURE(start_in_flight(client, "GET /slow HTTP/1.0\r\n\r\n"));

  server_.signal(SIGTERM);
  HttpReply reply = client.read_reply();
  client.close();  // else the child lingers (up to 2 s) waiting for our end of stream
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 200 OK");
  EXPECT_EQ(reply.header("Content-Length"), "10");
  EXPECT_EQ(reply.body, "slow done\n");
  EXPECT_TRUE(reply.closed_by_server) << reply.summary();

  ExitStatus status = server_.wait_for_exit(kExitAfterRequests);
  EXPECT_TRUE(status.exited && status.code == 0) << describe(status) << "; stderr: " << server_.stderr_text();
  EXPECT_EQ(connect_error(server_.port()), ECONNREFUSED) << "the port still accepts after the server stopped";
}

TEST_F(ShutdownTest, SigtermRefusesNewConnectionsWhileInFlightRequestsFinish) {
  Client client(server_.port());
  ASSERT_NO_FATAL_FAILURE(start_in_flight(client, "GET /slow?ms=4000 HTTP/1.0\r\n\r\n"));

  server_.signal(SIGTERM);
  EXPECT_TRUE(eventually([&] { return connect_error(server_.port()) == ECONNREFUSED; }, kListenerCloses))
      << "the listener stayed open after SIGTERM";
  EXPECT_FALSE(client.readable_now())
      << "the in-flight request ended before the check: the test proves nothing";
  ProcessInfo info = process_info(server_.pid());
  EXPECT_TRUE(info.state != 'Z' && info.state != '?') << "the server did not wait for its child";

  HttpReply reply = client.read_reply();
  client.close();
  EXPECT_EQ(reply.body, "slow done\n") << reply.summary();
  ExitStatus status = server_.wait_for_exit(kExitAfterRequests);
  EXPECT_TRUE(status.exited && status.code == 0) << describe(status) << "; stderr: " << server_.stderr_text();
}

TEST_F(ShutdownTest, SigintStopsAnIdleServerWithExitZero) {
  HttpReply reply = exchange(server_.port(), "GET /fast HTTP/1.0\r\n\r\n");
  ASSERT_EQ(reply.body, "fast\n") << reply.summary();
  server_.signal(SIGINT);
  ExitStatus status = server_.wait_for_exit(kExitAfterRequests);
  EXPECT_TRUE(status.exited && status.code == 0) << describe(status) << "; stderr: " << server_.stderr_text();
  EXPECT_EQ(connect_error(server_.port()), ECONNREFUSED);
}

TEST(ShutdownGraceTest, SecondSigintDuringGraceStopsAtOnceAndKillsTheInFlightChild) {
  constexpr milliseconds kStopsAtOnce{5'000};  // --grace is 30 s
  ServerProcess server({"--handler", fixture_path("slow.so"), "--grace", "30"});
  ASSERT_TRUE(server.ready()) << server.error();
  Client client(server.port());
  const pid_t child = start_in_flight(server, client, "GET /slow?ms=20000 HTTP/1.0\r\n\r\n");
  ASSERT_NE(child, 0) << "the server never forked a child for the request";

  server.signal(SIGINT);
  ASSERT_TRUE(eventually(
      [&] { return server.stderr_text().find("stopping: waiting up to 30 s") != std::string::npos; },
      kLogLineAppears))
      << "the first SIGINT did not start the grace period; stderr: " << server.stderr_text();
  Clock::time_point second = Clock::now();
  server.signal(SIGINT);
  ExitStatus status = server.wait_for_exit(kExitAfterRequests);
  milliseconds took = since(second);

  EXPECT_TRUE(status.exited && status.code == 0) << describe(status) << "; stderr: " << server.stderr_text();
  EXPECT_LT(took, kStopsAtOnce) << "the second SIGINT did not cut the 30 s grace short";
  EXPECT_TRUE(eventually([&] { return process_info(child).state == '?'; }, kChildAppears))
      << "the in-flight child " << child << " survived, state " << process_info(child).state;
  HttpReply reply = client.read_reply(milliseconds(5'000));
  EXPECT_TRUE(reply.raw.empty()) << "the killed request was answered: " << reply.summary();
}

TEST(ShutdownGraceTest, SigtermEndsARequestThatOutlastsGraceAndExitsZero) {
  constexpr milliseconds kEarliest{900};  // --grace 1 is honoured
  constexpr milliseconds kLatest{5'000};  // the request would take 10 s
  ServerProcess server({"--handler", fixture_path("slow.so"), "--grace", "1"});
  ASSERT_TRUE(server.ready()) << server.error();
  Client client(server.port());
  const pid_t child = start_in_flight(server, client, "GET /slow?ms=10000 HTTP/1.0\r\n\r\n");
  ASSERT_NE(child, 0) << "the server never forked a child for the request";

  Clock::time_point start = Clock::now();
  server.signal(SIGTERM);
  ExitStatus status = server.wait_for_exit(kExitAfterRequests);
  milliseconds took = since(start);

  EXPECT_TRUE(status.exited && status.code == 0) << describe(status) << "; stderr: " << server.stderr_text();
  EXPECT_GE(took, kEarliest) << "the server did not wait out --grace 1";
  EXPECT_LE(took, kLatest);
  EXPECT_TRUE(eventually([&] { return process_info(child).state == '?'; }, kChildAppears))
      << "the in-flight child " << child << " survived, state " << process_info(child).state;
  HttpReply reply = client.read_reply(milliseconds(5'000));
  EXPECT_EQ(reply.body.find("slow done"), std::string::npos) << reply.summary();
}

}  // namespace
}  // namespace forkserve::integration

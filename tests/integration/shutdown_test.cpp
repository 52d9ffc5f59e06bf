// Graceful stop: SIGTERM/SIGINT close the listener at once, let in-flight
// requests finish, and the server exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "integration/http_client.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

// Bounded waits; none of them is a fixed sleep.
constexpr milliseconds kChildAppears{5'000};
constexpr milliseconds kListenerCloses{3'000};
constexpr milliseconds kExitAfterRequests{15'000};

class ShutdownTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ready()) << server_.error(); }

  // Sends `request` and waits until the server has forked the child serving it,
  // so the request is in flight (accepted), not waiting in the backlog.
  void start_in_flight(Client& client, std::string_view request) {
    ASSERT_TRUE(client.connected()) << std::strerror(client.error());
    ASSERT_TRUE(client.send(request));
    ASSERT_TRUE(eventually([&] { return !children_of(server_.pid()).empty(); }, kChildAppears))
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

}  // namespace
}  // namespace forkserve::integration

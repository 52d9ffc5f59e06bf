// --status-path: the counters after a known sequence of requests, crashes
// and timeouts, as plain text and as Prometheus text; refused to a peer
// --status-allow does not name.
#include <gtest/gtest.h>

#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kLogLineAppears{5'000};

// Three answered requests, one crash, one header timeout; returns once all
// five are in the access log.
void known_sequence(const ServerProcess& server) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(exchange(server.port(), "GET /ok HTTP/1.0\r\n\r\n").status, 200);
  (void)exchange(server.port(), "GET /segv HTTP/1.0\r\n\r\n");
  ASSERT_EQ(exchange(server.port(), "GET /slow HTTP/1.0\r\n", milliseconds(10'000)).status, 408);
  ASSERT_TRUE(eventually([&] { return lines_of(read_file(server.access_log_path())).size() == 5; }, kLogLineAppears))
      << read_file(server.access_log_path());
}

std::vector<std::string> server_args(std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"--handler", fixture_path("crashes.so"), "--status-path", "/server-status",
                                   "--header-timeout", "1"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(StatusPageTest, PlainTextCountsAKnownSequence) {
  ServerProcess server(server_args());
  ASSERT_TRUE(server.ready()) << server.error();
  known_sequence(server);
  HttpReply reply = exchange(server.port(), "GET /server-status HTTP/1.0\r\n\r\n");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.header("Content-Type"), "text/plain; charset=utf-8");
  const std::string& page = reply.body;
  EXPECT_NE(page.find(workers_under_test() ? "mode: workers\n" : "mode: fork\n"), std::string::npos) << page;
  EXPECT_NE(page.find("requests: 5\n"), std::string::npos) << page;
  EXPECT_NE(page.find("responses: 1xx 0 2xx 3 3xx 0 4xx 1 5xx 1 other 0\n"), std::string::npos) << page;
  EXPECT_NE(page.find("handler crashes: 1\n"), std::string::npos) << page;
  EXPECT_NE(page.find("timeouts: header 1 body 0 handler 0 write 0\n"), std::string::npos) << page;
  EXPECT_NE(page.find("fork failures: 0\n"), std::string::npos) << page;
  EXPECT_NE(page.find("log lines lost: access 0 error 0\n"), std::string::npos) << page;
  EXPECT_NE(page.find("listen queue: 0 of "), std::string::npos) << page;
  // This request is serving the page: at least one process is busy.
  EXPECT_EQ(page.find("busy: 0 of"), std::string::npos) << page;
}

TEST(StatusPageTest, PrometheusFormatCountsTheSameSequence) {
  ServerProcess server(server_args());
  ASSERT_TRUE(server.ready()) << server.error();
  known_sequence(server);
  HttpReply reply = exchange(server.port(), "GET /server-status?format=prometheus HTTP/1.0\r\n\r\n");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string& page = reply.body;
  for (const char* sample :
       {"forkserve_requests_total 5\n", "forkserve_responses_total{class=\"2xx\"} 3\n",
        "forkserve_responses_total{class=\"4xx\"} 1\n", "forkserve_responses_total{class=\"5xx\"} 1\n",
        "forkserve_handler_crashes_total 1\n", "forkserve_timeouts_total{phase=\"header\"} 1\n",
        "forkserve_fork_failures_total 0\n", "# TYPE forkserve_requests_total counter\n",
        "# TYPE forkserve_busy_processes gauge\n"}) {
    EXPECT_NE(page.find(sample), std::string::npos) << sample << " not in:\n" << page;
  }
}

TEST(StatusPageTest, CountsSurviveAReload) {
  ServerProcess server(server_args());
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(exchange(server.port(), "GET /ok HTTP/1.0\r\n\r\n").status, 200);
  server.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return exchange(server.port(), "GET /server-status HTTP/1.0\r\n\r\n").body.find(
                                          "reloads: 1\n") != std::string::npos; },
                         kLogLineAppears));
  std::string page = exchange(server.port(), "GET /server-status HTTP/1.0\r\n\r\n").body;
  EXPECT_NE(page.find("2xx "), std::string::npos) << page;
  EXPECT_EQ(page.find("2xx 0 "), std::string::npos) << "the request before the reload was forgotten: " << page;
}

TEST(StatusPageTest, PeerNotAllowedGets403) {
  ServerProcess server(server_args({"--status-allow", "10.0.0.0/8"}));
  ASSERT_TRUE(server.ready()) << server.error();
  HttpReply reply = exchange(server.port(), "GET /server-status HTTP/1.0\r\n\r\n");
  EXPECT_EQ(reply.status, 403) << reply.summary();
  EXPECT_EQ(reply.body.find("requests:"), std::string::npos) << reply.body;
}

TEST(StatusPageTest, OffByDefaultSoThePathGoesToTheHandler) {
  ServerProcess server({"--handler", fixture_path("crashes.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_EQ(exchange(server.port(), "GET /server-status HTTP/1.0\r\n\r\n").body, "alive\n");
}

}  // namespace
}  // namespace forkserve::integration

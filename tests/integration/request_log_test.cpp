// What an operator reads: one access line per request however its process
// ended, error lines that carry a time and cannot be forged, and floods a
// client can cause written as a few counted lines.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <ctime>
#include <regex>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kLogLineAppears{5'000};

std::string access_log(const ServerProcess& server) { return read_file(server.access_log_path()); }

struct Death {
  const char* path;
  const char* logged;  // what the access line ends with after the request line
};

class DeathTest : public ::testing::TestWithParam<Death> {};

TEST_P(DeathTest, RequestWhoseProcessDiedHasExactlyOneAccessLine) {
  ServerProcess server({"--handler", fixture_path("crashes.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  std::string request_line = std::string("GET ") + GetParam().path + " HTTP/1.0";
  (void)exchange(server.port(), request_line + "\r\nUser-Agent: t\r\n\r\n");
  std::string expected = "\"" + request_line + "\" " + GetParam().logged;
  EXPECT_TRUE(eventually([&] { return count_lines_containing(access_log(server), expected) == 1; },
                         kLogLineAppears))
      << access_log(server);
  // The line is a whole Common Log Format line.
  const std::regex clf(R"(127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] ".*" \d{3} (-|\d+))");
  for (const std::string& line : lines_of(access_log(server))) EXPECT_TRUE(std::regex_match(line, clf)) << line;
  // And the server still serves, logging that one as usual.
  EXPECT_EQ(exchange(server.port(), "GET /after HTTP/1.0\r\n\r\n").body, "alive\n");
  EXPECT_TRUE(eventually([&] { return count_lines_containing(access_log(server), "\"GET /after HTTP/1.0\" 200 6") == 1; },
                         kLogLineAppears));
  EXPECT_EQ(count_lines_containing(access_log(server), expected), 1U) << "written twice: " << access_log(server);
}

INSTANTIATE_TEST_SUITE_P(Ways, DeathTest,
                         ::testing::Values(Death{"/segv", "500 -"}, Death{"/abort", "500 -"},
                                           Death{"/exit", "500 -"}, Death{"/kill", "500 -"},
                                           Death{"/sent-then-segv", "200 -"}),
                         [](const auto& info) {
                           std::string name = info.param.path + 1;
                           for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

TEST(RequestLogTest, HandlerThatExitsIsReportedOnTheErrorLog) {
  ServerProcess server({"--handler", fixture_path("crashes.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  (void)exchange(server.port(), "GET /exit HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(eventually(
      [&] { return count_lines_containing(server.stderr_text(), "(GET /exit) exited with status 0 before") == 1; },
      kLogLineAppears))
      << server.stderr_text();
}

TEST(ErrorLogTest, ForgedNewlineInAHandlerMessageArrivesEscapedOnOneLine) {
  ServerProcess server({"--handler", fixture_path("throws.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_EQ(exchange(server.port(), "GET /forged HTTP/1.0\r\n\r\n").status, 500);
  EXPECT_TRUE(eventually([&] { return count_lines_containing(server.stderr_text(), "boom\\n") == 1; },
                         kLogLineAppears))
      << server.stderr_text();
  std::string err = server.stderr_text();
  EXPECT_EQ(count_lines_containing(err, "handler: boom\\nforkserve: child 1 (GET /forged) killed by signal 9"), 1U)
      << err;
  EXPECT_EQ(count_lines_containing(err, "handler: written\\nforkserve: child 2 (GET /forged-by-write)"), 1U) << err;
  for (const std::string& line : lines_of(without_timestamps(err))) {
    EXPECT_FALSE(line.starts_with("forkserve: child")) << "a forged line: " << line;
  }
}

TEST(ErrorLogTest, EveryErrorLineStartsWithAnRfc3339TimestampOfNow) {
  ServerProcess server({"--handler", fixture_path("throws.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  (void)exchange(server.port(), "GET /boom HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(eventually([&] { return count_lines_containing(server.stderr_text(), "throws fixture") == 1; },
                         kLogLineAppears));
  server.stop();
  const std::regex stamp(R"((\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.\d{3}Z forkserve(\[(\d+)\])?: .+)");
  std::vector<std::string> lines = lines_of(server.stderr_text());
  ASSERT_GE(lines.size(), 2U);  // the root warning or the stop line, and the handler's
  std::time_t now = std::time(nullptr);
  for (const std::string& line : lines) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, stamp)) << line;
    struct tm tm {};
    tm.tm_year = std::stoi(m[1]) - 1900;
    tm.tm_mon = std::stoi(m[2]) - 1;
    tm.tm_mday = std::stoi(m[3]);
    tm.tm_hour = std::stoi(m[4]);
    tm.tm_min = std::stoi(m[5]);
    tm.tm_sec = std::stoi(m[6]);
    std::time_t t = timegm(&tm);
    EXPECT_LE(std::abs(static_cast<long>(now - t)), 120L) << line;
    // The handler's line comes from a child or worker, and says which.
    if (line.find("throws fixture") != std::string::npos) {
      EXPECT_TRUE(m[8].matched) << line;
      EXPECT_NE(std::stoi(m[8]), server.pid()) << line;
    }
  }
}

// Sum of what the lines about header timeouts account for: 1 per line, plus
// its "N more header timeouts".
std::size_t header_timeouts_accounted(const std::string& err) {
  std::size_t total = 0;
  const std::regex more(R"((\d+) more header timeouts)");
  for (const std::string& line : lines_of(err)) {
    std::smatch m;
    if (line.find("client timeout: request head") != std::string::npos) ++total;
    if (std::regex_search(line, m, more)) total += std::stoul(m[1]);
  }
  return total;
}

TEST(ErrorLogTest, ManySlowClientsMakeAFewAggregatedLines) {
  // Workers serve one connection each at a time: a few rounds of 4 suffice there.
  const std::size_t clients = workers_under_test() ? 12 : 800;
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < clients + 64) {
    files.rlim_cur = std::min<rlim_t>(files.rlim_max, clients + 64);
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  if (files.rlim_cur < clients + 64) GTEST_SKIP() << "needs " << clients + 64 << " open files, the limit is lower";
  ServerProcess server({"--header-timeout", "1", "--max-children", "1000", "--backlog", "1024"});
  ASSERT_TRUE(server.ready()) << server.error();
  std::vector<HttpReply> replies =
      exchange_concurrently(server.port(), "GET / HTTP/1.1\r\nHost: x\r\n", clients, milliseconds(60'000));
  std::size_t timed_out = 0;
  for (const HttpReply& reply : replies) timed_out += reply.status == 408;
  EXPECT_EQ(timed_out, clients);
  // The parent writes the count of the last ones once their second is over.
  EXPECT_TRUE(eventually([&] { return header_timeouts_accounted(server.stderr_text()) == clients; },
                         milliseconds(10'000)))
      << server.stderr_text();
  std::size_t lines = 0;
  for (const std::string& line : lines_of(server.stderr_text())) {
    lines += line.find("client timeout: request head") != std::string::npos ||
             line.find("more header timeouts") != std::string::npos;
  }
  EXPECT_LE(lines, 12U) << server.stderr_text();  // a line a second, at most, of a burst over a few seconds
}

}  // namespace
}  // namespace forkserve::integration

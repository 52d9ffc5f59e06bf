// --access-log FILE: one Common Log Format line per request, with the status
// and body size the client really got.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <regex>
#include <string>

#include "integration/http_client.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kLogSettles{5'000};
// How far the logged time may be from the test's clock.
constexpr std::time_t kClockSlack = 300;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// "28/Nov/2026:15:24:20 +0000" → seconds since the epoch; -1 when malformed.
std::time_t parse_log_time(const std::string& stamp) {
  std::tm tm{};
  const char* rest = ::strptime(stamp.c_str(), "%d/%b/%Y:%H:%M:%S ", &tm);
  if (rest == nullptr || std::strlen(rest) != 5 || (rest[0] != '+' && rest[0] != '-')) return -1;
  int hhmm = std::atoi(rest + 1);
  std::time_t offset = (hhmm / 100) * 3600 + (hhmm % 100) * 60;
  return ::timegm(&tm) - (rest[0] == '+' ? offset : -offset);
}

// remote - - [time] "request line" status bytes
const std::regex& common_log_format() {
  static const std::regex kPattern(
      R"re(127\.0\.0\.1 - - \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "([^"]*)" (\d{3}) (\d+|-))re");
  return kPattern;
}

struct Sent {
  std::string request;
  std::string logged_request_line;
  int status;
};

TEST(AccessLogTest, EachRequestAddsOneCommonLogFormatLineWithItsStatus) {
  ServerProcess server;
  ASSERT_TRUE(server.ready()) << server.error();
  server.write_root_file("file.txt", "twelve bytes");
  server.scratch_dir().make_dir("root/sub");

  const std::vector<Sent> sent = {
      {"GET /file.txt HTTP/1.0\r\n\r\n", "GET /file.txt HTTP/1.0", 200},
      {"HEAD /file.txt HTTP/1.0\r\n\r\n", "HEAD /file.txt HTTP/1.0", 200},
      {"GET /missing.txt?q=1 HTTP/1.1\r\nHost: x\r\n\r\n", "GET /missing.txt?q=1 HTTP/1.1", 404},
      {"POST /file.txt HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi", "POST /file.txt HTTP/1.0", 405},
      {"GET /sub HTTP/1.0\r\n\r\n", "GET /sub HTTP/1.0", 301},
      {"NOT-HTTP\r\n\r\n", "NOT-HTTP", 400},
      {"GET / HTTP/2.0\r\n\r\n", "GET / HTTP/2.0", 505},
  };
  std::vector<HttpReply> replies;
  for (const Sent& s : sent) {
    replies.push_back(exchange(server.port(), s.request));
    ASSERT_EQ(replies.back().status, s.status) << s.request << ": " << replies.back().summary();
  }

  std::vector<std::string> lines;
  EXPECT_TRUE(eventually(
      [&] {
        lines = lines_of(read_file(server.access_log_path()));
        return lines.size() >= sent.size();
      },
      kLogSettles));
  ASSERT_EQ(lines.size(), sent.size()) << read_file(server.access_log_path());

  std::time_t now = std::time(nullptr);
  for (std::size_t i = 0; i < sent.size(); ++i) {
    SCOPED_TRACE(lines[i]);
    std::smatch match;
    ASSERT_TRUE(std::regex_match(lines[i], match, common_log_format())) << "not Common Log Format";
    std::time_t logged = parse_log_time(match[1]);
    EXPECT_LE(std::abs(static_cast<long long>(logged - now)), kClockSlack) << "logged time " << match[1];
    EXPECT_EQ(match[2], sent[i].logged_request_line);
    EXPECT_EQ(match[3], std::to_string(sent[i].status));
    std::string bytes = replies[i].body.empty() ? "-" : std::to_string(replies[i].body.size());
    EXPECT_EQ(match[4], bytes) << "the size must be the body bytes the client got";
  }
}

TEST(AccessLogTest, ConcurrentRequestsEachWriteOneWholeLine) {
  constexpr std::size_t kConcurrent = 50;
  ServerProcess server;
  ASSERT_TRUE(server.ready()) << server.error();
  server.write_root_file("file.txt", "twelve bytes");

  std::vector<HttpReply> replies =
      exchange_concurrently(server.port(), "GET /file.txt HTTP/1.0\r\n\r\n", kConcurrent);
  for (const HttpReply& reply : replies) ASSERT_EQ(reply.status, 200) << reply.summary();

  std::vector<std::string> lines;
  EXPECT_TRUE(eventually(
      [&] {
        lines = lines_of(read_file(server.access_log_path()));
        return lines.size() >= kConcurrent;
      },
      kLogSettles));
  ASSERT_EQ(lines.size(), kConcurrent) << read_file(server.access_log_path());
  for (const std::string& line : lines) {
    std::smatch match;
    ASSERT_TRUE(std::regex_match(line, match, common_log_format())) << "torn or interleaved: " << line;
    EXPECT_EQ(match[2], "GET /file.txt HTTP/1.0");
    EXPECT_EQ(match[3], "200");
    EXPECT_EQ(match[4], "12");
  }
}

}  // namespace
}  // namespace forkserve::integration

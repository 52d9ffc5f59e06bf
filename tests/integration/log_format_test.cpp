// --log-format combined: each access line ends with the quoted Referer and
// User-Agent, escaped so that a hostile client can neither close the quoted
// field nor start a forged line; the timeout path writes the same fields.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kLogSettles{5'000};

// remote - - [time] "request" status bytes "referer" "user-agent"; a quoted
// field is any run of escapes and bytes other than '"' and '\'.
const std::regex& combined_log_format() {
  static const std::regex kPattern(
      R"re(127\.0\.0\.1 - - \[[^\]]+\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")re");
  return kPattern;
}

// Waits (bounded) for `count` lines in the access log and returns them.
std::vector<std::string> access_lines(const ServerProcess& server, std::size_t count) {
  std::vector<std::string> lines;
  eventually(
      [&] {
        lines = lines_of(read_file(server.access_log_path()));
        return lines.size() >= count;
      },
      kLogSettles);
  return lines;
}

TEST(LogFormatTest, CombinedLogsRefererAndUserAgentQuotedAndDashWhenAbsent) {
  ServerProcess server({"--handler", module_path("hello.so"), "--log-format", "combined"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(
      exchange(server.port(),
               "GET /a HTTP/1.0\r\nReferer: http://example.com/page?x=1\r\nUser-Agent: curl/8.5.0\r\n\r\n")
          .status,
      200);
  ASSERT_EQ(exchange(server.port(), "GET /b HTTP/1.0\r\n\r\n").status, 200);

  std::vector<std::string> lines = access_lines(server, 2);
  ASSERT_EQ(lines.size(), 2U) << read_file(server.access_log_path());
  std::smatch match;
  ASSERT_TRUE(std::regex_match(lines[0], match, combined_log_format())) << lines[0];
  EXPECT_EQ(match[1], "GET /a HTTP/1.0");
  EXPECT_EQ(match[2], "200");
  EXPECT_EQ(match[4], "http://example.com/page?x=1");
  EXPECT_EQ(match[5], "curl/8.5.0");
  ASSERT_TRUE(std::regex_match(lines[1], match, combined_log_format())) << lines[1];
  EXPECT_EQ(match[4], "-");
  EXPECT_EQ(match[5], "-");
}

TEST(LogFormatTest, CombinedEscapesAHostileUserAgentSoItCannotForgeFieldsOrLines) {
  ServerProcess server({"--handler", module_path("hello.so"), "--log-format", "combined"});
  ASSERT_TRUE(server.ready()) << server.error();
  // Quotes and backslashes to close the field and add fake ones, and a
  // non-ASCII byte (the parser refuses CR and LF in a header outright).
  const std::string agent = R"(evil" 200 1 "-" "forged\" \\ tail)"
                            "\xff";
  ASSERT_EQ(
      exchange(server.port(), "GET /x HTTP/1.0\r\nUser-Agent: " + agent + "\r\nReferer: \"\r\n\r\n").status,
      200);

  std::vector<std::string> lines = access_lines(server, 1);
  ASSERT_EQ(lines.size(), 1U) << read_file(server.access_log_path());
  std::smatch match;
  ASSERT_TRUE(std::regex_match(lines[0], match, combined_log_format())) << lines[0];
  EXPECT_EQ(match[2], "200");
  EXPECT_EQ(match[4], R"(\")");
  EXPECT_EQ(match[5], R"(evil\" 200 1 \"-\" \"forged\\\" \\\\ tail\xff)");
}

TEST(LogFormatTest, CombinedFieldsAreAlsoWrittenWhenTheHandlerTimesOut) {
  ServerProcess server(
      {"--handler", fixture_path("slow.so"), "--handler-timeout", "1", "--log-format", "combined"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(exchange(server.port(), "GET /slow?ms=10000 HTTP/1.0\r\nUser-Agent: patient\r\n\r\n").status,
            503);

  std::vector<std::string> lines = access_lines(server, 1);
  ASSERT_EQ(lines.size(), 1U) << read_file(server.access_log_path());
  std::smatch match;
  ASSERT_TRUE(std::regex_match(lines[0], match, combined_log_format())) << lines[0];
  EXPECT_EQ(match[2], "503");
  EXPECT_EQ(match[4], "-");
  EXPECT_EQ(match[5], "patient");
}

TEST(LogFormatTest, UnknownLogFormatIsABadCommandLine) {
  ProcessResult result = run_process({server_binary(), "--log-format", "json"});
  EXPECT_TRUE(result.status.exited && result.status.code == 2) << describe(result.status);
  EXPECT_EQ(count_lines_containing(result.err, "--log-format: 'json' is not a log format"), 1U) << result.err;
  EXPECT_EQ(lines_of(result.err).size(), 1U) << result.err;
}

}  // namespace
}  // namespace forkserve::integration

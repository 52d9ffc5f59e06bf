#include <gtest/gtest.h>

#include "core/log.hpp"

namespace forkserve {
namespace {

TEST(AccessLog, WritesCommonLogFormat) {
  std::string line = format_access_line({"127.0.0.1", 1000000000, "GET /a HTTP/1.1", 200, 1234});
  EXPECT_EQ(line, "127.0.0.1 - - [09/Sep/2001:01:46:40 +0000] \"GET /a HTTP/1.1\" 200 1234\n");
}

TEST(AccessLog, WritesDashForEmptyBody) {
  std::string line = format_access_line({"::1", 0, "HEAD / HTTP/1.0", 304, 0});
  EXPECT_EQ(line, "::1 - - [01/Jan/1970:00:00:00 +0000] \"HEAD / HTTP/1.0\" 304 -\n");
}

TEST(AccessLog, EscapesQuotesAndControlBytesSoLinesCannotBeForged) {
  std::string line = format_access_line({"10.0.0.1", 0, "GET /\"x\r\nfake\\ HTTP/1.0", 400, 0});
  EXPECT_NE(line.find(R"(GET /\"x\x0d\x0afake\\ HTTP/1.0)"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(AccessLog, CombinedAddsQuotedRefererAndUserAgent) {
  AccessRecord record{"127.0.0.1", 1000000000, "GET /a HTTP/1.1", 200, 1234};
  record.referer = "http://example.com/";
  record.user_agent = "curl/8.5.0";
  EXPECT_EQ(format_access_line(record, LogFormat::Combined),
            "127.0.0.1 - - [09/Sep/2001:01:46:40 +0000] \"GET /a HTTP/1.1\" 200 1234 "
            "\"http://example.com/\" \"curl/8.5.0\"\n");
  EXPECT_EQ(format_access_line(record, LogFormat::Common),
            "127.0.0.1 - - [09/Sep/2001:01:46:40 +0000] \"GET /a HTTP/1.1\" 200 1234\n");
}

TEST(AccessLog, CombinedWritesDashForAbsentHeadersAndKeepsEmptyOnes) {
  AccessRecord record{"::1", 0, "GET / HTTP/1.0", 404, 0};
  record.user_agent = "";
  EXPECT_EQ(format_access_line(record, LogFormat::Combined),
            "::1 - - [01/Jan/1970:00:00:00 +0000] \"GET / HTTP/1.0\" 404 - \"-\" \"\"\n");
}

TEST(AccessLog, CombinedEscapesHeadersSoTheyCannotCloseTheFieldOrForgeALine) {
  AccessRecord record{"10.0.0.1", 0, "GET / HTTP/1.0", 200, 5};
  record.referer = "x\" 200 5 \"-\" \"y";
  record.user_agent = "a\\\" \x01\x80\r\n10.0.0.2 - - [01/Jan/1970:00:00:00 +0000] \"GET /forged HTTP/1.0\" 200 1";
  std::string line = format_access_line(record, LogFormat::Combined);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  EXPECT_NE(line.find(R"( "x\" 200 5 \"-\" \"y" )"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("a\\\" \x01\x80\x0d\x0a10.0.0.2 - - [01/Jan/1970:00:00:00 +0000] \"GET /forged HTTP/1.0\" 200 1"
)"),
            std::string::npos)
      << line;
}

TEST(AccessLog, SuffixCarriesTheTrailerBeforeTheNewline) {
  char buffer[kAccessSuffixRoom + 16];
  char* end = append_access_suffix(buffer, 503, 24, R"( "-" "ua")");
  EXPECT_EQ(std::string(buffer, end), "503 24 \"-\" \"ua\"\n");
}

}  // namespace
}  // namespace forkserve

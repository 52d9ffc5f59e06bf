#include <gtest/gtest.h>

#include "log.hpp"

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

}  // namespace
}  // namespace forkserve

#include "connection/environ.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace forkserve {
namespace {

const ConnectionInfo kConnection{{"192.0.2.7", 51000}, {"127.0.0.1", 8888}};

// Parses `request` (which must be valid) and builds its environ as a map.
std::map<std::string, std::string> environ_of(std::string_view request) {
  http::ParseResult parsed = http::parse_request_head(request);
  EXPECT_EQ(parsed.status, http::ParseStatus::Complete) << parsed.reason;
  EnvironResult result = build_environ(parsed.head, kConnection);
  EXPECT_EQ(result.error_status, 0) << result.reason;
  return {result.variables.begin(), result.variables.end()};
}

TEST(Environ, HasTheCgiVariables) {
  auto env = environ_of("GET /a%20b/c?x=1&y=%20 HTTP/1.1\r\nHost: example.org:8080\r\n\r\n");
  EXPECT_EQ(env["REQUEST_METHOD"], "GET");
  EXPECT_EQ(env["SCRIPT_NAME"], "");
  EXPECT_EQ(env["PATH_INFO"], "/a b/c");
  EXPECT_EQ(env["QUERY_STRING"], "x=1&y=%20");
  EXPECT_EQ(env["SERVER_NAME"], "example.org");
  EXPECT_EQ(env["SERVER_PORT"], "8888");
  EXPECT_EQ(env["SERVER_PROTOCOL"], "HTTP/1.1");
  EXPECT_EQ(env["SERVER_SOFTWARE"].rfind("forkserve/", 0), 0u);
  EXPECT_EQ(env["GATEWAY_INTERFACE"], "CGI/1.1");
  EXPECT_EQ(env["REMOTE_ADDR"], "192.0.2.7");
  EXPECT_EQ(env["REMOTE_PORT"], "51000");
  EXPECT_EQ(env["REQUEST_URI"], "/a%20b/c?x=1&y=%20");
  EXPECT_EQ(env["forkserve.raw_path"], "/a%20b/c");
  EXPECT_EQ(env["wsgi.url_scheme"], "http");
}

TEST(Environ, QueryStringIsEmptyWhenAbsent) {
  auto env = environ_of("GET / HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(env.count("QUERY_STRING"));
  EXPECT_EQ(env["QUERY_STRING"], "");
}

TEST(Environ, ServerNameFallsBackToLocalAddressWithoutHost) {
  auto env = environ_of("GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(env["SERVER_NAME"], "127.0.0.1");
}

TEST(Environ, ServerNameStripsIpv6Brackets) {
  auto env = environ_of("GET / HTTP/1.1\r\nHost: [::1]:8888\r\n\r\n");
  EXPECT_EQ(env["SERVER_NAME"], "::1");
}

TEST(Environ, HeadersBecomeHttpVariables) {
  auto env = environ_of("GET / HTTP/1.0\r\nUser-Agent: t/1\r\nX-Request-Id: abc\r\n\r\n");
  EXPECT_EQ(env["HTTP_USER_AGENT"], "t/1");
  EXPECT_EQ(env["HTTP_X_REQUEST_ID"], "abc");
}

TEST(Environ, ContentTypeAndLengthAreCgiVariablesNotHttpOnes) {
  auto env = environ_of("POST / HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(env["CONTENT_TYPE"], "text/plain");
  EXPECT_EQ(env["CONTENT_LENGTH"], "5");
  EXPECT_FALSE(env.count("HTTP_CONTENT_TYPE"));
  EXPECT_FALSE(env.count("HTTP_CONTENT_LENGTH"));
}

TEST(Environ, ContentLengthAbsentWithoutBody) {
  auto env = environ_of("GET / HTTP/1.0\r\n\r\n");
  EXPECT_FALSE(env.count("CONTENT_LENGTH"));
  EXPECT_FALSE(env.count("CONTENT_TYPE"));
}

TEST(Environ, RepeatedHeadersAreJoined) {
  auto env = environ_of("GET / HTTP/1.0\r\nAccept: a\r\nAccept: b\r\nCookie: x=1\r\nCookie: y=2\r\n\r\n");
  EXPECT_EQ(env["HTTP_ACCEPT"], "a, b");
  EXPECT_EQ(env["HTTP_COOKIE"], "x=1; y=2");
}

TEST(Environ, HeaderNamesWithUnderscoresAreDropped) {
  auto env = environ_of("GET / HTTP/1.0\r\nX_Forwarded_For: 1.2.3.4\r\n\r\n");
  EXPECT_FALSE(env.count("HTTP_X_FORWARDED_FOR"));
}

TEST(Environ, VariablesAreSortedAndUnique) {
  http::ParseResult parsed = http::parse_request_head("GET / HTTP/1.0\r\nB: 1\r\nA: 2\r\nB: 3\r\n\r\n");
  EnvironResult result = build_environ(parsed.head, kConnection);
  for (std::size_t i = 1; i < result.variables.size(); ++i) {
    EXPECT_LT(result.variables[i - 1].first, result.variables[i].first);
  }
}

TEST(Environ, EncodedNulInPathIsRejected) {
  http::ParseResult parsed = http::parse_request_head("GET /a%00b HTTP/1.0\r\n\r\n");
  ASSERT_EQ(parsed.status, http::ParseStatus::Complete);
  EXPECT_EQ(build_environ(parsed.head, kConnection).error_status, 400);
}

TEST(Environ, MalformedEscapeInPathIsRejected) {
  http::ParseResult parsed = http::parse_request_head("GET /a%zz HTTP/1.0\r\n\r\n");
  ASSERT_EQ(parsed.status, http::ParseStatus::Complete);
  EXPECT_EQ(build_environ(parsed.head, kConnection).error_status, 400);
}

}  // namespace
}  // namespace forkserve

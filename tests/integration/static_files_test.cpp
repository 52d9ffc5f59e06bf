// The built-in static-file handler, driven through the real binary: files,
// HEAD, listings, redirects, conditional GET, methods and path traversal.
#include <gtest/gtest.h>

#include <string>

#include "integration/http_client.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr std::string_view kFileBody = "Hello from the document root.\nSecond line.\n";
constexpr std::string_view kSecret = "secret-outside-the-root-5d41402abc4b2a76";

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ready()) << server_.error();
    server_.write_root_file("hello.txt", kFileBody);
    server_.write_root_file("page.html", "<p>hi</p>\n");
    server_.scratch_dir().make_dir("root/sub");
    server_.write_root_file("sub/inner.txt", "inner\n");
    server_.scratch_dir().make_dir("root/sub/nested dir");
    server_.write_root_file("sub/a&b <i>.txt", "markup in a name\n");
    // Beside the root, one level up: what "/../secret.txt" would reach.
    server_.scratch_dir().write_file("secret.txt", kSecret);
  }

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + std::string(path);
  }

  HttpReply get(std::string_view target, std::string_view extra_headers = "") const {
    return exchange(server_.port(),
                    "GET " + std::string(target) + " HTTP/1.0\r\n" + std::string(extra_headers) + "\r\n");
  }

  ServerProcess server_;
};

// Runs curl with `args` (which must make it print the head, e.g. --include),
// requires it to succeed, and parses what it printed into `reply`.
void curl_reply(const std::vector<std::string>& args, HttpReply& reply) {
  ProcessResult curl = run_curl(args);
  ASSERT_TRUE(curl.status.exited && curl.status.code == 0) << describe(curl.status) << ": " << curl.err;
  reply.raw = curl.out;
  parse_reply(reply);
  ASSERT_TRUE(reply.parsed) << reply.summary();
}

TEST_F(StaticFilesTest, GetFileReturnsExactBodyContentTypeAndLength) {
  HttpReply reply = get("/hello.txt");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 200 OK");
  EXPECT_EQ(reply.header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(reply.header("Content-Length"), std::to_string(kFileBody.size()));
  EXPECT_EQ(reply.body, kFileBody);
  EXPECT_TRUE(reply.closed_by_server) << reply.summary();
}

TEST_F(StaticFilesTest, LargeFileArrivesByteForByte) {
  // Larger than any socket buffer, so sendfile must be continued after short sends.
  std::string content(6 << 20, '\0');
  std::uint32_t state = 12345;
  for (char& c : content) {
    state = state * 1103515245u + 12345u;
    c = static_cast<char>(state >> 24);
  }
  server_.write_root_file("large.bin", content);
  HttpReply reply = get("/large.bin");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(reply.header("Content-Length"), std::to_string(content.size()));
  ASSERT_EQ(reply.body.size(), content.size());
  EXPECT_TRUE(reply.body == content) << "the body differs from the file";
}

TEST_F(StaticFilesTest, CurlGetShowsStatusHeadersAndExactBody) {
  if (!curl_path()) GTEST_SKIP() << "curl is not installed";
  HttpReply reply;
  ASSERT_NO_FATAL_FAILURE(curl_reply({"--include", url("/page.html")}, reply));
  EXPECT_EQ(reply.status_line, "HTTP/1.0 200 OK");
  EXPECT_EQ(reply.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(reply.header("Content-Length"), "10");
  EXPECT_EQ(reply.header("Connection"), "close");
  EXPECT_EQ(reply.body, "<p>hi</p>\n");
}

TEST_F(StaticFilesTest, HeadSendsTheGetHeadersWithoutBody) {
  HttpReply reply = exchange(server_.port(), "HEAD /hello.txt HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 200 OK");
  EXPECT_EQ(reply.header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(reply.header("Content-Length"), std::to_string(kFileBody.size()));
  EXPECT_TRUE(reply.header("Last-Modified").has_value());
  EXPECT_EQ(reply.body, "") << "HEAD must not carry a body";
  EXPECT_TRUE(reply.closed_by_server) << reply.summary();
}

TEST_F(StaticFilesTest, CurlHeadShowsStatusAndLength) {
  if (!curl_path()) GTEST_SKIP() << "curl is not installed";
  HttpReply reply;
  ASSERT_NO_FATAL_FAILURE(curl_reply({"--head", url("/hello.txt")}, reply));
  EXPECT_EQ(reply.status_line, "HTTP/1.0 200 OK");
  EXPECT_EQ(reply.header("Content-Length"), std::to_string(kFileBody.size()));
  EXPECT_EQ(reply.body, "");
}

TEST_F(StaticFilesTest, MissingFileIs404WithShortBody) {
  HttpReply reply = get("/no-such-file.txt");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 404 Not Found");
  EXPECT_EQ(reply.body, "404 Not Found\n");
  EXPECT_EQ(reply.header("Content-Length"), std::to_string(reply.body.size()));
}

TEST_F(StaticFilesTest, DirectoryListingNamesEveryEntry) {
  HttpReply reply = get("/sub/");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(reply.body.find("Index of /sub/"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("<a href=\"inner.txt\">inner.txt</a>"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("<a href=\"nested%20dir/\">nested dir/</a>"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("<a href=\"../\">"), std::string::npos) << reply.body;
}

TEST_F(StaticFilesTest, DirectoryListingEscapesMarkupInNames) {
  HttpReply reply = get("/sub/");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_NE(reply.body.find("<a href=\"a%26b%20%3Ci%3E.txt\">a&amp;b &lt;i&gt;.txt</a>"), std::string::npos)
      << reply.body;
  EXPECT_EQ(reply.body.find("<i>"), std::string::npos) << "a file name became markup: " << reply.body;
}

TEST_F(StaticFilesTest, CurlListsTheRootDirectory) {
  if (!curl_path()) GTEST_SKIP() << "curl is not installed";
  ProcessResult curl = run_curl({url("/")});
  ASSERT_TRUE(curl.status.exited && curl.status.code == 0) << describe(curl.status) << ": " << curl.err;
  for (std::string_view name : {"hello.txt", "page.html", "sub/"}) {
    EXPECT_NE(curl.out.find(">" + std::string(name) + "</a>"), std::string::npos) << name << "\n" << curl.out;
  }
  EXPECT_EQ(curl.out.find("secret"), std::string::npos) << "lists a file outside the root";
}

TEST_F(StaticFilesTest, DirectoryWithoutSlashRedirectsWith301) {
  HttpReply reply = get("/sub?x=1");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 301 Moved Permanently");
  EXPECT_EQ(reply.header("Location"), "/sub/?x=1");

  HttpReply nested = get("/sub/nested%20dir");
  ASSERT_TRUE(nested.parsed) << nested.summary();
  EXPECT_EQ(nested.status, 301);
  EXPECT_EQ(nested.header("Location"), "/sub/nested%20dir/");
}

TEST_F(StaticFilesTest, IfModifiedSinceWithLastModifiedGives304WithoutBody) {
  HttpReply first = get("/hello.txt");
  ASSERT_EQ(first.status, 200) << first.summary();
  std::optional<std::string> last_modified = first.header("Last-Modified");
  ASSERT_TRUE(last_modified.has_value()) << first.summary();

  HttpReply again = get("/hello.txt", "If-Modified-Since: " + *last_modified + "\r\n");
  ASSERT_TRUE(again.parsed) << again.summary();
  EXPECT_EQ(again.status_line, "HTTP/1.0 304 Not Modified");
  EXPECT_EQ(again.body, "");
  EXPECT_EQ(again.header("Last-Modified"), last_modified);
  EXPECT_TRUE(again.closed_by_server) << again.summary();
}

TEST_F(StaticFilesTest, IfModifiedSinceBeforeTheFileGives200) {
  HttpReply reply = get("/hello.txt", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, kFileBody);
}

TEST_F(StaticFilesTest, PostIs405WithAllowHeader) {
  HttpReply reply = exchange(server_.port(), "POST /hello.txt HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 405 Method Not Allowed");
  EXPECT_EQ(reply.header("Allow"), "GET, HEAD");
  EXPECT_EQ(reply.body, "405 Method Not Allowed\n");
}

TEST_F(StaticFilesTest, PostWithLargeUnreadBodyStillGetsWhole405) {
  // The handler answers without reading the body; closing with unread bytes
  // must not turn into a reset that destroys the answer in flight.
  const std::string body(4 << 20, 'x');
  HttpReply reply =
      exchange(server_.port(), "POST /hello.txt HTTP/1.0\r\nContent-Length: " + std::to_string(body.size()) +
                                   "\r\n\r\n" + body);
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(reply.body, "405 Method Not Allowed\n");
  EXPECT_EQ(reply.error, 0) << reply.summary();
  EXPECT_TRUE(reply.closed_by_server) << reply.summary();
}

TEST_F(StaticFilesTest, TraversalNeverReturnsAFileOutsideTheRoot) {
  for (std::string_view target :
       {"/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/sub/../../secret.txt",
        "/sub/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt", "/.%2e/secret.txt",
        "/..\\secret.txt", "//../secret.txt", "/./../secret.txt"}) {
    SCOPED_TRACE(target);
    HttpReply reply = get(target);
    ASSERT_TRUE(reply.parsed) << reply.summary();
    EXPECT_GE(reply.status, 400);
    EXPECT_LT(reply.status, 500);
    EXPECT_EQ(reply.raw.find(kSecret), std::string::npos) << reply.summary();
  }
}

TEST_F(StaticFilesTest, TraversalToEtcPasswdNeverReturnsIt) {
  std::string passwd = read_file("/etc/passwd");
  ASSERT_NE(passwd.find("root:"), std::string::npos) << "this test needs a readable /etc/passwd";
  for (std::string_view target :
       {"/../etc/passwd", "/../../../../../../etc/passwd", "/%2e%2e/etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd"}) {
    SCOPED_TRACE(target);
    HttpReply reply = get(target);
    ASSERT_TRUE(reply.parsed) << reply.summary();
    EXPECT_GE(reply.status, 400);
    EXPECT_EQ(reply.raw.find("root:"), std::string::npos) << reply.summary();
  }
}

TEST_F(StaticFilesTest, CurlPathAsIsTraversalIsRefused) {
  if (!curl_path()) GTEST_SKIP() << "curl is not installed";
  HttpReply reply;
  ASSERT_NO_FATAL_FAILURE(curl_reply({"--include", "--path-as-is", url("/../secret.txt")}, reply));
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.raw.find(kSecret), std::string::npos);
}

TEST_F(StaticFilesTest, EveryResponseIsHttp10WithConnectionCloseAndServerCloses) {
  for (std::string_view request :
       {"GET /hello.txt HTTP/1.0\r\n\r\n", "GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /sub HTTP/1.0\r\n\r\n", "GET /nope HTTP/1.0\r\n\r\n", "DELETE /hello.txt HTTP/1.0\r\n\r\n",
        "nonsense\r\n\r\n"}) {
    SCOPED_TRACE(request);
    HttpReply reply = exchange(server_.port(), request);
    ASSERT_TRUE(reply.parsed) << reply.summary();
    EXPECT_TRUE(reply.status_line.starts_with("HTTP/1.0 ")) << reply.status_line;
    EXPECT_EQ(reply.header("Connection"), "close");
    EXPECT_TRUE(reply.closed_by_server) << reply.summary();
  }
}

}  // namespace
}  // namespace forkserve::integration

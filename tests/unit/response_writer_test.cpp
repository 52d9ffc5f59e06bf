#include "connection/response_writer.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace forkserve {
namespace {

class ResponseWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    server_.reset(fds[0]);
    client_.reset(fds[1]);
    ASSERT_TRUE(set_nonblocking(server_.get()));
    ASSERT_TRUE(set_nonblocking(client_.get()));
  }

  ResponseWriter writer(bool head_only = false) {
    return ResponseWriter(server_.get(), head_only, std::chrono::seconds(5));
  }

  // Everything the client has received so far (the socket is non-blocking).
  std::string received() {
    std::string out;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(client_.get(), buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<size_t>(n));
    last_read_errno_ = n < 0 ? errno : 0;
    return out;
  }

  static std::string body_of(const std::string& response) {
    std::size_t end = response.find("\r\n\r\n");
    return end == std::string::npos ? "" : response.substr(end + 4);
  }

  UniqueFd server_;
  UniqueFd client_;
  int last_read_errno_ = 0;
};

TEST_F(ResponseWriterTest, HoldsHeadersUntilFirstBodyBytes) {
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("200 OK", {{"Content-Type", "text/plain"}}, false));
  EXPECT_EQ(received(), "");
  ASSERT_TRUE(w.write(""));
  EXPECT_EQ(received(), "");
  ASSERT_TRUE(w.write("abc"));
  std::string response = received();
  EXPECT_EQ(response.rfind("HTTP/1.0 200 OK\r\n", 0), 0u);
  EXPECT_EQ(body_of(response), "abc");
}

TEST_F(ResponseWriterTest, ReplacingBeforeAnythingIsSentSwapsTheStatus) {
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("200 OK", {}, false));
  ASSERT_TRUE(w.start("500 Internal Server Error", {}, true));
  ASSERT_TRUE(w.write("x"));
  EXPECT_EQ(received().rfind("HTTP/1.0 500 Internal Server Error\r\n", 0), 0u);
  EXPECT_EQ(w.status(), 500);
}

TEST_F(ResponseWriterTest, RefusesSecondStartWithoutException) {
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("200 OK", {}, false));
  EXPECT_FALSE(w.start("404 Not Found", {}, false));
  EXPECT_NE(w.error().find("twice"), std::string::npos);
}

TEST_F(ResponseWriterTest, RefusesStartAfterHeadersWereSent) {
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("200 OK", {}, false));
  ASSERT_TRUE(w.write("x"));
  EXPECT_FALSE(w.start("500 Internal Server Error", {}, true));
}

TEST_F(ResponseWriterTest, RefusesInjectedHeaderAndSendsNothing) {
  ResponseWriter w = writer();
  EXPECT_FALSE(w.start("200 OK", {{"X-A", "1\r\nSet-Cookie: x"}}, false));
  EXPECT_FALSE(w.write("x"));
  EXPECT_EQ(received(), "");
}

TEST_F(ResponseWriterTest, RefusesBadStatus) {
  ResponseWriter w = writer();
  EXPECT_FALSE(w.start("OK", {}, false));
  EXPECT_NE(w.error().find("invalid status"), std::string::npos);
}

TEST_F(ResponseWriterTest, AddsKnownContentLength) {
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("200 OK", {}, false));
  ASSERT_TRUE(w.set_content_length(5));
  ASSERT_TRUE(w.write("hello"));
  ASSERT_TRUE(w.finish());
  EXPECT_NE(received().find("\r\nContent-Length: 5\r\n"), std::string::npos);
}

TEST_F(ResponseWriterTest, EmptyBodyGetsContentLengthZero) {
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("200 OK", {}, false));
  ASSERT_TRUE(w.finish());
  EXPECT_NE(received().find("\r\nContent-Length: 0\r\n"), std::string::npos);
}

TEST_F(ResponseWriterTest, NotModifiedGetsNoContentLength) {
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("304 Not Modified", {}, false));
  ASSERT_TRUE(w.finish());
  std::string response = received();
  EXPECT_EQ(response.rfind("HTTP/1.0 304", 0), 0u);
  EXPECT_EQ(response.find("Content-Length"), std::string::npos);
}

TEST_F(ResponseWriterTest, HeadRequestGetsHeadersAndLengthButNoBody) {
  ResponseWriter w = writer(/*head_only=*/true);
  ASSERT_TRUE(w.start("200 OK", {}, false));
  ASSERT_TRUE(w.set_content_length(5));
  ASSERT_TRUE(w.write("hello"));
  ASSERT_TRUE(w.finish());
  std::string response = received();
  EXPECT_NE(response.find("\r\nContent-Length: 5\r\n"), std::string::npos);
  EXPECT_EQ(body_of(response), "");
  EXPECT_EQ(w.body_bytes(), 0u);
}

TEST_F(ResponseWriterTest, RefusesMoreThanDeclaredContentLength) {
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("200 OK", {{"Content-Length", "3"}}, false));
  ASSERT_TRUE(w.write("ab"));
  EXPECT_FALSE(w.write("cd"));
  EXPECT_EQ(body_of(received()), "ab");
}

TEST_F(ResponseWriterTest, FinishReportsShortBody) {
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("200 OK", {{"Content-Length", "10"}}, false));
  ASSERT_TRUE(w.write("abc"));
  EXPECT_FALSE(w.finish());
  EXPECT_NE(w.error().find("fewer bytes"), std::string::npos);
}

TEST_F(ResponseWriterTest, RefusesNonNumericContentLength) {
  ResponseWriter w = writer();
  EXPECT_FALSE(w.start("200 OK", {{"Content-Length", "+3"}}, false));
}

TEST_F(ResponseWriterTest, FailBeforeHeadersSendsErrorPageInsteadOfHeldHeaders) {
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("200 OK", {{"X-Held", "1"}}, false));
  EXPECT_EQ(w.fail(500, ""), 500);
  std::string response = received();
  EXPECT_EQ(response.rfind("HTTP/1.0 500 Internal Server Error\r\n", 0), 0u);
  EXPECT_EQ(response.find("X-Held"), std::string::npos);
  EXPECT_FALSE(w.aborted());
}

TEST_F(ResponseWriterTest, FailAfterHeadersResetsTheConnection) {
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("200 OK", {}, false));
  ASSERT_TRUE(w.write("partial"));
  EXPECT_EQ(w.fail(500, ""), 200);
  EXPECT_TRUE(w.aborted());
  EXPECT_EQ(body_of(received()), "partial");  // nothing appended after the partial body
}

TEST_F(ResponseWriterTest, SendsFileRegion) {
  char path[] = "/tmp/forkserve-writer-XXXXXX";
  UniqueFd file(::mkstemp(path));
  ASSERT_TRUE(file);
  ::unlink(path);
  ASSERT_EQ(::write(file.get(), "0123456789", 10), 10);
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("200 OK", {}, false));
  ASSERT_TRUE(w.set_content_length(4));
  ASSERT_TRUE(w.send_file(file.get(), 3, 4));
  ASSERT_TRUE(w.finish());
  std::string response = received();
  EXPECT_EQ(body_of(response), "3456");
  EXPECT_NE(response.find("Content-Length: 4\r\n"), std::string::npos);
  EXPECT_EQ(w.body_bytes(), 4u);
}

TEST_F(ResponseWriterTest, WriteBeforeStartIsRefused) {
  ResponseWriter w = writer();
  EXPECT_FALSE(w.write("x"));
  EXPECT_EQ(received(), "");
}

}  // namespace
}  // namespace forkserve

namespace forkserve {
namespace {

TEST_F(ResponseWriterTest, RefusesASecondContentLength) {
  ResponseWriter w = writer();
  EXPECT_FALSE(w.start("200 OK", {{"Content-Length", "5"}, {"content-length", "50"}}, false));
  EXPECT_NE(w.error().find("two Content-Length"), std::string::npos);
}

TEST_F(ResponseWriterTest, RefusesInterimStatus) {
  ResponseWriter w = writer();
  EXPECT_FALSE(w.start("101 Switching Protocols", {}, false));
}

TEST_F(ResponseWriterTest, RefusesBodyOnNoContentAndNotModified) {
  for (const char* status : {"204 No Content", "304 Not Modified"}) {
    ResponseWriter w = writer();
    ASSERT_TRUE(w.start(status, {}, false));
    EXPECT_FALSE(w.write("surprise")) << status;
    EXPECT_EQ(received(), "") << status;
  }
}

TEST_F(ResponseWriterTest, RefusesNegativeFileOffsetBeforeSendingAnything) {
  ResponseWriter w = writer();
  ASSERT_TRUE(w.start("200 OK", {}, false));
  EXPECT_FALSE(w.send_file(0, -5, 3));
  EXPECT_EQ(received(), "");
}

}  // namespace
}  // namespace forkserve

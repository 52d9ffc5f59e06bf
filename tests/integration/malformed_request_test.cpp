// Requests the server must refuse: each gets the right status, a short body
// naming the problem, and a closed connection, even though the client keeps
// its own side open.
#include <gtest/gtest.h>

#include <string>

#include "integration/http_client.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

// Longest error body we accept as "short".
constexpr std::size_t kShortBody = 200;

class MalformedRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ready()) << server_.error();
    server_.write_root_file("index.html", "<p>index</p>\n");
  }

  // Sends `request`, checks the common shape of an error reply, returns it.
  HttpReply refused(std::string_view request, std::string_view status_line) const {
    HttpReply reply = exchange(server_.port(), request);
    EXPECT_TRUE(reply.parsed) << reply.summary();
    EXPECT_EQ(reply.status_line, status_line) << reply.summary();
    EXPECT_TRUE(reply.closed_by_server) << "the server must close the connection: " << reply.summary();
    EXPECT_EQ(reply.header("Content-Length"), std::to_string(reply.body.size()));
    EXPECT_LE(reply.body.size(), kShortBody) << reply.body;
    EXPECT_TRUE(reply.body.starts_with(status_line.substr(9))) << reply.body;  // "400 Bad Request..."
    return reply;
  }

  ServerProcess server_;
};

TEST_F(MalformedRequestTest, GarbageLineGets400AndTheConnectionIsClosed) {
  HttpReply reply = refused("\x16\x03\x01 this is { not http }\r\n\r\n", "HTTP/1.0 400 Bad Request");
  EXPECT_GT(reply.body.size(), std::string_view("400 Bad Request\n").size())
      << "the body should name the problem: " << reply.body;
}

TEST_F(MalformedRequestTest, GarbageWithoutBlankLineStillGets400AndClose) {
  // Only one line, and the client never ends the head: the server must not wait for more.
  HttpReply reply = refused("hello there, server\r\n", "HTTP/1.0 400 Bad Request");
  EXPECT_NE(reply.body.find("400 Bad Request"), std::string::npos) << reply.body;
}

TEST_F(MalformedRequestTest, Http20Gets505NamingTheVersion) {
  HttpReply reply = refused("GET / HTTP/2.0\r\n\r\n", "HTTP/1.0 505 HTTP Version Not Supported");
  EXPECT_NE(reply.body.find("version"), std::string::npos) << reply.body;
}

TEST_F(MalformedRequestTest, TransferCodingOtherThanChunkedGets501NamingIt) {
  HttpReply reply = refused("POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\nxxxxx",
                            "HTTP/1.0 501 Not Implemented");
  EXPECT_NE(reply.body.find("Transfer-Encoding"), std::string::npos) << reply.body;
}

TEST_F(MalformedRequestTest, Http11WithoutHostGets400NamingHost) {
  HttpReply reply = refused("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", "HTTP/1.0 400 Bad Request");
  EXPECT_NE(reply.body.find("Host"), std::string::npos) << reply.body;
}

TEST_F(MalformedRequestTest, TwoContentLengthsGet400NamingContentLength) {
  HttpReply reply = refused("POST / HTTP/1.0\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                            "HTTP/1.0 400 Bad Request");
  EXPECT_NE(reply.body.find("Content-Length"), std::string::npos) << reply.body;
}

TEST_F(MalformedRequestTest, TwoEqualContentLengthsAlsoGet400) {
  HttpReply reply = refused("POST / HTTP/1.0\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
                            "HTTP/1.0 400 Bad Request");
  EXPECT_NE(reply.body.find("Content-Length"), std::string::npos) << reply.body;
}

TEST_F(MalformedRequestTest, RefusedHeadRequestGetsHeadersOnly) {
  HttpReply reply = exchange(server_.port(), "HEAD / HTTP/1.1\r\n\r\n");  // no Host
  EXPECT_EQ(reply.status_line, "HTTP/1.0 400 Bad Request") << reply.summary();
  EXPECT_NE(reply.header("Content-Length"), "0") << "HEAD keeps the length a GET would have";
  EXPECT_EQ(reply.body, "") << "a HEAD response has no body, even for an error";
}

TEST_F(MalformedRequestTest, ServerStillAnswersAfterMalformedRequests) {
  for (std::string_view bad : {"garbage\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "GET / HTTP/1.1\r\n\r\n"}) {
    HttpReply reply = exchange(server_.port(), bad);
    EXPECT_GE(reply.status, 400) << reply.summary();
  }
  HttpReply good = exchange(server_.port(), "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(good.status, 200) << good.summary();
  EXPECT_EQ(good.body, "<p>index</p>\n");
}

}  // namespace
}  // namespace forkserve::integration

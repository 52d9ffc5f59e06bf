// Chunked request bodies reach a module decoded (environ_dump.so echoes what
// it read), and the decoder's limits hold on a live server: a malformed
// framing is a 400, a decoded body over --max-body-bytes a 413, a body that
// stops arriving a 408 at --body-timeout.
#include <gtest/gtest.h>

#include <string>

#include "integration/environ_dump.hpp"
#include "integration/http_client.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr std::string_view kChunkedHead =
    "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";

class ChunkedBodyTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ready()) << server_.error(); }
  ServerProcess server_{
      {"--handler", module_path("environ_dump.so"), "--max-body-bytes", "1000", "--body-timeout", "2"}};
};

TEST_F(ChunkedBodyTest, ModuleReadsTheDecodedBodyWithoutContentLength) {
  Client client(server_.port());
  ASSERT_TRUE(client.send(std::string(kChunkedHead) + "4\r\nWiki\r\n"));
  ASSERT_TRUE(client.send("5\r\npedia\r\nE;note=x\r\n in\r\n\r\nchunks.\r\n"));
  ASSERT_TRUE(client.send("0\r\nX-Checksum: 1\r\n\r\n"));
  HttpReply reply = client.read_reply();
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(environ_variable(reply.body, "CONTENT_LENGTH"), "<unset>");
  EXPECT_EQ(reply.body.substr(reply.body.find("\n\n") + 2), "Wikipedia in\r\n\r\nchunks.");
}

TEST_F(ChunkedBodyTest, MalformedChunkSizeGets400) {
  HttpReply reply = exchange(server_.port(), std::string(kChunkedHead) + "zz\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(reply.status, 400) << reply.summary();
  EXPECT_NE(server_.stderr_text().find("chunk size"), std::string::npos) << server_.stderr_text();
}

TEST_F(ChunkedBodyTest, BareLfInTheFramingGets400) {
  HttpReply reply = exchange(server_.port(), std::string(kChunkedHead) + "5\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(reply.status, 400) << reply.summary();
}

TEST_F(ChunkedBodyTest, DecodedBodyOverMaxBodyBytesGets413) {
  std::string body;
  for (int i = 0; i < 3; ++i) body += "190\r\n" + std::string(400, 'a') + "\r\n";  // 3 × 400 > 1000
  HttpReply reply = exchange(server_.port(), std::string(kChunkedHead) + body + "0\r\n\r\n");
  EXPECT_EQ(reply.status, 413) << reply.summary();
}

TEST_F(ChunkedBodyTest, BodyThatStopsArrivingGets408AtTheBodyTimeout) {
  Client client(server_.port());
  ASSERT_TRUE(client.send(std::string(kChunkedHead) + "5\r\nhel"));
  HttpReply reply = client.read_reply(milliseconds(15'000));
  EXPECT_EQ(reply.status, 408) << reply.summary();
}

TEST_F(ChunkedBodyTest, ChunkedWithContentLengthIsStill400) {
  HttpReply reply =
      exchange(server_.port(),
               "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
               "0\r\n\r\n");
  EXPECT_EQ(reply.status, 400) << reply.summary();
}

TEST_F(ChunkedBodyTest, CurlStreamedUploadArrivesWhole) {
  if (!curl_path()) GTEST_SKIP() << "curl not installed";
  std::string file = server_.scratch_dir().write_file("upload.txt", std::string(900, 'u'));
  ProcessResult curl = run_curl({"-s", "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + file,
                                 "http://127.0.0.1:" + std::to_string(server_.port()) + "/up"});
  ASSERT_TRUE(curl.status.exited && curl.status.code == 0) << curl.err;
  EXPECT_EQ(curl.out.substr(curl.out.find("\n\n") + 2), std::string(900, 'u'));
}

}  // namespace
}  // namespace forkserve::integration

// forkserve::send_file through the real server: a module's file answers are
// the static handler's (type, Last-Modified, 304, 403/404), sent with the
// module's own headers added.
#include <gtest/gtest.h>

#include <string>

#include "integration/http_client.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

class SendFileTest : public ::testing::Test {
 protected:
  SendFileTest() {
    files_.write_file("notes.txt", "some notes\n");
    files_.write_file("page.html", "<p>x</p>\n");
    files_.make_dir("folder");
  }

  HttpReply get(std::string_view target, std::string_view extra_headers = "") const {
    return exchange(server_.port(),
                    "GET " + std::string(target) + " HTTP/1.0\r\n" + std::string(extra_headers) + "\r\n");
  }

  TempDir files_;
  ServerProcess server_{{"--handler", fixture_path("send_file.so") + ":" + files_.path()}};
};

TEST_F(SendFileTest, FileComesWithTheStaticHandlersHeadersAndTheModules) {
  ASSERT_TRUE(server_.ready()) << server_.error();
  HttpReply reply = get("/files/notes.txt");
  EXPECT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.body, "some notes\n");
  EXPECT_EQ(reply.header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(reply.header("Content-Length"), "11");
  EXPECT_TRUE(reply.header("Last-Modified")) << reply.summary();
  EXPECT_EQ(reply.header("X-Sent-By"), "module");
  EXPECT_EQ(get("/files/page.html").header("Content-Type"), "text/html; charset=utf-8");
}

TEST_F(SendFileTest, IfModifiedSinceGivesNotModified) {
  ASSERT_TRUE(server_.ready()) << server_.error();
  const std::optional<std::string> last_modified = get("/files/notes.txt").header("Last-Modified");
  ASSERT_TRUE(last_modified);
  HttpReply again = get("/files/notes.txt", "If-Modified-Since: " + *last_modified + "\r\n");
  EXPECT_EQ(again.status, 304) << again.summary();
  EXPECT_EQ(again.body, "");
}

TEST_F(SendFileTest, RangeGivesPartialContentLikeTheStaticHandler) {
  ASSERT_TRUE(server_.ready()) << server_.error();
  HttpReply reply = get("/files/notes.txt", "Range: bytes=5-9\r\n");
  EXPECT_EQ(reply.status, 206) << reply.summary();
  EXPECT_EQ(reply.body, "notes");
  EXPECT_EQ(reply.header("Content-Range"), "bytes 5-9/11");
  EXPECT_EQ(reply.header("X-Sent-By"), "module");
}

TEST_F(SendFileTest, MissingFileIsNotFoundAndDirectoryIsForbidden) {
  ASSERT_TRUE(server_.ready()) << server_.error();
  EXPECT_EQ(get("/files/absent.txt").status, 404);
  EXPECT_EQ(get("/files/folder").status, 403);
}

TEST_F(SendFileTest, HeadSendsTheHeadOnly) {
  ASSERT_TRUE(server_.ready()) << server_.error();
  HttpReply reply = exchange(server_.port(), "HEAD /files/notes.txt HTTP/1.0\r\n\r\n");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("Content-Length"), "11");
  EXPECT_EQ(reply.body, "");
}

}  // namespace
}  // namespace forkserve::integration

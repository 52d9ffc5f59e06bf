// send_file_response(), the answer for one open file, driven in-process: a
// test handler opens the file named by its argument and hands it over, as
// the built-in handler and the server's send_file call for modules do.
#include "handlers/file_response.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <forkserve/export.hpp>
#include <fstream>
#include <memory>
#include <string>

#include "support/recording_server.hpp"

namespace forkserve::handlers {
namespace {

using forkserve::testing::RecordingServer;

constexpr std::string_view kContent = "0123456789abcdefghij";  // 20 bytes

class OneFile {
 public:
  explicit OneFile(std::string_view path) : path_(path) {}
  Body operator()(Environ& environ, StartResponse& start_response) {
    UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!fd || ::fstat(fd.get(), &st) != 0) throw std::runtime_error("cannot open " + path_);
    FileRepresentation representation;
    representation.content_type = "text/plain; charset=utf-8";
    representation.content_encoding = environ.get("TEST_ENCODING");
    representation.extra_headers = {{"Cache-Control", "no-cache"}};
    return send_file_response(environ, start_response, std::move(fd), st, representation);
  }

 private:
  std::string path_;
};

class FileResponseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/forkserve-file-response-XXXXXX";
    const int fd = ::mkstemp(pattern);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, kContent.data(), kContent.size()), static_cast<ssize_t>(kContent.size()));
    ::close(fd);
    path_ = pattern;
    char error[256] = "";
    ASSERT_EQ(module_->init(path_.c_str(), error, sizeof error), FORKSERVE_OK) << error;
  }
  void TearDown() override {
    module_->fini();
    ::unlink(path_.c_str());
  }

  std::unique_ptr<RecordingServer> request(const RecordingServer::Pairs& extra,
                                           std::string method = "GET") const {
    RecordingServer::Pairs variables = {{"REQUEST_METHOD", method}};
    variables.insert(variables.end(), extra.begin(), extra.end());
    auto server = std::make_unique<RecordingServer>(std::move(variables));
    EXPECT_EQ(server->handle(*module_), FORKSERVE_OK);
    return server;
  }
  std::string etag() const { return request({})->header("ETag").value_or(""); }

  const forkserve_module* module_ = detail::ModuleGlue<OneFile>::descriptor("one_file");
  std::string path_;
};

TEST_F(FileResponseTest, WholeFileCarriesValidatorsTypeRangesAndExtraHeaders) {
  auto r = request({});
  EXPECT_EQ(r->status(), "200 OK");
  EXPECT_EQ(r->body(), kContent);
  EXPECT_EQ(r->content_length(), kContent.size());
  EXPECT_EQ(r->header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r->header("Accept-Ranges"), "bytes");
  EXPECT_EQ(r->header("Cache-Control"), "no-cache");
  EXPECT_TRUE(r->header("Last-Modified").has_value());
  EXPECT_TRUE(r->header("ETag").has_value());
  EXPECT_FALSE(r->header("Vary").has_value());
}

TEST_F(FileResponseTest, SingleRangeIsTheRegionWithContentRange) {
  auto r = request({{"HTTP_RANGE", "bytes=5-9"}});
  EXPECT_EQ(r->status(), "206 Partial Content");
  EXPECT_EQ(r->header("Content-Range"), "bytes 5-9/20");
  EXPECT_EQ(r->body(), "56789");
}

TEST_F(FileResponseTest, SeveralRangesAreAMultipartBodyOfTheDeclaredLength) {
  auto r = request({{"HTTP_RANGE", "bytes=0-1,-2"}});
  EXPECT_EQ(r->status(), "206 Partial Content");
  const std::string type = r->header("Content-Type").value_or("");
  ASSERT_TRUE(type.starts_with("multipart/byteranges; boundary=")) << type;
  const std::string boundary = type.substr(type.find('=') + 1);
  EXPECT_EQ(r->body(),
            "\r\n--" + boundary +
                "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/20\r\n\r\n01" +
                "\r\n--" + boundary +
                "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 18-19/20\r\n\r\nij" +
                "\r\n--" + boundary + "--\r\n");
  EXPECT_EQ(r->header("Content-Length"), std::to_string(r->body().size()));
}

TEST_F(FileResponseTest, EncodedRepresentationWithSeveralRangesIsSentWhole) {
  auto r = request({{"HTTP_RANGE", "bytes=0-1,4-5"}, {"TEST_ENCODING", "gzip"}});
  EXPECT_EQ(r->status(), "200 OK");
  EXPECT_EQ(r->header("Content-Encoding"), "gzip");
  EXPECT_EQ(r->body(), kContent);
}

TEST_F(FileResponseTest, UnsatisfiableRangeIs416WithTheLength) {
  auto r = request({{"HTTP_RANGE", "bytes=20-"}});
  EXPECT_EQ(r->status(), "416 Range Not Satisfiable");
  EXPECT_EQ(r->header("Content-Range"), "bytes */20");
}

TEST_F(FileResponseTest, MatchingIfNoneMatchIs304WithTheValidatorsAndNoBody) {
  auto r = request({{"HTTP_IF_NONE_MATCH", etag()}});
  EXPECT_EQ(r->status(), "304 Not Modified");
  EXPECT_EQ(r->body(), "");
  EXPECT_EQ(r->header("ETag"), etag());
  EXPECT_EQ(r->header("Cache-Control"), "no-cache");
}

TEST_F(FileResponseTest, FailedIfMatchIs412) {
  EXPECT_EQ(request({{"HTTP_IF_MATCH", "\"other\""}})->status(), "412 Precondition Failed");
}

TEST_F(FileResponseTest, StaleIfRangeSendsTheWholeFile) {
  auto r = request({{"HTTP_RANGE", "bytes=0-0"}, {"HTTP_IF_RANGE", "\"other\""}});
  EXPECT_EQ(r->status(), "200 OK");
  EXPECT_EQ(r->body(), kContent);
  auto current = request({{"HTTP_RANGE", "bytes=0-0"}, {"HTTP_IF_RANGE", etag()}});
  EXPECT_EQ(current->status(), "206 Partial Content");
}

TEST_F(FileResponseTest, HeadWithSeveralRangesDeclaresTheLengthWithoutSendingIt) {
  auto head = request({{"HTTP_RANGE", "bytes=0-1,-2"}}, "HEAD");
  EXPECT_EQ(head->status(), "206 Partial Content");
  EXPECT_EQ(head->body(), "");
  EXPECT_TRUE(head->header("Content-Length").has_value());
}

}  // namespace
}  // namespace forkserve::handlers

// Range requests against the built-in handler, through the real binary:
// single ranges, 416, multipart/byteranges read back by Python's email
// package, the caps, If-Range, HEAD, and curl/wget resuming a download.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "integration/http_client.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

// Bytes that differ everywhere, so an off-by-one anywhere shows.
std::string patterned(std::size_t size) {
  std::string content(size, '\0');
  std::uint32_t state = 2463534242u;
  for (char& c : content) {
    state = state * 1103515245u + 12345u;
    c = static_cast<char>(state >> 24);
  }
  return content;
}

class RangesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ready()) << server_.error();
    server_.write_root_file("data.bin", content_);
  }

  HttpReply get(std::string_view target, std::string_view extra_headers = "",
                std::string_view method = "GET") const {
    return exchange(server_.port(), std::string(method) + " " + std::string(target) + " HTTP/1.0\r\n" +
                                        std::string(extra_headers) + "\r\n");
  }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + std::string(path);
  }

  // True once the access log has a line containing `needle` (bounded wait:
  // the child logs after the client has its bytes).
  bool logged(std::string_view needle) const {
    return eventually([&] { return read_file(server_.access_log_path()).find(needle) != std::string::npos; },
                      milliseconds(10'000));
  }

  const std::string content_ = patterned(300'000);
  ServerProcess server_;
};

TEST_F(RangesTest, WholeFileAdvertisesByteRanges) {
  HttpReply reply = get("/data.bin");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.header("Accept-Ranges"), "bytes");
  EXPECT_TRUE(reply.body == content_);
}

TEST_F(RangesTest, SingleRangeIs206WithContentRangeAndExactBytes) {
  HttpReply reply = get("/data.bin", "Range: bytes=1000-1999\r\n");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 206 Partial Content");
  EXPECT_EQ(reply.header("Content-Range"), "bytes 1000-1999/300000");
  EXPECT_EQ(reply.header("Content-Length"), "1000");
  EXPECT_EQ(reply.header("Content-Type"), "application/octet-stream");
  EXPECT_TRUE(reply.body == content_.substr(1000, 1000));
}

TEST_F(RangesTest, OpenAndSuffixRangesReachTheEnd) {
  HttpReply open = get("/data.bin", "Range: bytes=299990-\r\n");
  EXPECT_EQ(open.status, 206);
  EXPECT_EQ(open.header("Content-Range"), "bytes 299990-299999/300000");
  EXPECT_TRUE(open.body == content_.substr(299990));
  HttpReply suffix = get("/data.bin", "Range: bytes=-7\r\n");
  EXPECT_EQ(suffix.status, 206);
  EXPECT_EQ(suffix.header("Content-Range"), "bytes 299993-299999/300000");
  EXPECT_TRUE(suffix.body == content_.substr(299993));
}

TEST_F(RangesTest, RangePastTheEndIs416WithTheLength) {
  HttpReply reply = get("/data.bin", "Range: bytes=300000-\r\n");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 416 Range Not Satisfiable");
  EXPECT_EQ(reply.header("Content-Range"), "bytes */300000");
}

TEST_F(RangesTest, MalformedRangeIsIgnored) {
  HttpReply reply = get("/data.bin", "Range: bytes=abc\r\n");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body.size(), content_.size());
}

TEST_F(RangesTest, HeadWithRangeDescribesThePartGetWouldSend) {
  HttpReply reply = get("/data.bin", "Range: bytes=10-19\r\n", "HEAD");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status, 206);
  EXPECT_EQ(reply.header("Content-Range"), "bytes 10-19/300000");
  EXPECT_EQ(reply.header("Content-Length"), "10");
  EXPECT_EQ(reply.body, "");
}

TEST_F(RangesTest, HeadWithSeveralRangesGivesTheMultipartLength) {
  HttpReply head = get("/data.bin", "Range: bytes=0-9,100-109\r\n", "HEAD");
  HttpReply got = get("/data.bin", "Range: bytes=0-9,100-109\r\n");
  EXPECT_EQ(head.status, 206);
  EXPECT_EQ(head.body, "");
  ASSERT_TRUE(head.header("Content-Length").has_value());
  EXPECT_EQ(head.header("Content-Length"), std::to_string(got.body.size()));
}

TEST_F(RangesTest, SeveralRangesAreMultipartThatPythonsEmailPackageParsesBack) {
  const auto python = find_in_path("python3");
  if (!python) GTEST_SKIP() << "python3 is not installed";
  // Python's parser reads a lone CR or LF in a part as a line end, so this
  // file is printable: the framing is what is tested, the bytes by the others.
  std::string printable = content_;
  for (char& c : printable) c = static_cast<char>('!' + static_cast<unsigned char>(c) % 94);
  server_.write_root_file("printable", printable);
  HttpReply reply = get("/printable", "Range: bytes=0-99, 5000-5999, -10\r\n");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  ASSERT_EQ(reply.status, 206);
  const auto type = reply.header("Content-Type");
  ASSERT_TRUE(type && type->starts_with("multipart/byteranges; boundary=")) << *type;
  EXPECT_EQ(reply.header("Content-Length"), std::to_string(reply.body.size()));

  // Python reads the MIME message and prints, per part, "first last length"
  // and writes the part bytes to files to compare with the file.
  TempDir scratch;
  const std::string message =
      scratch.write_file("message", "Content-Type: " + *type + "\r\n\r\n" + reply.body);
  const std::string script =
      "import email, sys\n"
      "msg = email.message_from_binary_file(open(sys.argv[1], 'rb'))\n"
      "assert msg.is_multipart()\n"
      "for i, part in enumerate(msg.get_payload()):\n"
      "    first, last = part['Content-Range'].split()[1].split('/')[0].split('-')\n"
      "    data = part.get_payload(decode=True)\n"
      "    open(sys.argv[2] + '/part%d' % i, 'wb').write(data)\n"
      "    print(part.get_content_type(), first, last, len(data), part['Content-Range'].split('/')[1])\n";
  ProcessResult python_run = run_process({*python, "-c", script, message, scratch.path()});
  ASSERT_TRUE(python_run.status.exited && python_run.status.code == 0) << python_run.err;
  EXPECT_EQ(python_run.out,
            "application/octet-stream 0 99 100 300000\n"
            "application/octet-stream 5000 5999 1000 300000\n"
            "application/octet-stream 299990 299999 10 300000\n");
  EXPECT_EQ(read_file(scratch.path() + "/part0"), printable.substr(0, 100));
  EXPECT_EQ(read_file(scratch.path() + "/part1"), printable.substr(5000, 1000));
  EXPECT_EQ(read_file(scratch.path() + "/part2"), printable.substr(299990));
}

TEST_F(RangesTest, MoreRangesThanTheCapGetTheWholeFile) {
  std::string ranges = "Range: bytes=";
  for (int i = 0; i < 17; ++i) ranges += std::to_string(i * 100) + "-" + std::to_string(i * 100 + 9) + ",";
  ranges.back() = '\r';
  HttpReply over = get("/data.bin", ranges + "\n");
  ASSERT_TRUE(over.parsed) << over.summary();
  EXPECT_EQ(over.status, 200);
  EXPECT_TRUE(over.body == content_);
  // Sixteen are still served as asked.
  HttpReply at_cap =
      get("/data.bin",
          "Range: bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,10-10,11-11,12-12,13-13,14-14,15-15\r\n");
  EXPECT_EQ(at_cap.status, 206);
}

TEST_F(RangesTest, OverlappingRangesThatAddUpPastTheFileGetTheWholeFile) {
  HttpReply reply = get("/data.bin", "Range: bytes=0-,0-,0-\r\n");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body.size(), content_.size());
}

TEST_F(RangesTest, IfRangeWithTheCurrentEtagGivesThePart) {
  const auto etag = get("/data.bin", "", "HEAD").header("ETag");
  ASSERT_TRUE(etag.has_value());
  HttpReply reply = get("/data.bin", "Range: bytes=0-9\r\nIf-Range: " + *etag + "\r\n");
  EXPECT_EQ(reply.status, 206);
  EXPECT_TRUE(reply.body == content_.substr(0, 10));
}

TEST_F(RangesTest, IfRangeWithAStaleValidatorGivesTheWholeFile) {
  const auto before = get("/data.bin", "", "HEAD");
  const auto etag = before.header("ETag");
  const auto date = before.header("Last-Modified");
  ASSERT_TRUE(etag && date);
  // The file changes: new content, a modification time a day later.
  server_.write_root_file("data.bin", content_.substr(0, 5000));
  const std::string path = server_.root() + "/data.bin";
  const struct timespec later[2] = {{0, UTIME_OMIT}, {::time(nullptr) + 86400, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), later, 0), 0);

  for (const std::string& validator : {*etag, *date}) {
    HttpReply reply = get("/data.bin", "Range: bytes=0-9\r\nIf-Range: " + validator + "\r\n");
    ASSERT_TRUE(reply.parsed) << reply.summary();
    EXPECT_EQ(reply.status, 200) << validator;
    EXPECT_TRUE(reply.body == content_.substr(0, 5000)) << validator;
  }
}

TEST_F(RangesTest, CurlResumesAnInterruptedDownloadByteExact) {
  if (!curl_path()) GTEST_SKIP() << "curl is not installed";
  TempDir downloads;
  const std::string partial = downloads.write_file("data.bin", content_.substr(0, 123'457));
  ProcessResult curl = run_curl({"-C", "-", "-o", partial, url("/data.bin")});
  ASSERT_TRUE(curl.status.exited && curl.status.code == 0) << describe(curl.status) << ": " << curl.err;
  EXPECT_TRUE(read_file(partial) == content_) << "resumed file differs";
  // The server was asked for the rest only.
  EXPECT_TRUE(logged("\" 206 176543")) << read_file(server_.access_log_path());
}

TEST_F(RangesTest, WgetResumesAnInterruptedDownloadByteExact) {
  const auto wget = find_in_path("wget");
  if (!wget) GTEST_SKIP() << "wget is not installed";
  TempDir downloads;
  const std::string partial = downloads.write_file("data.bin", content_.substr(0, 77'777));
  ProcessResult run = run_process({*wget, "--no-proxy", "-q", "-c", "--tries=1", "--timeout=10",
                                   "--directory-prefix=" + downloads.path(), url("/data.bin")});
  ASSERT_TRUE(run.status.exited && run.status.code == 0) << describe(run.status) << ": " << run.err;
  EXPECT_TRUE(read_file(partial) == content_) << "resumed file differs";
  EXPECT_TRUE(logged("\" 206 222223")) << read_file(server_.access_log_path());
}

}  // namespace
}  // namespace forkserve::integration

// The request limits and timeouts as flags: each one, set low, refuses the
// request that crosses it with its status (and lets the one at the limit
// through), and a client that stops reading is dropped at --write-timeout.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

using std::chrono::duration_cast;

milliseconds since(Clock::time_point start) { return duration_cast<milliseconds>(Clock::now() - start); }

// A server running environ_dump (it reads the whole body) with `flags`.
ServerProcess environ_dump_server(std::vector<std::string> flags) {
  flags.insert(flags.begin(), {"--handler", module_path("environ_dump.so")});
  return ServerProcess(std::move(flags));
}

// "GET /aaa...a HTTP/1.0" exactly `length` bytes long (without its CRLF).
std::string request_line_of_length(std::size_t length) {
  const std::size_t fixed = std::string_view("GET / HTTP/1.0").size();
  return "GET /" + std::string(length - fixed, 'a') + " HTTP/1.0";
}

std::string post_with_body(std::size_t length) {
  return "POST /upload HTTP/1.0\r\nContent-Length: " + std::to_string(length) + "\r\n\r\n" +
         std::string(length, 'b');
}

TEST(LimitsTest, BodyOverMaxBodyBytesGets413) {
  auto server = environ_dump_server({"--max-body-bytes", "1000"});
  ASSERT_TRUE(server.ready()) << server.error();

  HttpReply over = exchange(server.port(), post_with_body(1001));
  EXPECT_EQ(over.status_line, "HTTP/1.0 413 Content Too Large") << over.summary();
  EXPECT_TRUE(over.closed_by_server) << over.summary();
  HttpReply at_limit = exchange(server.port(), post_with_body(1000));
  EXPECT_EQ(at_limit.status, 200) << at_limit.summary();
  EXPECT_TRUE(at_limit.body.ends_with("\n\n" + std::string(1000, 'b'))) << "the handler got the whole body";
}

TEST(LimitsTest, RequestLineOverMaxRequestLineGets414) {
  auto server = environ_dump_server({"--max-request-line", "100"});
  ASSERT_TRUE(server.ready()) << server.error();

  HttpReply over = exchange(server.port(), request_line_of_length(101) + "\r\n\r\n");
  EXPECT_EQ(over.status_line, "HTTP/1.0 414 URI Too Long") << over.summary();
  EXPECT_TRUE(over.closed_by_server) << over.summary();
  HttpReply at_limit = exchange(server.port(), request_line_of_length(100) + "\r\n\r\n");
  EXPECT_EQ(at_limit.status, 200) << at_limit.summary();
}

TEST(LimitsTest, SixHeadersOverMaxHeaders5Get431) {
  auto server = environ_dump_server({"--max-headers", "5"});
  ASSERT_TRUE(server.ready()) << server.error();
  auto request_with_headers = [](int count) {
    std::string request = "GET / HTTP/1.0\r\n";
    for (int i = 0; i < count; ++i) request += "X-Header-" + std::to_string(i) + ": value\r\n";
    return request + "\r\n";
  };

  HttpReply over = exchange(server.port(), request_with_headers(6));
  EXPECT_EQ(over.status_line, "HTTP/1.0 431 Request Header Fields Too Large") << over.summary();
  EXPECT_TRUE(over.closed_by_server) << over.summary();
  HttpReply at_limit = exchange(server.port(), request_with_headers(5));
  EXPECT_EQ(at_limit.status, 200) << at_limit.summary();
}

TEST(LimitsTest, HeadOverMaxHeaderBytesGets431) {
  auto server = environ_dump_server({"--max-header-bytes", "1024"});
  ASSERT_TRUE(server.ready()) << server.error();
  // "GET / HTTP/1.0\r\n" + "X-Big: " + value + "\r\n\r\n", `total` bytes in all.
  auto head_of_size = [](std::size_t total) {
    std::string start = "GET / HTTP/1.0\r\nX-Big: ";
    return start + std::string(total - start.size() - 4, 'h') + "\r\n\r\n";
  };

  HttpReply over = exchange(server.port(), head_of_size(2048));
  EXPECT_EQ(over.status_line, "HTTP/1.0 431 Request Header Fields Too Large") << over.summary();
  EXPECT_TRUE(over.closed_by_server) << over.summary();
  HttpReply at_limit = exchange(server.port(), head_of_size(1024));
  EXPECT_EQ(at_limit.status, 200) << at_limit.summary();
}

TEST(LimitsTest, BodyShorterThanContentLengthGets408AtBodyTimeout) {
  constexpr milliseconds kEarliest{800};
  constexpr milliseconds kLatest{5'000};
  auto server = environ_dump_server({"--body-timeout", "1"});
  ASSERT_TRUE(server.ready()) << server.error();

  Clock::time_point start = Clock::now();
  HttpReply reply = exchange(server.port(), "POST /upload HTTP/1.0\r\nContent-Length: 10\r\n\r\nabc");
  milliseconds took = since(start);
  EXPECT_EQ(reply.status_line, "HTTP/1.0 408 Request Timeout") << reply.summary();
  EXPECT_TRUE(reply.closed_by_server) << reply.summary();
  EXPECT_GE(took, kEarliest) << "408 before --body-timeout 1";
  EXPECT_LE(took, kLatest);
}

// The handler's deadline is for the handler: the time a client takes to
// upload counts against --body-timeout only.
TEST(LimitsTest, UploadSlowerThanHandlerTimeoutButWithinBodyTimeoutIsServed) {
  auto server = environ_dump_server({"--handler-timeout", "1", "--body-timeout", "10"});
  ASSERT_TRUE(server.ready()) << server.error();
  Client client(server.port());
  ASSERT_TRUE(client.send("POST /upload HTTP/1.0\r\nContent-Length: 3\r\n\r\n"));
  for (char part : std::string_view("xyz")) {
    std::this_thread::sleep_for(milliseconds(700));  // a slow uploader is the behaviour under test
    ASSERT_TRUE(client.send(std::string(1, part)));
  }
  HttpReply reply = client.read_reply();
  EXPECT_EQ(reply.status, 200) << reply.summary() << "; stderr: " << server.stderr_text();
  EXPECT_TRUE(reply.body.ends_with("\n\nxyz")) << reply.summary();
}

TEST(LimitsTest, UploadStallingPastBodyTimeoutGets408NotTheHandlerTimeouts503) {
  constexpr milliseconds kEarliest{1'800};
  auto server = environ_dump_server({"--handler-timeout", "1", "--body-timeout", "2"});
  ASSERT_TRUE(server.ready()) << server.error();
  Clock::time_point start = Clock::now();
  HttpReply reply = exchange(server.port(), "POST /upload HTTP/1.0\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(reply.status_line, "HTTP/1.0 408 Request Timeout") << reply.summary();
  EXPECT_GE(since(start), kEarliest) << "answered before --body-timeout 2";
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "handler timeout"), 0U) << server.stderr_text();
}

TEST(LimitsTest, ClientThatStopsReadingIsDroppedAtWriteTimeout) {
  constexpr milliseconds kEarliest{1'500};
  constexpr milliseconds kLatest{8'000};
  // Far more than loopback socket buffers hold, so the child must block.
  constexpr unsigned long long kStreamBytes = 32ULL << 20;
  ServerProcess server({"--handler", fixture_path("slow.so"), "--write-timeout", "2"});
  ASSERT_TRUE(server.ready()) << server.error();

  Client reader_that_stops(server.port());
  ASSERT_TRUE(reader_that_stops.connected()) << std::strerror(reader_that_stops.error());
  int small = 4096;  // and keep the kernel from growing our receive buffer
  ::setsockopt(reader_that_stops.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  Clock::time_point start = Clock::now();
  ASSERT_TRUE(
      reader_that_stops.send("GET /stream?bytes=" + std::to_string(kStreamBytes) + " HTTP/1.0\r\n\r\n"));
  auto logged_drop = [&] {
    const std::string log = server.stderr_text();
    return log.find("response timeout") != std::string::npos || log.find("write timeout") != std::string::npos;
  };
  if (workers_under_test()) {
    // The worker that served it is replaced; its drop is logged when it ends.
    EXPECT_TRUE(eventually(logged_drop, kLatest)) << server.stderr_text();
  } else {
    ASSERT_TRUE(eventually([&] { return !children_of(server.pid()).empty(); }, milliseconds(5'000)))
        << "no child for the streaming request";
    EXPECT_TRUE(eventually([&] { return children_of(server.pid()).empty(); }, kLatest))
        << "the child of a client that stopped reading is still there";
  }
  milliseconds gone_after = since(start);
  EXPECT_GE(gone_after, kEarliest) << "the child ended before --write-timeout 2";
  EXPECT_LE(gone_after, kLatest);
  const std::string log = server.stderr_text();
  EXPECT_TRUE(log.find("response timeout") != std::string::npos ||
              log.find("write timeout") != std::string::npos)
      << "the drop is not logged as a write timeout:\n"
      << log;

  HttpReply next = exchange(server.port(), "GET /fast HTTP/1.0\r\n\r\n");
  EXPECT_EQ(next.status, 200) << next.summary();
  EXPECT_EQ(next.body, "fast\n");
}

}  // namespace
}  // namespace forkserve::integration

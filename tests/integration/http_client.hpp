// A raw-socket HTTP client for integration tests: loopback only, every call
// bounded by a deadline, the reply read until the server closes.
//
//     HttpReply reply = exchange(port, "GET /a.txt HTTP/1.0\r\n\r\n");
//     EXPECT_EQ(reply.status, 200) << reply.summary();
//     EXPECT_EQ(reply.header("Content-Type"), "text/plain; charset=utf-8");
//
// The client never half-closes its side: a reply counts as complete only when
// the server closes the connection (closed_by_server).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "integration/server_process.hpp"

namespace forkserve::integration {

struct HttpReply {
  std::string raw;                // every byte received
  bool closed_by_server = false;  // end of stream arrived before the deadline
  bool timed_out = false;
  int error = 0;  // errno of a failed connect, send or receive

  // Filled by parse_reply() when raw holds a whole head ("\r\n\r\n").
  bool parsed = false;
  std::string status_line;  // "HTTP/1.0 200 OK"
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The value of the first header named `name` (any case).
  std::optional<std::string> header(std::string_view name) const;
  std::size_t header_count(std::string_view name) const;
  // For assertion messages: the outcome and the first bytes, escaped.
  std::string summary() const;
};

// Splits raw bytes (from a socket or `curl -i`) into status, headers and body.
void parse_reply(HttpReply& reply);

// A client connection to 127.0.0.1:port (or host:port, an IPv4 or IPv6
// literal); non-blocking, closed on destruction.
class Client {
 public:
  explicit Client(std::uint16_t port, milliseconds timeout = milliseconds(5'000));
  Client(std::string_view host, std::uint16_t port, milliseconds timeout = milliseconds(5'000));
  Client(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  bool connected() const { return fd_ >= 0; }
  int error() const { return error_; }  // errno when not connected
  int fd() const { return fd_; }

  // Sends every byte before the deadline; false (and error()) otherwise.
  bool send(std::string_view bytes, milliseconds timeout = milliseconds(5'000));
  // Reads until the server closes or the deadline passes; parsed.
  HttpReply read_reply(milliseconds timeout = milliseconds(10'000));
  // True when a byte (or the end of stream) is ready right now.
  bool readable_now() const;
  // Closes now, so the server's lingering close sees the end of stream.
  void close();

 private:
  int fd_ = -1;
  int error_ = 0;
};

// Connects, sends `request`, reads the reply until the server closes.
HttpReply exchange(std::uint16_t port, std::string_view request, milliseconds timeout = milliseconds(10'000));
// The same to host:port (an IPv4 or IPv6 literal, e.g. "::1").
HttpReply exchange(std::string_view host, std::uint16_t port, std::string_view request,
                   milliseconds timeout = milliseconds(10'000));

// Opens `count` connections at once, sends `request` on each, then reads all
// replies in parallel (poll) until every one is closed or the deadline passes.
// Each connection is closed as soon as its reply has ended.
std::vector<HttpReply> exchange_concurrently(std::uint16_t port, std::string_view request, std::size_t count,
                                             milliseconds timeout = milliseconds(20'000));

// 0 when a connection to 127.0.0.1:port succeeds, else the connect errno
// (ECONNREFUSED when nothing listens).
int connect_error(std::uint16_t port);

// curl, or nullopt when it is not installed (tests GTEST_SKIP then).
std::optional<std::string> curl_path();
// Runs curl quietly against loopback (no proxy, bounded) with `args`.
ProcessResult run_curl(const std::vector<std::string>& args);

}  // namespace forkserve::integration

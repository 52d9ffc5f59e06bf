// The request body as a handler reads it: Content-Length bytes, or a chunked
// stream decoded on the way (http/chunked.hpp). Bytes that arrived with the
// head come first; the rest is read from the socket before one deadline for
// the whole body (--body-timeout), never re-armed per read.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "http/chunked.hpp"
#include "http/request_parser.hpp"
#include "net/io.hpp"

namespace forkserve {

class RequestBody {
 public:
  // `after_head` (bytes received past the head) must outlive this object.
  RequestBody(int fd, const http::RequestHead& head, std::string_view after_head,
              unsigned long long max_body_bytes, Deadline deadline);

  // Bytes read (> 0), 0 at the end of the body, -1 on error: then
  // error_status() is 400 (malformed chunk framing, client gone), 408 (the
  // deadline passed) or 413 (decoded body over max_body_bytes).
  long long read(std::span<char> buffer);

  // Every byte of the body has come from the client (it may not all have
  // been handed out yet). A chunked body counts once its last chunk is decoded.
  bool received_all() const { return chunked_ ? decoder_.done() : length_left_ == 0; }

  // The body was read to its end and nothing followed it: closing the
  // connection now cannot turn unread bytes into an RST.
  bool read_to_end() const;

  // Expect: 100-continue: the interim 100 goes out when the first bytes not
  // yet received are asked for, so a request refused before its body is
  // read (413, 401, 404) gets its final status and the client never
  // uploads. Once the response has started, it must not go out at all.
  void forgo_continue() { continue_pending_ = false; }

  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }

 private:
  long long failed(int status, std::string message);
  // Refills pending_ from the socket; false (error set) when nothing came.
  bool receive();
  void send_continue();

  int fd_;
  bool chunked_;
  std::string_view pending_;            // received, not yet handed out (or decoded)
  unsigned long long length_left_ = 0;  // Content-Length: bytes still to come
  bool extra_bytes_ = false;            // bytes past the end of the body arrived
  http::ChunkedDecoder decoder_;
  std::unique_ptr<char[]> buffer_;  // chunked: the wire bytes read so far
  Deadline deadline_;
  bool continue_pending_ = false;
  int error_status_ = 0;
  std::string error_;
};

}  // namespace forkserve

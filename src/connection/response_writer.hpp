// The server side of start_response/write: holds the handler's status and
// headers until the first body bytes, validates them, frames the body and
// writes it to the client. One per child.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/response.hpp"
#include "net/io.hpp"

namespace forkserve {

class ResponseWriter {
 public:
  // The write timeout runs from the first byte of the response.
  ResponseWriter(int fd, bool head_only, std::chrono::seconds write_timeout)
      : fd_(fd), head_only_(head_only), write_timeout_(write_timeout) {}

  // Each returns false with error() set when the call is refused or the
  // client is gone.
  bool start(std::string_view status, std::vector<http::OwnedHeader> headers, bool replace);
  bool set_content_length(unsigned long long length);
  bool write(std::string_view data);
  bool send_file(int file, off_t offset, unsigned long long length);

  // For a program that writes the whole response itself (CGI nph-): the
  // bytes go out as they are; `status` is what the access log shows.
  bool write_raw(std::string_view data, int status);

  // After the handler returned successfully: sends held headers and checks
  // the body was as long as declared. False if the response is incomplete.
  bool finish();

  // Answers with a server-generated error if nothing was sent yet; otherwise
  // aborts the connection (RST) so the client cannot take a truncated body
  // for a whole one. Returns the status the client saw.
  int fail(int status, std::string_view detail);

  // Called once, just before the first byte of the response goes out.
  void on_head_sent(void (*hook)()) { on_head_sent_ = hook; }

  bool started() const { return started_; }
  bool head_sent() const { return head_sent_; }
  bool aborted() const { return aborted_; }
  int status() const { return status_code_; }
  unsigned long long body_bytes() const { return body_bytes_; }
  const std::string& error() const { return error_; }

 private:
  bool refuse(std::string message);
  void mark_head_sent();
  // Sends the held head, with `body` (if any) in the same writev.
  bool flush_head(std::string_view body);
  bool check_room(unsigned long long length);
  bool account(const IoResult& result);

  int fd_;
  bool head_only_;
  std::chrono::seconds write_timeout_;
  Deadline deadline_{};
  bool aborted_ = false;
  void (*on_head_sent_)() = nullptr;
  bool started_ = false;
  bool head_sent_ = false;
  std::string status_;
  int status_code_ = 0;
  std::vector<http::OwnedHeader> headers_;
  std::optional<unsigned long long> declared_length_;  // the handler's Content-Length header
  std::optional<unsigned long long> known_length_;     // declared, or told by set_content_length
  unsigned long long body_bytes_ = 0;
  std::string error_;
};

}  // namespace forkserve

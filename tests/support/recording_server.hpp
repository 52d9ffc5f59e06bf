// A fake server for driving a module's handle() in-process, without sockets.
//
//     forkserve::testing::RecordingServer server({{"REQUEST_METHOD", "GET"},
//                                                 {"forkserve.raw_path", "/"}});
//     int rc = server.handle(*module);
//     EXPECT_EQ(server.status(), "200 OK");
//     EXPECT_EQ(server.header("Content-Type"), "text/html; charset=utf-8");
//
// It fills a forkserve_request (environ sorted by name, request body from a
// string given to set_input()) whose callbacks only record: status, headers,
// the declared Content-Length, body bytes (send_file's region is read with
// pread), the error log. Unlike the real server it validates nothing and sends nothing;
// "headers sent" becomes true at the first non-empty body byte, as there.
#pragma once

#include <forkserve/module.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace forkserve::testing {

class RecordingServer {
 public:
  using Pairs = std::vector<std::pair<std::string, std::string>>;

  // `variables` may come in any order; a later duplicate name replaces an
  // earlier one. (The request body is set apart, with set_input(): a second
  // constructor argument would make `RecordingServer s({{"A", "1"}, {"B", "2"}})`
  // ambiguous.)
  explicit RecordingServer(Pairs variables) {
    std::stable_sort(variables.begin(), variables.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& pair : variables) {
      if (!environ_.empty() && environ_.back().first == pair.first) {
        environ_.back().second = std::move(pair.second);
      } else {
        environ_.push_back(std::move(pair));
      }
    }
    // environ_ no longer changes, so pointers into its strings stay valid.
    for (const auto& [name, value] : environ_) {
      pairs_.push_back({{name.data(), name.size()}, {value.data(), value.size()}});
    }
    request_.size = sizeof(forkserve_request);
    request_.abi_minor = FORKSERVE_ABI_MINOR;
    request_.run_once = 1;
    request_.environ = pairs_.data();
    request_.environ_count = pairs_.size();
    request_.server = this;
    request_.read_input = &read_input;
    request_.log_error = &log_error;
    request_.start_response = &start_response;
    request_.set_content_length = &set_content_length;
    request_.write = &write;
    request_.send_file = &send_file;
    request_.headers_sent = &headers_sent;
    request_.last_error = &last_error;
  }

  // request_.server points at this object.
  RecordingServer(const RecordingServer&) = delete;
  RecordingServer& operator=(const RecordingServer&) = delete;

  // The bytes read_input() hands out, from the start.
  void set_input(std::string input) {
    input_ = std::move(input);
    input_offset_ = 0;
  }

  const forkserve_request& request() const { return request_; }
  int handle(const forkserve_module& module) { return module.handle(&request_); }

  // What the handler did.
  const std::string& status() const { return status_; }
  // The status code from the status line; 0 if start_response was never called.
  int status_code() const { return status_.size() >= 3 ? std::stoi(status_.substr(0, 3)) : 0; }
  const Pairs& headers() const { return headers_; }
  // The first header with this name (case-insensitive).
  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [n, v] : headers_) {
      if (n.size() == name.size() && ::strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
    }
    return std::nullopt;
  }
  const std::string& body() const { return body_; }
  std::optional<unsigned long long> content_length() const { return content_length_; }
  int start_response_calls() const { return start_response_calls_; }
  // Messages the handler (or the module glue) sent to the error log.
  const std::vector<std::string>& error_log() const { return error_log_; }
  bool sent() const { return sent_; }

  // Makes every later write() and send_file() fail with `reason`, as when the
  // client has gone away.
  void fail_writes(std::string reason) { write_failure_ = std::move(reason); }

 private:
  static RecordingServer& self(void* server) { return *static_cast<RecordingServer*>(server); }

  int fail(std::string message) {
    last_error_ = std::move(message);
    return FORKSERVE_FAILED;
  }

  static long long read_input(void* server, char* buffer, size_t size) {
    RecordingServer& s = self(server);
    const std::size_t n = std::min(size, s.input_.size() - s.input_offset_);
    std::memcpy(buffer, s.input_.data() + s.input_offset_, n);
    s.input_offset_ += n;
    return static_cast<long long>(n);
  }

  static void log_error(void* server, const char* message, size_t size) {
    self(server).error_log_.emplace_back(message, size);
  }

  static int start_response(void* server, forkserve_str status, const forkserve_pair* headers,
                            size_t header_count, int replace) {
    RecordingServer& s = self(server);
    if (s.start_response_calls_ > 0 && !replace) return s.fail("start_response called twice");
    if (s.sent_) return s.fail("start_response after headers were sent");
    ++s.start_response_calls_;
    s.status_.assign(status.data, status.size);
    s.headers_.clear();
    for (size_t i = 0; i < header_count; ++i) {
      s.headers_.emplace_back(std::string(headers[i].name.data, headers[i].name.size),
                              std::string(headers[i].value.data, headers[i].value.size));
    }
    return FORKSERVE_OK;
  }

  static int set_content_length(void* server, unsigned long long length) {
    self(server).content_length_ = length;
    return FORKSERVE_OK;
  }

  static int write(void* server, const char* data, size_t size) {
    RecordingServer& s = self(server);
    if (s.start_response_calls_ == 0) return s.fail("write before start_response");
    if (s.write_failure_) return s.fail(*s.write_failure_);
    if (size > 0) s.sent_ = true;
    s.body_.append(data, size);
    return FORKSERVE_OK;
  }

  static int send_file(void* server, int fd, long long offset, unsigned long long length) {
    RecordingServer& s = self(server);
    if (s.start_response_calls_ == 0) return s.fail("send_file before start_response");
    if (s.write_failure_) return s.fail(*s.write_failure_);
    char buffer[16384];
    while (length > 0) {
      const std::size_t want = static_cast<std::size_t>(std::min<unsigned long long>(length, sizeof buffer));
      const ssize_t n = ::pread(fd, buffer, want, static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return s.fail(std::string("send_file: pread: ") + std::strerror(errno));
      if (n == 0) return s.fail("send_file: file ended before the region did");
      s.sent_ = true;
      s.body_.append(buffer, static_cast<std::size_t>(n));
      offset += n;
      length -= static_cast<unsigned long long>(n);
    }
    return FORKSERVE_OK;
  }

  static int headers_sent(void* server) { return self(server).sent_ ? 1 : 0; }

  static const char* last_error(void* server) { return self(server).last_error_.c_str(); }

  Pairs environ_;
  std::vector<forkserve_pair> pairs_;
  std::string input_;
  std::size_t input_offset_ = 0;
  forkserve_request request_{};

  std::string status_;
  Pairs headers_;
  std::string body_;
  std::optional<unsigned long long> content_length_;
  int start_response_calls_ = 0;
  bool sent_ = false;
  std::vector<std::string> error_log_;
  std::optional<std::string> write_failure_;
  std::string last_error_;
};

}  // namespace forkserve::testing

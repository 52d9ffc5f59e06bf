// A module descriptor's handle() driven in-process, without sockets, with an
// environ the test chooses:
//
//     forkserve::testing::RecordingServer server({{"REQUEST_METHOD", "GET"},
//                                                 {"forkserve.raw_path", "/"}});
//     int rc = server.handle(*module);
//     EXPECT_EQ(server.status(), "200 OK");
//     EXPECT_EQ(server.header("Content-Type"), "text/html; charset=utf-8");
//
// The server side is <forkserve/testing.hpp>'s own (detail::FakeServer, the
// server's rules on start_response included), so there is one fake server:
// this only adds what forkserve::testing::Client leaves out on purpose, for
// the built-in handlers' tests: a raw descriptor instead of a C++ handler, an
// environ given whole (variables the server would always set may be left
// out), no HEAD body dropped for the handler, and writes that fail as when
// the client has gone away.
#pragma once

#include <algorithm>
#include <forkserve/testing.hpp>
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
  // earlier one.
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
    for (const auto& [name, value] : environ_) pairs_.push_back({to_str(name), to_str(value)});
    request_.size = sizeof(forkserve_request);
    request_.abi_minor = FORKSERVE_ABI_MINOR;
    request_.run_once = 1;
    request_.environ = pairs_.data();
    request_.environ_count = pairs_.size();
    request_.server = static_cast<detail::FakeServer*>(&server_);
    request_.read_input = &detail::FakeServer::read_input;
    request_.log_error = &detail::FakeServer::log_error;
    request_.start_response = &detail::FakeServer::start_response;
    request_.set_content_length = &detail::FakeServer::set_content_length;
    request_.write = &write;
    request_.send_file = &send_file;
    request_.headers_sent = &detail::FakeServer::headers_sent;
    request_.last_error = &detail::FakeServer::last_error;
  }

  // request_.server points into this object.
  RecordingServer(const RecordingServer&) = delete;
  RecordingServer& operator=(const RecordingServer&) = delete;

  const forkserve_request& request() const { return request_; }
  int handle(const forkserve_module& module) { return module.handle(&request_); }

  // What the handler did.
  const std::string& status() const { return server_.response.status_line; }
  // The status code from the status line; 0 if start_response never succeeded.
  int status_code() const { return server_.response.status; }
  // The first header with this name (case-insensitive).
  std::optional<std::string> header(std::string_view name) const { return server_.response.header(name); }
  const std::string& body() const { return server_.response.body; }
  std::optional<unsigned long long> content_length() const { return server_.response.content_length; }
  // Messages the handler (or the module glue) sent to the error log, one per line.
  std::vector<std::string> error_log() const {
    std::vector<std::string> lines;
    const std::string& log = server_.response.error_log;
    for (std::size_t start = 0; start < log.size();) {
      std::size_t end = log.find('\n', start);
      if (end == std::string::npos) end = log.size();
      lines.push_back(log.substr(start, end - start));
      start = end + 1;
    }
    return lines;
  }

  // Makes every later write() and send_file() fail with `reason`, as when the
  // client has gone away.
  void fail_writes(std::string reason) { server_.write_failure = std::move(reason); }

 private:
  struct Server : detail::FakeServer {
    std::optional<std::string> write_failure;
  };

  static Server& self(void* server) { return static_cast<Server&>(detail::FakeServer::self(server)); }

  static int write(void* server, const char* data, std::size_t size) {
    if (const auto& failure = self(server).write_failure)
      return detail::FakeServer::refuse(self(server), *failure);
    return detail::FakeServer::write(server, data, size);
  }

  static int send_file(void* server, int fd, long long offset, unsigned long long length) {
    if (const auto& failure = self(server).write_failure)
      return detail::FakeServer::refuse(self(server), *failure);
    return detail::FakeServer::send_file(server, fd, offset, length);
  }

  Pairs environ_;
  std::vector<forkserve_pair> pairs_;
  Server server_;
  forkserve_request request_{};
};

}  // namespace forkserve::testing

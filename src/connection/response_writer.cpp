#include "connection/response_writer.hpp"

#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <ctime>

#include "http/date.hpp"
#include "http/request_parser.hpp"

namespace forkserve {
namespace {

// 1xx, 204 and 304 responses never carry a body, so no Content-Length is added to them.
bool may_have_body(int status) { return status >= 200 && status != 204 && status != 304; }

std::optional<unsigned long long> parse_length(std::string_view text) {
  unsigned long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

bool ResponseWriter::refuse(std::string message) {
  error_ = std::move(message);
  return false;
}

bool ResponseWriter::start(std::string_view status, std::vector<http::OwnedHeader> headers, bool replace) {
  if (head_sent_) return refuse("start_response called after the headers were sent");
  if (started_ && !replace) return refuse("start_response called twice without an exception");
  if (auto problem = http::check_status(status)) return refuse("invalid status: " + std::string(*problem));
  std::optional<unsigned long long> declared;
  for (const http::OwnedHeader& h : headers) {
    if (auto problem = http::check_header(h.name, h.value)) {
      std::string name = http::is_token(h.name) ? h.name : "(invalid name)";
      return refuse("invalid header " + name + ": " + std::string(*problem));
    }
    if (http::iequals(h.name, "Content-Length")) {
      if (declared) return refuse("two Content-Length headers");
      declared = parse_length(h.value);
      if (!declared) return refuse("Content-Length must be a decimal number");
    }
  }
  started_ = true;
  status_ = status;
  std::from_chars(status_.data(), status_.data() + 3, status_code_);
  headers_ = std::move(headers);
  declared_length_ = declared;
  known_length_ = declared;
  return true;
}

bool ResponseWriter::set_content_length(unsigned long long length) {
  if (!head_sent_ && !declared_length_) known_length_ = length;
  return true;
}

bool ResponseWriter::check_room(unsigned long long length) {
  if (!started_) return refuse("body written before start_response");
  if (length > 0 && !may_have_body(status_code_)) {
    return refuse("a " + std::to_string(status_code_) + " response has no body");
  }
  if (!head_only_ && declared_length_ && body_bytes_ + length > *declared_length_) {
    return refuse("handler sent more bytes than its Content-Length");
  }
  return true;
}

bool ResponseWriter::account(const IoResult& result) {
  switch (result.status) {
    case IoStatus::Ok:
      return true;
    case IoStatus::TimedOut:
      return refuse("write timeout: client not reading");
    default:
      return refuse(std::string("write to client: ") + std::strerror(result.error));
  }
}

void ResponseWriter::mark_head_sent() {
  head_sent_ = true;
  if (on_head_sent_) on_head_sent_();
}

bool ResponseWriter::flush_head(std::string_view body) {
  std::optional<unsigned long long> length = may_have_body(status_code_) ? known_length_ : std::nullopt;
  if (declared_length_) length.reset();  // the handler's own header is sent as given
  std::string head = http::serialize_head(status_, headers_, length, http::format_http_date(std::time(nullptr)));
  mark_head_sent();
  deadline_ = Clock::now() + write_timeout_;
  if (head_only_) body = {};
  iovec parts[2] = {{head.data(), head.size()}, {const_cast<char*>(body.data()), body.size()}};
  IoResult result = write_all(fd_, {parts, body.empty() ? 1u : 2u}, deadline_);
  if (result.bytes > head.size()) body_bytes_ += result.bytes - head.size();
  return account(result);
}

bool ResponseWriter::write(std::string_view data) {
  if (!check_room(data.size())) return false;
  if (data.empty()) return true;
  if (!head_sent_) return flush_head(data);
  if (head_only_) return true;
  iovec part{const_cast<char*>(data.data()), data.size()};
  IoResult result = write_all(fd_, {&part, 1}, deadline_);
  body_bytes_ += result.bytes;
  return account(result);
}

bool ResponseWriter::write_raw(std::string_view data, int status) {
  if (started_ && !head_sent_) return refuse("raw output after start_response");
  if (!head_sent_) {
    started_ = true;
    status_code_ = status;
    mark_head_sent();
    deadline_ = Clock::now() + write_timeout_;
  }
  iovec part{const_cast<char*>(data.data()), data.size()};
  IoResult result = write_all(fd_, {&part, 1}, deadline_);
  body_bytes_ += result.bytes;
  return account(result);
}

bool ResponseWriter::send_file(int file, off_t offset, unsigned long long length) {
  if (offset < 0) return refuse("negative file offset");
  if (!check_room(length)) return false;
  if (length == 0) return true;
  if (!head_sent_ && !flush_head({})) return false;
  if (head_only_) return true;
  IoResult result = send_file_all(fd_, file, offset, length, deadline_);
  body_bytes_ += result.bytes;
  return account(result);
}

bool ResponseWriter::finish() {
  if (!started_) return refuse("handler returned without calling start_response");
  if (!head_sent_) {
    if (!known_length_) known_length_ = 0;  // nothing was written: the body is empty
    if (declared_length_ && *declared_length_ != 0 && !head_only_ && may_have_body(status_code_)) {
      return refuse("handler declared a Content-Length but sent no body");
    }
    return flush_head({});
  }
  if (!head_only_ && declared_length_ && body_bytes_ < *declared_length_ && may_have_body(status_code_)) {
    return refuse("handler sent fewer bytes than its Content-Length");
  }
  return true;
}

int ResponseWriter::fail(int status, std::string_view detail) {
  if (head_sent_) {
    // Too late for an error page: reset the connection so the client sees a
    // failure rather than a short body it might trust.
    reset_on_close(fd_);
    aborted_ = true;
    return status_code_;
  }
  std::string response = http::error_response(status, detail, http::format_http_date(std::time(nullptr)));
  std::size_t head_length = response.find("\r\n\r\n") + 4;
  started_ = true;
  status_code_ = status;  // before mark_head_sent: the timeout handler reads it once the head counts as sent
  mark_head_sent();
  deadline_ = Clock::now() + write_timeout_;
  iovec part{response.data(), head_only_ ? head_length : response.size()};
  IoResult result = write_all(fd_, {&part, 1}, deadline_);
  if (result.bytes > head_length) body_bytes_ = result.bytes - head_length;
  return status;
}

}  // namespace forkserve

#include "connection/request_body.hpp"

#include <algorithm>
#include <cstring>

namespace forkserve {
namespace {

constexpr std::size_t kChunkedReadSize = 16 * 1024;

}  // namespace

RequestBody::RequestBody(int fd, const http::RequestHead& head, std::string_view after_head,
                         unsigned long long max_body_bytes, Deadline deadline)
    : fd_(fd), chunked_(head.chunked), decoder_(http::ChunkedLimits{max_body_bytes}), deadline_(deadline) {
  // A client that already started sending needs no 100.
  continue_pending_ = head.expects_continue() && after_head.empty();
  if (chunked_) {
    pending_ = after_head;
    return;
  }
  unsigned long long length = head.content_length.value_or(0);
  pending_ =
      after_head.substr(0, static_cast<std::size_t>(std::min<unsigned long long>(after_head.size(), length)));
  extra_bytes_ = after_head.size() > length;
  length_left_ = length - pending_.size();
}

long long RequestBody::failed(int status, std::string message) {
  error_status_ = status;
  error_ = std::move(message);
  return -1;
}

void RequestBody::send_continue() {
  if (!continue_pending_) return;
  continue_pending_ = false;
  iovec interim{const_cast<char*>(http::kContinueResponse.data()), http::kContinueResponse.size()};
  (void)write_all(fd_, {&interim, 1}, deadline_);  // if it fails, so will the read
}

bool RequestBody::receive() {
  send_continue();
  if (!buffer_) buffer_.reset(new char[kChunkedReadSize]);
  IoResult result = read_some(fd_, {buffer_.get(), kChunkedReadSize}, deadline_);
  if (result.status == IoStatus::Ok) {
    pending_ = {buffer_.get(), result.bytes};
    return true;
  }
  if (result.status == IoStatus::TimedOut) {
    failed(408, "request body timeout");
  } else {
    failed(400, "client closed the connection before the end of the body");
  }
  return false;
}

long long RequestBody::read(std::span<char> buffer) {
  if (error_status_ != 0) return -1;
  if (buffer.empty()) return 0;
  if (!chunked_) {
    if (!pending_.empty()) {
      std::size_t n = std::min(buffer.size(), pending_.size());
      std::memcpy(buffer.data(), pending_.data(), n);
      pending_.remove_prefix(n);
      return static_cast<long long>(n);
    }
    if (length_left_ == 0) return 0;
    send_continue();
    std::size_t want = static_cast<std::size_t>(std::min<unsigned long long>(buffer.size(), length_left_));
    IoResult result = read_some(fd_, buffer.first(want), deadline_);
    if (result.status == IoStatus::Ok) {
      length_left_ -= result.bytes;
      return static_cast<long long>(result.bytes);
    }
    return failed(result.status == IoStatus::TimedOut ? 408 : 400,
                  result.status == IoStatus::TimedOut
                      ? "request body timeout"
                      : "client closed the connection before the end of the body");
  }
  while (!decoder_.done()) {
    if (pending_.empty() && !receive()) return -1;
    // At most buffer.size() input bytes, so a data run always fits the buffer.
    http::ChunkedStep step = decoder_.decode(pending_.substr(0, buffer.size()));
    pending_.remove_prefix(step.consumed);
    if (step.status == http::ChunkedStatus::Error) {
      return failed(step.error_status, "chunked request body: " + std::string(step.reason));
    }
    if (!step.data.empty()) {
      std::memcpy(buffer.data(), step.data.data(), step.data.size());
      return static_cast<long long>(step.data.size());
    }
  }
  extra_bytes_ = extra_bytes_ || !pending_.empty();
  return 0;
}

bool RequestBody::read_to_end() const {
  if (error_status_ != 0 || extra_bytes_) return false;
  if (chunked_) return decoder_.done() && pending_.empty();
  return pending_.empty() && length_left_ == 0;
}

}  // namespace forkserve

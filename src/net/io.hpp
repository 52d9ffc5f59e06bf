// Descriptor ownership and the one place that does socket I/O with deadlines.
//
// Every read, write, sendfile and poll on a client socket goes through here:
// EINTR is retried, short writes are continued, and each call gives up at an
// absolute deadline (a client trickling bytes cannot extend it).
#pragma once

#include <poll.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <span>
#include <utility>

namespace forkserve {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

enum class IoStatus { Ok, Closed, TimedOut, Failed };

struct IoResult {
  IoStatus status = IoStatus::Ok;
  std::size_t bytes = 0;  // transferred before the status was reached
  int error = 0;          // errno for Failed
};

// Waits until `fd` (non-blocking) is readable, then reads once. Closed means
// end of stream with nothing read.
IoResult read_some(int fd, std::span<char> buffer, Deadline deadline);

// Writes every byte of every buffer (writev), continuing short writes.
IoResult write_all(int fd, std::span<const iovec> buffers, Deadline deadline);

// Sends `length` bytes of `file` from `offset` with sendfile(2).
IoResult send_file_all(int fd, int file, off_t offset, std::size_t length, Deadline deadline);

// For a process juggling several descriptors (a CGI program's pipes): one
// read or write that never waits. Ok with bytes == 0 means "would block";
// EINTR is retried.
IoResult read_now(int fd, std::span<char> buffer);
IoResult write_now(int fd, std::span<const char> data);

// poll(2) until one of `fds` is ready or `timeout` passes (negative: no
// timeout; EINTR resumes the wait with what is left). Returns the number
// ready, 0 at the timeout, -1 on failure.
int wait_for_any(std::span<pollfd> fds, std::chrono::milliseconds timeout);

// Sets O_NONBLOCK; false on failure.
bool set_nonblocking(int fd);

// Makes the coming close() of socket `fd` reset the connection (SO_LINGER 0)
// rather than end it in order, so a client cannot take a cut-off response for
// a whole one. Async-signal-safe.
void reset_on_close(int fd);

}  // namespace forkserve

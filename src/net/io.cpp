#include "net/io.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

namespace forkserve {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {

// Waits for `events` on fd until the deadline. EINTR restarts the wait with
// the time that is left, never with a fresh timeout.
IoStatus wait_for(int fd, short events, Deadline deadline) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return IoStatus::TimedOut;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return IoStatus::Ok;  // readiness, hang-up and errors are all reported by the next call
    if (n == 0) return IoStatus::TimedOut;
    if (errno != EINTR) return IoStatus::Failed;
  }
}

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

}  // namespace

IoResult read_some(int fd, std::span<char> buffer, Deadline deadline) {
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n > 0) return {IoStatus::Ok, static_cast<std::size_t>(n), 0};
    if (n == 0) return {IoStatus::Closed, 0, 0};
    if (errno == EINTR) continue;
    if (!would_block(errno)) return {IoStatus::Failed, 0, errno};
    if (IoStatus s = wait_for(fd, POLLIN, deadline); s != IoStatus::Ok) return {s, 0, errno};
  }
}

IoResult write_all(int fd, std::span<const iovec> buffers, Deadline deadline) {
  iovec local[8];
  std::size_t count = 0;
  // Copy so short writes can advance the vectors; more than 8 pieces are
  // written in several rounds.
  std::size_t total = 0;
  while (!buffers.empty()) {
    count = std::min(buffers.size(), std::size(local));
    std::copy_n(buffers.begin(), count, local);
    buffers = buffers.subspan(count);
    iovec* next = local;
    while (count > 0) {
      ssize_t n = ::writev(fd, next, static_cast<int>(count));
      if (n < 0) {
        if (errno == EINTR) continue;
        if (!would_block(errno)) return {IoStatus::Failed, total, errno};
        if (IoStatus s = wait_for(fd, POLLOUT, deadline); s != IoStatus::Ok) return {s, total, errno};
        continue;
      }
      total += static_cast<std::size_t>(n);
      auto written = static_cast<std::size_t>(n);
      while (count > 0 && written >= next->iov_len) {
        written -= next->iov_len;
        ++next;
        --count;
      }
      if (count > 0) {
        next->iov_base = static_cast<char*>(next->iov_base) + written;
        next->iov_len -= written;
      }
    }
  }
  return {IoStatus::Ok, total, 0};
}

IoResult send_file_all(int fd, int file, off_t offset, std::size_t length, Deadline deadline) {
  std::size_t sent = 0;
  while (sent < length) {
    ssize_t n = ::sendfile(fd, file, &offset, length - sent);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) return {IoStatus::Failed, sent, EIO};  // the file shrank under us
    if (errno == EINTR) continue;
    if (!would_block(errno)) return {IoStatus::Failed, sent, errno};
    if (IoStatus s = wait_for(fd, POLLOUT, deadline); s != IoStatus::Ok) return {s, sent, errno};
  }
  return {IoStatus::Ok, sent, 0};
}

IoResult read_now(int fd, std::span<char> buffer) {
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n > 0) return {IoStatus::Ok, static_cast<std::size_t>(n), 0};
    if (n == 0) return {IoStatus::Closed, 0, 0};
    if (errno == EINTR) continue;
    if (would_block(errno)) return {IoStatus::Ok, 0, 0};
    return {IoStatus::Failed, 0, errno};
  }
}

IoResult write_now(int fd, std::span<const char> data) {
  for (;;) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n >= 0) return {IoStatus::Ok, static_cast<std::size_t>(n), 0};
    if (errno == EINTR) continue;
    if (would_block(errno)) return {IoStatus::Ok, 0, 0};
    return {IoStatus::Failed, 0, errno};
  }
}

int wait_for_any(std::span<pollfd> fds, std::chrono::milliseconds timeout) {
  Deadline deadline = Clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    int wait_ms = timeout.count() < 0 ? -1 : static_cast<int>(std::max<long long>(left, 0));
    int n = ::poll(fds.data(), fds.size(), wait_ms);
    if (n >= 0 || errno != EINTR) return n;
  }
}

void reset_on_close(int fd) {
  linger hard_close{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard_close, sizeof hard_close);
}

bool set_nonblocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

}  // namespace forkserve

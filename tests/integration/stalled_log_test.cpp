// An access log whose reader stops reading (a pipe to a stalled log shipper,
// a terminal paused with Ctrl-S): serving goes on, lines are counted lost,
// and the parent, which writes the line of a request whose process died,
// never blocks on it: it keeps serving, reaping and obeying SIGTERM.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cerrno>
#include <cstring>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

TEST(StalledLogTest, ParentNeverBlocksOnAnAccessLogNobodyReads) {
  TempDir dir;
  const std::string fifo = dir.path() + "/access.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  // A reader that never reads, holding a pipe of one page: a few dozen lines fill it.
  int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0) << std::strerror(errno);
  ::fcntl(reader, F_SETPIPE_SZ, 4096);
  ServerProcess server({"--handler", fixture_path("crashes.so"), "--access-log", fifo, "--write-timeout", "1"});
  ASSERT_TRUE(server.ready()) << server.error();
  int queued = 0;
  for (int i = 0; i < 200 && queued < 4096 - 128; ++i) {
    EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "alive\n");
    ::ioctl(reader, FIONREAD, &queued);
  }
  ASSERT_GE(queued, 4096 - 128) << "the pipe did not fill";

  // The log is full: a request is still answered, and a crash's line, which
  // the parent writes, neither stalls the parent nor blames the next process.
  EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "alive\n");
  exchange(server.port(), "GET /segv HTTP/1.0\r\n\r\n");
  EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "alive\n");
  ExitStatus stopped = server.stop(milliseconds(15'000));
  EXPECT_TRUE(stopped.exited && stopped.code == 0) << "the parent did not stop on SIGTERM: " << server.stderr_text();
  const std::string err = server.stderr_text();
  EXPECT_GE(count_lines_containing(err, "access log: write failed"), 1U) << err;
  EXPECT_EQ(count_lines_containing(err, "before its response was logged"), 0U) << err;
  ::close(reader);
}

// A FIFO of one page, with a reader that never reads; full() fills it.
class StalledFifo {
 public:
  explicit StalledFifo(const std::string& path) : path_(path) {
    if (::mkfifo(path.c_str(), 0600) != 0) return;
    reader_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (reader_ >= 0) ::fcntl(reader_, F_SETPIPE_SZ, 4096);
  }
  ~StalledFifo() {
    if (reader_ >= 0) ::close(reader_);
  }
  bool ok() const { return reader_ >= 0; }
  int fd() const { return reader_; }
  void stop_reading_for_good() {
    ::close(reader_);
    reader_ = -1;
  }
  // Fills the pipe from a writer of the test's own, so the server's next write blocks.
  bool fill() const {
    int writer = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (writer < 0) return false;
    // Byte by byte at the end: a non-blocking write that does not fit whole writes nothing.
    for (std::size_t chunk : {std::size_t{4096}, std::size_t{64}, std::size_t{1}}) {
      std::string bytes(chunk, '#');
      while (::write(writer, bytes.data(), bytes.size()) > 0) {
      }
    }
    bool full = errno == EAGAIN;
    ::close(writer);
    return full;
  }

 private:
  std::string path_;
  int reader_ = -1;
};

// The handler's deadline comes while the error log is stalled: the 503 goes
// out, and the timeout line it would write cannot hold the process past a
// second more (not until the parent's backstop, minutes later).
TEST(StalledLogTest, StalledErrorLogHoldsAProcessOnlyASecondPastItsDeadline) {
  TempDir dir;
  StalledFifo errors(dir.path() + "/error.fifo");
  ASSERT_TRUE(errors.ok()) << std::strerror(errno);
  ServerProcess server({"--handler", fixture_path("slow.so"), "--handler-timeout", "1", "--error-log",
                        dir.path() + "/error.fifo"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_TRUE(errors.fill());
  HttpReply reply = exchange(server.port(), "GET /slow?ms=20000 HTTP/1.0\r\n\r\n", milliseconds(30'000));
  EXPECT_EQ(reply.status, 503) << reply.summary();
  // Its line, left to the parent once the process ended: within seconds, not at the backstop.
  EXPECT_TRUE(eventually(
      [&] { return count_lines_containing(read_file(server.access_log_path()), "\"GET /slow?ms=20000 HTTP/1.0\" 503") == 1; },
      milliseconds(10'000)))
      << read_file(server.access_log_path());
  EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").status, 200);
  ExitStatus stopped = server.stop(milliseconds(15'000));
  EXPECT_TRUE(stopped.exited && stopped.code == 0) << describe(stopped);
}

// SIGUSR1 reopens the logs; a FIFO whose reader has gone would hold open()
// until another came. It is refused instead, and the server goes on.
TEST(StalledLogTest, ReopeningAFifoNobodyReadsIsRefusedAndTheServerGoesOn) {
  TempDir dir;
  StalledFifo access(dir.path() + "/access.fifo");
  ASSERT_TRUE(access.ok()) << std::strerror(errno);
  ServerProcess server({"--access-log", dir.path() + "/access.fifo"});
  ASSERT_TRUE(server.ready()) << server.error();
  server.write_root_file("a.txt", "abc");
  EXPECT_EQ(exchange(server.port(), "GET /a.txt HTTP/1.0\r\n\r\n").body, "abc");
  access.stop_reading_for_good();
  server.signal(SIGUSR1);
  EXPECT_TRUE(eventually([&] { return count_lines_containing(server.stderr_text(), "a FIFO that no process reads") >= 1; },
                         milliseconds(10'000)))
      << server.stderr_text();
  EXPECT_EQ(exchange(server.port(), "GET /a.txt HTTP/1.0\r\n\r\n").body, "abc");
  ExitStatus stopped = server.stop(milliseconds(15'000));
  EXPECT_TRUE(stopped.exited && stopped.code == 0) << describe(stopped);
}

// A reloaded module's init() runs in the parent and may take SIGRTMIN, the
// signal that cuts the parent's log writes short: the parent takes it back.
TEST(StalledLogTest, ReloadedModuleCannotUnboundTheParentsLogWrites) {
  TempDir dir;
  const std::string fifo = dir.path() + "/error.fifo";
  StalledFifo errors(fifo);
  ASSERT_TRUE(errors.ok()) << std::strerror(errno);
  const std::string live = dir.path() + "/live.so";
  install_new_build(fixture_path("bad_init.so"), live);
  ServerProcess server({"--handler", live + ":ignore-signals", "--error-log", fifo});
  ASSERT_TRUE(server.ready()) << server.error();
  install_new_build(fixture_path("bad_init.so"), live);
  server.signal(SIGHUP);
  std::string said;  // the error log so far, read from the FIFO
  EXPECT_TRUE(eventually(
      [&] {
        char buffer[4096];
        ssize_t n = ::read(errors.fd(), buffer, sizeof buffer);
        if (n > 0) said.append(buffer, static_cast<std::size_t>(n));
        return said.find("SIGHUP") != std::string::npos;
      },
      milliseconds(10'000)))
      << said;
  ASSERT_TRUE(errors.fill());
  server.signal(SIGHUP);  // its line meets the full log
  EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "bad_init ok");
  ExitStatus stopped = server.stop(milliseconds(15'000));
  EXPECT_TRUE(stopped.exited && stopped.code == 0) << "the parent hung on its error log: " << describe(stopped);
}

}  // namespace
}  // namespace forkserve::integration

// An access log whose reader stops reading (a pipe to a stalled log shipper,
// a terminal paused with Ctrl-S): serving goes on, lines are counted lost,
// and the parent, which writes the line of a request whose process died,
// never blocks on it: it keeps serving, reaping and obeying SIGTERM.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

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

}  // namespace
}  // namespace forkserve::integration

// Signals and process failures the parent must ride out: SIGHUP is kept for a
// reload and does not stop the server, a client that hangs up mid-response
// costs its child an EPIPE (never a SIGPIPE death), and when fork() fails the
// client gets a 503 and the parent carries on.
#include <gtest/gtest.h>

#include <algorithm>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kSettle{10'000};

bool serves_hello(const ServerProcess& server) {
  HttpReply reply = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n");
  return reply.parsed && reply.status_line == "HTTP/1.0 200 OK" && reply.body == "Hello, World!";
}

TEST(SignalsTest, SighupIsLoggedAndTheServerKeepsServing) {
  ServerProcess server({"--handler", module_path("hello.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  server.signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return count_lines_containing(server.stderr_text(), "SIGHUP") == 1; }, kSettle))
      << server.stderr_text();
  EXPECT_TRUE(serves_hello(server));
  EXPECT_NE(process_info(server.pid()).state, 'Z');
}

TEST(SignalsTest, ClientHangingUpMidResponseNeverKillsTheChildWithSigpipe) {
  ServerProcess server({"--handler", fixture_path("slow.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  // Workers: the same ones must still be there afterwards, none replaced.
  std::vector<pid_t> workers_before;
  if (workers_under_test()) {
    ASSERT_TRUE(eventually([&] { return children_of(server.pid()).size() == static_cast<std::size_t>(*workers_under_test()); }, kSettle));
    for (const ProcessInfo& child : children_of(server.pid())) workers_before.push_back(child.pid);
  }
  {
    Client client(server.port());
    ASSERT_TRUE(client.connected());
    // 64 MiB: far more than the socket buffers hold, so the child is still
    // writing when the client goes away.
    ASSERT_TRUE(client.send("GET /stream?bytes=67108864 HTTP/1.0\r\n\r\n"));
    // Half-close first: the child's socket is then in CLOSE_WAIT, where the
    // RST that our close with unread data causes turns the child's next
    // write into EPIPE, which raises SIGPIPE unless it is ignored.
    ASSERT_EQ(::shutdown(client.fd(), SHUT_WR), 0);
    char first[4096];
    ASSERT_TRUE(eventually([&] { return client.readable_now(); }, kSettle));
    ASSERT_GT(::read(client.fd(), first, sizeof first), 0);
  }
  if (workers_under_test()) {
    // Each worker answers in turn once the one writing has given up.
    ASSERT_TRUE(eventually([&] { return count_lines_containing(read_file(server.access_log_path()), "/stream") == 1; }, kSettle))
        << "the stream's worker never finished";
  } else {
    ASSERT_TRUE(eventually([&] { return children_of(server.pid()).empty(); }, kSettle))
        << "the child outlived its client";
  }
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "killed by signal"), 0U) << server.stderr_text();
  HttpReply reply = exchange(server.port(), "GET /fast HTTP/1.0\r\n\r\n");
  EXPECT_EQ(reply.status_line, "HTTP/1.0 200 OK") << reply.summary();
  if (workers_under_test()) {
    std::vector<pid_t> workers_after;
    for (const ProcessInfo& child : children_of(server.pid())) workers_after.push_back(child.pid);
    std::sort(workers_before.begin(), workers_before.end());
    std::sort(workers_after.begin(), workers_after.end());
    EXPECT_EQ(workers_after, workers_before) << "a worker was replaced: it died";
  }
}

TEST(SignalsTest, ForkFailureGets503AndTheParentKeepsRunning) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to start the server as a user with RLIMIT_NPROC 1";
  // A uid with no other processes: with RLIMIT_NPROC 1 the server itself is
  // the one process it may have, so every fork() fails with EAGAIN.
  constexpr uid_t kUnusedUid = 54321;
  ProcessLimits limits;
  limits.processes = 1;
  limits.user = kUnusedUid;
  // Like the binary, the module must be readable by that user wherever the build tree is.
  TempDir module_dir;
  std::string module = module_dir.path() + "/hello.so";
  std::filesystem::copy_file(module_path("hello.so"), module);
  ASSERT_EQ(::chown(module_dir.path().c_str(), kUnusedUid, kUnusedUid), 0);
  ASSERT_EQ(::chown(module.c_str(), kUnusedUid, kUnusedUid), 0);
  ServerProcess server({"--handler", module}, limits);
  ASSERT_TRUE(server.ready()) << server.error();

  // Many at once, each with its request sent: every one gets the 503, none a
  // reset for a request left unread when the server closed.
  std::vector<HttpReply> replies = exchange_concurrently(server.port(), "GET / HTTP/1.0\r\n\r\n", 15);
  for (const HttpReply& reply : replies) {
    ASSERT_TRUE(reply.parsed) << reply.summary();
    EXPECT_EQ(reply.status_line, "HTTP/1.0 503 Service Unavailable");
    EXPECT_EQ(reply.error, 0) << reply.summary();
  }
  EXPECT_TRUE(eventually([&] { return count_lines_containing(server.stderr_text(), "fork: ") >= 1; }, kSettle))
      << server.stderr_text();
  EXPECT_LE(count_lines_containing(server.stderr_text(), "fork: "), 3U) << "the fork failure log is rate-limited";
  // Fifteen refusals 100 ms apart: those held back are counted, not dropped.
  EXPECT_TRUE(eventually(
      [&] { return count_lines_containing(server.stderr_text(), "more fork failures in the last") >= 1; },
      kSettle))
      << server.stderr_text();
  // Alive and still answering. (Its exit status is not checked here: under
  // LeakSanitizer the exit-time leak check itself needs a new process.)
  EXPECT_NE(process_info(server.pid()).state, 'Z');
  EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").status_line, "HTTP/1.0 503 Service Unavailable");
}

}  // namespace
}  // namespace forkserve::integration

namespace forkserve::integration {
namespace {

// `pkill -USR1 forkserve` after logrotate, or a hang-up of the terminal's
// process group, reaches the children too: they must finish their requests.
TEST(SignalsTest, ReopenAndHangupSignalsDoNotEndAChildsRequest) {
  ServerProcess server({"--handler", fixture_path("slow.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  Client client(server.port());
  ASSERT_TRUE(client.send("GET /slow?ms=1500 HTTP/1.0\r\n\r\n"));
  std::vector<ProcessInfo> children;
  ASSERT_TRUE(eventually([&] { return !(children = children_of(server.pid())).empty(); }, kSettle));
  for (int sig : {SIGUSR1, SIGHUP}) ::kill(children.front().pid, sig);
  HttpReply reply = client.read_reply();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 200 OK") << reply.summary();
  EXPECT_EQ(reply.body, "slow done\n");
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "killed by signal"), 0U) << server.stderr_text();
}

}  // namespace
}  // namespace forkserve::integration

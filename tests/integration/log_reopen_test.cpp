// SIGUSR1 reopens the logs, as logrotate expects: after the file is renamed
// and the signal sent, new lines go to a fresh file under the old name, and
// no line is lost or written twice.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kLogSettles{5'000};
constexpr int kRequestsPerFile = 5;

bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::size_t line_count(const std::string& path) { return lines_of(read_file(path)).size(); }

// GET `path`, then wait (bounded) until `log` has `lines` lines.
void request_and_wait_for_line(const ServerProcess& server, const std::string& path, const std::string& log,
                               std::size_t lines) {
  HttpReply reply = exchange(server.port(), "GET " + path + " HTTP/1.0\r\n\r\n");
  ASSERT_EQ(reply.status, 200) << path << ": " << reply.summary();
  ASSERT_TRUE(eventually([&] { return line_count(log) == lines; }, kLogSettles))
      << "after " << path << ", " << log << " has " << line_count(log) << " lines, not " << lines;
}

// Renames `log` to `log`.1, sends SIGUSR1 and waits for the fresh `log`.
void rotate(const ServerProcess& server, const std::string& log) {
  ASSERT_EQ(std::rename(log.c_str(), (log + ".1").c_str()), 0) << std::strerror(errno);
  server.signal(SIGUSR1);
  ASSERT_TRUE(eventually([&] { return file_exists(log); }, kLogSettles)) << "SIGUSR1 did not reopen " << log;
}

TEST(LogReopenTest, AccessLogRenamedThenSigusr1SplitsTheLinesBetweenOldAndNewFile) {
  ServerProcess server({"--handler", module_path("hello.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  const std::string log = server.access_log_path();

  for (int i = 1; i <= kRequestsPerFile; ++i) {
    ASSERT_NO_FATAL_FAILURE(
        request_and_wait_for_line(server, "/before-" + std::to_string(i), log, static_cast<std::size_t>(i)));
  }
  ASSERT_NO_FATAL_FAILURE(rotate(server, log));
  for (int i = 1; i <= kRequestsPerFile; ++i) {
    ASSERT_NO_FATAL_FAILURE(
        request_and_wait_for_line(server, "/after-" + std::to_string(i), log, static_cast<std::size_t>(i)));
  }

  const std::string old_text = read_file(log + ".1");
  const std::string new_text = read_file(log);
  EXPECT_EQ(line_count(log + ".1"), static_cast<std::size_t>(kRequestsPerFile)) << old_text;
  EXPECT_EQ(line_count(log), static_cast<std::size_t>(kRequestsPerFile)) << new_text;
  for (int i = 1; i <= kRequestsPerFile; ++i) {
    const std::string before = "\"GET /before-" + std::to_string(i) + " HTTP/1.0\" 200 ";
    const std::string after = "\"GET /after-" + std::to_string(i) + " HTTP/1.0\" 200 ";
    EXPECT_EQ(count_lines_containing(old_text, before), 1U) << old_text;
    EXPECT_EQ(count_lines_containing(new_text, before), 0U) << new_text;
    EXPECT_EQ(count_lines_containing(new_text, after), 1U) << new_text;
    EXPECT_EQ(count_lines_containing(old_text, after), 0U) << old_text;
  }
}

// Requests in flight while logrotate works finish their lines in the old
// file; together the two files hold every request exactly once.
TEST(LogReopenTest, RequestsInFlightAcrossTheRotationAreLoggedExactlyOnce) {
  constexpr int kInFlight = 4;
  ServerProcess server({"--handler", fixture_path("slow.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  const std::string log = server.access_log_path();

  std::vector<Client> slow;
  for (int i = 0; i < kInFlight; ++i) {
    slow.emplace_back(server.port());
    ASSERT_TRUE(slow.back().send("GET /slow?ms=800&n=" + std::to_string(i) + " HTTP/1.0\r\n\r\n"));
  }
  if (workers_under_test()) {
    ASSERT_GE(*workers_under_test(), kInFlight);
  }
  ASSERT_TRUE(eventually([&] { return serving_processes(server.pid()).size() == kInFlight; }, kLogSettles))
      << "the slow requests are not all in flight";
  ASSERT_NO_FATAL_FAILURE(rotate(server, log));
  for (int i = 0; i < kRequestsPerFile; ++i) {
    ASSERT_EQ(exchange(server.port(), "GET /after-" + std::to_string(i) + " HTTP/1.0\r\n\r\n").status, 200);
  }
  for (Client& client : slow) EXPECT_EQ(client.read_reply().status, 200);

  ASSERT_TRUE(eventually(
      [&] { return line_count(log) + line_count(log + ".1") == kInFlight + kRequestsPerFile; }, kLogSettles))
      << read_file(log + ".1") << "---\n"
      << read_file(log);
  const std::string old_text = read_file(log + ".1");
  const std::string new_text = read_file(log);
  for (int i = 0; i < kInFlight; ++i) {
    const std::string line = "\"GET /slow?ms=800&n=" + std::to_string(i) + " HTTP/1.0\" 200 ";
    EXPECT_EQ(count_lines_containing(old_text, line), 1U) << "started before the rotation: " << old_text;
    EXPECT_EQ(count_lines_containing(new_text, line), 0U) << new_text;
  }
  for (int i = 0; i < kRequestsPerFile; ++i) {
    const std::string line = "\"GET /after-" + std::to_string(i) + " HTTP/1.0\" 200 ";
    EXPECT_EQ(count_lines_containing(new_text, line), 1U) << new_text;
    EXPECT_EQ(count_lines_containing(old_text, line), 0U) << old_text;
  }
}

TEST(LogReopenTest, ErrorLogRenamedThenSigusr1SplitsTheLinesBetweenOldAndNewFile) {
  constexpr std::string_view kHandlerMessage = "throws fixture: failed before start_response";
  TempDir logs;
  const std::string log = logs.path() + "/error.log";
  ServerProcess server({"--handler", fixture_path("throws.so"), "--error-log", log});
  ASSERT_TRUE(server.ready()) << server.error();
  // Each request to throws.so logs one line naming it.
  auto request_and_wait = [&](const std::string& path, std::size_t lines) {
    HttpReply reply = exchange(server.port(), "GET " + path + " HTTP/1.0\r\n\r\n");
    EXPECT_EQ(reply.status, 500) << reply.summary();
    return eventually([&] { return count_lines_containing(read_file(log), kHandlerMessage) == lines; },
                      kLogSettles);
  };

  ASSERT_TRUE(request_and_wait("/before", 1)) << read_file(log);
  ASSERT_NO_FATAL_FAILURE(rotate(server, log));
  ASSERT_TRUE(request_and_wait("/after", 1)) << read_file(log);

  const std::string old_text = read_file(log + ".1");
  const std::string new_text = read_file(log);
  EXPECT_EQ(count_lines_containing(old_text, "GET /before "), 1U) << old_text;
  EXPECT_EQ(count_lines_containing(old_text, "GET /after "), 0U) << old_text;
  EXPECT_EQ(count_lines_containing(new_text, "GET /after "), 1U) << new_text;
  EXPECT_EQ(count_lines_containing(new_text, "GET /before "), 0U) << new_text;
}

}  // namespace
}  // namespace forkserve::integration

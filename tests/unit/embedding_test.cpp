// The embedding API (<forkserve/server.hpp>): the server and a handler in the
// test's own process, as examples/embedded does with forkserve::main.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <forkserve/server.hpp>
#include <string>
#include <utility>
#include <string_view>
#include <thread>

namespace forkserve {
namespace {

using Clock = std::chrono::steady_clock;

struct Greeter {
  std::string word;
  Body operator()(Environ& environ, StartResponse& start_response) {
    start_response("200 OK", {{"Content-Type", "text/plain"}});
    return Body::text(word + " " + std::string(environ.get("PATH_INFO")));
  }
};

// Reads from `fd` until `done(text)` or end of stream or 10 s.
template <typename Done>
std::string read_until(int fd, Done done) {
  std::string text;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!done(text) && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buffer[4096];
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

std::string get(int port, std::string_view path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    std::string request = "GET " + std::string(path) + " HTTP/1.0\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      reply = read_until(fd, [](const std::string&) { return false; });
    }
  }
  ::close(fd);
  return reply;
}

// Waits (bounded) for `pid` to exit; kills it if it does not.
int wait_exit_status(pid_t pid) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs `serve_in_child` (which returns the exit status) in a child whose
// standard output comes back here; returns its pid and its start-up line.
template <typename ServeInChild>
std::pair<pid_t, std::string> start_embedded(ServeInChild serve_in_child) {
  int out[2];
  if (::pipe(out) != 0) return {-1, ""};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::_exit(serve_in_child());
  }
  ::close(out[1]);
  std::string line =
      pid < 0 ? "" : read_until(out[0], [](const std::string& text) { return text.find('\n') != text.npos; });
  ::close(out[0]);
  return {pid, line};
}

TEST(Embedding, ServeRunsTheGivenHandlerWithTheGivenOptionsAndExitsZeroOnSigterm) {
  auto [pid, line] = start_embedded(
      [] { return serve({"--host", "127.0.0.1", "--port", "0", "--access-log", "/dev/null"}, Greeter{"hello"}); });
  ASSERT_GT(pid, 0);
  std::size_t at = line.find(" port ");
  if (line.find("serving HTTP on 127.0.0.1") == line.npos || at == line.npos) {
    ::kill(pid, SIGKILL);
    wait_exit_status(pid);
    FAIL() << "no start-up line: " << line;
  }
  int port = std::stoi(line.substr(at + 6));

  std::string reply = get(port, "/world");
  ::kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit_status(pid), 0);
  EXPECT_TRUE(reply.starts_with("HTTP/1.0 200 OK\r\n")) << reply;
  EXPECT_TRUE(reply.ends_with("\r\n\r\nhello /world")) << reply;
}

// Shared anonymous mappings of this process ("rw-s" on /dev/zero): what
// the server shares with its children.
int count_shared_anonymous_mappings() {
  FILE* maps = std::fopen("/proc/self/maps", "r");
  if (maps == nullptr) return -1;
  int count = 0;
  char line[512];
  while (std::fgets(line, sizeof line, maps)) {
    std::string_view text(line);
    if (text.find(" rw-s ") != text.npos && text.find("/dev/zero") != text.npos) ++count;
  }
  std::fclose(maps);
  return count;
}

// A program embedding the server may serve again after serve() returns: what
// the server mapped for its children is released, not left behind each time.
TEST(Embedding, ServeReleasesTheMemoryItSharedWithItsChildrenWhenItReturns) {
  auto [pid, line] = start_embedded([] {
    int before = count_shared_anonymous_mappings();
    int status = serve({"--host", "127.0.0.1", "--port", "0", "--access-log", "/dev/null"}, Greeter{"hi"});
    int after = count_shared_anonymous_mappings();
    return status != 0 ? 1 : before < 0 || after != before ? 3 : 0;
  });
  ASSERT_GT(pid, 0);
  EXPECT_NE(line.find("serving HTTP on 127.0.0.1"), line.npos) << line;
  ::kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit_status(pid), 0) << "3: a shared mapping was left behind after serve() returned";
}

TEST(Embedding, ServeRejectsABadOptionWithExitStatusTwo) {
  EXPECT_EQ(serve({"--port", "not-a-port"}, Greeter{"unused"}), 2);
}

}  // namespace
}  // namespace forkserve

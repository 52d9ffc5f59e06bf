// --inetd: the server is handed one connection on standard input (as inetd,
// xinetd, tcpserver and systemd Accept=yes do), serves it and exits.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "integration/environ_dump.hpp"
#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kExitTimeout{10'000};

// fork+exec `argv` with `stdio` as fds 0 and 1, `stderr_fd` as fd 2 (as
// xinetd does, pass the socket itself), `extra_env` added to the
// environment and every other descriptor closed.
pid_t spawn_with_stdio(const std::vector<std::string>& argv, int stdio, int stderr_fd,
                       const std::vector<std::string>& extra_env = {}) {
  std::vector<std::string> environment(extra_env);
  for (char** e = environ; *e != nullptr; ++e) environment.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::fcntl(stdio, F_DUPFD, 10);
    int err = ::fcntl(stderr_fd, F_DUPFD, 10);
    ::dup2(out, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    ::close_range(3, ~0U, 0);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD}) ::signal(sig, SIG_DFL);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

// Reaps `pid`, SIGKILLing it if it is still running at the deadline.
ExitStatus reap(pid_t pid, milliseconds timeout) {
  Deadline deadline = Clock::now() + timeout;
  ExitStatus status;
  for (;;) {
    int wait_status = 0;
    pid_t done = ::waitpid(pid, &wait_status, WNOHANG);
    if (done == pid) {
      status.exited = WIFEXITED(wait_status);
      status.code = status.exited ? WEXITSTATUS(wait_status) : -1;
      status.signal = WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
      return status;
    }
    if (done < 0 || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  status.timed_out = true;
  return status;
}

// A loopback TCP connection: the test's client end and the accepted end,
// which the test hands to the server as inetd would.
struct TcpPair {
  TcpPair() {
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "listen: " << std::strerror(errno);
    }
    client = std::make_unique<Client>(ntohs(address.sin_port));
    accepted = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);  // blocking: the client is queued
    ::close(listener);
    sockaddr_in local{};
    length = sizeof local;
    ::getsockname(client->fd(), reinterpret_cast<sockaddr*>(&local), &length);
    client_port = ntohs(local.sin_port);
  }
  ~TcpPair() { close_accepted(); }
  void close_accepted() {
    if (accepted >= 0) ::close(accepted);
    accepted = -1;
  }

  std::unique_ptr<Client> client;
  int accepted = -1;
  std::uint16_t client_port = 0;
};

TEST(InetdTest, ServesTheConnectionOnStandardInputAndExits) {
  TcpPair pair;
  ASSERT_TRUE(pair.client->connected());
  ASSERT_GE(pair.accepted, 0);
  // As xinetd does: standard input, output and error are all the client's socket.
  pid_t pid = spawn_with_stdio({server_binary(), "--inetd", "--handler", module_path("environ_dump.so")},
                               pair.accepted, pair.accepted);
  pair.close_accepted();
  ASSERT_TRUE(pair.client->send("GET /one?x=1 HTTP/1.0\r\n\r\n"));
  HttpReply reply = pair.client->read_reply();
  ExitStatus status = reap(pid, kExitTimeout);
  EXPECT_TRUE(status.exited && status.code == 0) << describe(status);

  ASSERT_TRUE(reply.closed_by_server) << reply.summary();
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_TRUE(reply.raw.starts_with("HTTP/1.0 200 OK\r\n")) << "no start-up line before the response";
  // Nothing after the body: the access log ('-', standard output) is not the client.
  EXPECT_EQ(reply.header("Content-Length"), std::to_string(reply.body.size())) << reply.summary();
  EXPECT_EQ(environ_variable(reply.body, "PATH_INFO"), "/one");
  EXPECT_EQ(environ_variable(reply.body, "REMOTE_ADDR"), "127.0.0.1");
  EXPECT_EQ(environ_variable(reply.body, "REMOTE_PORT"), std::to_string(pair.client_port));
}

TEST(InetdTest, KeepsErrorLinesOffTheClientSocket) {
  TcpPair pair;
  ASSERT_GE(pair.accepted, 0);
  pid_t pid = spawn_with_stdio({server_binary(), "--inetd", "--handler", fixture_path("throws.so")},
                               pair.accepted, pair.accepted);
  pair.close_accepted();
  ASSERT_TRUE(pair.client->send("GET /boom HTTP/1.0\r\n\r\n"));
  HttpReply reply = pair.client->read_reply();
  EXPECT_TRUE(reap(pid, kExitTimeout).exited);
  ASSERT_EQ(reply.status, 500) << reply.summary();
  EXPECT_EQ(reply.raw.find("throws fixture"), std::string::npos) << "the error log reached the client:\n"
                                                                 << reply.summary();
  EXPECT_EQ(reply.raw.find("forkserve: "), std::string::npos) << reply.summary();
}

TEST(InetdTest, WritesLogsToTheFilesGiven) {
  TempDir scratch;
  std::string access_log = scratch.path() + "/access.log";
  std::string error_log = scratch.path() + "/error.log";
  TcpPair pair;
  ASSERT_GE(pair.accepted, 0);
  pid_t pid = spawn_with_stdio({server_binary(), "--inetd", "--handler", fixture_path("throws.so"),
                                "--access-log", access_log, "--error-log", error_log},
                               pair.accepted, pair.accepted);
  pair.close_accepted();
  ASSERT_TRUE(pair.client->send("GET /boom HTTP/1.0\r\n\r\n"));
  HttpReply reply = pair.client->read_reply();
  EXPECT_TRUE(reap(pid, kExitTimeout).exited);
  EXPECT_EQ(reply.status, 500) << reply.summary();
  EXPECT_NE(read_file(error_log).find("throws fixture: failed before start_response"), std::string::npos)
      << read_file(error_log);
  std::string access = read_file(access_log);
  EXPECT_TRUE(access.starts_with("127.0.0.1 - - [")) << access;
  EXPECT_NE(access.find("\"GET /boom HTTP/1.0\" 500 "), std::string::npos) << access;
}

// As tcpserver runs it: standard input and output the socket (here one end
// of a socketpair), standard error the super-server's own log.
TEST(InetdTest, TakesTheRemoteAddressFromTcpserverVariablesAndLogsToStandardError) {
  TempDir scratch;
  std::string stderr_path = scratch.path() + "/stderr.log";
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
  int stderr_fd = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t pid = spawn_with_stdio({server_binary(), "--inetd", "--handler", module_path("environ_dump.so")},
                               pair[1], stderr_fd, {"TCPREMOTEIP=192.0.2.7", "TCPREMOTEPORT=4242"});
  ::close(pair[1]);
  ::close(stderr_fd);
  static constexpr std::string_view kRequest = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_EQ(::send(pair[0], kRequest.data(), kRequest.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(kRequest.size()));
  std::string raw;
  Deadline deadline = Clock::now() + milliseconds(10'000);
  for (char buffer[4096];;) {
    pollfd p{pair[0], POLLIN, 0};
    if (::poll(&p, 1, 100) < 0 && errno != EINTR) break;
    ssize_t n = ::recv(pair[0], buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) raw.append(buffer, static_cast<std::size_t>(n));
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) || Clock::now() >= deadline) break;
  }
  ::close(pair[0]);
  EXPECT_TRUE(reap(pid, kExitTimeout).exited);
  HttpReply reply;
  reply.raw = raw;
  parse_reply(reply);
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(environ_variable(reply.body, "REMOTE_ADDR"), "192.0.2.7");
  EXPECT_EQ(environ_variable(reply.body, "REMOTE_PORT"), "4242");
  // The access log ('-', standard output) is the client here: its lines join standard error.
  std::string logged = read_file(stderr_path);
  EXPECT_TRUE(logged.starts_with("192.0.2.7 - - [")) << logged;
  EXPECT_NE(logged.find("\"GET / HTTP/1.0\" 200 "), std::string::npos) << logged;
}

TEST(InetdTest, ServesTheConnectionSystemdPassesAsFd3) {
  // systemd with Accept=yes (and no StandardInput=socket): the connection is
  // fd 3 with LISTEN_FDS=1, standard input /dev/null. The harness passes fds
  // that way; no start-up line comes, the server exits after the request.
  TcpPair pair;
  ASSERT_GE(pair.accepted, 0);
  ASSERT_TRUE(pair.client->send("GET /three HTTP/1.0\r\n\r\n"));  // waits in the socket until served
  ProcessLimits activation;
  activation.listen_fds = {pair.accepted};
  ServerProcess server({"--inetd", "--handler", module_path("environ_dump.so")}, activation);
  pair.close_accepted();
  HttpReply reply = pair.client->read_reply();
  ExitStatus status = server.wait_for_exit(kExitTimeout);
  EXPECT_TRUE(status.exited && status.code == 0) << describe(status) << "; " << server.error();
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(environ_variable(reply.body, "PATH_INFO"), "/three");
  EXPECT_EQ(environ_variable(reply.body, "REMOTE_PORT"), std::to_string(pair.client_port));
  EXPECT_NE(read_file(server.access_log_path()).find("\"GET /three HTTP/1.0\" 200 "), std::string::npos);
}

TEST(InetdTest, RefusesStandardInputThatIsNotASocket) {
  ProcessResult run = run_process({server_binary(), "--inetd"});  // standard input: /dev/null
  EXPECT_TRUE(run.status.exited && run.status.code == 1) << describe(run.status);
  EXPECT_EQ(without_timestamps(run.err), "forkserve: --inetd: standard input is not a stream socket\n");
  EXPECT_EQ(run.out, "");
}

// Reads one line from `fd` before the deadline.
std::string read_line(int fd, Deadline deadline) {
  std::string line;
  while (line.find('\n') == std::string::npos) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    char buffer[256];
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    line.append(buffer, static_cast<std::size_t>(n));
  }
  return line;
}

TEST(InetdTest, ServesUnderTcpserver) {
  std::optional<std::string> tcpserver = find_in_path("tcpserver");
  if (!tcpserver) GTEST_SKIP() << "tcpserver (Debian package ucspi-tcp) is not installed";
  TempDir scratch;
  std::string log_path = scratch.path() + "/tcpserver.err";
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  // -1: print the port it bound (port 0: a free one); -H -R -l 0: no DNS or ident look-ups.
  // Standard output is the client, so the access log ('-') joins standard error, tcpserver's log.
  pid_t pid = spawn_with_stdio({*tcpserver, "-1", "-H", "-R", "-l", "0", "127.0.0.1", "0", server_binary(),
                                "--inetd", "--handler", module_path("environ_dump.so")},
                               out[1], log_fd);
  ::close(out[1]);
  ::close(log_fd);
  std::string port_line = read_line(out[0], Clock::now() + milliseconds(10'000));
  ::close(out[0]);
  int port = std::atoi(port_line.c_str());
  if (port <= 0 || port > 65535) {
    ::kill(pid, SIGTERM);
    reap(pid, kExitTimeout);
    FAIL() << "tcpserver printed no port: '" << port_line << "'; stderr: " << read_file(log_path);
  }
  for (const char* path : {"/first", "/second"}) {
    Client client(static_cast<std::uint16_t>(port));
    ASSERT_TRUE(client.connected()) << std::strerror(client.error());
    sockaddr_in local{};
    socklen_t length = sizeof local;
    ::getsockname(client.fd(), reinterpret_cast<sockaddr*>(&local), &length);
    ASSERT_TRUE(client.send("GET " + std::string(path) + " HTTP/1.0\r\n\r\n"));
    HttpReply reply = client.read_reply();
    ASSERT_EQ(reply.status, 200) << reply.summary();
    EXPECT_EQ(environ_variable(reply.body, "PATH_INFO"), path);
    EXPECT_EQ(environ_variable(reply.body, "REMOTE_ADDR"), "127.0.0.1");
    EXPECT_EQ(environ_variable(reply.body, "REMOTE_PORT"), std::to_string(ntohs(local.sin_port)));
    EXPECT_NE(read_file(log_path).find("\"GET " + std::string(path) + " HTTP/1.0\" 200 "), std::string::npos)
        << read_file(log_path);
  }
  ::kill(pid, SIGTERM);
  ExitStatus status = reap(pid, kExitTimeout);
  EXPECT_FALSE(status.timed_out);
}

}  // namespace
}  // namespace forkserve::integration

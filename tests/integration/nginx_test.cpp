// Behind a load balancer: the shipped contrib/nginx/forkserve.conf, run by a
// real nginx on loopback in front of two forkserve instances started with
// --trust-proxy 127.0.0.1. Requests must reach both instances, and REMOTE_ADDR
// must be the client nginx saw, never what the client wrote in
// X-Forwarded-For. Skipped when nginx is not installed
// (scripts/test.sh --with-peers installs it).
//
// Clients connect from 127.0.0.2 as well as 127.0.0.1 (curl --interface): a
// client on 127.0.0.2 is not a trusted proxy, so seeing 127.0.0.2 as
// REMOTE_ADDR proves the address came through nginx's header, since the TCP
// peer of every instance is nginx on 127.0.0.1.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "integration/environ_dump.hpp"
#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kNginxStartup{10'000};
constexpr milliseconds kNginxStop{5'000};
constexpr milliseconds kLogSettles{5'000};
// Free ports are picked before nginx binds them; another test may take one in
// between, so a failed bind is retried with new ports this many times.
constexpr int kStartAttempts = 3;
// Requests per client address: enough for round robin to use both instances.
constexpr int kRequestsPerClient = 4;

std::optional<std::string> nginx_binary() {
  if (auto found = find_in_path("nginx")) return found;
  if (::access("/usr/sbin/nginx", X_OK) == 0) return std::string("/usr/sbin/nginx");
  return std::nullopt;
}

// A port nothing listens on right now (the kernel's pick for 127.0.0.1:0).
std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  std::uint16_t port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

// Replaces the one occurrence of `from` in `text`; false if there is none.
bool replace_once(std::string& text, std::string_view from, std::string_view to) {
  std::size_t at = text.find(from);
  if (at == std::string::npos) return false;
  text.replace(at, from.size(), to);
  return true;
}

// "user NAME GROUP;" for a root master, so its workers stay this user (and
// can use the temporary directory); nginx ignores the directive otherwise.
std::string user_directive() {
  if (::geteuid() != 0) return "";
  const passwd* user = ::getpwuid(::geteuid());
  const group* grp = ::getgrgid(::getegid());
  if (user == nullptr || grp == nullptr) return "";
  return "user " + std::string(user->pw_name) + " " + grp->gr_name + ";\n";
}

// An nginx master (and its worker) in the foreground, in a process group of
// its own so that nothing it forks can outlive the test.
class Nginx {
 public:
  Nginx(const std::string& binary, const TempDir& dir, const std::string& http_block) : dir_(dir.path()) {
    std::string config = "daemon off;\nworker_processes 1;\n" + user_directive() + "pid " + dir_ +
                         "/nginx.pid;\nerror_log " + dir_ + "/error.log warn;\n" +
                         "events { worker_connections 64; }\n"
                         "http {\n"
                         "access_log " +
                         dir_ + "/access.log;\n";
    for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
      config += std::string(temp) + "_temp_path " + dir_ + "/" + temp + ";\n";
    }
    config += http_block + "}\n";
    std::string config_path = dir.write_file("nginx.conf", config);
    std::string output_path = dir_ + "/nginx.out";

    std::vector<std::string> argv = {binary, "-p", dir_, "-e", dir_ + "/error.log", "-c", config_path};
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int output = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::dup2(null_fd, STDIN_FILENO);
      ::dup2(output, STDOUT_FILENO);
      ::dup2(output, STDERR_FILENO);
      ::close_range(3, ~0U, 0);
      for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD, SIGQUIT, SIGHUP}) ::signal(sig, SIG_DFL);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    if (pid_ > 0) ::setpgid(pid_, pid_);  // also here, so it holds before either side runs on
    if (output >= 0) ::close(output);
    if (null_fd >= 0) ::close(null_fd);
  }
  Nginx(const Nginx&) = delete;
  Nginx& operator=(const Nginx&) = delete;
  ~Nginx() { stop(); }

  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      // A master that stopped normally has stopped its worker already; one
      // that died has not. Its group outlives it while a worker is left.
      ::kill(-pid_, SIGKILL);
      pid_ = -1;
      return false;
    }
    return true;
  }

  // Waits (bounded) until every port accepts connections; false if nginx
  // exited or the deadline passed.
  bool wait_until_listening(const std::vector<std::uint16_t>& ports) {
    bool up = eventually(
        [&] {
          if (!running()) return true;
          for (std::uint16_t port : ports) {
            if (connect_error(port) != 0) return false;
          }
          return true;
        },
        kNginxStartup);
    return up && running();
  }

  // Fast shutdown (SIGTERM: the master stops its workers, then exits),
  // bounded; the whole process group is killed if it takes too long.
  void stop() {
    if (!running()) return;
    ::kill(pid_, SIGTERM);
    bool exited = eventually([&] { return !running(); }, kNginxStop);
    if (!exited) {
      ::kill(-pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
  }

  std::string diagnostics() const {
    return "nginx output: '" + read_file(dir_ + "/nginx.out") + "', error log: '" +
           read_file(dir_ + "/error.log") + "'";
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

// What environ_dump reported for one request sent through nginx.
struct Answer {
  int status = 0;
  std::string remote_addr;
  std::string forwarded_for;
  std::string server_port;
  std::string failure;  // curl's complaint, if any
};

class NginxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<std::string> nginx = nginx_binary();
    if (!nginx) GTEST_SKIP() << "nginx is not installed (scripts/test.sh --with-peers installs it)";
    if (!curl_path()) GTEST_SKIP() << "curl is not installed";

    for (auto& instance : instances_) {
      instance = std::make_unique<ServerProcess>(std::vector<std::string>{
          "--handler", module_path("environ_dump.so"), "--trust-proxy", "127.0.0.1"});
      ASSERT_TRUE(instance->ready()) << instance->error();
    }
    std::string contrib = read_file(FORKSERVE_CONTRIB_DIR "/nginx/forkserve.conf");
    ASSERT_FALSE(contrib.empty()) << FORKSERVE_CONTRIB_DIR "/nginx/forkserve.conf";

    for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
      edge_port_ = free_port();
      appending_port_ = free_port();
      std::string http = contrib;
      ASSERT_TRUE(replace_once(http, "listen 80;", "listen 127.0.0.1:" + std::to_string(edge_port_) + ";"));
      ASSERT_TRUE(replace_once(http, "server 127.0.0.1:8001;",
                               "server 127.0.0.1:" + std::to_string(instances_[0]->port()) + ";"));
      ASSERT_TRUE(replace_once(http, "server 127.0.0.1:8002;",
                               "server 127.0.0.1:" + std::to_string(instances_[1]->port()) + ";"));
      // A second front door that appends to the client's X-Forwarded-For, as
      // an nginx behind another proxy would.
      http += "server {\n    listen 127.0.0.1:" + std::to_string(appending_port_) +
              ";\n"
              "    location / {\n"
              "        proxy_pass http://forkserve;\n"
              "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
              "    }\n"
              "}\n";
      nginx_dir_ = std::make_unique<TempDir>();
      nginx_ = std::make_unique<Nginx>(*nginx, *nginx_dir_, http);
      if (nginx_->wait_until_listening({edge_port_, appending_port_})) return;
      std::string why = nginx_->diagnostics();
      nginx_->stop();
      ASSERT_NE(why.find("Address already in use"), std::string::npos) << "nginx did not start: " << why;
    }
    FAIL() << "nginx found its ports taken " << kStartAttempts << " times";
  }

  void TearDown() override {
    if (nginx_) nginx_->stop();  // before the instances, so nothing is in flight when they stop
  }

  // GET through nginx on `port` from `client_address`, claiming to forward for 6.6.6.6.
  Answer get(std::uint16_t port, const std::string& client_address) {
    ProcessResult curl =
        run_curl({"--include", "--interface", client_address, "--header", "X-Forwarded-For: 6.6.6.6",
                  "http://127.0.0.1:" + std::to_string(port) + "/"});
    Answer answer;
    if (!curl.status.exited || curl.status.code != 0) {
      answer.failure = describe(curl.status) + ": " + curl.err;
      return answer;
    }
    HttpReply reply;
    reply.raw = curl.out;
    parse_reply(reply);
    answer.status = reply.status;
    answer.remote_addr = environ_variable(reply.body, "REMOTE_ADDR");
    answer.forwarded_for = environ_variable(reply.body, "HTTP_X_FORWARDED_FOR");
    answer.server_port = environ_variable(reply.body, "SERVER_PORT");
    return answer;
  }

  std::set<std::string> instance_ports() const {
    return {std::to_string(instances_[0]->port()), std::to_string(instances_[1]->port())};
  }

  // Every access log line of both instances, once `expected` have arrived.
  std::vector<std::string> access_lines(std::size_t expected, std::vector<std::size_t>& per_instance) {
    std::vector<std::string> lines;
    eventually(
        [&] {
          lines.clear();
          per_instance.clear();
          for (const auto& instance : instances_) {
            std::vector<std::string> own = lines_of(read_file(instance->access_log_path()));
            per_instance.push_back(own.size());
            lines.insert(lines.end(), own.begin(), own.end());
          }
          return lines.size() >= expected;
        },
        kLogSettles);
    return lines;
  }

  std::unique_ptr<ServerProcess> instances_[2];
  std::unique_ptr<TempDir> nginx_dir_;
  std::unique_ptr<Nginx> nginx_;
  std::uint16_t edge_port_ = 0;
  std::uint16_t appending_port_ = 0;
};

TEST_F(NginxTest, ShippedConfigReachesBothInstancesWithTheClientAsRemoteAddr) {
  std::set<std::string> ports_seen;
  for (std::string client : {"127.0.0.1", "127.0.0.2"}) {
    for (int i = 0; i < kRequestsPerClient; ++i) {
      SCOPED_TRACE(client + " request " + std::to_string(i));
      Answer answer = get(edge_port_, client);
      ASSERT_EQ(answer.failure, "") << nginx_->diagnostics();
      ASSERT_EQ(answer.status, 200) << nginx_->diagnostics();
      EXPECT_EQ(answer.remote_addr, client) << "not the client nginx saw";
      EXPECT_EQ(answer.forwarded_for, client) << "nginx should have replaced the client's 6.6.6.6";
      EXPECT_EQ(instance_ports().count(answer.server_port), 1U) << answer.server_port;
      ports_seen.insert(answer.server_port);
    }
  }
  EXPECT_EQ(ports_seen, instance_ports()) << "round robin must use both instances";

  std::vector<std::size_t> per_instance;
  std::vector<std::string> lines = access_lines(2 * kRequestsPerClient, per_instance);
  ASSERT_EQ(lines.size(), 2U * kRequestsPerClient);
  EXPECT_GT(per_instance[0], 0U);
  EXPECT_GT(per_instance[1], 0U);
  EXPECT_EQ(count_lines_containing(
                read_file(instances_[0]->access_log_path()) + read_file(instances_[1]->access_log_path()),
                "127.0.0.2 - - ["),
            static_cast<std::size_t>(kRequestsPerClient))
      << "the access logs must name the client, not nginx";
}

TEST_F(NginxTest, AppendedForwardedForYieldsTheClientNotWhatItClaimed) {
  // nginx sends "6.6.6.6, 127.0.0.2": the right-most address that is not a
  // trusted proxy is the one nginx added.
  std::set<std::string> ports_seen;
  for (int i = 0; i < kRequestsPerClient; ++i) {
    SCOPED_TRACE("request " + std::to_string(i));
    Answer answer = get(appending_port_, "127.0.0.2");
    ASSERT_EQ(answer.failure, "") << nginx_->diagnostics();
    ASSERT_EQ(answer.status, 200) << nginx_->diagnostics();
    EXPECT_EQ(answer.forwarded_for, "6.6.6.6, 127.0.0.2");
    EXPECT_EQ(answer.remote_addr, "127.0.0.2");
    ports_seen.insert(answer.server_port);
  }
  EXPECT_EQ(ports_seen, instance_ports());
}

}  // namespace
}  // namespace forkserve::integration

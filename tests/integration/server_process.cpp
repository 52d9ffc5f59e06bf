#include "integration/server_process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <thread>

namespace forkserve::integration {
namespace {

// How long the binary may take to print its start-up line.
constexpr milliseconds kStartupTimeout{10'000};
// Poll interval while waiting for a process to exit (waitpid has no timeout).
constexpr milliseconds kExitPollInterval{5};

[[noreturn]] void fail_setup(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

int remove_entry(const char* path, const struct stat*, int, FTW*) { return ::remove(path); }

milliseconds left_until(Deadline deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
  return left < milliseconds(0) ? milliseconds(0) : left;
}

// fork + exec with the given descriptors as stdout/stderr, stdin on /dev/null,
// every other descriptor closed and signals back to their defaults, so the
// test process's sockets and pipes never leak into (and skew) the server.
pid_t spawn(const std::vector<std::string>& argv, int stdout_fd, int stderr_fd, const ProcessLimits& limits) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Socket activation: the environment is built here; only LISTEN_PID's
  // digits are filled in by the child, which alone knows its pid.
  std::vector<std::string> environment;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    bool activation = entry.starts_with("LISTEN_PID=") || entry.starts_with("LISTEN_FDS=") ||
                      entry.starts_with("LISTEN_FDNAMES=");
    if (!activation) environment.emplace_back(entry);
  }
  const int listen_fd_count = static_cast<int>(limits.listen_fds.size());
  std::vector<int> moved(limits.listen_fds.size());
  std::size_t listen_pid_entry = environment.size();
  if (listen_fd_count > 0) {
    environment.push_back("LISTEN_FDS=" + std::to_string(listen_fd_count));
    listen_pid_entry = environment.size();
    environment.push_back("LISTEN_PID=" + std::string(20, '\0'));
  }
  std::vector<char*> envp;
  for (std::string& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) fail_setup("open /dev/null");

  pid_t pid = ::fork();
  if (pid < 0) fail_setup("fork");
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec: the test may have threads.
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(stdout_fd, STDOUT_FILENO);
    ::dup2(stderr_fd, STDERR_FILENO);
    // Passed sockets go to 3, 4, ...: first out of the way of those numbers.
    for (std::size_t i = 0; i < moved.size(); ++i) {
      moved[i] = ::fcntl(limits.listen_fds[i], F_DUPFD, 3 + listen_fd_count);
    }
    for (std::size_t i = 0; i < moved.size(); ++i) ::dup2(moved[i], 3 + static_cast<int>(i));
    ::close_range(3 + static_cast<unsigned>(listen_fd_count), ~0U, 0);
    if (listen_fd_count > 0) {
      char* digits = envp[listen_pid_entry] + std::strlen("LISTEN_PID=");
      pid_t named = limits.listen_pid_elsewhere ? ::getppid() : ::getpid();
      char reversed[20];
      int n = 0;
      do reversed[n++] = static_cast<char>('0' + named % 10);
      while ((named /= 10) > 0);
      while (n > 0) *digits++ = reversed[--n];
    }
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD}) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    auto fail = [](const char* message) {
      (void)!::write(STDERR_FILENO, message, std::strlen(message));
      ::_exit(127);
    };
    if (limits.open_files) {
      rlimit limit{*limits.open_files, *limits.open_files};
      if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) fail("integration harness: setrlimit NOFILE failed\n");
    }
    if (limits.processes) {
      rlimit limit{*limits.processes, *limits.processes};
      if (::setrlimit(RLIMIT_NPROC, &limit) != 0) fail("integration harness: setrlimit NPROC failed\n");
    }
    if (limits.user) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(*limits.user) != 0 || ::setuid(*limits.user) != 0) {
        fail("integration harness: cannot change user\n");
      }
    }
    ::execve(args[0], args.data(), envp.data());
    static constexpr char kMessage[] = "integration harness: exec failed\n";
    (void)!::write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
    ::_exit(127);
  }
  ::close(null_fd);
  return pid;
}

ExitStatus decode(int wait_status) {
  ExitStatus status;
  if (WIFEXITED(wait_status)) {
    status.exited = true;
    status.code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    status.signal = WTERMSIG(wait_status);
  }
  return status;
}

// Reaps `pid` if it exits before the deadline; timed_out otherwise.
ExitStatus wait_until(pid_t pid, Deadline deadline) {
  for (;;) {
    int wait_status = 0;
    pid_t done = ::waitpid(pid, &wait_status, WNOHANG);
    if (done == pid) return decode(wait_status);
    if (done < 0 && errno != EINTR) {
      ExitStatus lost;
      lost.timed_out = true;  // not our child any more: nothing to wait for
      return lost;
    }
    if (Clock::now() >= deadline) {
      ExitStatus status;
      status.timed_out = true;
      return status;
    }
    std::this_thread::sleep_for(kExitPollInterval);
  }
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int wait_status = 0;
  while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

std::string server_binary() { return FORKSERVE_BINARY; }
std::string module_path(std::string_view file_name) {
  return std::string(FORKSERVE_MODULE_DIR) + "/" + std::string(file_name);
}
std::string fixture_path(std::string_view file_name) {
  return std::string(FORKSERVE_FIXTURE_DIR) + "/" + std::string(file_name);
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/forkserve-integration-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) fail_setup("mkdtemp " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() { ::nftw(path_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

std::string TempDir::write_file(std::string_view relative, std::string_view content) const {
  std::string full = path_ + "/" + std::string(relative);
  int fd = ::open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail_setup("create " + full);
  while (!content.empty()) {
    ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      fail_setup("write " + full);
    }
    content.remove_prefix(static_cast<std::size_t>(n));
  }
  ::close(fd);
  return full;
}

std::string TempDir::make_dir(std::string_view relative) const {
  std::string full = path_ + "/" + std::string(relative);
  if (::mkdir(full.c_str(), 0755) != 0) fail_setup("mkdir " + full);
  return full;
}

void install_new_build(const std::string& source, const std::string& target) {
  static unsigned builds = 0;
  const std::string staged = target + ".new";
  std::filesystem::copy_file(source, staged, std::filesystem::copy_options::overwrite_existing);
  std::ofstream(staged, std::ios::binary | std::ios::app) << "\nforkserve test build " << ++builds << '\n';
  std::filesystem::rename(staged, target);
}

std::string read_file(const std::string& path) {
  std::string text;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char buffer[8192];
  for (;;) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

std::string describe(const ExitStatus& status) {
  if (status.timed_out) return "still running at the deadline";
  if (status.exited) return "exited with status " + std::to_string(status.code);
  return "killed by signal " + std::to_string(status.signal) + " (" + ::strsignal(status.signal) + ")";
}

std::optional<std::string> find_in_path(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    std::size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? std::string_view{} : dirs.substr(colon + 1);
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + std::string(name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

std::optional<int> workers_under_test() {
  const char* text = std::getenv("FORKSERVE_TEST_WORKERS");
  if (text == nullptr || *text == '\0') return std::nullopt;
  return std::atoi(text);
}

ProcessResult run_process(const std::vector<std::string>& argv, milliseconds timeout) {
  std::vector<std::string> resolved = argv;
  if (resolved.at(0).find('/') == std::string::npos) {
    if (auto found = find_in_path(resolved[0])) resolved[0] = *found;
  }
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) fail_setup("pipe");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) fail_setup("pipe");
  Deadline deadline = Clock::now() + timeout;
  pid_t pid = spawn(resolved, out_pipe[1], err_pipe[1], ProcessLimits{});
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);

  ProcessResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_pipes = 2;
  while (open_pipes > 0) {
    int ready = ::poll(fds, 2, static_cast<int>(left_until(deadline).count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;  // deadline
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  result.status = wait_until(pid, deadline);
  if (result.status.timed_out) kill_and_reap(pid);
  return result;
}

ServerProcess::ServerProcess(std::vector<std::string> args, ProcessLimits limits) {
  root_ = scratch_.make_dir("root");
  if (limits.user) {
    for (const std::string& path : {scratch_.path(), root_}) {
      if (::chown(path.c_str(), *limits.user, *limits.user) != 0) fail_setup("chown " + path);
    }
  }
  access_log_ = scratch_.path() + "/access.log";
  stderr_path_ = scratch_.path() + "/stderr.log";

  std::string binary = server_binary();
  if (limits.user) {
    // The build tree may sit under a directory the other user cannot enter
    // (a CI clone in a mode-0700 temp dir): run a copy from the scratch dir.
    std::string copy = scratch_.path() + "/forkserve";
    std::error_code error;
    std::filesystem::copy_file(binary, copy, error);
    if (error || ::chown(copy.c_str(), *limits.user, *limits.user) != 0) fail_setup("copy " + binary);
    binary = copy;
  }
  std::vector<std::string> argv = {binary, "--host", "127.0.0.1",    "--port",   "0",
                                   "--root",        root_,    "--access-log", access_log_};
  if (auto workers = workers_under_test()) argv.insert(argv.end(), {"--workers", std::to_string(*workers)});
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.begin(), limits.exec_through.begin(), limits.exec_through.end());

  int out_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) fail_setup("pipe");
  int stderr_fd = ::open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (stderr_fd < 0) fail_setup("create " + stderr_path_);
  pid_ = spawn(argv, out_pipe[1], stderr_fd, limits);
  ::close(out_pipe[1]);
  ::close(stderr_fd);
  stdout_fd_ = out_pipe[0];
  std::size_t lines =
      static_cast<std::size_t>(std::max<std::ptrdiff_t>(1, std::count(args.begin(), args.end(), "--listen")));
  if (!limits.listen_fds.empty() && !limits.listen_pid_elsewhere) lines = limits.listen_fds.size();
  wait_for_startup_line(Clock::now() + kStartupTimeout, lines);
}

void ServerProcess::wait_for_startup_line(Deadline deadline, std::size_t lines) {
  std::string received;
  while (static_cast<std::size_t>(std::count(received.begin(), received.end(), '\n')) < lines) {
    pollfd p{stdout_fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left_until(deadline).count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      error_ = "no start-up line within " + std::to_string(kStartupTimeout.count()) + " ms; stdout: '" +
               received + "', stderr: '" + stderr_text() + "'";
      return;
    }
    char buffer[512];
    ssize_t n = ::read(stdout_fd_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ExitStatus status = wait_until(pid_, Clock::now() + kStartupTimeout);
      reaped_ = !status.timed_out;
      exit_status_ = status;
      error_ = "server " + describe(status) + " before its start-up line; stderr: '" + stderr_text() + "'";
      return;
    }
    received.append(buffer, static_cast<std::size_t>(n));
  }
  std::size_t end = 0;
  for (std::size_t i = 0; i < lines; ++i) end = received.find('\n', end) + 1;
  startup_line_ = received.substr(0, end);
  static const std::regex kStartup(
      R"(forkserve: serving HTTP on [0-9a-f.:]+ port (\d+) \(backlog \d+, pid (\d+)(, \d+ workers)?\)\n)");
  for (std::size_t start = 0; start < end;) {
    std::size_t next = startup_line_.find('\n', start) + 1;
    std::string line = startup_line_.substr(start, next - start);
    start = next;
    std::smatch match;
    if (!std::regex_match(line, match, kStartup)) {
      error_ = "unexpected start-up line: '" + line + "'";
      return;
    }
    int port = std::stoi(match[1]);
    long pid = std::stol(match[2]);
    if (port <= 0 || port > 65535) {
      error_ = "start-up line names port " + std::to_string(port);
      return;
    }
    if (pid != pid_) {
      error_ =
          "start-up line names pid " + std::to_string(pid) + ", the binary runs as " + std::to_string(pid_);
      return;
    }
    ports_.push_back(static_cast<std::uint16_t>(port));
  }
  port_ = ports_.front();
  ready_ = true;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGTERM);
    ExitStatus status = wait_until(pid_, Clock::now() + milliseconds(15'000));
    if (status.timed_out) kill_and_reap(pid_);
  }
  close_fd(stdout_fd_);
}

std::string ServerProcess::stderr_text() const { return read_file(stderr_path_); }

std::string ServerProcess::write_root_file(std::string_view relative, std::string_view content) const {
  return scratch_.write_file("root/" + std::string(relative), content);
}

void ServerProcess::signal(int sig) const {
  if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
}

ExitStatus ServerProcess::wait_for_exit(milliseconds timeout) {
  if (pid_ <= 0 || reaped_) return exit_status_;
  ExitStatus status = wait_until(pid_, Clock::now() + timeout);
  reaped_ = !status.timed_out;
  if (reaped_) exit_status_ = status;
  return status;
}

ExitStatus ServerProcess::stop(milliseconds timeout) {
  signal(SIGTERM);
  return wait_for_exit(timeout);
}

}  // namespace forkserve::integration

#include "supervisor.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "child.hpp"
#include "log.hpp"

namespace forkserve {
namespace {

// Signal state. SIGCHLD, SIGINT and SIGTERM are blocked except inside
// ppoll(), so the handlers below never run while the main loop touches these.
struct ExitRecord {
  pid_t pid;
  int status;
};
pid_t* g_children = nullptr;  // live children, packed at [0, g_live)
volatile sig_atomic_t g_live = 0;
ExitRecord g_abnormal_exits[64];  // children that did not exit 0, for the main loop to log
volatile sig_atomic_t g_abnormal_count = 0;
volatile sig_atomic_t g_stop_requests = 0;

// Reaps every child that has exited (the card's waitpid(-1, WNOHANG) loop).
// Async-signal-safe: no allocation, no stdio, errno preserved.
void on_sigchld(int) {
  int saved_errno = errno;
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    bool ours = false;
    for (sig_atomic_t i = 0; i < g_live; ++i) {
      if (g_children[i] == pid) {
        g_children[i] = g_children[g_live - 1];
        g_live = g_live - 1;
        ours = true;
        break;
      }
    }
    // Foreign children (we may be PID 1 in a container) are reaped silently.
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ours && !clean && g_abnormal_count < static_cast<sig_atomic_t>(std::size(g_abnormal_exits))) {
      g_abnormal_exits[g_abnormal_count] = {pid, status};
      g_abnormal_count = g_abnormal_count + 1;
    }
  }
  errno = saved_errno;
}

void on_stop(int) { g_stop_requests = g_stop_requests + 1; }

void report_abnormal_exits() {
  for (sig_atomic_t i = 0; i < g_abnormal_count; ++i) {
    const ExitRecord& exit = g_abnormal_exits[i];
    std::string message = "child " + std::to_string(exit.pid);
    if (WIFSIGNALED(exit.status)) {
      int sig = WTERMSIG(exit.status);
      message += " killed by signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
    } else {
      message += " exited with status " + std::to_string(WEXITSTATUS(exit.status));
    }
    log_error(message);
  }
  g_abnormal_count = 0;
}

// Sent, best effort and without blocking, when no child can be forked.
constexpr std::string_view kUnavailable =
    "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
    "Connection: close\r\n\r\n503 Service Unavailable\n";

// How long the parent stops accepting after running out of descriptors,
// memory or processes, so it does not spin on the same failure.
constexpr timespec kResourceBackoff{0, 100'000'000};

// After --grace, stragglers get SIGTERM, then this long before SIGKILL.
constexpr auto kTermWait = std::chrono::seconds(2);

class Supervisor {
 public:
  Supervisor(const Config& config, Listener listener, const forkserve_module& module, int access_log_fd)
      : config_(config),
        listener_(std::move(listener)),
        module_(module),
        access_log_fd_(access_log_fd),
        children_(static_cast<std::size_t>(config.max_children)) {}

  int run() {
    install_signal_handlers();
    serve();
    shut_down();
    return 0;
  }

 private:
  void install_signal_handlers() {
    sigset_t handled;
    sigemptyset(&handled);
    for (int sig : {SIGCHLD, SIGINT, SIGTERM}) sigaddset(&handled, sig);
    ::sigprocmask(SIG_BLOCK, &handled, &original_mask_);
    poll_mask_ = original_mask_;
    for (int sig : {SIGCHLD, SIGINT, SIGTERM}) sigdelset(&poll_mask_, sig);

    g_children = children_.data();
    struct sigaction action {};
    sigfillset(&action.sa_mask);
    action.sa_handler = on_sigchld;
    action.sa_flags = SA_NOCLDSTOP;
    ::sigaction(SIGCHLD, &action, nullptr);
    action.sa_handler = on_stop;
    action.sa_flags = 0;
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
    ::signal(SIGPIPE, SIG_IGN);  // a vanished client is an EPIPE, never a death
  }

  // Waits for a signal or, if `listen`, a connection; handlers run only in here.
  int wait(bool listen, const timespec* timeout) {
    pollfd p{listener_.fd.get(), POLLIN, 0};
    return ::ppoll(&p, listen ? 1 : 0, timeout, &poll_mask_);
  }

  void serve() {
    bool at_cap = false;
    while (g_stop_requests == 0) {
      report_abnormal_exits();
      bool full = g_live >= config_.max_children;
      if (full != at_cap) {
        at_cap = full;
        log_error(full ? "at --max-children " + std::to_string(config_.max_children) +
                             ": new connections wait in the backlog"
                       : "below --max-children again: accepting");
      }
      const timespec* timeout = backing_off_ ? &kResourceBackoff : nullptr;
      bool listen = !full && !backing_off_;
      backing_off_ = false;
      if (wait(listen, timeout) > 0) accept_connections();
    }
  }

  // Accepts until the queue is empty or the cap is reached.
  void accept_connections() {
    while (g_live < config_.max_children) {
      Connection connection;
      socklen_t length = sizeof connection.peer;
      connection.fd = ::accept4(listener_.fd.get(), reinterpret_cast<sockaddr*>(&connection.peer), &length,
                                SOCK_CLOEXEC);
      if (connection.fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          back_off(std::string("accept: ") + std::strerror(errno));
          return;
        }
        continue;  // EINTR, ECONNABORTED, EPROTO, network errors: that connection is gone, not us
      }
      connection.accepted_at = Clock::now();
      fork_child(connection);
    }
  }

  void fork_child(const Connection& connection) {
    pid_t pid = ::fork();
    if (pid == 0) {
      prepare_child();
      _exit(serve_connection(connection, config_, module_, access_log_fd_));
    }
    if (pid < 0) {
      ::send(connection.fd, kUnavailable.data(), kUnavailable.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      back_off(std::string("fork: ") + std::strerror(errno));
    } else {
      g_children[g_live] = pid;
      g_live = g_live + 1;
    }
    ::close(connection.fd);  // the child has its own copy
  }

  void prepare_child() {
    listener_.fd.reset();
    ::signal(SIGCHLD, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    // A terminal's ^C reaches the whole process group; the parent decides
    // how in-flight requests end (--grace), so children ignore it.
    ::signal(SIGINT, SIG_IGN);
    ::sigprocmask(SIG_SETMASK, &original_mask_, nullptr);
  }

  void back_off(const std::string& why) {
    backing_off_ = true;
    std::time_t now = std::time(nullptr);
    if (now != last_backoff_log_) {  // at most one line a second
      last_backoff_log_ = now;
      log_error(why + "; pausing accept");
    }
  }

  // Waits for children to exit until `until` or a further stop signal.
  void wait_for_children(Deadline until) {
    sig_atomic_t stops = g_stop_requests;
    while (g_live > 0 && g_stop_requests == stops) {
      auto left = until - Clock::now();
      if (left <= Clock::duration::zero()) return;
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timespec timeout{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      wait(false, &timeout);
      report_abnormal_exits();
    }
  }

  void signal_children(int sig) {
    for (sig_atomic_t i = 0; i < g_live; ++i) ::kill(g_children[i], sig);
  }

  void shut_down() {
    listener_.fd.reset();  // refuse new connections at once
    if (g_live > 0 && g_stop_requests == 1) {
      log_error("stopping: waiting up to " + std::to_string(config_.grace) + " s for " +
                std::to_string(g_live) + " request(s)");
      wait_for_children(Clock::now() + std::chrono::seconds(config_.grace));
    }
    if (g_live > 0 && g_stop_requests == 1) {
      signal_children(SIGTERM);
      wait_for_children(Clock::now() + kTermWait);
    }
    if (g_live > 0) {
      signal_children(SIGKILL);
      wait_for_children(Clock::now() + kTermWait);  // SIGKILL cannot be ignored; this returns at once
    }
    report_abnormal_exits();
  }

  const Config& config_;
  Listener listener_;
  const forkserve_module& module_;
  int access_log_fd_;
  std::vector<pid_t> children_;
  sigset_t original_mask_{};
  sigset_t poll_mask_{};
  bool backing_off_ = false;
  std::time_t last_backoff_log_ = 0;
};

}  // namespace

int run_supervisor(const Config& config, Listener listener, const forkserve_module& module, int access_log_fd) {
  return Supervisor(config, std::move(listener), module, access_log_fd).run();
}

}  // namespace forkserve

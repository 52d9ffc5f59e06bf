#include "worker.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>

namespace forkserve {
namespace {

volatile sig_atomic_t g_stop = 0;

void on_stop(int) { g_stop = 1; }

// After accept() fails for want of descriptors or memory: the listener stays
// readable, so without a pause the worker would spin.
constexpr timespec kResourceBackoff{0, 100'000'000};

std::int64_t steady_ns(Deadline t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

void run_worker(const WorkerSetup& setup) {
  const Config& config = *setup.config;
  if (setup.module->post_fork) setup.module->post_fork();

  // SIGTERM is let in only while waiting for a connection, so a request in
  // hand is always finished first, and its handler never sees EINTR.
  struct sigaction action {};
  sigfillset(&action.sa_mask);
  action.sa_handler = on_stop;
  ::sigaction(SIGTERM, &action, nullptr);
  sigset_t deferred;
  sigemptyset(&deferred);
  sigaddset(&deferred, SIGTERM);
  sigset_t waiting_mask;
  ::sigprocmask(SIG_BLOCK, &deferred, &waiting_mask);
  sigdelset(&waiting_mask, SIGTERM);

  // EPOLLEXCLUSIVE: a new connection wakes one idle worker, not all of them.
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) {
    log_error(std::string("worker: epoll_create1: ") + std::strerror(errno));
    end_child(1);
  }
  for (int fd : setup.listener_fds) {
    epoll_event interest{};
    interest.events = EPOLLIN | EPOLLEXCLUSIVE;
    interest.data.fd = fd;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &interest) != 0) {
      log_error(std::string("worker: epoll_ctl: ") + std::strerror(errno));
      end_child(1);
    }
  }

  const auto limit = lifetime_limit(config);
  std::uint32_t log_generation = setup.shared->log_generation.load();
  std::time_t last_backoff_log = 0;
  std::uint32_t served = 0;
  auto done = [&] { return g_stop || (config.max_requests > 0 && served >= static_cast<unsigned>(config.max_requests)); };
  while (!done()) {
    epoll_event ready[8];
    int count = ::epoll_pwait(epoll.get(), ready, static_cast<int>(std::size(ready)), -1, &waiting_mask);
    for (int i = 0; i < count && !done(); ++i) {
      Connection connection;
      socklen_t length = sizeof connection.peer;
      connection.fd = ::accept4(ready[i].data.fd, reinterpret_cast<sockaddr*>(&connection.peer), &length,
                                SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (connection.fd < 0) {
        if (errno == EINVAL) end_child(0);  // the parent shut the listener down: stopping
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          if (std::time_t now = std::time(nullptr); now != last_backoff_log) {  // one line a second at most
            last_backoff_log = now;
            log_error(std::string("worker: accept: ") + std::strerror(errno) + "; pausing accept");
          }
          ::nanosleep(&kResourceBackoff, nullptr);
        }
        continue;  // EAGAIN: another worker took it; or that connection was aborted
      }
      if (std::uint32_t now = setup.shared->log_generation.load(); now != log_generation) {
        log_generation = now;
        std::string error;
        if (!setup.logs->reopen(error)) log_error("worker: " + error);
      }
      connection.accepted_at = Clock::now();
      connection.label = setup.label;
      connection.label[0] = '\0';
      connection.label_size = setup.label_size;
      setup.status->connections.store(++served, std::memory_order_relaxed);
      setup.status->busy_until_ns.store(steady_ns(connection.accepted_at + limit), std::memory_order_relaxed);
      serve_connection(connection, config, *setup.module, setup.logs->access_fd());
      disarm_phase_alarm();
      setup.status->busy_until_ns.store(0, std::memory_order_relaxed);
    }
  }
  end_child(0);
}

}  // namespace forkserve

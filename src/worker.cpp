#include "worker.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace forkserve {
namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_reopen = 0;

void on_stop(int) { g_stop = 1; }
void on_reopen(int) { g_reopen = 1; }

std::int64_t steady_ns(Deadline t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

void run_worker(const WorkerSetup& setup) {
  const Config& config = *setup.config;
  if (setup.module->post_fork) setup.module->post_fork();

  // SIGTERM and SIGUSR1 are let in only while waiting for a connection, so a
  // request in hand is always finished first and logs reopen between requests.
  struct sigaction action {};
  sigfillset(&action.sa_mask);
  action.sa_handler = on_stop;
  ::sigaction(SIGTERM, &action, nullptr);
  action.sa_handler = on_reopen;
  ::sigaction(SIGUSR1, &action, nullptr);
  sigset_t deferred;
  sigemptyset(&deferred);
  sigaddset(&deferred, SIGTERM);
  sigaddset(&deferred, SIGUSR1);
  sigset_t waiting_mask;
  ::sigprocmask(SIG_BLOCK, &deferred, &waiting_mask);
  sigdelset(&waiting_mask, SIGTERM);
  sigdelset(&waiting_mask, SIGUSR1);

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
  std::uint32_t served = 0;
  auto done = [&] { return g_stop || (config.max_requests > 0 && served >= static_cast<unsigned>(config.max_requests)); };
  while (!done()) {
    epoll_event ready[8];
    int count = ::epoll_pwait(epoll.get(), ready, static_cast<int>(std::size(ready)), -1, &waiting_mask);
    if (g_reopen) {
      g_reopen = 0;
      std::string error;
      if (!setup.logs->reopen(error)) log_error("worker: " + error);
    }
    for (int i = 0; i < count && !done(); ++i) {
      Connection connection;
      socklen_t length = sizeof connection.peer;
      connection.fd = ::accept4(ready[i].data.fd, reinterpret_cast<sockaddr*>(&connection.peer), &length,
                                SOCK_CLOEXEC);
      if (connection.fd < 0) continue;  // another worker took it, or it was aborted
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

#include "master/worker.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>

#include "core/stats.hpp"

namespace forkserve {
namespace {

// After accept() fails for want of descriptors or memory: the listener stays
// readable, so without a pause the worker would spin.
constexpr timespec kResourceBackoff{0, 100'000'000};

std::int64_t steady_ns(Deadline t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

bool watch(int epoll_fd, int fd, std::uint32_t events) {
  epoll_event interest{};
  interest.events = events;
  interest.data.fd = fd;
  return ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &interest) == 0;
}

}  // namespace

void run_worker(const WorkerSetup& setup) {
  const Config& config = *setup.config;
  if (setup.module->post_fork) setup.module->post_fork();

  // EPOLLEXCLUSIVE: a new connection wakes one idle worker, not all of them.
  // The stop pipe and the reopen eventfd (edge-triggered: nobody reads it)
  // wake every worker.
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  bool watching = epoll && watch(epoll.get(), setup.stop_fd, EPOLLIN) &&
                  watch(epoll.get(), setup.reopen_wake_fd, EPOLLIN | EPOLLET);
  for (int fd : setup.listener_fds) watching = watching && watch(epoll.get(), fd, EPOLLIN | EPOLLEXCLUSIVE);
  if (!watching) {
    log_error(std::string("worker: epoll: ") + std::strerror(errno));
    end_child(1);
  }
  // Restored after each connection, so that a handler changing it cannot
  // change how the next one is served (a blocked SIGALRM would void its deadlines).
  sigset_t mask;
  ::sigprocmask(SIG_SETMASK, nullptr, &mask);

  const auto limit = lifetime_limit(config);
  std::uint32_t log_generation = setup.shared->log_generation.load();
  auto reopen_if_rotated = [&] {
    if (std::uint32_t now = setup.shared->log_generation.load(); now != log_generation) {
      log_generation = now;
      std::string error;
      if (!setup.logs->reopen(error)) log_error("worker: " + error);
    }
  };
  std::time_t last_backoff_log = 0;
  std::uint32_t served = 0;
  setup.status->ready.store(1);
  while (config.max_requests == 0 || served < static_cast<unsigned>(config.max_requests)) {
    epoll_event ready[8];
    int count = ::epoll_wait(epoll.get(), ready, static_cast<int>(std::size(ready)), -1);
    // Stopping wins over waiting connections: they are the next worker's.
    for (int i = 0; i < count; ++i) {
      if (ready[i].data.fd == setup.stop_fd) end_child(0);
    }
    reopen_if_rotated();
    for (int i = 0; i < count; ++i) {
      int fd = ready[i].data.fd;
      if (fd == setup.reopen_wake_fd) continue;
      Connection connection;
      socklen_t length = sizeof connection.peer;
      connection.fd =
          ::accept4(fd, reinterpret_cast<sockaddr*>(&connection.peer), &length, SOCK_CLOEXEC | SOCK_NONBLOCK);
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
      reopen_if_rotated();  // the parent may have rotated since the wake-up
      connection.accepted_at = Clock::now();
      connection.label = setup.label;
      connection.label_size = setup.label_size;
      if (!config.status_path.empty()) connection.listen_queue = read_listen_queue(setup.listener_fds);
      setup.status->connections.store(++served, std::memory_order_relaxed);
      setup.status->busy_until_ns.store(steady_ns(connection.accepted_at + limit), std::memory_order_relaxed);
      connection.record = setup.record;
      stats().busy.fetch_add(1, std::memory_order_relaxed);
      serve_connection(connection, config, *setup.module, setup.logs->access_fd());
      stats().busy.fetch_sub(1, std::memory_order_relaxed);
      disarm_phase_alarm();
      ::sigprocmask(SIG_SETMASK, &mask, nullptr);
      setup.label[0] = '\0';  // idle: should it die now, it was serving nothing
      setup.status->busy_until_ns.store(0, std::memory_order_relaxed);
      break;  // back to epoll_wait: a stop may have come meanwhile
    }
  }
  end_child(0);
}

}  // namespace forkserve

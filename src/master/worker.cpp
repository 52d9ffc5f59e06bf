#include "master/worker.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>

#include "connection/child.hpp"
#include "connection/connection_server.hpp"
#include "net/listener.hpp"

namespace forkserve {
namespace {

int g_parent_wake_fd = -1;

std::int64_t steady_ns(Deadline t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

bool watch(int epoll_fd, int fd, std::uint32_t events) {
  epoll_event interest{};
  interest.events = events;
  interest.data.fd = fd;
  return ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &interest) == 0;
}

[[noreturn]] void leave(const std::string& what, int error) {
  log_error("worker: " + what + ": " + std::strerror(error) + "; leaving");
  end_child(1);
}

}  // namespace

void run_worker(const WorkerSetup& setup) {
  const Config& config = *setup.config;
  // A flood line: the parent writes the count of what follows it a second later.
  g_parent_wake_fd = setup.parent_wake_fd;
  set_flood_line_hook([] { (void)::eventfd_write(g_parent_wake_fd, 1); });
  ConnectionServer server(config, *setup.module, *setup.logs, setup.label, setup.record);

  // EPOLLEXCLUSIVE: a new connection wakes one idle worker, not all of them.
  // The stop pipe and the reopen eventfd (edge-triggered: nobody reads it)
  // wake every worker.
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  bool watching = epoll && watch(epoll.get(), setup.stop_fd, EPOLLIN) &&
                  watch(epoll.get(), setup.reopen_wake_fd, EPOLLIN | EPOLLET);
  for (int fd : setup.listener_fds) watching = watching && watch(epoll.get(), fd, EPOLLIN | EPOLLEXCLUSIVE);
  if (!watching) leave("epoll", errno);

  const auto limit = lifetime_limit(config);
  std::uint32_t log_generation = setup.shared->log_generation.load();
  auto reopen_if_rotated = [&] {
    if (std::uint32_t now = setup.shared->log_generation.load(); now != log_generation) {
      log_generation = now;
      std::string error;
      if (!setup.logs->reopen(error)) log_error("worker: " + error);
    }
  };
  std::uint32_t served = 0;
  auto serve = [&](int listener_fd, AcceptedClient& client) {
    reopen_if_rotated();  // the parent may have rotated since the wake-up
    Deadline accepted_at = Clock::now();
    Endpoint local;  // the listener's address
    for (std::size_t j = 0; j < setup.listener_fds.size(); ++j) {
      if (setup.listener_fds[j] == listener_fd) local = setup.listener_endpoints[j];
    }
    setup.status->connections.store(++served, std::memory_order_relaxed);
    setup.status->busy_until_ns.store(steady_ns(accepted_at + limit));
    // A parent asleep without a deadline must now keep this one.
    if (setup.shared->parent_asleep.load() != 0 && setup.shared->parent_asleep.exchange(0) != 0) {
      (void)::eventfd_write(setup.parent_wake_fd, 1);
    }
    std::optional<ListenQueue> queue;
    if (!config.status_path.empty()) queue = read_listen_queue(setup.listener_fds);
    server.serve(std::move(client.fd), client.peer, accepted_at, local, queue);
    setup.status->busy_until_ns.store(0, std::memory_order_relaxed);
  };
  // EPOLLEXCLUSIVE hands a new connection's wake-up to one waiting worker
  // only. A worker told to stop may have been handed one in the same
  // wake-up: were it to leave now, that connection would sit in the backlog,
  // no other worker woken for it, until the next connection came. So it
  // first stops watching (closing its epoll: later connections wake the
  // others), then serves what already waits, then leaves.
  auto leave_after_waiting_connections = [&]() -> void {
    epoll.reset();
    for (int fd : setup.listener_fds) {
      for (;;) {
        AcceptedClient client = accept_client(fd);
        if (client.status == AcceptStatus::Transient) continue;
        if (client.status != AcceptStatus::Accepted) break;
        serve(fd, client);
      }
    }
    end_child(0);
  };
  setup.status->ready.store(1);
  (void)::eventfd_write(setup.parent_wake_fd, 1);  // the parent may be waiting for a new set to be ready
  while (config.max_requests == 0 || served < static_cast<unsigned>(config.max_requests)) {
    epoll_event ready[8];
    int count = ::epoll_wait(epoll.get(), ready, static_cast<int>(std::size(ready)), -1);
    if (count < 0) {
      if (errno == EINTR) continue;
      leave("epoll_wait", errno);  // a handler closed or replaced its descriptor: spinning here helps nobody
    }
    for (int i = 0; i < count; ++i) {
      if (ready[i].data.fd == setup.stop_fd) leave_after_waiting_connections();
    }
    reopen_if_rotated();
    for (int i = 0; i < count; ++i) {
      int fd = ready[i].data.fd;
      if (fd == setup.reopen_wake_fd) continue;
      AcceptedClient client = accept_client(fd);
      if (client.status == AcceptStatus::Empty || client.status == AcceptStatus::Transient) continue;
      if (client.status == AcceptStatus::Exhausted) {
        log_flood(Flood::AcceptFailure,
                  std::string("worker: accept: ") + std::strerror(client.error) + "; pausing accept");
        timespec pause{0, std::chrono::nanoseconds(kAcceptBackoff).count()};
        ::nanosleep(&pause, nullptr);
        continue;
      }
      if (client.status == AcceptStatus::Broken) {
        if (client.error == EINVAL) end_child(0);  // the parent shut the listener down: stopping
        leave("accept", client.error);
      }
      serve(fd, client);
      break;  // back to epoll_wait: a stop may have come meanwhile
    }
  }
  end_child(0);
}

}  // namespace forkserve

#include "master/worker_pool.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "connection/child.hpp"
#include "core/stats.hpp"
#include "master/fork_policy.hpp"
#include "master/parent_memory.hpp"
#include "master/worker.hpp"

namespace forkserve {
namespace {

// A worker that dies before it is ready to accept failed to boot (a module
// broken after fork(), usually). After such a death only one worker starts
// at a time, after a pause that doubles from 100 ms with each failure in a
// row; this many in a row and the server gives up rather than fork forever
// (or, after a SIGHUP, goes back to the previous module).
constexpr auto kFirstRespawnPause = std::chrono::milliseconds(100);
constexpr int kMaxBootFailures = 5;

// Connections refused per wake-up while no worker can be forked.
constexpr int kRefuseBatch = 8;

std::int64_t steady_ns(Deadline t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

bool WorkerPool::start() {
  reopen_wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!reopen_wake_ || !wake_) {
    log_error(std::string("eventfd: ") + std::strerror(errno));
    return false;
  }
  if (!start_set()) return false;
  serving_ = newest();
  return true;
}

// A new set of workers for the current module; the set serving keeps
// serving until one of the new ones is ready. False if it cannot.
bool WorkerPool::start_set() {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    log_error(std::string("pipe: ") + std::strerror(errno) +
              (sets_.empty() ? "" : "; keeping the workers there are"));
    return false;
  }
  sets_.push_back({++last_generation_, UniqueFd(pipe_fds[0]), UniqueFd(pipe_fds[1])});
  boot_failures_ = 0;
  respawn_at_ = Deadline{};
  return true;
}

// Tells every set older than `generation` to leave: each of their workers
// ends after its connection.
void WorkerPool::retire_sets_before(unsigned generation) {
  std::erase_if(sets_, [generation](const WorkerSet& set) { return set.generation < generation; });
}

void WorkerPool::reloaded(bool) {
  // The set still booting never served: a set for the newer module replaces
  // it (the module kept to go back to, should that fail, stays the serving
  // set's). Unchanged too: a SIGHUP restarts the workers, fresh from the parent.
  if (switching()) sets_.pop_back();
  if (!start_set()) context_.module.rollback();
}

WaitPlan WorkerPool::plan(Deadline now) {
  ProcessTable& table = context_.table;
  if (switching()) {
    for (int i = 0; i < table.capacity(); ++i) {
      if (table[i].pid > 0 && table[i].generation == newest() && table.status(i).ready.load() != 0) {
        // The new module boots: the old one and its workers can go.
        context_.module.commit();
        make_parent_cheap_to_fork();
        serving_ = newest();
        retire_sets_before(serving_);
        break;
      }
    }
  }
  start_missing_workers(now);
  Deadline next = kill_overdue_workers(now);
  if (next == Deadline::max()) {
    // Nothing to watch: sleep until an event. A worker taking a connection
    // meanwhile sees the flag and wakes us (see WorkersShared); one that took
    // it just before the flag was set is found by the second look.
    table.workers_shared().parent_asleep.store(1);
    next = kill_overdue_workers(now);
  } else {
    table.workers_shared().parent_asleep.store(0);
  }
  WaitPlan plan;
  if (respawn_at_ > now) next = std::min(next, respawn_at_);
  if (next != Deadline::max()) plan.until = next;
  // With no worker at all because fork() fails, answer 503 as the default
  // mode does rather than leave clients waiting in the backlog.
  plan.accept = fork_failing_ && table.live() == 0;
  return plan;
}

void WorkerPool::on_own_fd() {
  eventfd_t count = 0;
  (void)::eventfd_read(wake_.get(), &count);  // plan() looks at what changed
}

void WorkerPool::on_listener_ready(int listener_fd) {
  for (int batch = 0; batch < kRefuseBatch; ++batch) {
    AcceptedClient client = accept_client(listener_fd);
    if (client.status == AcceptStatus::Accepted) {
      refuse_unavailable(client.fd.get());
    } else if (client.status != AcceptStatus::Transient) {
      return;
    }
  }
}

void WorkerPool::start_missing_workers(Deadline now) {
  ProcessTable& table = context_.table;
  int running = 0;
  for (int i = 0; i < table.capacity(); ++i) {
    const ProcessSlot& worker = table[i];
    if (worker.pid <= 0 || worker.generation != newest()) continue;
    ++running;
    // Only a worker started after the last boot failure proves the module boots.
    if (table.status(i).ready.load() != 0 && worker.started_at > last_boot_failure_) boot_failures_ = 0;
  }
  // After a boot failure, one probe at a time until one gets ready.
  const int workers = context_.config.workers;
  int wanted = boot_failures_ > 0 ? std::min(workers, running + 1 - probing()) : workers;
  while (running < wanted && now >= respawn_at_ && start_worker()) ++running;
}

// Workers of the newest set started since the last boot failure and not yet ready.
int WorkerPool::probing() const {
  const ProcessTable& table = context_.table;
  int count = 0;
  for (int i = 0; i < table.capacity(); ++i) {
    const ProcessSlot& worker = table[i];
    if (worker.pid > 0 && worker.generation == newest() && worker.started_at > last_boot_failure_ &&
        context_.table.status(i).ready.load() == 0) {
      ++count;
    }
  }
  return count;
}

bool WorkerPool::start_worker() {
  ProcessTable& table = context_.table;
  int slot = table.claim();
  if (slot < 0) return false;  // retired workers are still finishing: their exits free slots
  const WorkerSet& set = sets_.back();
  std::vector<int> listener_fds;
  std::vector<Endpoint> listener_endpoints;
  for (const Listener& listener : context_.listeners) {
    listener_fds.push_back(listener.fd.get());
    listener_endpoints.push_back(listener.endpoint);
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    context_.signals.reset_in_child();
    // Only its own set's read end: the write ends stay with the parent, so
    // that the parent's death, too, reads as "stop".
    for (const WorkerSet& other : sets_) {
      ::close(other.stop_write.get());
      if (other.generation != set.generation) ::close(other.stop_read.get());
    }
    run_worker({listener_fds, listener_endpoints, &context_.config, &context_.module.get(), &context_.logs, &table.status(slot),
                &table.workers_shared(), set.stop_read.get(), reopen_wake_.get(), wake_.get(),
                table.label(slot), &table.request(slot)});
  }
  fork_failing_ = pid < 0;
  if (pid < 0) {
    stats().fork_failures.fetch_add(1, std::memory_order_relaxed);
    log_flood(Flood::ForkFailure, std::string("fork: ") + std::strerror(errno) + "; pausing accept");
    respawn_at_ = Clock::now() + kAcceptBackoff;
    return false;
  }
  // Until it is ready, --handler-timeout bounds its start (post_fork).
  table.add(slot, pid, Clock::now() + std::chrono::seconds(context_.config.handler_timeout), set.generation);
  return true;
}

void WorkerPool::on_exit(const ProcessExit& exit) {
  if (context_.table.ended_cleanly(exit)) return;
  log_error(context_.table.describe(exit, "worker"));
  count_boot_failure(exit);
}

void WorkerPool::count_boot_failure(const ProcessExit& exit) {
  const ProcessTable& table = context_.table;
  const ProcessSlot& worker = table[exit.slot];
  if (gave_up_ || stopping_) return;                               // deaths while stopping are ours
  if (worker.generation != newest()) return;                       // a retired set's
  if (context_.table.status(exit.slot).ready.load() != 0) return;  // it booted: not a boot failure
  // Workers started together count once: a bad module kills them all at once.
  if (worker.started_at <= last_boot_failure_) return;
  last_boot_failure_ = Clock::now();
  if (++boot_failures_ < kMaxBootFailures) {
    respawn_at_ = last_boot_failure_ + kFirstRespawnPause * (1 << (boot_failures_ - 1));
    return;
  }
  if (switching()) {
    log_error("workers of the reloaded handler died " + std::to_string(boot_failures_) +
              " times in a row before they were ready; back to the previous handler");
    context_.module.rollback();
    sets_.pop_back();
    boot_failures_ = 0;
    respawn_at_ = Deadline{};
    return;
  }
  log_error(std::to_string(boot_failures_) +
            " workers in a row died before they were ready; stopping (is the handler module broken?)");
  gave_up_ = 1;
}

// Kills a worker stuck past its connection's deadline, or past
// --handler-timeout in its start-up; returns the next deadline to watch.
Deadline WorkerPool::kill_overdue_workers(Deadline now) {
  ProcessTable& table = context_.table;
  const std::int64_t now_ns = steady_ns(now);
  const std::int64_t limit_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(lifetime_limit(context_.config)).count();
  // A deadline is believed only near now: the worker wrote it, and one that
  // scribbled on the shared page must not get the others killed.
  auto busy_until = [&](int slot) -> std::optional<std::int64_t> {
    std::int64_t until = table.status(slot).busy_until_ns.load();
    if (until == 0 || until <= now_ns - 2 * limit_ns || until > now_ns + 2 * limit_ns) return std::nullopt;
    return until;
  };
  for (int i = 0; i < table.capacity(); ++i) {
    if (table[i].pid <= 0 || table.status(i).ready.load() == 0)
      continue;  // starting: kill_at is its start bound
    std::optional<std::int64_t> until = busy_until(i);
    table.set_kill_at(
        i, until ? Deadline(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(*until)))
                 : Deadline::max());
  }
  return table.kill_overdue(now, [&](int slot) -> std::string {
    std::string worker = "worker " + std::to_string(table[slot].pid);
    if (table.status(slot).ready.load() == 0) return worker + " did not get ready in time";
    if (busy_until(slot)) return worker + " overran every deadline of its connection";
    return "";
  });
}

void WorkerPool::logs_reopened() {
  // Workers reopen theirs before their next connection, idle ones at once.
  (void)::eventfd_write(reopen_wake_.get(), 1);
}

void WorkerPool::stop() {
  stopping_ = true;
  // Workers hold the listeners too: shut them down for every process, so new
  // connections are refused now, as in the default mode. Not a socket systemd
  // passed: it queues connections for the next instance. Idle workers leave
  // at once; busy ones after their connection.
  for (const Listener& listener : context_.listeners) {
    if (!listener.inherited) ::shutdown(listener.fd.get(), SHUT_RD);
  }
  sets_.clear();
}

}  // namespace forkserve

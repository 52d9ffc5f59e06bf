#include "master/fork_policy.hpp"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "connection/child.hpp"
#include "connection/connection_server.hpp"
#include "core/stats.hpp"
#include "http/date.hpp"
#include "http/response.hpp"
#include "master/parent_memory.hpp"

namespace forkserve {
namespace {

// Connections accepted per wake-up before going back to the loop to reap:
// under sustained load an unbounded loop would fill the cap with zombies.
constexpr int kAcceptBatch = 8;

// What the parent reads of a refused client's request before answering: the
// head of any request the client sent at once, not a body it streams.
constexpr std::size_t kRefusedReadLimit = 64 * 1024;

}  // namespace

void refuse_unavailable(int client_fd) {
  char sink[4096];
  for (std::size_t taken = 0; taken < kRefusedReadLimit;) {
    ssize_t n = ::recv(client_fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n <= 0) break;
    taken += static_cast<std::size_t>(n);
  }
  std::string response = http::error_response(503, "no process is available to serve the request",
                                              http::format_http_date(std::time(nullptr)));
  ::send(client_fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(client_fd, SHUT_WR);
}

WaitPlan ForkPolicy::plan(Deadline now) {
  const Config& config = context_.config;
  ProcessTable& table = context_.table;
  bool full = table.live() >= config.max_children;
  if (full && !saturated_) {
    saturated_ = true;
    log_error("at --max-children " + std::to_string(config.max_children) +
              ": new connections wait in the backlog");
  }
  // The child's own alarm ends it at its deadlines; this is the backstop for
  // a handler that blocked or cancelled that alarm. The table is scanned only
  // when the earliest known deadline has passed.
  if (now >= next_kill_check_) {
    next_kill_check_ = table.kill_overdue(now, [&](int slot) {
      return "child " + std::to_string(table[slot].pid) + " overran every deadline";
    });
  }
  WaitPlan plan;
  plan.accept = !full && now >= accept_paused_until_;
  if (table.live() > 0 && next_kill_check_ != Deadline::max()) plan.until = next_kill_check_;
  if (now < accept_paused_until_)
    plan.until = std::min(plan.until.value_or(Deadline::max()), accept_paused_until_);
  return plan;
}

void ForkPolicy::on_listener_ready(int listener_fd) {
  ProcessTable& table = context_.table;
  Endpoint local;  // the listener's address, the connections' own
  for (const Listener& listener : context_.listeners) {
    if (listener.fd.get() == listener_fd) local = listener.endpoint;
  }
  for (int batch = 0; batch < kAcceptBatch && table.live() < context_.config.max_children; ++batch) {
    AcceptedClient client = accept_client(listener_fd);
    if (client.status == AcceptStatus::Accepted) {
      fork_child(client, local);
      if (Clock::now() < accept_paused_until_) return;
      continue;
    }
    if (client.status == AcceptStatus::Transient) continue;  // that connection is gone, not us
    if (client.status == AcceptStatus::Exhausted || client.status == AcceptStatus::Broken) {
      accept_paused_until_ = Clock::now() + kAcceptBackoff;
      log_flood(Flood::AcceptFailure,
                std::string("accept: ") + std::strerror(client.error) + "; pausing accept");
      return;
    }
    // Empty: the queue is drained; below the cap again if it was reached.
    if (saturated_) {
      saturated_ = false;
      log_error("backlog drained: below --max-children again");
    }
    return;
  }
}

void ForkPolicy::fork_child(AcceptedClient& client, const Endpoint& local) {
  ProcessTable& table = context_.table;
  int slot = table.claim();
  if (slot < 0) return;  // only if the table and the count disagree; refuse rather than guess
  Deadline accepted_at = Clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    context_.signals.reset_in_child();
    std::optional<ListenQueue> queue;
    if (!context_.config.status_path.empty()) {
      std::vector<int> fds;
      for (const Listener& listener : context_.listeners) fds.push_back(listener.fd.get());
      queue = read_listen_queue(fds);
    }
    context_.listeners.clear();
    ConnectionServer server(context_.config, context_.module.get(), context_.logs, table.label(slot),
                            &table.request(slot));
    server.serve(std::move(client.fd), client.peer, accepted_at, local, queue);
    end_child(0);
  }
  if (pid < 0) {
    int error = errno;
    stats().fork_failures.fetch_add(1, std::memory_order_relaxed);
    refuse_unavailable(client.fd.get());
    accept_paused_until_ = Clock::now() + kAcceptBackoff;
    log_flood(Flood::ForkFailure, std::string("fork: ") + std::strerror(error) + "; pausing accept");
    return;
  }
  Deadline kill_at = accepted_at + lifetime_limit(context_.config);
  table.add(slot, pid, kill_at, 0);
  next_kill_check_ = std::min(next_kill_check_, kill_at);
  // The child has its own copy of the socket; client.fd closes the parent's.
}

void ForkPolicy::on_exit(const ProcessExit& exit) {
  if (!context_.table.ended_cleanly(exit)) log_error(context_.table.describe(exit, "child"));
}

void ForkPolicy::reloaded(bool replaced) {
  context_.module.commit();  // children forked from now on run it
  if (replaced) make_parent_cheap_to_fork();
}

}  // namespace forkserve

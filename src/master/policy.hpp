// A process model: how connections get to processes. The master loop
// (loop.hpp) knows none; it waits, records signals, and hands what happened
// to the policy: ForkPolicy (a child per connection) or WorkerPool
// (pre-forked workers). Each owns its processes' rules: caps, replacement,
// what a reload means.
#pragma once

#include <poll.h>

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/log.hpp"
#include "master/process_table.hpp"
#include "master/signals.hpp"
#include "module/module_loader.hpp"
#include "net/listener.hpp"

namespace forkserve {

// What every policy works with; owned by the loop.
struct MasterContext {
  const Config& config;
  std::vector<Listener>& listeners;
  HandlerModule& module;
  LogFiles& logs;
  ProcessTable& table;
  const MasterSignals& signals;
};

// What the loop should wait for next.
struct WaitPlan {
  bool accept = false;            // watch the listeners (on_listener_ready)
  std::optional<Deadline> until;  // wake by then; none: only an event wakes the loop
};

class ProcessPolicy {
 public:
  virtual ~ProcessPolicy() = default;

  // Table capacity the policy needs.
  virtual int capacity() const = 0;
  // Before the start-up line; false stops the server (exit status 1).
  virtual bool start() = 0;
  // Appended to the start-up line's parenthesis: "" or ", 4 workers".
  virtual std::string startup_note() const = 0;

  // Does what is due by `now` (kill overdue processes, start missing ones)
  // and says what to wait for.
  virtual WaitPlan plan(Deadline now) = 0;
  // A descriptor of the policy's own to watch besides the listeners (-1:
  // none), and what to do when it is readable.
  virtual int own_fd() const { return -1; }
  virtual void on_own_fd() {}
  virtual void on_listener_ready(int listener_fd) = 0;
  // A process of ours ended (its slot still describes it).
  virtual void on_exit(const ProcessExit& exit) = 0;
  // A SIGHUP's reload ended well (the loop ran the module's trial, logged
  // the outcome, counted it): the module is `replaced` (uncommitted: see
  // HandlerModule) or unchanged. Apply it as this model does.
  virtual void reloaded(bool replaced) = 0;
  // SIGUSR1, after the parent reopened its own logs.
  virtual void logs_reopened() {}
  // The policy's own reason to stop the server (exit status), if any.
  virtual std::optional<int> gave_up() const { return std::nullopt; }

  // SIGINT/SIGTERM: stop taking connections. Processes get --grace to finish.
  virtual void stop() = 0;
  // "request(s)" or "worker(s)", for the line announcing the grace period.
  virtual const char* waiting_for() const = 0;
  // After --grace, SIGTERM before SIGKILL (a child's own cleanup)? Workers
  // already stopped on their own.
  virtual bool terminate_after_grace() const = 0;
};

}  // namespace forkserve

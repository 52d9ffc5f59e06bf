#include "master/loop.hpp"

#include <unistd.h>

#include <memory>
#include <string>
#include <utility>

#include "core/stats.hpp"
#include "master/fork_policy.hpp"
#include "master/parent_memory.hpp"
#include "master/policy.hpp"
#include "master/process_table.hpp"
#include "master/signals.hpp"
#include "master/worker_pool.hpp"

namespace forkserve {
namespace {

constexpr auto kLogCountsFlush = std::chrono::seconds(1);

class MasterLoop {
 public:
  MasterLoop(const Config& config, std::vector<Listener> listeners, HandlerModule& module, LogFiles& logs)
      : listeners_(std::move(listeners)), context_{config, listeners_, module, logs, table_, signals_} {
    // The one place that knows there are two process models.
    if (config.workers > 0) {
      policy_ = std::make_unique<WorkerPool>(context_);
    } else {
      policy_ = std::make_unique<ForkPolicy>(context_);
    }
  }

  int run() {
    std::string error;
    if (!table_.open(policy_->capacity(), error)) {
      log_error(error);
      return 1;
    }
    signals_.install();
    if (!bound_log_writes(error)) log_error(error);
    make_parent_cheap_to_fork();  // the module's init() has run
    if (!policy_->start()) return 1;
    announce();
    while (signals_.stop_requests() == 0 && !policy_->gave_up()) {
      Deadline now = Clock::now();
      HandlerModule& module = context_.module;
      if (std::optional<Deadline> due = module.trial_deadline(); due && now >= *due) {
        std::string message;
        reload_ended(module.stop_overdue_trial(message), message);
      }
      WaitPlan plan = policy_->plan(now);
      // While flood counts may wait to be written, wake within a second.
      if (counts_pending_) plan.until = std::min(plan.until.value_or(Deadline::max()), now + kLogCountsFlush);
      // A module on trial: wake to stop it at its deadline.
      if (std::optional<Deadline> due = module.trial_deadline())
        plan.until = std::min(plan.until.value_or(Deadline::max()), *due);
      wait(plan.accept, plan.until);
    }
    shut_down();
    return policy_->gave_up().value_or(0);
  }

 private:
  void announce() {
    // Only now: whoever waits for this line may signal us at once.
    for (const Listener& listener : listeners_) {
      write_line(STDOUT_FILENO, "forkserve: serving HTTP on " + listener.endpoint.host + " port " +
                                    std::to_string(listener.endpoint.port) + " (backlog " +
                                    std::to_string(listener.backlog) + ", pid " + std::to_string(::getpid()) +
                                    policy_->startup_note() + ")\n");
    }
    // A daemon's standard output was the launcher's pipe, there for these
    // lines only; from now on it is /dev/null, as its standard input is.
    if (context_.config.daemon) ::dup2(STDIN_FILENO, STDOUT_FILENO);
  }

  // Sleeps until an event, then hands each to whom it concerns.
  void wait(bool accept, std::optional<Deadline> until) {
    poll_fds_.clear();
    const int own_fd = policy_->own_fd();
    if (own_fd >= 0) poll_fds_.push_back({own_fd, POLLIN, 0});
    if (accept) {
      for (const Listener& listener : listeners_) poll_fds_.push_back({listener.fd.get(), POLLIN, 0});
    }
    int ready = signals_.wait(poll_fds_, until);
    act_on_signals();
    if (ready <= 0) return;
    for (const pollfd& p : poll_fds_) {
      if (p.revents == 0) continue;
      if (p.fd == own_fd) {
        policy_->on_own_fd();
      } else if (signals_.stop_requests() == 0) {
        policy_->on_listener_ready(p.fd);
      }
    }
  }

  void act_on_signals() {
    // Exits first: before any new process can take a freed slot.
    if (signals_.take_child_exited()) {
      others_.clear();
      table_.reap(
          [this](const ProcessExit& exit) {
            policy_->on_exit(exit);  // first: it tells a clean exit by the request still pending
            table_.account_exit(exit, context_.config, context_.logs, stopping_);
          },
          [this](pid_t pid, int status) {
            others_.push_back({pid, status});
          });
      // Not the policy's: a module's trial (its end is the reload's), or an orphan.
      for (const auto& [pid, status] : others_) {
        std::string message;
        if (std::optional<HandlerModule::Reload> outcome = context_.module.trial_exited(pid, status, message))
          reload_ended(*outcome, message);
      }
    }
    if (signals_.take_reopen()) {
      // Processes reopen theirs before their next connection: the generation
      // goes up before the parent's own files are reopened.
      table_.workers_shared().log_generation.fetch_add(1);
      std::string error;
      if (!context_.logs.reopen(error)) log_error(error);
      policy_->logs_reopened();
    }
    if (signals_.take_reload() && !stopping_) {
      // Only starts the new module's trial when it changed; serving goes on
      // meanwhile, and the trial's end (reaped above) finishes the reload.
      std::string message;
      HandlerModule::Reload outcome = context_.module.reload(message);
      if (outcome != HandlerModule::Reload::Trying) reload_ended(outcome, message);
    }
    counts_pending_ = flush_log_counts();  // the count after the last line of a flood, lines lost
  }

  void reload_ended(HandlerModule::Reload outcome, const std::string& message) {
    // A new module's init() may have run here (also when it then failed): a
    // SIGCHLD it set to be ignored would let children reap themselves and the
    // table kill pids no longer its own; a SIGRTMIN it took would unbound log writes.
    signals_.restore();
    std::string error;
    if (!bound_log_writes(error)) log_error(error);
    log_error(message);
    if (outcome == HandlerModule::Reload::Failed || stopping_) return;
    stats().reloads.fetch_add(1, std::memory_order_relaxed);
    policy_->reloaded(outcome == HandlerModule::Reload::Replaced);
  }

  void shut_down() {
    stopping_ = true;
    context_.module.stop_trials();  // a module on trial will never be needed
    policy_->stop();
    listeners_.clear();  // refuse new connections at once
    const int stops = signals_.stop_requests();
    if (table_.live() > 0 && stops <= 1) {
      log_error("stopping: waiting up to " + std::to_string(context_.config.grace) + " s for " +
                std::to_string(table_.live()) + " " + policy_->waiting_for());
      wait_for_exits(Clock::now() + std::chrono::seconds(context_.config.grace));
    }
    if (table_.live() > 0 && signals_.stop_requests() <= 1 && policy_->terminate_after_grace()) {
      table_.signal_all(SIGTERM);
      wait_for_exits(Clock::now() + kTermWait);
    }
    if (table_.live() > 0) {
      table_.signal_all(SIGKILL);
      wait_for_exits(Clock::now() + kTermWait);  // SIGKILL cannot be ignored: this ends quickly
    }
  }

  // Until every process has exited, `until` or a further stop signal.
  void wait_for_exits(Deadline until) {
    const int stops = signals_.stop_requests();
    while (table_.live() > 0 && signals_.stop_requests() == stops && Clock::now() < until) wait(false, until);
  }

  std::vector<Listener> listeners_;
  ProcessTable table_;
  MasterSignals signals_;
  MasterContext context_;
  std::unique_ptr<ProcessPolicy> policy_;
  std::vector<pollfd> poll_fds_;
  std::vector<std::pair<pid_t, int>> others_;  // reaped children not in the table, and their statuses
  bool stopping_ = false;
  bool counts_pending_ = false;
};

}  // namespace

int run_master(const Config& config, std::vector<Listener> listeners, HandlerModule& module, LogFiles& logs) {
  return MasterLoop(config, std::move(listeners), module, logs).run();
}

}  // namespace forkserve

// The pre-forked process model (--workers N): N workers, each accepting on
// the shared listeners. The pool keeps N of the newest set running, replaces
// those that exit, kills one stuck past its connection's deadlines, and
// stops the server when workers keep dying before they are ready.
//
// A reload (SIGHUP) starts a new set with the new module; the set serving
// until then leaves once a worker of the new one is ready. A reload arriving
// before that replaces the set still booting, so any number of SIGHUPs at
// any spacing ends with one set of N workers running the newest module.
#pragma once

#include <vector>

#include "master/policy.hpp"
#include "net/io.hpp"

namespace forkserve {

class WorkerPool : public ProcessPolicy {
 public:
  explicit WorkerPool(MasterContext& context) : context_(context) {}

  // Room for the serving set, the one booting, and workers of retired sets
  // still finishing their connection; more to drain only delays a new set.
  int capacity() const override { return 4 * context_.config.workers; }
  bool start() override;
  std::string startup_note() const override {
    return ", " + std::to_string(context_.config.workers) + " workers";
  }
  WaitPlan plan(Deadline now) override;
  int own_fd() const override { return wake_.get(); }
  void on_own_fd() override;
  void on_listener_ready(int listener_fd) override;
  void on_exit(const ProcessExit& exit) override;
  void reloaded(bool replaced) override;
  void logs_reopened() override;
  std::optional<int> gave_up() const override { return gave_up_; }
  void stop() override;
  const char* waiting_for() const override { return "worker(s)"; }
  bool terminate_after_grace() const override { return false; }

 private:
  // One set of workers, started together (at start-up or SIGHUP). Its workers
  // watch the read end of `stop`: closing the parent's write end (or the
  // parent dying) tells them to leave after their connection.
  struct WorkerSet {
    unsigned generation;
    UniqueFd stop_read;
    UniqueFd stop_write;
  };

  unsigned newest() const { return sets_.back().generation; }
  bool switching() const { return newest() != serving_; }
  bool start_set();
  void retire_sets_before(unsigned generation);
  void start_missing_workers(Deadline now);
  int probing() const;
  bool start_worker();
  void count_boot_failure(const ProcessExit& exit);
  Deadline kill_overdue_workers(Deadline now);

  MasterContext& context_;
  std::vector<WorkerSet> sets_;  // oldest first; back() is the newest, the one workers are started for
  unsigned serving_ = 0;         // the set whose module is committed
  unsigned last_generation_ = 0;
  UniqueFd reopen_wake_;   // eventfd: written at SIGUSR1 to wake idle workers
  UniqueFd wake_;          // eventfd: written by a worker once ready, or to wake the parent asleep
  int boot_failures_ = 0;  // workers that died before they were ready, in a row
  Deadline last_boot_failure_{};
  Deadline respawn_at_{};  // no new worker before this
  bool fork_failing_ = false;
  bool stopping_ = false;
  std::optional<int> gave_up_;
};

}  // namespace forkserve

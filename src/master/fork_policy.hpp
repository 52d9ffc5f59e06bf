// The default process model: the parent accepts and forks a child per
// connection, up to --max-children at once (then new connections wait in the
// backlog). A fork that fails gets the client a 503 and pauses accepting.
#pragma once

#include "master/policy.hpp"

namespace forkserve {

class ForkPolicy : public ProcessPolicy {
 public:
  explicit ForkPolicy(MasterContext& context) : context_(context) {}

  int capacity() const override { return context_.config.max_children; }
  bool start() override { return true; }
  std::string startup_note() const override { return ""; }
  WaitPlan plan(Deadline now) override;
  void on_listener_ready(int listener_fd) override;
  void on_exit(const ProcessExit& exit) override;
  void reloaded(bool replaced) override;
  void stop() override {}
  const char* waiting_for() const override { return "request(s)"; }
  bool terminate_after_grace() const override { return true; }

 private:
  void fork_child(AcceptedClient& client, const Endpoint& local);

  MasterContext& context_;
  bool saturated_ = false;  // at the cap; reported once each way, not per child
  Deadline accept_paused_until_{};
  Deadline next_kill_check_ = Deadline::max();
};

// What the parent does when it has accepted a connection that no process can
// serve: answers 503, without blocking, after taking in what the client sent
// (so that the close does not become a reset that destroys the answer).
void refuse_unavailable(int client_fd);

}  // namespace forkserve

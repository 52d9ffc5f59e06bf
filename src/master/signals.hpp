// The parent's signals. Handlers only record what arrived; the master loop
// acts on it. Every handled signal is blocked except while the loop waits in
// ppoll(), so no handler ever runs while the loop reads what they write.
#pragma once

#include <poll.h>
#include <signal.h>

#include <optional>
#include <span>

#include "net/io.hpp"

namespace forkserve {

class MasterSignals {
 public:
  // SIGCHLD, SIGINT, SIGTERM, SIGUSR1 and SIGHUP are recorded from now on;
  // SIGPIPE is ignored.
  void install();
  // After a module's init() ran in this process (a reload): its handlers and
  // mask as install() left them, whatever the module did to them.
  void restore() const;

  // Sleeps until one of `fds` is ready, a signal arrives or `until` passes
  // (none: no timeout at all). Returns ppoll()'s count.
  int wait(std::span<pollfd> fds, std::optional<Deadline> until);

  // What arrived since the last call of each (the take_* reset it).
  int stop_requests() const;  // SIGINT and SIGTERM: counted, a second one hurries the stop
  bool take_child_exited();   // SIGCHLD
  bool take_reopen();         // SIGUSR1
  bool take_reload();         // SIGHUP

  // In a new child: default dispositions, and signals meant for the server as
  // a whole ignored (they often reach the whole process group: ^C in a
  // terminal, a hang-up, `pkill -USR1 forkserve` after logrotate); the parent
  // decides what they mean. The signal mask as the parent found it.
  void reset_in_child() const;

 private:
  sigset_t original_mask_{};  // as we found it; children get it back
  sigset_t blocked_mask_{};   // outside wait(): the handled signals blocked
  sigset_t wait_mask_{};      // inside wait(): the handled signals open
};

}  // namespace forkserve

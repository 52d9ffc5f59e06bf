// The master loop: the parent's whole life once started. It waits in one
// place (ppoll on the listeners, the policy's descriptor and the signals,
// with no timeout unless the policy has a deadline), acts on the signals
// recorded meanwhile (SIGCHLD reaps, SIGUSR1 reopens the logs, SIGHUP is the
// policy's reload, SIGINT/SIGTERM stop), and hands every other event to the
// process model's policy (policy.hpp). It never reads from a client and never
// runs handler code.
#pragma once

#include <vector>

#include "core/config.hpp"
#include "core/log.hpp"
#include "module/module_loader.hpp"
#include "net/listener.hpp"

namespace forkserve {

// Installs the signal handlers, prints the start-up line (so whoever waits
// for it may signal at once), serves until SIGINT or SIGTERM, then stops
// accepting, gives processes in flight config.grace seconds, ends the rest
// and returns the exit status (0; 1 if the policy gave up, e.g. workers kept
// failing to boot). With config.workers a pool of pre-forked workers serves,
// else a child per connection.
int run_master(const Config& config, std::vector<Listener> listeners, HandlerModule& module, LogFiles& logs);

}  // namespace forkserve

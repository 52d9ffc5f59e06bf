// The parent: accepts connections and forks one child for each. It never
// reads from a client and never runs handler code.
#pragma once

#include <forkserve/module.h>

#include "core/config.hpp"
#include "net/listener.hpp"
#include "core/log.hpp"
#include "module/module_loader.hpp"

#include <vector>

namespace forkserve {

// Installs the signal handlers, prints the start-up line (so whoever waits
// for it may signal at once), serves until SIGINT or SIGTERM, then stops
// accepting, gives in-flight children config.grace seconds, terminates the
// rest and returns the exit status (0; 1 if workers kept failing to boot).
// With config.workers, supervises that many pre-forked workers instead of
// forking per connection. SIGHUP reloads `module`.
int run_supervisor(const Config& config, std::vector<Listener> listeners, HandlerModule& module, LogFiles& logs);

}  // namespace forkserve

// The one way from an accepted socket to a served request, whoever accepted
// it: the per-connection child (one connection), a worker (many, one at a
// time) and --inetd (the one on standard input). They differ only in where
// the socket came from.
#pragma once

#include <forkserve/module.h>
#include <signal.h>
#include <sys/socket.h>

#include <optional>
#include <span>

#include "connection/child.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "net/address.hpp"
#include "net/io.hpp"

namespace forkserve {

class ConnectionServer {
 public:
  // This process serves connections from now on: runs the module's
  // post_fork. `label` is memory shared with the parent, where the request
  // being served is named should the process die (empty: nobody watches).
  // `record` (shared too, nullptr: nobody watches) is what the parent
  // writes the access line from should the process die before writing it.
  ConnectionServer(const Config& config, const forkserve_module& module, const LogFiles& logs,
                   std::span<char> label = {}, RequestRecord* record = nullptr);

  // Serves the request on `client` (non-blocking), which came from `peer` at
  // `accepted_at` through a listener at `local` (its address; port 0 when
  // unknown, then asked of the socket), and closes it. Then puts the process
  // back as it was for the next one, whatever the handler did: no alarm
  // pending, the signal mask restored, the label blank.
  // `listen_queue`: the listen queues as they were, for the status page.
  void serve(UniqueFd client, const sockaddr_storage& peer, Deadline accepted_at, const Endpoint& local = {},
             std::optional<ListenQueue> listen_queue = std::nullopt);

 private:
  const Config& config_;
  const forkserve_module& module_;
  const LogFiles& logs_;
  std::span<char> label_;
  RequestRecord* record_;
  sigset_t mask_{};
};

}  // namespace forkserve

#include "connection/connection_server.hpp"

#include "connection/child.hpp"
#include "core/stats.hpp"

namespace forkserve {

ConnectionServer::ConnectionServer(const Config& config, const forkserve_module& module, const LogFiles& logs,
                                   std::span<char> label, RequestRecord* record)
    : config_(config), module_(module), logs_(logs), label_(label), record_(record) {
  // A vanished client is an EPIPE for this connection, never this process's death.
  ::signal(SIGPIPE, SIG_IGN);
  if (module_.post_fork) module_.post_fork();
  ::sigprocmask(SIG_SETMASK, nullptr, &mask_);
}

void ConnectionServer::serve(UniqueFd client, const sockaddr_storage& peer, Deadline accepted_at,
                             const Endpoint& local, std::optional<ListenQueue> listen_queue) {
  Connection connection;
  connection.fd = client.release();  // serve_connection owns and closes it
  connection.peer = peer;
  connection.accepted_at = accepted_at;
  connection.local = local;
  connection.label = label_.data();
  connection.label_size = label_.size();
  connection.record = record_;
  connection.listen_queue = listen_queue;
  // Busy until served; should it die first, the parent takes it off (serving).
  if (record_ != nullptr) record_->serving.store(1, std::memory_order_relaxed);
  stats().busy.fetch_add(1, std::memory_order_relaxed);
  serve_connection(connection, config_, module_, logs_.access_fd());
  stats().busy.fetch_sub(1, std::memory_order_relaxed);
  if (record_ != nullptr) record_->serving.store(0, std::memory_order_relaxed);
  disarm_phase_alarm();
  // A handler that blocked SIGALRM would void the next connection's deadlines.
  ::sigprocmask(SIG_SETMASK, &mask_, nullptr);
  if (!label_.empty()) label_[0] = '\0';  // idle: should it die now, it was serving nothing
}

}  // namespace forkserve

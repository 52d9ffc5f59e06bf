#include "connection/connection_server.hpp"

#include "connection/child.hpp"

namespace forkserve {

ConnectionServer::ConnectionServer(const Config& config, const forkserve_module& module, const LogFiles& logs,
                                   std::span<char> label)
    : config_(config), module_(module), logs_(logs), label_(label) {
  // A vanished client is an EPIPE for this connection, never this process's death.
  ::signal(SIGPIPE, SIG_IGN);
  if (module_.post_fork) module_.post_fork();
  ::sigprocmask(SIG_SETMASK, nullptr, &mask_);
}

void ConnectionServer::serve(UniqueFd client, const sockaddr_storage& peer, Deadline accepted_at,
                             const Endpoint& local) {
  Connection connection;
  connection.fd = client.release();  // serve_connection owns and closes it
  connection.peer = peer;
  connection.accepted_at = accepted_at;
  connection.local = local;
  connection.label = label_.data();
  connection.label_size = label_.size();
  serve_connection(connection, config_, module_, logs_.access_fd());
  disarm_phase_alarm();
  // A handler that blocked SIGALRM would void the next connection's deadlines.
  ::sigprocmask(SIG_SETMASK, &mask_, nullptr);
  if (!label_.empty()) label_[0] = '\0';  // idle: should it die now, it was serving nothing
}

}  // namespace forkserve

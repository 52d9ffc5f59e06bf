// The --status-path page: the shared counters (core/stats) as plain text, or
// in the Prometheus text format with ?format=prometheus, to the peers
// --status-allow names (the socket's peer, never a forwarded address).
#pragma once

#include <sys/socket.h>

#include <optional>

#include "connection/response_writer.hpp"
#include "core/config.hpp"
#include "http/request_parser.hpp"
#include "net/listener.hpp"

namespace forkserve {

// True if `head` asks for the status page.
bool is_status_request(const http::RequestHead& head, const Config& config);

// Answers it: 200 with the page, 403 to a peer not allowed, 405 for a method
// other than GET or HEAD.
void serve_status_page(ResponseWriter& writer, const http::RequestHead& head, const sockaddr_storage& peer,
                       const Config& config, const std::optional<ListenQueue>& listen_queue);

}  // namespace forkserve

// Socket addresses as people read them.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace forkserve {

struct Endpoint {
  std::string host;  // "127.0.0.1", "::1"; an IPv4-mapped IPv6 address is shown as IPv4
  std::uint16_t port = 0;
};

Endpoint to_endpoint(const sockaddr_storage& address);

// "127.0.0.1:8888" or "[::1]:8888", as in error messages.
std::string to_string(const Endpoint& endpoint);

// Parses an IPv4 or IPv6 literal (no brackets, no names) with a port.
std::optional<sockaddr_storage> make_address(std::string_view host, std::uint16_t port, socklen_t& length);

// Parses "127.0.0.1:8080" or "[::1]:8080" (an IPv6 literal needs the
// brackets, as in a URL). On failure returns nullopt and sets `error`.
std::optional<Endpoint> parse_host_port(std::string_view text, std::string& error);

}  // namespace forkserve

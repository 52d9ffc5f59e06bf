// --trust-proxy: which peers are proxies we believe, and the client address
// they report in X-Forwarded-For. Pure: tested without sockets.
#pragma once

#include <sys/socket.h>

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "http/request_parser.hpp"

namespace forkserve {

// An IPv4 or IPv6 address in network byte order. IPv4-mapped IPv6 addresses
// (::ffff:a.b.c.d, what a dual-stack socket reports) are kept as IPv4, so
// that 127.0.0.1/32 matches a v4 client of a `--host ::` listener.
struct IpAddress {
  bool v6 = false;
  std::array<unsigned char, 16> bytes{};  // IPv4: the first 4
};

// An IPv4 or IPv6 literal, nothing around it (no brackets, port or zone).
std::optional<IpAddress> parse_ip(std::string_view text);
// The address of an AF_INET or AF_INET6 socket address; nullopt for others.
std::optional<IpAddress> ip_of(const sockaddr_storage& address);
// "192.0.2.1", "2001:db8::1": the canonical text (inet_ntop).
std::string to_string(const IpAddress& address);

struct Cidr {
  IpAddress network;  // no bits set after the prefix
  int prefix_length = 0;
};

// "10.0.0.0/8", "2001:db8::/32", or a bare address (/32 or /128). A block with
// bits set after its prefix ("10.1.2.3/8") is refused, as is likely a typo.
// On failure `error` (when given) says why, in words fit for a usage error.
std::optional<Cidr> parse_cidr(std::string_view text, std::string* error = nullptr);

bool contains(const Cidr& block, const IpAddress& address);
bool is_trusted(std::span<const Cidr> trusted, const IpAddress& address);

// The client's address for a request from `peer`. When `peer` is in
// `trusted`, the X-Forwarded-For header (all of its fields, in order) is
// walked from the right, skipping the addresses of trusted proxies: the first
// untrusted one is the client (if every one is trusted, the left-most). The
// entries left of it were written by the client itself and are not believed.
// Without the header, with nothing but empty entries in it, or on reaching
// an entry that is not a bare IP address, the answer is the peer. nullopt
// means "the peer" (its address as the caller already has it).
std::optional<std::string> forwarded_client(const http::RequestHead& head, const IpAddress& peer,
                                            std::span<const Cidr> trusted);

}  // namespace forkserve

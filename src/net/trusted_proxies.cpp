#include "net/trusted_proxies.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <vector>

namespace forkserve {
namespace {

constexpr unsigned char kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_v4_mapped(const IpAddress& address) {
  return address.v6 && std::memcmp(address.bytes.data(), kV4MappedPrefix, sizeof kV4MappedPrefix) == 0;
}

IpAddress unmapped(IpAddress address) {
  if (!is_v4_mapped(address)) return address;
  IpAddress v4;
  std::memcpy(v4.bytes.data(), address.bytes.data() + 12, 4);
  return v4;
}

// The literal as written: a v4-mapped IPv6 address stays IPv6 here.
std::optional<IpAddress> parse_literal(std::string_view text) {
  char buffer[INET6_ADDRSTRLEN];  // the longest literal inet_pton takes, plus its NUL
  if (text.empty() || text.size() >= sizeof buffer) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress address;
  if (::inet_pton(AF_INET, buffer, address.bytes.data()) == 1) return address;
  address.v6 = true;
  if (::inet_pton(AF_INET6, buffer, address.bytes.data()) == 1) return address;
  return std::nullopt;
}

// True if every bit of `address` from `prefix_length` on is zero.
bool host_bits_clear(const IpAddress& address, int prefix_length) {
  int bits = address.v6 ? 128 : 32;
  for (int bit = prefix_length; bit < bits; ++bit) {
    if (address.bytes[bit / 8] & (0x80 >> (bit % 8))) return false;
  }
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view text) {
  std::optional<IpAddress> address = parse_literal(text);
  if (address) *address = unmapped(*address);
  return address;
}

std::optional<IpAddress> ip_of(const sockaddr_storage& address) {
  IpAddress ip;
  if (address.ss_family == AF_INET) {
    std::memcpy(ip.bytes.data(), &reinterpret_cast<const sockaddr_in&>(address).sin_addr, 4);
    return ip;
  }
  if (address.ss_family == AF_INET6) {
    ip.v6 = true;
    std::memcpy(ip.bytes.data(), &reinterpret_cast<const sockaddr_in6&>(address).sin6_addr, 16);
    return unmapped(ip);
  }
  return std::nullopt;
}

std::string to_string(const IpAddress& address) {
  char text[INET6_ADDRSTRLEN] = "";
  ::inet_ntop(address.v6 ? AF_INET6 : AF_INET, address.bytes.data(), text, sizeof text);
  return text;
}

std::optional<Cidr> parse_cidr(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<Cidr> {
    if (error) *error = "'" + std::string(text) + "' " + why;
    return std::nullopt;
  };
  std::size_t slash = text.find('/');
  std::optional<IpAddress> network = parse_literal(text.substr(0, slash));
  if (!network) return fail("is not an IPv4 or IPv6 address or ADDRESS/PREFIX block");
  int max_length = network->v6 ? 128 : 32;
  int prefix_length = max_length;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix_length);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || prefix_length < 0 ||
        prefix_length > max_length) {
      return fail("has no prefix length from 0 to " + std::to_string(max_length) + " after the '/'");
    }
  }
  if (!host_bits_clear(*network, prefix_length)) {
    return fail("has address bits set after its /" + std::to_string(prefix_length) + " prefix");
  }
  // ::ffff:a.b.c.d/96+ is the IPv4 block it maps, since peers are compared unmapped.
  if (is_v4_mapped(*network) && prefix_length >= 96) return Cidr{unmapped(*network), prefix_length - 96};
  return Cidr{*network, prefix_length};
}

bool contains(const Cidr& block, const IpAddress& address) {
  if (block.network.v6 != address.v6) return false;
  int whole_bytes = block.prefix_length / 8;
  if (std::memcmp(block.network.bytes.data(), address.bytes.data(), whole_bytes) != 0) return false;
  int rest = block.prefix_length % 8;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (block.network.bytes[whole_bytes] & mask) == (address.bytes[whole_bytes] & mask);
}

bool is_trusted(std::span<const Cidr> trusted, const IpAddress& address) {
  for (const Cidr& block : trusted) {
    if (contains(block, address)) return true;
  }
  return false;
}

std::optional<std::string> forwarded_client(const http::RequestHead& head, const IpAddress& peer,
                                            std::span<const Cidr> trusted) {
  if (!is_trusted(trusted, peer)) return std::nullopt;
  // Repeated fields form one list, in order (RFC 9110 §5.3): walk the last field first.
  std::optional<IpAddress> client;
  for (auto field = head.headers.rbegin(); field != head.headers.rend(); ++field) {
    if (!http::iequals(field->name, "X-Forwarded-For")) continue;
    std::string_view list = field->value;
    while (!list.empty()) {
      std::size_t comma = list.rfind(',');
      std::string_view entry = trimmed(comma == std::string_view::npos ? list : list.substr(comma + 1));
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(0, comma);
      if (entry.empty()) continue;  // "a,,b": list syntax allows empty elements
      client = parse_ip(entry);
      if (!client) return std::nullopt;  // "unknown", a port, a name: nothing further left is believable
      if (!is_trusted(trusted, *client)) return to_string(*client);
    }
  }
  // Every entry named a trusted proxy: the left-most is the furthest hop known.
  if (client) return to_string(*client);
  return std::nullopt;
}

}  // namespace forkserve

#include "net/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace forkserve {
namespace {

// Dotted quad. Every child formats its peer's address; glibc's inet_ntop
// does IPv4 through sprintf, whose code is several more pages for a fresh
// child to fault in.
std::string ipv4_text(const void* address) {
  const auto* bytes = static_cast<const unsigned char*>(address);
  std::string text;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) text += '.';
    unsigned value = bytes[i];
    if (value >= 100) text += static_cast<char>('0' + value / 100);
    if (value >= 10) text += static_cast<char>('0' + value / 10 % 10);
    text += static_cast<char>('0' + value % 10);
  }
  return text;
}

}  // namespace

Endpoint to_endpoint(const sockaddr_storage& address) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    return {ipv4_text(&v4.sin_addr), ntohs(v4.sin_port)};
  }
  if (address.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
      return {ipv4_text(&v6.sin6_addr.s6_addr[12]), ntohs(v6.sin6_port)};
    } else {
      ::inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof text);
    }
    return {text, ntohs(v6.sin6_port)};
  }
  return {"unknown", 0};
}

std::string to_string(const Endpoint& endpoint) {
  bool v6 = endpoint.host.find(':') != std::string::npos;
  std::string out = v6 ? "[" + endpoint.host + "]" : endpoint.host;
  return out + ":" + std::to_string(endpoint.port);
}

std::optional<sockaddr_storage> make_address(std::string_view host, std::uint16_t port, socklen_t& length) {
  std::string text(host);
  sockaddr_storage address{};
  auto& v4 = reinterpret_cast<sockaddr_in&>(address);
  auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
  if (::inet_pton(AF_INET, text.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    length = sizeof v4;
    return address;
  }
  if (::inet_pton(AF_INET6, text.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    length = sizeof v6;
    return address;
  }
  return std::nullopt;
}

std::optional<Endpoint> parse_host_port(std::string_view text, std::string& error) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    std::size_t close = text.find("]:");
    if (close == std::string_view::npos) {
      error = "expected [IPv6]:PORT";
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos) {
      error = "brackets are for IPv6 addresses";
      return std::nullopt;
    }
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = "expected ADDR:PORT";
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      error = "an IPv6 address goes in brackets: [::1]:8080";
      return std::nullopt;
    }
  }
  socklen_t length = 0;
  if (!make_address(host, 0, length)) {
    error = "'" + std::string(host) + "' is not an IPv4 or IPv6 address";
    return std::nullopt;
  }
  unsigned number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || number > 65535) {
    error = "'" + std::string(port) + "' is not a port number (0-65535)";
    return std::nullopt;
  }
  return Endpoint{std::string(host), static_cast<std::uint16_t>(number)};
}

}  // namespace forkserve

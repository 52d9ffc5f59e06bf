#include "net/address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>
#include <vector>

#include "net/listener.hpp"

namespace forkserve {
namespace {

Endpoint endpoint_of(const char* host, std::uint16_t port) {
  socklen_t length = 0;
  auto address = make_address(host, port, length);
  EXPECT_TRUE(address.has_value()) << host;
  return address ? to_endpoint(*address) : Endpoint{};
}

TEST(Address, Ipv4IsWrittenAsADottedQuadWithoutLeadingZeros) {
  EXPECT_EQ(endpoint_of("0.0.0.0", 80).host, "0.0.0.0");
  EXPECT_EQ(endpoint_of("10.0.20.3", 80).host, "10.0.20.3");
  EXPECT_EQ(endpoint_of("255.255.255.255", 80).host, "255.255.255.255");
  EXPECT_EQ(endpoint_of("127.100.9.199", 80).host, "127.100.9.199");
}

TEST(Address, PortComesBackInHostOrder) { EXPECT_EQ(endpoint_of("127.0.0.1", 8888).port, 8888); }

TEST(Address, V4MappedIpv6IsShownAsPlainIpv4) {
  sockaddr_storage storage{};
  auto& v6 = reinterpret_cast<sockaddr_in6&>(storage);
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(4242);
  ASSERT_EQ(::inet_pton(AF_INET6, "::ffff:192.0.2.33", &v6.sin6_addr), 1);
  Endpoint endpoint = to_endpoint(storage);
  EXPECT_EQ(endpoint.host, "192.0.2.33");
  EXPECT_EQ(endpoint.port, 4242);
}

TEST(Address, Ipv6IsWrittenInCompressedForm) { EXPECT_EQ(endpoint_of("2001:db8:0:0:0:0:0:1", 80).host, "2001:db8::1"); }

TEST(Address, Ipv6EndpointIsBracketedInText) { EXPECT_EQ(to_string(endpoint_of("::1", 80)), "[::1]:80"); }

TEST(Address, ParsesIpv4HostPort) {
  std::string error;
  auto endpoint = parse_host_port("127.0.0.1:8080", error);
  ASSERT_TRUE(endpoint) << error;
  EXPECT_EQ(endpoint->host, "127.0.0.1");
  EXPECT_EQ(endpoint->port, 8080);
}

TEST(Address, ParsesBracketedIpv6HostPort) {
  std::string error;
  auto endpoint = parse_host_port("[::1]:0", error);
  ASSERT_TRUE(endpoint) << error;
  EXPECT_EQ(endpoint->host, "::1");
  EXPECT_EQ(endpoint->port, 0);
  endpoint = parse_host_port("[::]:443", error);
  ASSERT_TRUE(endpoint) << error;
  EXPECT_EQ(endpoint->host, "::");
  EXPECT_EQ(endpoint->port, 443);
}

TEST(Address, RefusesIpv6WithoutBrackets) {
  std::string error;
  EXPECT_FALSE(parse_host_port("::1:8080", error));
  EXPECT_NE(error.find("brackets"), std::string::npos) << error;
}

TEST(Address, RefusesMalformedHostPort) {
  for (const char* text : {"127.0.0.1", "127.0.0.1:", ":8080", "localhost:80", "127.0.0.1:65536",
                           "127.0.0.1:8x", "[::1]", "[::1]8080", "[127.0.0.1]:80", "[::1]:-1", ""}) {
    std::string error;
    EXPECT_FALSE(parse_host_port(text, error)) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

TEST(DualStack, AnyIpv6AddressLeavesIpv4ToAnIpv4SocketOnTheSamePort) {
  std::vector<Endpoint> all{{"::", 8080}, {"127.0.0.1", 8080}};
  EXPECT_TRUE(ipv4_served_elsewhere(all[0], all));
  EXPECT_FALSE(ipv4_served_elsewhere(all[1], all));
}

TEST(DualStack, AnyIpv6AddressStaysDualStackOtherwise) {
  std::vector<Endpoint> other_port{{"::", 8080}, {"127.0.0.1", 8081}};
  EXPECT_FALSE(ipv4_served_elsewhere(other_port[0], other_port));
  std::vector<Endpoint> ipv6_only{{"::", 8080}, {"::1", 8080}};
  EXPECT_FALSE(ipv4_served_elsewhere(ipv6_only[0], ipv6_only));
  std::vector<Endpoint> free_ports{{"::", 0}, {"0.0.0.0", 0}};  // port 0: each socket gets its own
  EXPECT_FALSE(ipv4_served_elsewhere(free_ports[0], free_ports));
}

TEST(SystemdFds, CountsWhenListenPidNamesThisProcess) { EXPECT_EQ(systemd_fd_count("4242", "2", 4242), 2); }

TEST(SystemdFds, IgnoresVariablesMeantForAnotherProcess) {
  EXPECT_FALSE(systemd_fd_count("4243", "1", 4242));
}

TEST(SystemdFds, IgnoresMissingOrMalformedVariables) {
  EXPECT_FALSE(systemd_fd_count(nullptr, "1", 4242));
  EXPECT_FALSE(systemd_fd_count("4242", nullptr, 4242));
  EXPECT_FALSE(systemd_fd_count("4242", "0", 4242));
  EXPECT_FALSE(systemd_fd_count("4242", "-1", 4242));
  EXPECT_FALSE(systemd_fd_count("4242", "1x", 4242));
  EXPECT_FALSE(systemd_fd_count("", "1", 4242));
  EXPECT_FALSE(systemd_fd_count("4242x", "1", 4242));
}

}  // namespace
}  // namespace forkserve

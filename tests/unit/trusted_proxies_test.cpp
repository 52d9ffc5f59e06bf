#include "net/trusted_proxies.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <optional>
#include <string>
#include <vector>

namespace forkserve {
namespace {

Cidr cidr(std::string_view text) {
  std::string error;
  std::optional<Cidr> block = parse_cidr(text, &error);
  EXPECT_TRUE(block.has_value()) << text << ": " << error;
  return block.value_or(Cidr{});
}

IpAddress ip(std::string_view text) {
  std::optional<IpAddress> address = parse_ip(text);
  EXPECT_TRUE(address.has_value()) << text;
  return address.value_or(IpAddress{});
}

bool block_contains(std::string_view block, std::string_view address) {
  return contains(cidr(block), ip(address));
}

TEST(TrustedProxies, Ipv4BlockContainsExactlyItsAddresses) {
  EXPECT_TRUE(block_contains("10.0.0.0/8", "10.0.0.0"));
  EXPECT_TRUE(block_contains("10.0.0.0/8", "10.255.255.255"));
  EXPECT_FALSE(block_contains("10.0.0.0/8", "11.0.0.0"));
  EXPECT_FALSE(block_contains("10.0.0.0/8", "9.255.255.255"));
}

TEST(TrustedProxies, PrefixNotOnAByteBoundaryMasksPartOfAByte) {
  EXPECT_TRUE(block_contains("192.168.4.0/22", "192.168.4.0"));
  EXPECT_TRUE(block_contains("192.168.4.0/22", "192.168.7.255"));
  EXPECT_FALSE(block_contains("192.168.4.0/22", "192.168.8.0"));
  EXPECT_FALSE(block_contains("192.168.4.0/22", "192.168.3.255"));
  EXPECT_TRUE(block_contains("2001:db8:8000::/33", "2001:db8:ffff::1"));
  EXPECT_FALSE(block_contains("2001:db8:8000::/33", "2001:db8:7fff::1"));
}

TEST(TrustedProxies, BareAddressIsAHostBlock) {
  EXPECT_EQ(cidr("127.0.0.1").prefix_length, 32);
  EXPECT_TRUE(block_contains("127.0.0.1", "127.0.0.1"));
  EXPECT_FALSE(block_contains("127.0.0.1", "127.0.0.2"));
  EXPECT_EQ(cidr("::1").prefix_length, 128);
  EXPECT_TRUE(block_contains("::1", "::1"));
  EXPECT_FALSE(block_contains("::1", "::2"));
}

TEST(TrustedProxies, Ipv6BlockContainsExactlyItsAddresses) {
  EXPECT_TRUE(block_contains("2001:db8::/32", "2001:db8::1"));
  EXPECT_TRUE(block_contains("2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_FALSE(block_contains("2001:db8::/32", "2001:db9::"));
}

TEST(TrustedProxies, FamiliesNeverMatchEachOther) {
  EXPECT_TRUE(block_contains("0.0.0.0/0", "203.0.113.7"));
  EXPECT_FALSE(block_contains("0.0.0.0/0", "2001:db8::1"));
  EXPECT_TRUE(block_contains("::/0", "2001:db8::1"));
  EXPECT_FALSE(block_contains("::/0", "203.0.113.7"));
}

TEST(TrustedProxies, V4MappedAddressesCountAsIpv4) {
  EXPECT_FALSE(ip("::ffff:127.0.0.1").v6);
  EXPECT_TRUE(block_contains("127.0.0.1", "::ffff:127.0.0.1"));
  EXPECT_TRUE(block_contains("::ffff:10.0.0.0/104", "10.1.2.3"));
  EXPECT_FALSE(block_contains("::ffff:10.0.0.0/104", "11.1.2.3"));
}

TEST(TrustedProxies, PeerOfADualStackSocketMatchesItsIpv4Block) {
  sockaddr_storage storage{};
  auto& v6 = reinterpret_cast<sockaddr_in6&>(storage);
  v6.sin6_family = AF_INET6;
  ASSERT_EQ(::inet_pton(AF_INET6, "::ffff:127.0.0.1", &v6.sin6_addr), 1);
  std::optional<IpAddress> peer = ip_of(storage);
  ASSERT_TRUE(peer.has_value());
  EXPECT_TRUE(contains(cidr("127.0.0.0/8"), *peer));
  EXPECT_EQ(to_string(*peer), "127.0.0.1");

  sockaddr_storage v4_storage{};
  auto& v4 = reinterpret_cast<sockaddr_in&>(v4_storage);
  v4.sin_family = AF_INET;
  ASSERT_EQ(::inet_pton(AF_INET, "10.9.8.7", &v4.sin_addr), 1);
  ASSERT_TRUE(ip_of(v4_storage).has_value());
  EXPECT_EQ(to_string(*ip_of(v4_storage)), "10.9.8.7");

  sockaddr_storage unix_storage{};
  unix_storage.ss_family = AF_UNIX;
  EXPECT_FALSE(ip_of(unix_storage).has_value()) << "a socketpair peer is never a trusted proxy";
}

TEST(TrustedProxies, RejectsWhatIsNotABlockSayingWhy) {
  for (std::string_view bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/+8",
                               "10.0.0.0/8x", "10.0.0.0/8/8", "10.0.0.0 /8", " 10.0.0.1", "localhost",
                               "[::1]", "10.0.0", "010.0.0.1", "fe80::1%eth0", "10.0.0.0/ 8"}) {
    std::string error;
    EXPECT_FALSE(parse_cidr(bad, &error).has_value()) << "'" << bad << "' was accepted";
    EXPECT_NE(error.find("'" + std::string(bad) + "'"), std::string::npos) << error;
  }
}

TEST(TrustedProxies, RejectsBlockWithBitsSetAfterThePrefix) {
  std::string error;
  EXPECT_FALSE(parse_cidr("10.1.2.3/8", &error).has_value());
  EXPECT_NE(error.find("after its /8 prefix"), std::string::npos) << error;
  EXPECT_FALSE(parse_cidr("2001:db8::1/64").has_value());
  EXPECT_TRUE(parse_cidr("10.1.2.3/32").has_value());
}

// A request from `peer` with the given header lines, through the real parser.
struct Forwarded {
  std::string request;
  http::ParseResult parsed;
};

std::optional<std::string> client_of(std::string_view headers, std::string_view peer,
                                     const std::vector<Cidr>& trusted) {
  Forwarded f;
  f.request = "GET / HTTP/1.0\r\n" + std::string(headers) + "\r\n";
  f.parsed = http::parse_request_head(f.request);
  EXPECT_EQ(f.parsed.status, http::ParseStatus::Complete) << f.parsed.reason;
  return forwarded_client(f.parsed.head, ip(peer), trusted);
}

const std::vector<Cidr>& loopback() {
  static const std::vector<Cidr> blocks{cidr("127.0.0.1")};
  return blocks;
}

TEST(ForwardedClient, TrustedPeerForwardingForAClientGivesTheClient) {
  EXPECT_EQ(client_of("X-Forwarded-For: 203.0.113.7\r\n", "127.0.0.1", loopback()), "203.0.113.7");
}

TEST(ForwardedClient, UntrustedPeerIsTheClientWhateverItForwards) {
  EXPECT_EQ(client_of("X-Forwarded-For: 203.0.113.7\r\n", "127.0.0.1", {cidr("10.0.0.0/8")}), std::nullopt);
  EXPECT_EQ(client_of("X-Forwarded-For: 203.0.113.7\r\n", "192.0.2.1", loopback()), std::nullopt);
  EXPECT_EQ(client_of("X-Forwarded-For: 203.0.113.7\r\n", "127.0.0.1", {}), std::nullopt);
}

TEST(ForwardedClient, WithoutTheHeaderThePeerIsTheClient) {
  EXPECT_EQ(client_of("", "127.0.0.1", loopback()), std::nullopt);
  EXPECT_EQ(client_of("X-Forwarded-For:\r\n", "127.0.0.1", loopback()), std::nullopt);
  EXPECT_EQ(client_of("X-Forwarded-For: , ,\r\n", "127.0.0.1", loopback()), std::nullopt);
}

TEST(ForwardedClient, RightMostUntrustedEntryWinsOverWhatTheClientPrepended) {
  std::vector<Cidr> trusted{cidr("10.0.0.0/8"), cidr("127.0.0.1")};
  // The client sent "6.6.6.6"; the edge proxy 10.0.0.2 appended the client's
  // real address, and the inner proxy 10.0.0.3 appended the edge's.
  EXPECT_EQ(client_of("X-Forwarded-For: 6.6.6.6, 203.0.113.7, 10.0.0.2\r\n", "10.0.0.3", trusted),
            "203.0.113.7");
  EXPECT_EQ(client_of("X-Forwarded-For: 6.6.6.6,203.0.113.7\r\n", "127.0.0.1", trusted), "203.0.113.7");
}

TEST(ForwardedClient, WhenEveryEntryIsTrustedTheLeftMostIsTheClient) {
  std::vector<Cidr> trusted{cidr("10.0.0.0/8")};
  EXPECT_EQ(client_of("X-Forwarded-For: 10.0.0.9, 10.0.0.2\r\n", "10.0.0.3", trusted), "10.0.0.9");
}

TEST(ForwardedClient, MalformedEntryBeforeAnUntrustedOneMeansThePeer) {
  for (std::string_view value :
       {"nonsense", "unknown, 127.0.0.1", "203.0.113.7:5555", "[2001:db8::1]", "203.0.113.7 6.6.6.6",
        "203.0.113.7;x", "2001:db8::1%eth0", "1111:2222:3333:4444:5555:6666:7777:8888:9999:0000"}) {
    EXPECT_EQ(client_of("X-Forwarded-For: " + std::string(value) + "\r\n", "127.0.0.1", loopback()),
              std::nullopt)
        << value;
  }
}

TEST(ForwardedClient, GarbageLeftOfTheClientIsNeverRead) {
  EXPECT_EQ(client_of("X-Forwarded-For: nonsense, 203.0.113.7\r\n", "127.0.0.1", loopback()), "203.0.113.7");
}

TEST(ForwardedClient, RepeatedFieldsAreOneListInOrder) {
  std::vector<Cidr> trusted{cidr("10.0.0.0/8")};
  EXPECT_EQ(client_of("X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.7\r\n", "10.0.0.3", trusted),
            "203.0.113.7");
  EXPECT_EQ(client_of("X-Forwarded-For: 6.6.6.6, 203.0.113.7\r\nx-forwarded-for: 10.0.0.2\r\n", "10.0.0.3",
                      trusted),
            "203.0.113.7");
}

TEST(ForwardedClient, UnderscoreSpellingIsNotTheHeader) {
  EXPECT_EQ(client_of("X_Forwarded_For: 203.0.113.7\r\n", "127.0.0.1", loopback()), std::nullopt);
}

TEST(ForwardedClient, AddressesComeOutCanonical) {
  EXPECT_EQ(client_of("X-Forwarded-For: 2001:DB8:0:0::0:1\r\n", "127.0.0.1", loopback()), "2001:db8::1");
  EXPECT_EQ(client_of("X-Forwarded-For: ::ffff:203.0.113.7\r\n", "127.0.0.1", loopback()), "203.0.113.7");
  EXPECT_EQ(client_of("X-Forwarded-For: 203.0.113.7\r\n", "::1", {cidr("::1")}), "203.0.113.7");
}

}  // namespace
}  // namespace forkserve

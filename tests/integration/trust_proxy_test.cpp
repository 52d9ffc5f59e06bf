// --trust-proxy: from a trusted peer, REMOTE_ADDR and the access log name the
// client in X-Forwarded-For; from any other peer the header changes nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "integration/environ_dump.hpp"
#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kLogSettles{5'000};

struct Seen {
  std::string remote_addr;
  std::string forwarded_for;  // HTTP_X_FORWARDED_FOR
  std::string logged_client;  // first field of the access log line
};

// Sends one GET with `forwarded_for` from 127.0.0.1 to a fresh environ_dump
// server started with `args`; reports what the handler and the log saw.
Seen request_through(std::vector<std::string> args, const std::string& forwarded_for) {
  args.insert(args.begin(), {"--handler", module_path("environ_dump.so")});
  ServerProcess server(args);
  EXPECT_TRUE(server.ready()) << server.error();
  if (!server.ready()) return {};
  HttpReply reply =
      exchange(server.port(), "GET /who HTTP/1.0\r\nX-Forwarded-For: " + forwarded_for + "\r\n\r\n");
  EXPECT_EQ(reply.status, 200) << reply.summary();

  std::string log;
  EXPECT_TRUE(eventually(
      [&] {
        log = read_file(server.access_log_path());
        return !log.empty() && log.back() == '\n';
      },
      kLogSettles));
  return {environ_variable(reply.body, "REMOTE_ADDR"), environ_variable(reply.body, "HTTP_X_FORWARDED_FOR"),
          log.substr(0, log.find(' '))};
}

TEST(TrustProxyTest, TrustedPeerMakesTheForwardedClientTheRemoteAddr) {
  Seen seen = request_through({"--trust-proxy", "127.0.0.1"}, "203.0.113.7");
  EXPECT_EQ(seen.remote_addr, "203.0.113.7");
  EXPECT_EQ(seen.logged_client, "203.0.113.7") << "the access log must name the client";
  EXPECT_EQ(seen.forwarded_for, "203.0.113.7") << "the header itself still reaches the handler";
}

TEST(TrustProxyTest, ProxiesListedAfterOthersAreTrustedToo) {
  Seen seen = request_through({"--trust-proxy", "10.0.0.0/8,::1", "--trust-proxy", "127.0.0.0/8"},
                              "198.51.100.1, 203.0.113.7, 127.0.0.9");
  EXPECT_EQ(seen.remote_addr, "203.0.113.7") << "right-most address that is not a trusted proxy";
  EXPECT_EQ(seen.logged_client, "203.0.113.7");
}

TEST(TrustProxyTest, UntrustedPeerKeepsItsOwnAddress) {
  Seen seen = request_through({"--trust-proxy", "10.0.0.0/8"}, "203.0.113.7");
  EXPECT_EQ(seen.remote_addr, "127.0.0.1");
  EXPECT_EQ(seen.logged_client, "127.0.0.1");
  EXPECT_EQ(seen.forwarded_for, "203.0.113.7");
}

TEST(TrustProxyTest, WithoutTheOptionForwardedForIsIgnored) {
  Seen seen = request_through({}, "203.0.113.7");
  EXPECT_EQ(seen.remote_addr, "127.0.0.1");
  EXPECT_EQ(seen.logged_client, "127.0.0.1");
}

TEST(TrustProxyTest, GarbageForwardedForFallsBackToThePeer) {
  for (std::string garbage : {"not-an-address", "203.0.113.7:4711", "unknown, 127.0.0.1"}) {
    SCOPED_TRACE(garbage);
    Seen seen = request_through({"--trust-proxy", "127.0.0.1"}, garbage);
    EXPECT_EQ(seen.remote_addr, "127.0.0.1");
    EXPECT_EQ(seen.logged_client, "127.0.0.1");
    EXPECT_EQ(seen.forwarded_for, garbage);
  }
}

TEST(TrustProxyTest, BadBlockIsAOneLineUsageError) {
  ProcessResult run =
      run_process({server_binary(), "--host", "127.0.0.1", "--port", "0", "--trust-proxy", "10.0.0.0/40"});
  EXPECT_TRUE(run.status.exited) << describe(run.status);
  EXPECT_EQ(run.status.code, 2) << run.err;
  EXPECT_EQ(run.out, "");
  EXPECT_TRUE(run.err.starts_with("forkserve: --trust-proxy: '10.0.0.0/40' ")) << run.err;
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "exactly one line: " << run.err;
}

}  // namespace
}  // namespace forkserve::integration

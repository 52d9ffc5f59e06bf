// Connections that have sent nothing (a browser's speculative pre-connects)
// hold no process: they are accepted only once request bytes arrive, so
// neither a worker nor a fork is spent waiting on them, and clients that do
// send are served at once. Runs against both modes (--workers 4 in Workers.*).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

using std::chrono::duration_cast;

constexpr int kSilent = 8;  // more than the Workers.* run's 4 workers
constexpr std::size_t kClients = 200;
constexpr milliseconds kPromptly{10'000};  // far below the 60 s a held worker would wait

TEST(SilentConnectionsTest, ConnectionsThatSendNothingHoldNoProcessAndOthersAreServedPromptly) {
  // A header deadline far beyond the test's bound: a process that took a
  // silent connection would be stuck with it for the whole test.
  ServerProcess server({"--handler", module_path("hello.so"), "--header-timeout", "60", "--backlog", "512"});
  ASSERT_TRUE(server.ready()) << server.error();
  std::vector<Client> silent;
  for (int i = 0; i < kSilent; ++i) {
    silent.emplace_back(server.port());
    ASSERT_TRUE(silent.back().connected());
  }

  Clock::time_point start = Clock::now();
  std::vector<HttpReply> replies =
      exchange_concurrently(server.port(), "GET / HTTP/1.0\r\n\r\n", kClients, kPromptly);
  auto took = duration_cast<milliseconds>(Clock::now() - start);
  std::size_t served = 0;
  for (const HttpReply& reply : replies) served += reply.body == "Hello, World!" ? 1 : 0;
  EXPECT_EQ(served, kClients) << "in " << took.count() << " ms";
  EXPECT_TRUE(eventually([&] { return serving_processes(server.pid()).empty(); }, milliseconds(5'000)))
      << serving_processes(server.pid()).size() << " processes are waiting on connections that sent nothing";
  for (const Client& client : silent)
    EXPECT_FALSE(client.readable_now()) << "a silent connection was answered";
}

}  // namespace
}  // namespace forkserve::integration

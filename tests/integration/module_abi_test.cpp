// The module ABI as the running server honours it: a module built for ABI 1.0
// still loads and is handed the 1.0 request, a handler's post_fork() member
// runs in the process that serves, and run_once says which process model
// serves. Runs against both modes.
#include <gtest/gtest.h>

#include <string>

#include "integration/http_client.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

// The value after "name=" in a space-separated answer, "" if absent.
std::string field(const std::string& body, const std::string& name) {
  std::size_t at = body.find(name + "=");
  if (at == std::string::npos) return "";
  at += name.size() + 1;
  return body.substr(at, body.find(' ', at) - at);
}

TEST(ModuleAbiTest, ModuleBuiltForAbi10ReadsTheRequestAndAnswers) {
  ServerProcess server({"--handler", fixture_path("abi_1_0.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  HttpReply reply = exchange(server.port(), "POST /old/module HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(reply.status, 200) << reply.summary() << "\n" << server.stderr_text();
  EXPECT_EQ(reply.body, "abi 1.0: PATH_INFO=/old/module body=hello");
}

TEST(ModuleAbiTest, PostForkMemberRunsInTheProcessThatServes) {
  ServerProcess server({"--handler", fixture_path("lifecycle.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  for (int i = 0; i < 3; ++i) {
    HttpReply reply = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n");
    ASSERT_EQ(reply.status, 200) << reply.summary();
    EXPECT_NE(field(reply.body, "pid"), "") << reply.body;
    EXPECT_EQ(field(reply.body, "post_fork_pid"), field(reply.body, "pid")) << reply.body;
  }
}

TEST(ModuleAbiTest, RunOnceIsTrueForAChildPerConnectionAndFalseForWorkers) {
  ServerProcess server({"--handler", fixture_path("lifecycle.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  HttpReply reply = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(field(reply.body, "run_once"), workers_under_test() ? "0" : "1") << reply.body;
}

}  // namespace
}  // namespace forkserve::integration

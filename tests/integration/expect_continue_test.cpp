// Expect: 100-continue: an upload starts at once (no 1 s wait for a 100
// that never comes), and a request refused before its body is read gets its
// final status without the client uploading first.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdio>

#include <string>

#include "integration/environ_dump.hpp"
#include "integration/http_client.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

TEST(ExpectContinueTest, CurlUploadOf500KbDoesNotStall) {
  if (!curl_path()) GTEST_SKIP() << "curl is not installed";
  ServerProcess server({"--handler", module_path("environ_dump.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  std::string upload = server.scratch_dir().write_file("upload.bin", std::string(500 * 1024, 'u'));
  // curl waits 1 s for the 100 before sending anyway: the stall this rules out.
  ProcessResult run = run_curl({"-T", upload, "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                                "http://127.0.0.1:" + std::to_string(server.port()) + "/upload"});
  ASSERT_TRUE(run.status.exited && run.status.code == 0) << describe(run.status) << run.err;
  int status = 0;
  double seconds = 0;
  ASSERT_EQ(std::sscanf(run.out.c_str(), "%d %lf", &status, &seconds), 2) << run.out;
  EXPECT_EQ(status, 200);
  EXPECT_LT(seconds, 0.9) << "the upload waited for curl's 1 s Expect timeout";
  std::printf("curl -T 500 KB: %.4f s\n", seconds);
}

TEST(ExpectContinueTest, InterimContinueComesBeforeTheBodyIsSent) {
  ServerProcess server({"--handler", module_path("environ_dump.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  Client client(server.port());
  ASSERT_TRUE(client.send("PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  char interim[64] = {};
  std::string received;
  ASSERT_TRUE(eventually([&] { return client.readable_now(); }, milliseconds(5'000))) << "no 100 Continue";
  ssize_t n = ::recv(client.fd(), interim, sizeof interim, 0);
  ASSERT_GT(n, 0);
  received.assign(interim, static_cast<std::size_t>(n));
  EXPECT_EQ(received, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(client.send("body"));
  HttpReply reply = client.read_reply();
  EXPECT_EQ(reply.status, 200) << reply.summary();
  EXPECT_TRUE(reply.body.ends_with("body")) << reply.body;
}

TEST(ExpectContinueTest, RequestRefusedBeforeItsBodyGetsTheFinalStatusWithoutUploading) {
  ServerProcess server({"--max-body-bytes", "1000"});
  ASSERT_TRUE(server.ready()) << server.error();
  Client client(server.port());
  ASSERT_TRUE(
      client.send("PUT /big HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 500000\r\n\r\n"));
  HttpReply reply = client.read_reply(milliseconds(5'000));  // the body never comes
  EXPECT_EQ(reply.status, 413) << reply.summary();
  EXPECT_EQ(reply.raw.find("100 Continue"), std::string::npos) << reply.summary();
}

}  // namespace
}  // namespace forkserve::integration

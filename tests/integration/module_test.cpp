// Handler modules loaded with --handler: the example modules answer through
// the real server, and files that are not modules stop it at start-up.
#include <gtest/gtest.h>
#include <link.h>

#include <cstring>
#include <string>

#include "integration/environ_dump.hpp"
#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

bool has_line(const std::vector<std::string>& lines, std::string_view line) {
  for (const std::string& l : lines) {
    if (l == line) return true;
  }
  return false;
}

// What environ_dump's body holds after its variables and the blank line.
std::string echoed_body(const std::string& body) {
  std::size_t blank = body.find("\n\n");
  return blank == std::string::npos ? std::string("<no blank line>") : body.substr(blank + 2);
}

int find_libm(dl_phdr_info* info, std::size_t, void* out) {
  std::string_view name = info->dlpi_name ? info->dlpi_name : "";
  if (name.find("/libm.so") != std::string_view::npos) {
    *static_cast<std::string*>(out) = std::string(name);
    return 1;
  }
  return 0;
}

// The path of the libm this test binary runs with (libstdc++ needs it).
std::string loaded_libm() {
  std::string path;
  ::dl_iterate_phdr(find_libm, &path);
  return path;
}

// Runs the server with `--handler module` and expects it to refuse to start.
void expect_refused_module(const std::string& module, std::string_view expected_text) {
  ProcessResult run =
      run_process({server_binary(), "--host", "127.0.0.1", "--port", "0", "--handler", module});
  EXPECT_TRUE(run.status.exited) << describe(run.status);
  EXPECT_EQ(run.status.code, 1) << describe(run.status) << "; stderr: " << run.err;
  EXPECT_EQ(run.out, "") << "no start-up line may be printed";
  const std::string prefix = "forkserve: handler " + module + ": ";
  EXPECT_TRUE(without_timestamps(run.err).starts_with(prefix)) << run.err;
  EXPECT_GT(run.err.size(), prefix.size() + 1) << "the line must say what is wrong: " << run.err;
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "exactly one stderr line: " << run.err;
  EXPECT_NE(run.err.find(expected_text), std::string::npos) << run.err;
}

TEST(ModuleTest, HelloModuleAnswersExactlyHelloWorld) {
  ServerProcess server({"--handler", module_path("hello.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  HttpReply reply = exchange(server.port(), "GET /anything?at=all HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 200 OK");
  EXPECT_EQ(reply.header("Content-Type"), "text/plain");
  EXPECT_EQ(reply.header("Content-Length"), "13");
  EXPECT_EQ(reply.body, "Hello, World!");
}

TEST(ModuleTest, CurlGetsHelloWorldFromHelloModule) {
  if (!curl_path()) GTEST_SKIP() << "curl is not installed";
  ServerProcess server({"--handler", module_path("hello.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  ProcessResult curl = run_curl({"http://127.0.0.1:" + std::to_string(server.port()) + "/"});
  ASSERT_TRUE(curl.status.exited && curl.status.code == 0) << describe(curl.status) << ": " << curl.err;
  EXPECT_EQ(curl.out, "Hello, World!");
}

TEST(ModuleTest, EnvironDumpShowsCgiVariablesOfTheRequest) {
  ServerProcess server({"--handler", module_path("environ_dump.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  HttpReply reply = exchange(server.port(),
                             "GET /caf%C3%A9/a%20b?x=1&y=%20z%2F HTTP/1.1\r\n"
                             "Host: example.test:8080\r\n"
                             "X-Custom-Thing: custom value\r\n"
                             "Accept: text/plain\r\n\r\n");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  ASSERT_EQ(reply.status, 200) << reply.summary();
  std::vector<std::string> lines = environ_lines(reply.body);
  for (std::string expected :
       {std::string("REQUEST_METHOD=GET"), std::string("PATH_INFO=/caf\xC3\xA9/a b"),
        std::string("QUERY_STRING=x=1&y=%20z%2F"), std::string("REMOTE_ADDR=127.0.0.1"),
        "SERVER_PORT=" + std::to_string(server.port()), std::string("SERVER_PROTOCOL=HTTP/1.1"),
        std::string("SERVER_NAME=example.test"), std::string("HTTP_HOST=example.test:8080"),
        std::string("HTTP_X_CUSTOM_THING=custom value"), std::string("HTTP_ACCEPT=text/plain")}) {
    EXPECT_TRUE(has_line(lines, expected)) << "missing '" << expected << "' in:\n" << reply.body;
  }
  EXPECT_FALSE(has_line(lines, "CONTENT_LENGTH=0")) << "a GET without a body has no CONTENT_LENGTH";
  EXPECT_EQ(echoed_body(reply.body), "");
}

TEST(ModuleTest, EnvironDumpEchoesPostBodyWithContentLength) {
  ServerProcess server({"--handler", module_path("environ_dump.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  const std::string body = "name=forkserve&text=line1%0Aline2\nsecond line of the body";
  Client client(server.port());
  ASSERT_TRUE(client.connected()) << std::strerror(client.error());
  // Head and body in separate writes: the handler must read the body off the socket.
  ASSERT_TRUE(
      client.send("POST /submit HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                  "Content-Length: " +
                  std::to_string(body.size()) + "\r\n\r\n"));
  ASSERT_TRUE(client.send(body));
  HttpReply reply = client.read_reply();
  ASSERT_TRUE(reply.parsed) << reply.summary();
  ASSERT_EQ(reply.status, 200) << reply.summary();
  std::vector<std::string> lines = environ_lines(reply.body);
  EXPECT_TRUE(has_line(lines, "REQUEST_METHOD=POST")) << reply.body;
  EXPECT_TRUE(has_line(lines, "CONTENT_LENGTH=" + std::to_string(body.size()))) << reply.body;
  EXPECT_TRUE(has_line(lines, "CONTENT_TYPE=application/x-www-form-urlencoded")) << reply.body;
  EXPECT_EQ(echoed_body(reply.body), body);
}

TEST(ModuleTest, TextFileNamedSoStopsStartupWithExit1) {
  TempDir dir;
  std::string fake = dir.write_file("x.so",
                                    "This is a plain text file that only has a shared object's name.\n"
                                    "It is longer than an ELF header, so the loader reads it as one.\n");
  expect_refused_module(fake, "");  // the loader's own words ("invalid ELF header" on glibc)
}

TEST(ModuleTest, MissingModuleFileStopsStartupWithExit1) {
  TempDir dir;
  expect_refused_module(dir.path() + "/absent.so", "No such file");
}

TEST(ModuleTest, SharedLibraryWithoutEntrySymbolStopsStartupWithExit1) {
  std::string libm = loaded_libm();
  ASSERT_FALSE(libm.empty()) << "no libm.so among this process's libraries";
  expect_refused_module(libm, "forkserve_module_v1");
}

}  // namespace
}  // namespace forkserve::integration

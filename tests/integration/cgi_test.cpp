// CGI/1.1 programs run through --cgi, --cgi-alias and --cgi-interpreter: a
// POSIX shell script, a Python wsgiref CGIHandler application, php-cgi and
// git http-backend, and the hostile programs (one that hangs, floods standard
// error, prints garbage, exits silently, or leaves a grandchild holding its
// output), each bounded, logged, and leaving no process behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

using std::chrono::seconds;

// Writes an executable program into the server's document root.
std::string write_program(const ServerProcess& server, std::string_view relative, std::string_view text) {
  std::string path = server.write_root_file(relative, text);
  ::chmod(path.c_str(), 0755);
  return path;
}

std::string url(const ServerProcess& server, std::string_view target) {
  return "http://127.0.0.1:" + std::to_string(server.port()) + std::string(target);
}

HttpReply get(const ServerProcess& server, std::string_view target) {
  return exchange(server.port(), "GET " + std::string(target) + " HTTP/1.0\r\n\r\n");
}

// The pids a hostile program wrote to `file` (one per line) are all gone:
// neither running nor left as zombies.
bool all_gone(const std::string& file) {
  std::ifstream in(file);
  pid_t pid = 0;
  bool any = false;
  while (in >> pid) {
    any = true;
    if (process_info(pid).state != '?') return false;
  }
  return any;
}

// Waits (bounded) until `file` lists every pid (the program got that far).
bool pids_written(const std::string& file, std::size_t count) {
  return eventually(
      [&] {
        std::ifstream in(file);
        std::size_t n = 0;
        pid_t pid = 0;
        while (in >> pid) ++n;
        return n >= count;
      },
      milliseconds(5'000));
}

// --- a POSIX shell CGI ---------------------------------------------------------

constexpr std::string_view kShellEcho =
    "#!/bin/sh\n"
    "printf 'Content-Type: text/plain\\r\\nX-Script: echo\\r\\n\\r\\n'\n"
    "echo \"method=$REQUEST_METHOD\"\n"
    "echo \"script=$SCRIPT_NAME\"\n"
    "echo \"path_info=$PATH_INFO\"\n"
    "echo \"query=$QUERY_STRING\"\n"
    "echo \"length=${CONTENT_LENGTH-unset}\"\n"
    "echo \"gateway=$GATEWAY_INTERFACE\"\n"
    "echo \"cwd=$(pwd)\"\n"
    "printf 'body='; cat; echo\n";

class ShellCgiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ready()) << server_.error();
    server_.scratch_dir().make_dir("root/cgi-bin");
    write_program(server_, "cgi-bin/echo.sh", kShellEcho);
  }
  ServerProcess server_{{"--cgi", "/cgi-bin/", "--handler-timeout", "5"}};
};

TEST_F(ShellCgiTest, ShellProgramGetsPathInfoQueryStringAndThePostBody) {
  HttpReply reply = exchange(server_.port(),
                             "POST /cgi-bin/echo.sh/a%20b/c?x=1&y=2 HTTP/1.0\r\n"
                             "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.header("X-Script"), "echo");
  EXPECT_EQ(reply.body,
            "method=POST\nscript=/cgi-bin/echo.sh\npath_info=/a b/c\nquery=x=1&y=2\nlength=11\n"
            "gateway=CGI/1.1\ncwd=" +
                server_.root() + "/cgi-bin\nbody=hello world\n");
}

TEST_F(ShellCgiTest, ChunkedBodyReachesTheProgramDecodedWithoutContentLength) {
  Client client(server_.port());
  ASSERT_TRUE(client.send(
      "POST /cgi-bin/echo.sh HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello"));
  ASSERT_TRUE(client.send("\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"));
  HttpReply reply = client.read_reply();
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_NE(reply.body.find("length=unset\n"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("body=hello world\n"), std::string::npos) << reply.body;
}

TEST_F(ShellCgiTest, LocalRedirectIsServedByTheServerAsAGet) {
  write_program(server_, "cgi-bin/go.sh",
                "#!/bin/sh\nprintf 'Location: /cgi-bin/echo.sh/landed?from=go\\n\\n'\n");
  HttpReply reply = exchange(server_.port(), "POST /cgi-bin/go.sh HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.header("Location"), std::nullopt);
  EXPECT_NE(reply.body.find("method=GET\n"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("path_info=/landed\nquery=from=go\n"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("body=\n"), std::string::npos) << reply.body;
}

TEST_F(ShellCgiTest, LocalRedirectLoopEndsIn502) {
  write_program(server_, "cgi-bin/loop.sh", "#!/bin/sh\nprintf 'Location: /cgi-bin/loop.sh\\n\\n'\n");
  HttpReply reply = get(server_, "/cgi-bin/loop.sh");
  EXPECT_EQ(reply.status, 502) << reply.summary();
  EXPECT_EQ(count_lines_containing(server_.stderr_text(), "too many redirects"), 1U) << server_.stderr_text();
}

TEST_F(ShellCgiTest, AbsoluteLocationIsA302ToTheClient) {
  write_program(server_, "cgi-bin/away.sh", "#!/bin/sh\nprintf 'Location: http://example.com/x\\n\\n'\n");
  HttpReply reply = get(server_, "/cgi-bin/away.sh");
  EXPECT_EQ(reply.status, 302) << reply.summary();
  EXPECT_EQ(reply.header("Location"), "http://example.com/x");
}

TEST_F(ShellCgiTest, StatusHeaderSetsTheResponseStatus) {
  write_program(server_, "cgi-bin/teapot.sh",
                "#!/bin/sh\nprintf 'Status: 418 Short and Stout\\nContent-Type: text/plain\\n\\nteapot'\n");
  HttpReply reply = get(server_, "/cgi-bin/teapot.sh");
  EXPECT_EQ(reply.status_line, "HTTP/1.0 418 Short and Stout") << reply.summary();
  EXPECT_EQ(reply.body, "teapot");
}

TEST_F(ShellCgiTest, ContentLengthFromTheProgramIsSent) {
  write_program(server_, "cgi-bin/sized.sh",
                "#!/bin/sh\nprintf 'Content-Type: text/plain\\nContent-Length: 5\\n\\nsized'\n");
  HttpReply reply = get(server_, "/cgi-bin/sized.sh");
  EXPECT_EQ(reply.header("Content-Length"), "5") << reply.summary();
  EXPECT_EQ(reply.body, "sized");
}

// The program's fault, not the server's: 502 like any other invalid response.
TEST_F(ShellCgiTest, BodyTheResponseCannotHaveIs502) {
  write_program(server_, "cgi-bin/nm.sh", "#!/bin/sh\nprintf 'Status: 304\\n\\nbody'\n");
  EXPECT_EQ(get(server_, "/cgi-bin/nm.sh").status, 502);
  write_program(server_, "cgi-bin/long.sh",
                "#!/bin/sh\nprintf 'Content-Type: text/plain\\nContent-Length: 2\\n\\nabcdef'\n");
  EXPECT_EQ(get(server_, "/cgi-bin/long.sh").status, 502);
}

TEST_F(ShellCgiTest, NphProgramWritesTheWholeResponseItself) {
  write_program(server_, "cgi-bin/nph-raw.sh",
                "#!/bin/sh\nprintf 'HTTP/1.0 203 Mine\\r\\nX-Raw: 1\\r\\n\\r\\nraw body'\n");
  HttpReply reply = get(server_, "/cgi-bin/nph-raw.sh");
  EXPECT_EQ(reply.raw, "HTTP/1.0 203 Mine\r\nX-Raw: 1\r\n\r\nraw body");
  EXPECT_TRUE(
      eventually([&] { return read_file(server_.access_log_path()).find("\" 203 ") != std::string::npos; },
                 milliseconds(5'000)))
      << read_file(server_.access_log_path());
}

TEST_F(ShellCgiTest, NphProgramWithoutAStatusLineGets502AndALogLine) {
  write_program(server_, "cgi-bin/nph-garbage.sh", "#!/bin/sh\nprintf 'garbage\\n\\nnot http at all'\n");
  HttpReply reply = get(server_, "/cgi-bin/nph-garbage.sh");
  EXPECT_EQ(reply.status, 502) << reply.summary();
  EXPECT_EQ(reply.raw.find("garbage"), std::string::npos) << reply.raw;
  EXPECT_TRUE(
      eventually([&] { return count_lines_containing(server_.stderr_text(), "no HTTP status line") == 1; },
                 milliseconds(5'000)))
      << server_.stderr_text();
  write_program(server_, "cgi-bin/nph-short.sh", "#!/bin/sh\nprintf 'HTTP/1.0'\n");
  EXPECT_EQ(get(server_, "/cgi-bin/nph-short.sh").status, 502);
}

TEST_F(ShellCgiTest, StandardErrorLinesReachTheErrorLogEscapedAndNamed) {
  write_program(server_, "cgi-bin/warn.sh",
                "#!/bin/sh\nprintf 'first warning\\nsecond \\033[31m warning\\n' >&2\n"
                "printf 'Content-Type: text/plain\\n\\nok'\n");
  HttpReply reply = get(server_, "/cgi-bin/warn.sh");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  std::string log = server_.stderr_text();
  EXPECT_EQ(count_lines_containing(log, "cgi-bin/warn.sh: first warning"), 1U) << log;
  EXPECT_EQ(count_lines_containing(log, "cgi-bin/warn.sh: second \\x1b[31m warning"), 1U) << log;
}

TEST_F(ShellCgiTest, ProgramGetsExactlyStandardInputOutputAndError) {
  write_program(server_, "cgi-bin/fds.sh",
                "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
                // The descriptors of the exec'd program itself, which holds no script file open.
                "exec /bin/ls -1 /proc/self/fd\n");
  HttpReply reply = get(server_, "/cgi-bin/fds.sh");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  // 3 is ls reading the directory; anything inherited would come before it.
  EXPECT_EQ(reply.body, "0\n1\n2\n3\n");
}

TEST_F(ShellCgiTest, NonExecutableFileUnderTheCgiPrefixIs403AndNeverItsSource) {
  server_.write_root_file("cgi-bin/secret.sh", "#!/bin/sh\necho source-code-secret\n");
  HttpReply reply = get(server_, "/cgi-bin/secret.sh");
  EXPECT_EQ(reply.status, 403) << reply.summary();
  EXPECT_EQ(reply.raw.find("source-code-secret"), std::string::npos);
}

TEST_F(ShellCgiTest, DirectoryIndexThatIsAProgramRunsAndIsNeverServedAsSource) {
  server_.scratch_dir().make_dir("root/cgi-bin/app");
  write_program(server_, "cgi-bin/app/index.html", kShellEcho);
  HttpReply reply = get(server_, "/cgi-bin/app/?q=1");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_NE(reply.body.find("script=/cgi-bin/app/index.html\n"), std::string::npos) << reply.body;
  EXPECT_NE(reply.body.find("query=q=1\n"), std::string::npos) << reply.body;

  server_.scratch_dir().make_dir("root/cgi-bin/plain");
  server_.write_root_file("cgi-bin/plain/index.html", "#!/bin/sh\necho source-code-secret\n");
  reply = get(server_, "/cgi-bin/plain/");
  EXPECT_EQ(reply.status, 403) << reply.summary();
  EXPECT_EQ(reply.raw.find("source-code-secret"), std::string::npos);
}

TEST_F(ShellCgiTest, TrailingSlashAfterTheProgramIsPathInfoSlash) {
  HttpReply reply = get(server_, "/cgi-bin/echo.sh/");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_NE(reply.body.find("path_info=/\n"), std::string::npos) << reply.body;
}

TEST_F(ShellCgiTest, MissingProgramIs404) { EXPECT_EQ(get(server_, "/cgi-bin/no-such-program").status, 404); }

TEST_F(ShellCgiTest, ProgramThatCannotBeExecutedIs502WithAReason) {
  write_program(server_, "cgi-bin/broken.sh", "#!/no/such/interpreter\n");
  HttpReply reply = get(server_, "/cgi-bin/broken.sh");
  EXPECT_EQ(reply.status, 502) << reply.summary();
  EXPECT_EQ(count_lines_containing(server_.stderr_text(), "cannot execute"), 1U) << server_.stderr_text();
}

TEST_F(ShellCgiTest, OtherPathsStillGoToTheStaticHandler) {
  server_.write_root_file("plain.txt", "static\n");
  HttpReply reply = get(server_, "/plain.txt");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "static\n");
}

// The program runs in its own directory: a relative --root (the default is
// ".") must still name it, and SCRIPT_FILENAME, from there.
TEST(RelativeRootCgiTest, RelativeRootStillRunsTheProgramWithAnAbsoluteScriptFilename) {
  TempDir site;
  site.make_dir("cgi-bin");
  std::string program = site.write_file("cgi-bin/where.sh",
                                        "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\n"
                                        "echo \"$SCRIPT_FILENAME\"; echo \"$DOCUMENT_ROOT\"\n");
  ::chmod(program.c_str(), 0755);
  std::string relative = std::filesystem::relative(site.path()).string();
  ASSERT_NE(relative.front(), '/');
  ServerProcess server({"--root", relative, "--cgi", "/cgi-bin/"});
  ASSERT_TRUE(server.ready()) << server.error();
  HttpReply reply = get(server, "/cgi-bin/where.sh");
  ASSERT_EQ(reply.status, 200) << reply.summary() << server.stderr_text();
  std::string root = std::filesystem::canonical(site.path()).string();
  EXPECT_EQ(reply.body, root + "/cgi-bin/where.sh\n" + root + "\n");
}

// --- --cgi-alias -------------------------------------------------------------------

TEST(AliasCgiTest, DotDotInAnAliasedPathNeverReachesTheProgram) {
  TempDir programs;
  std::string program = programs.write_file("echo.sh", kShellEcho);
  ::chmod(program.c_str(), 0755);
  ServerProcess server({"--cgi-alias", "/app/=" + program});
  ASSERT_TRUE(server.ready()) << server.error();
  HttpReply reply = get(server, "/app/x/../../../etc/passwd");
  EXPECT_EQ(reply.status, 404) << reply.summary();
  EXPECT_EQ(reply.body.find("path_info="), std::string::npos) << reply.body;
  reply = get(server, "/app/%2e%2e/etc");
  EXPECT_EQ(reply.status, 404) << reply.summary();
  reply = get(server, "/app/repo.git/info/refs");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_NE(reply.body.find("script=/app\npath_info=/repo.git/info/refs\n"), std::string::npos) << reply.body;
}

// --- hostile programs ------------------------------------------------------------

class HostileCgiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ready()) << server_.error();
    server_.scratch_dir().make_dir("root/cgi-bin");
    pids_ = server_.scratch() + "/pids";
  }
  ServerProcess server_{{"--cgi", "/cgi-bin/", "--handler-timeout", "2"}};
  std::string pids_;
};

TEST_F(HostileCgiTest, HangingProgramGets503AtTheHandlerTimeoutAndItsGroupIsKilled) {
  write_program(server_, "cgi-bin/hang.sh",
                "#!/bin/sh\necho $$ >>" + pids_ + "\nsleep 600 &\necho $! >>" + pids_ + "\nwait\n");
  auto started = Clock::now();
  HttpReply reply = get(server_, "/cgi-bin/hang.sh");
  EXPECT_EQ(reply.status, 503) << reply.summary();
  EXPECT_LT(Clock::now() - started, seconds(15));
  ASSERT_TRUE(pids_written(pids_, 2));
  EXPECT_TRUE(eventually([&] { return all_gone(pids_); }, milliseconds(10'000))) << read_file(pids_);
  EXPECT_EQ(count_lines_containing(server_.stderr_text(), "handler timeout"), 1U) << server_.stderr_text();
}

TEST_F(HostileCgiTest, StderrFloodIsLoggedUpToABoundAndTheResponseStillArrives) {
  write_program(server_, "cgi-bin/flood.sh",
                "#!/bin/sh\ni=0\nwhile [ $i -lt 20000 ]; do echo \"flood line $i\" >&2; i=$((i+1)); done\n"
                "printf 'Content-Type: text/plain\\n\\nsurvived'\n");
  HttpReply reply = get(server_, "/cgi-bin/flood.sh");
  EXPECT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.body, "survived");
  std::string log = server_.stderr_text();
  std::size_t logged = count_lines_containing(log, "flood line");
  EXPECT_GT(logged, 1000U);
  EXPECT_LT(logged, 10000U);
  EXPECT_EQ(count_lines_containing(log, "the rest is discarded"), 1U);
}

TEST_F(HostileCgiTest, GarbageHeadersGet502AndALogLineSayingWhy) {
  write_program(server_, "cgi-bin/garbage.sh",
                "#!/bin/sh\necho '<html>not a header</html>'\necho\necho body\n");
  HttpReply reply = get(server_, "/cgi-bin/garbage.sh");
  EXPECT_EQ(reply.status, 502) << reply.summary();
  EXPECT_EQ(reply.raw.find("not a header"), std::string::npos);
  EXPECT_EQ(count_lines_containing(server_.stderr_text(), "invalid CGI response"), 1U)
      << server_.stderr_text();
}

TEST_F(HostileCgiTest, ProgramExitingSilentlyGets502AndALogLine) {
  write_program(server_, "cgi-bin/silent.sh", "#!/bin/sh\nexit 3\n");
  HttpReply reply = get(server_, "/cgi-bin/silent.sh");
  EXPECT_EQ(reply.status, 502) << reply.summary();
  std::string log = server_.stderr_text();
  EXPECT_EQ(count_lines_containing(log, "produced no output"), 1U) << log;
  EXPECT_EQ(count_lines_containing(log, "exited with status 3"), 1U) << log;
}

TEST_F(HostileCgiTest, GrandchildHoldingStdoutDoesNotHoldTheResponseAndIsKilled) {
  write_program(server_, "cgi-bin/orphan.sh",
                "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\ndone\\n'\n"
                "echo $$ >>" +
                    pids_ + "\n(sleep 600; echo late) &\necho $! >>" + pids_ + "\nexit 0\n");
  auto started = Clock::now();
  HttpReply reply = get(server_, "/cgi-bin/orphan.sh");
  EXPECT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.body, "done\n");
  EXPECT_LT(Clock::now() - started, seconds(8)) << "the response waited for the grandchild";
  ASSERT_TRUE(pids_written(pids_, 2));
  EXPECT_TRUE(eventually([&] { return all_gone(pids_); }, milliseconds(10'000))) << read_file(pids_);
  EXPECT_EQ(count_lines_containing(server_.stderr_text(), "still holds its output"), 1U)
      << server_.stderr_text();
}

TEST_F(HostileCgiTest, NothingIsLeftBehindAfterHostilePrograms) {
  write_program(server_, "cgi-bin/silent.sh", "#!/bin/sh\nexit 0\n");
  write_program(server_, "cgi-bin/garbage.sh", "#!/bin/sh\necho garbage\n");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(get(server_, "/cgi-bin/silent.sh").status, 502);
    EXPECT_EQ(get(server_, "/cgi-bin/garbage.sh").status, 502);
  }
  EXPECT_TRUE(eventually([&] { return count_zombie_children(server_.pid()) == 0; }, milliseconds(5'000)));
  EXPECT_TRUE(eventually([&] { return serving_processes(server_.pid()).empty(); }, milliseconds(5'000)));
}

// --- programs outliving their request -------------------------------------------------

// A --handler-timeout far beyond every bound below: what stops these programs
// must be the event each test is about, never the timeout.
class OutlivingCgiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.ready()) << server_.error();
    server_.scratch_dir().make_dir("root/cgi-bin");
    pids_ = server_.scratch() + "/pids";
    // Silent: no output at all, a child of its own in its group.
    write_program(server_, "cgi-bin/silent.sh",
                  "#!/bin/sh\necho $$ >>" + pids_ + "\nsleep 600 &\necho $! >>" + pids_ + "\nwait\n");
  }
  ServerProcess server_{{"--cgi", "/cgi-bin/", "--handler-timeout", "120"}};
  std::string pids_;
};

TEST_F(OutlivingCgiTest, ClientHangingUpWhileTheProgramIsSilentStopsItAtOnce) {
  Client client(server_.port());
  ASSERT_TRUE(client.send("GET /cgi-bin/silent.sh HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(pids_written(pids_, 2));
  client.close();
  EXPECT_TRUE(eventually([&] { return all_gone(pids_); }, milliseconds(5'000))) << read_file(pids_);
  EXPECT_TRUE(eventually([&] { return serving_processes(server_.pid()).empty(); }, milliseconds(5'000)));
  EXPECT_TRUE(eventually(
      [&] {
        return count_lines_containing(server_.stderr_text(),
                                      "client closed the connection before the response") == 1;
      },
      milliseconds(5'000)))
      << server_.stderr_text();
  EXPECT_TRUE(eventually(
      [&] {
        return count_lines_containing(read_file(server_.access_log_path()),
                                      "\"GET /cgi-bin/silent.sh HTTP/1.0\" 400 ") == 1;
      },
      milliseconds(5'000)))
      << read_file(server_.access_log_path());
}

// Only the client's end of input counts as leaving, not bytes it sends after
// its request: the program still answers.
TEST_F(OutlivingCgiTest, BytesAfterTheRequestDoNotCountAsTheClientLeaving) {
  write_program(server_, "cgi-bin/slow.sh",
                "#!/bin/sh\nsleep 0.3\nprintf 'Content-Type: text/plain\\n\\nanswered'\n");
  Client client(server_.port());
  ASSERT_TRUE(client.send("GET /cgi-bin/slow.sh HTTP/1.0\r\n\r\nnot part of any request"));
  HttpReply reply = client.read_reply();
  EXPECT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.body, "answered");
}

// The parent kills a serving process it gave up on (the backstop, or
// shutdown) with the group it put its program in: nothing of the program is
// left running.
TEST_F(OutlivingCgiTest, ProgramDiesWithTheServingProcessWhenThatIsKilled) {
  Client client(server_.port());
  ASSERT_TRUE(client.send("GET /cgi-bin/silent.sh HTTP/1.0\r\n\r\n"));
  ASSERT_TRUE(pids_written(pids_, 2));
  std::vector<pid_t> serving = serving_processes(server_.pid());
  ASSERT_EQ(serving.size(), 1U);
  ASSERT_EQ(::kill(serving[0], SIGKILL), 0);
  EXPECT_TRUE(eventually([&] { return all_gone(pids_); }, milliseconds(5'000))) << read_file(pids_);
  EXPECT_EQ(get(server_, "/cgi-bin/no-such-program").status, 404);  // the server serves on
}

// A program that leaves its process group (setsid: a daemon it starts) is
// still the request's: it is stopped when the request ends.
TEST_F(OutlivingCgiTest, ProcessThatEscapedWithSetsidIsStoppedWhenTheRequestEnds) {
  if (!find_in_path("setsid")) GTEST_SKIP() << "no setsid (util-linux)";
  write_program(server_, "cgi-bin/daemonise.sh",
                "#!/bin/sh\nsetsid sh -c 'echo $$ >>" + pids_ +
                    "; exec sleep 600' </dev/null >/dev/null 2>&1 &\n" + "while [ ! -s " + pids_ +
                    " ]; do sleep 0.01; done\n" + "printf 'Content-Type: text/plain\\n\\nstarted'\n");
  HttpReply reply = get(server_, "/cgi-bin/daemonise.sh");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.body, "started");
  ASSERT_TRUE(pids_written(pids_, 1));
  EXPECT_TRUE(eventually([&] { return all_gone(pids_); }, milliseconds(5'000))) << read_file(pids_);
  EXPECT_TRUE(eventually([&] { return count_zombie_children(server_.pid()) == 0; }, milliseconds(5'000)));
}

// Stopping what a program left behind never reaches a process the serving
// process had before the program: here a helper its module keeps in the
// worker (one worker, so the module and the program share it).
TEST(CgiNeighbourTest, ModuleHelperInTheSameWorkerOutlivesTheCleanUpThatStopsTheProgramsEscapee) {
  if (!find_in_path("setsid")) GTEST_SKIP() << "no setsid (util-linux)";
  ServerProcess server(
      {"--workers", "1", "--handler", fixture_path("keeps_helper.so"), "--cgi", "/cgi-bin/"});
  ASSERT_TRUE(server.ready()) << server.error();
  server.scratch_dir().make_dir("root/cgi-bin");
  std::string pids = server.scratch() + "/pids";
  write_program(server, "cgi-bin/daemonise.sh",
                "#!/bin/sh\nsetsid sh -c 'echo $$ >>" + pids +
                    "; exec sleep 600' </dev/null >/dev/null 2>&1 &\n" + "while [ ! -s " + pids +
                    " ]; do sleep 0.01; done\n" + "printf 'Content-Type: text/plain\\n\\nstarted'\n");
  HttpReply started = get(server, "/helper");
  ASSERT_EQ(started.status, 200) << started.summary();
  pid_t helper = std::stoi(started.body);
  ASSERT_EQ(get(server, "/cgi-bin/daemonise.sh").status, 200);
  // The response ends after the clean-up: the escapee is gone, the helper is not.
  EXPECT_TRUE(eventually([&] { return all_gone(pids); }, milliseconds(5'000))) << read_file(pids);
  ProcessInfo info = process_info(helper);
  EXPECT_TRUE(info.state != '?' && info.state != 'Z') << "the helper was killed: state " << info.state;
  ::kill(helper, SIGKILL);
}

// --- Python: wsgiref.handlers.CGIHandler -------------------------------------------

constexpr std::string_view kWsgiApp = R"(
import sys
from wsgiref.handlers import CGIHandler

def app(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/go':
        start_response('200 OK', [('Location', '/cgi-bin/app.py/landed?via=go')])
        return [b'']
    length = int(environ.get('CONTENT_LENGTH') or 0)
    body = environ['wsgi.input'].read(length).decode()
    start_response('200 OK', [('Content-Type', 'text/plain'), ('X-Wsgi', 'yes')])
    text = 'method=%s path=%s query=%s body=%s' % (environ['REQUEST_METHOD'], path, environ.get('QUERY_STRING', ''), body)
    return [text.encode()]

CGIHandler().run(app)
)";

class PythonCgiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!find_in_path("python3") || ::access("/usr/bin/python3", X_OK) != 0)
      GTEST_SKIP() << "no /usr/bin/python3";
    ASSERT_TRUE(server_.ready()) << server_.error();
    server_.scratch_dir().make_dir("root/cgi-bin");
    write_program(server_, "cgi-bin/app.py", "#!/usr/bin/python3" + std::string(kWsgiApp));
  }
  ServerProcess server_{{"--cgi", "*.py"}};
};

TEST_F(PythonCgiTest, WsgiApplicationGetsPathInfoQueryAndPostBody) {
  HttpReply reply = exchange(server_.port(),
                             "POST /cgi-bin/app.py/items/7?sort=asc HTTP/1.0\r\n"
                             "Content-Length: 9\r\n\r\nname=fred");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.header("X-Wsgi"), "yes");
  EXPECT_EQ(reply.body, "method=POST path=/items/7 query=sort=asc body=name=fred");
}

TEST_F(PythonCgiTest, WsgiLocalRedirectIsFollowed) {
  HttpReply reply = get(server_, "/cgi-bin/app.py/go");
  ASSERT_EQ(reply.status, 200) << reply.summary();
  EXPECT_EQ(reply.body, "method=GET path=/landed query=via=go body=");
}

// --- php-cgi ----------------------------------------------------------------------

constexpr std::string_view kPhpPage = R"(<?php
if (isset($_GET['go'])) {
  header('Location: /elsewhere.php');
  exit;
}
http_response_code(201);
header('X-Php: ' . PHP_MAJOR_VERSION);
echo 'get=' . ($_GET['name'] ?? '') . "\n";
echo 'post=' . ($_POST['city'] ?? '') . "\n";
echo 'script=' . $_SERVER['SCRIPT_NAME'] . "\n";
)";

class PhpCgiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/php-cgi", X_OK) != 0)
      GTEST_SKIP() << "php-cgi not installed (scripts/test.sh --with-peers)";
    ASSERT_TRUE(server_.ready()) << server_.error();
    server_.write_root_file("page.php", kPhpPage);  // not executable: run through the interpreter
  }
  ServerProcess server_{{"--cgi-interpreter", ".php=/usr/bin/php-cgi"}};
};

TEST_F(PhpCgiTest, PhpPageReadsGetAndUrlencodedPostAndSetsStatusAndHeader) {
  HttpReply reply = exchange(server_.port(),
                             "POST /page.php?name=Ada%20L HTTP/1.0\r\n"
                             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 16\r\n\r\n"
                             "city=New+York&x=");
  ASSERT_EQ(reply.status, 201) << reply.summary() << server_.stderr_text();
  EXPECT_TRUE(reply.header("X-Php").has_value()) << reply.summary();
  EXPECT_EQ(reply.body, "get=Ada L\npost=New York\nscript=/page.php\n");
}

TEST_F(PhpCgiTest, PhpRedirectReachesTheClient) {
  HttpReply reply = get(server_, "/page.php?go=1");
  EXPECT_EQ(reply.status, 302) << reply.summary();
  EXPECT_EQ(reply.header("Location"), "/elsewhere.php");
}

// --- git http-backend ---------------------------------------------------------------

constexpr std::string_view kGitBackend = "/usr/lib/git-core/git-http-backend";

class GitHttpBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!find_in_path("git") || ::access(std::string(kGitBackend).c_str(), X_OK) != 0) {
      GTEST_SKIP() << "git not installed (scripts/test.sh installs it)";
    }
    repos_ = scratch_.make_dir("repos");
    ASSERT_TRUE(git({"init", "--quiet", "--bare", "-b", "main", repos_ + "/project.git"}));
    ASSERT_TRUE(git({"-C", repos_ + "/project.git", "config", "http.receivepack", "true"}));
    server_ = std::make_unique<ServerProcess>(
        std::vector<std::string>{"--cgi-alias", "/git/=" + std::string(kGitBackend), "--cgi-env",
                                 "GIT_PROJECT_ROOT=" + repos_, "--cgi-env", "GIT_HTTP_EXPORT_ALL=1"});
    ASSERT_TRUE(server_->ready()) << server_->error();
    remote_ = url(*server_, "/git/project.git");
  }

  // git with no user or system configuration, an identity, and a bounded run.
  ProcessResult run_git(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "HOME=" + scratch_.path(),
                                     "GIT_CONFIG_NOSYSTEM=1",
                                     "GIT_TERMINAL_PROMPT=0",
                                     "GIT_TRACE_CURL_NO_DATA=1",
                                     "git",
                                     "-c",
                                     "user.name=Test",
                                     "-c",
                                     "user.email=test@example.com",
                                     "-c",
                                     "init.defaultBranch=main",
                                     "-c",
                                     "http.proxy="};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, milliseconds(60'000));
  }
  bool git(const std::vector<std::string>& args) {
    ProcessResult r = run_git(args);
    last_ = r.err + r.out;
    return r.status.exited && r.status.code == 0;
  }
  std::string rev(const std::string& dir, const std::string& what) {
    ProcessResult r = run_git({"-C", dir, "rev-parse", what});
    return r.out.substr(0, r.out.find('\n'));
  }

  TempDir scratch_;
  std::string repos_;
  std::unique_ptr<ServerProcess> server_;
  std::string remote_;
  std::string last_;
};

TEST_F(GitHttpBackendTest, CloneFetchAndAChunkedPushOfOverOneMebibyteThroughTheAlias) {
  std::string work = scratch_.path() + "/work";
  ASSERT_TRUE(git({"clone", "--quiet", remote_, work})) << last_ << server_->stderr_text();

  // 2 MiB that do not compress: the pack is over git's 1 MiB post buffer, so
  // git sends it with Transfer-Encoding: chunked.
  std::string blob(2 << 20, '\0');
  std::mt19937_64 random(14);
  for (char& c : blob) c = static_cast<char>(random());
  scratch_.write_file("work/big.bin", blob);
  ASSERT_TRUE(git({"-C", work, "add", "big.bin"})) << last_;
  ASSERT_TRUE(git({"-C", work, "commit", "--quiet", "-m", "big"})) << last_;
  ProcessResult push = run_process(
      {"/usr/bin/env", "HOME=" + scratch_.path(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TRACE_CURL=1",
       "GIT_TRACE_CURL_NO_DATA=1", "git", "-c", "http.proxy=", "-C", work, "push", "origin", "main"},
      milliseconds(60'000));
  ASSERT_TRUE(push.status.exited && push.status.code == 0) << push.err << server_->stderr_text();
  EXPECT_NE(push.err.find("Transfer-Encoding: chunked"), std::string::npos) << "git did not send chunked";

  std::string fresh = scratch_.path() + "/fresh";
  ASSERT_TRUE(git({"clone", "--quiet", remote_, fresh})) << last_ << server_->stderr_text();
  EXPECT_EQ(rev(fresh, "HEAD"), rev(work, "HEAD"));
  EXPECT_EQ(read_file(fresh + "/big.bin"), blob);

  scratch_.write_file("work/small.txt", "second commit\n");
  ASSERT_TRUE(git({"-C", work, "add", "small.txt"})) << last_;
  ASSERT_TRUE(git({"-C", work, "commit", "--quiet", "-m", "small"})) << last_;
  ASSERT_TRUE(git({"-C", work, "push", "--quiet", "origin", "main"})) << last_ << server_->stderr_text();
  ASSERT_TRUE(git({"-C", fresh, "fetch", "--quiet", "origin"})) << last_ << server_->stderr_text();
  EXPECT_EQ(rev(fresh, "origin/main"), rev(work, "HEAD"));
}

}  // namespace
}  // namespace forkserve::integration

// A failing handler takes down its own request, never the server: an
// exception is a 500, a crash closes that one connection and is logged with
// the request, a hung handler is a 503 at --handler-timeout, and a response
// the server must refuse (CR/LF injection, a bad status line) is a 500 with
// nothing of it on the wire.
#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <regex>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

using std::chrono::duration_cast;

constexpr milliseconds kLogLineAppears{5'000};

milliseconds since(Clock::time_point start) { return duration_cast<milliseconds>(Clock::now() - start); }

bool alive(pid_t pid) {
  char state = process_info(pid).state;
  return state != 'Z' && state != '?';
}

// Waits (bounded) for a line of the server's stderr to match `pattern`; returns it.
std::string wait_for_log_line(const ServerProcess& server, const std::regex& pattern) {
  std::string found;
  eventually(
      [&] {
        for (const std::string& line : lines_of(server.stderr_text())) {
          if (std::regex_search(line, pattern)) {
            found = line;
            return true;
          }
        }
        return false;
      },
      kLogLineAppears);
  return found;
}

TEST(CrashIsolationTest, ExceptionBeforeStartResponseGets500AndTheServerKeepsServing) {
  ServerProcess server({"--handler", fixture_path("throws.so")});
  ASSERT_TRUE(server.ready()) << server.error();

  for (int i = 0; i < 2; ++i) {  // the second shows the first did not break anything
    HttpReply reply = exchange(server.port(), "GET /boom HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(reply.parsed) << reply.summary();
    EXPECT_EQ(reply.status_line, "HTTP/1.0 500 Internal Server Error");
    EXPECT_TRUE(reply.body.starts_with("500 Internal Server Error")) << reply.body;
    EXPECT_TRUE(reply.closed_by_server) << reply.summary();
  }
  EXPECT_TRUE(alive(server.pid()));
  EXPECT_TRUE(eventually(
      [&] {
        return count_lines_containing(server.stderr_text(), "throws fixture: failed before start_response") ==
               2;
      },
      kLogLineAppears))
      << "each exception is logged once with its message:\n"
      << server.stderr_text();
}

struct Crash {
  const char* path;
  int signal;
};

class HandlerCrashTest : public ::testing::TestWithParam<Crash> {};

TEST_P(HandlerCrashTest, CrashClosesOnlyItsConnectionAndIsLoggedWithTheRequest) {
  const Crash& crash = GetParam();
  ServerProcess server({"--handler", fixture_path("crashes.so")});
  ASSERT_TRUE(server.ready()) << server.error();

  HttpReply reply = exchange(server.port(), "GET " + std::string(crash.path) + " HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(reply.raw.empty()) << "a crashed child cannot have answered: " << reply.summary();
  EXPECT_TRUE(reply.closed_by_server || reply.error == ECONNRESET) << reply.summary();

  // forkserve: child 1234 (GET /segv) killed by signal 11 (Segmentation fault)
  const std::regex expected("(child|worker) [0-9]+ \\(GET " + std::string(crash.path) + "\\) killed by signal " +
                            std::to_string(crash.signal) + " \\(" + ::strsignal(crash.signal) + "\\)$");
  EXPECT_FALSE(wait_for_log_line(server, expected).empty())
      << "no 'killed by signal " << crash.signal << "' line naming the request; stderr:\n"
      << server.stderr_text();

  EXPECT_TRUE(alive(server.pid()));
  HttpReply next = exchange(server.port(), "GET /alive HTTP/1.0\r\n\r\n");
  EXPECT_EQ(next.status, 200) << next.summary();
  EXPECT_EQ(next.body, "alive\n");
}

INSTANTIATE_TEST_SUITE_P(Crashes, HandlerCrashTest,
                         ::testing::Values(Crash{"/segv", SIGSEGV}, Crash{"/null", SIGSEGV},
                                           Crash{"/abort", SIGABRT}),
                         [](const ::testing::TestParamInfo<Crash>& info) {
                           return std::string(info.param.path + 1);
                         });

TEST(CrashIsolationTest, HandlerRunningPastHandlerTimeoutGets503AndIsLoggedAsHandlerTimeout) {
  constexpr milliseconds kEarliest{800};
  constexpr milliseconds kLatest{4'000};
  ServerProcess server({"--handler", fixture_path("slow.so"), "--handler-timeout", "1"});
  ASSERT_TRUE(server.ready()) << server.error();

  Clock::time_point start = Clock::now();
  HttpReply reply = exchange(server.port(), "GET /slow?ms=10000 HTTP/1.0\r\n\r\n");
  milliseconds took = since(start);
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 503 Service Unavailable");
  EXPECT_NE(reply.body.find("handler timeout"), std::string::npos) << reply.body;
  EXPECT_TRUE(reply.closed_by_server) << reply.summary();
  EXPECT_GE(took, kEarliest) << "503 before --handler-timeout 1";
  EXPECT_LE(took, kLatest);

  EXPECT_TRUE(eventually([&] { return count_lines_containing(server.stderr_text(), "handler timeout") == 1; },
                         kLogLineAppears))
      << server.stderr_text();
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "client timeout"), 0U) << server.stderr_text();
  HttpReply next = exchange(server.port(), "GET /fast HTTP/1.0\r\n\r\n");
  EXPECT_EQ(next.body, "fast\n") << next.summary();
}

class RefusedResponseTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ready()) << server_.error(); }
  ServerProcess server_{{"--handler", fixture_path("bad_headers.so")}};
};

TEST_P(RefusedResponseTest, Gets500WithNothingOfTheInjectedHeaderOnTheWire) {
  const std::string path = GetParam();
  HttpReply reply = exchange(server_.port(), "GET " + path + " HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(reply.parsed) << reply.summary();
  EXPECT_EQ(reply.status_line, "HTTP/1.0 500 Internal Server Error");
  EXPECT_TRUE(reply.body.starts_with("500 Internal Server Error")) << reply.body;
  EXPECT_TRUE(reply.closed_by_server) << reply.summary();
  EXPECT_EQ(reply.raw.find("X-Injected"), std::string::npos) << reply.summary();
  EXPECT_EQ(reply.raw.find("evil"), std::string::npos) << reply.summary();
  EXPECT_EQ(reply.raw.find("X-Echo"), std::string::npos) << reply.summary();
  EXPECT_EQ(reply.raw.find("must never be sent"), std::string::npos) << reply.summary();
  EXPECT_EQ(reply.raw.find("after a refused"), std::string::npos) << reply.summary();

  // The refusal is logged against the request, and the server goes on.
  EXPECT_TRUE(eventually(
      [&] { return count_lines_containing(server_.stderr_text(), "\"GET " + path + " HTTP/1.0\"") == 1; },
      kLogLineAppears))
      << server_.stderr_text();
  HttpReply fine = exchange(server_.port(), "GET /fine HTTP/1.0\r\n\r\n");
  EXPECT_EQ(fine.status, 200) << fine.summary();
  EXPECT_EQ(fine.body, "fine\n");
}

INSTANTIATE_TEST_SUITE_P(BadHeaders, RefusedResponseTest,
                         ::testing::Values("/crlf-value", "/lf-value", "/crlf-name", "/crlf-status",
                                           "/bad-status", "/ignore-refusal"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name(info.param + 1);
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace forkserve::integration

namespace forkserve::integration {
namespace {

// Children share mappings with the parent (the labels naming what each
// serves, the request records, the counters). Overwriting all of them must not
// touch the parent's bookkeeping, nor get a byte the handler chose into a log
// line the parent writes, nor make the status page report another server.
TEST(CrashIsolationTest, HandlerScribblingOnSharedMemoryCannotHurtTheParent) {
  ServerProcess server({"--handler", fixture_path("crashes.so"), "--max-children", "4", "--log-format", "combined",
                        "--status-path", "/st"});
  ASSERT_TRUE(server.ready()) << server.error();
  for (int i = 0; i < 3; ++i) exchange(server.port(), "GET /scribble HTTP/1.0\r\n\r\n");
  for (int i = 0; i < 6; ++i) {  // more than --max-children: slots must still come free
    HttpReply reply = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n");
    EXPECT_EQ(reply.body, "alive\n") << reply.summary();
  }
  EXPECT_TRUE(alive(server.pid()));
  HttpReply status = exchange(server.port(), "GET /st HTTP/1.0\r\n\r\n");
  const int workers = workers_under_test().value_or(0);
  EXPECT_NE(status.body.find(workers > 0 ? "mode: workers\n" : "mode: fork\n"), std::string::npos) << status.body;
  std::smatch busy;
  ASSERT_TRUE(std::regex_search(status.body, busy, std::regex("busy: (\\d+) of (\\d+)\n"))) << status.body;
  EXPECT_EQ(busy[2].str(), workers > 0 ? std::to_string(workers) : "4");
  EXPECT_LE(std::stoul(busy[1].str()), std::stoul(busy[2].str()));
  // The parent wrote the three crashed requests' access lines from records
  // the handler overwrote: every field escaped, the time now, no size.
  ASSERT_TRUE(eventually(
      [&] { return count_lines_containing(read_file(server.access_log_path()), "\" 500 - \"") == 3; },
      kLogLineAppears))
      << read_file(server.access_log_path()).substr(0, 2000);
  EXPECT_EQ(server.stop().code, 0);
  const std::regex access_line(R"re([!-~]+ - - \[\d\d/[A-Z][a-z]{2}/(\d{4}):[^\]]+\] "[ -~]*" \d{3} (\d+|-) "[ -~]*" "[ -~]*")re");
  const std::string year = std::to_string(1900 + [] {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    return utc.tm_year;
  }());
  for (const std::string& line : lines_of(read_file(server.access_log_path()))) {
    std::smatch fields;
    ASSERT_TRUE(std::regex_match(line, fields, access_line)) << "not one escaped access line: " << line.substr(0, 2000);
    EXPECT_EQ(fields[1].str(), year) << line;
  }
  // Every error line: a timestamp, printable text, no count the handler wrote.
  for (const std::string& line : lines_of(server.stderr_text())) {
    EXPECT_TRUE(std::regex_match(line, std::regex(R"(\d{4}-\d\d-\d\dT[^ ]+ forkserve(\[\d+\])?: [ -~]+)")))
        << "not one escaped error line: " << line;
    EXPECT_EQ(line.find("18446744073709551615"), std::string::npos) << line;
  }
}

// A scribble reaches every slot of the shared table, so also the record of
// a process that has written its line and lingers (or, a worker, waits):
// when that one ends, the parent must neither write a second line for its
// request nor blame it for an exit() mid-request.
TEST(CrashIsolationTest, ScribbleGivesNoOtherRequestASecondLineOrTheBlame) {
  ServerProcess server({"--handler", fixture_path("crashes.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  // Answered without its body being read: its process then lingers, its line written.
  Client lingering(server.port());
  ASSERT_TRUE(lingering.send("POST /lingering HTTP/1.0\r\nContent-Length: 100000\r\n\r\nsome"));
  EXPECT_EQ(lingering.read_reply().body, "alive\n");
  exchange(server.port(), "GET /scribble HTTP/1.0\r\n\r\n");
  lingering.close();
  EXPECT_EQ(exchange(server.port(), "GET /after HTTP/1.0\r\n\r\n").body, "alive\n");
  EXPECT_EQ(server.stop().code, 0);  // every worker, scribbled slot or not, ends now
  const std::string log = read_file(server.access_log_path());
  EXPECT_EQ(lines_of(log).size(), 3U) << log.substr(0, 3000);
  EXPECT_EQ(count_lines_containing(log, "\"POST /lingering HTTP/1.0\" 200 6"), 1U) << log.substr(0, 3000);
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "before its response was logged"), 0U)
      << server.stderr_text();
}

// A handler can block or cancel its child's alarm; the parent's own deadline
// for the whole child (the sum of the phase timeouts, the linger and 5 s)
// still ends it.
TEST(CrashIsolationTest, HandlerThatBlocksItsAlarmIsKilledByTheParent) {
  ServerProcess server({"--handler", fixture_path("crashes.so"), "--header-timeout", "1", "--body-timeout", "1",
                        "--handler-timeout", "1", "--write-timeout", "1"});
  ASSERT_TRUE(server.ready()) << server.error();
  Clock::time_point start = Clock::now();
  HttpReply reply = exchange(server.port(), "GET /stuck HTTP/1.0\r\n\r\n", milliseconds(30'000));
  milliseconds took = since(start);
  EXPECT_FALSE(reply.parsed) << reply.summary();
  EXPECT_GE(took, milliseconds(9'000)) << "killed before its deadlines were over";
  EXPECT_LE(took, milliseconds(25'000));
  if (!workers_under_test()) {  // a killed worker is replaced
    EXPECT_TRUE(eventually([&] { return children_of(server.pid()).empty(); }, kLogLineAppears));
  }
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "overran every deadline"), 1U) << server.stderr_text();
  EXPECT_EQ(exchange(server.port(), "GET / HTTP/1.0\r\n\r\n").body, "alive\n");
  // Killed before it could log, the request still has its access line, written by the parent.
  EXPECT_TRUE(eventually(
      [&] { return count_lines_containing(read_file(server.access_log_path()), "\"GET /stuck HTTP/1.0\" 500 -") == 1; },
      kLogLineAppears))
      << read_file(server.access_log_path());
}

// A handler that closes every descriptor it did not open (the listener, a
// worker's own wait and stop descriptors, its client) loses its own request
// and nothing else: in both modes every later connection is served. With
// --workers one more /closefds than there are workers proves each broken
// worker left and was replaced instead of staying in the pool.
TEST(CrashIsolationTest, HandlerClosingEveryDescriptorCostsOnlyItsOwnRequest) {
  ServerProcess server({"--handler", fixture_path("crashes.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  const int rounds = workers_under_test().value_or(1) + 1;
  for (int i = 0; i < rounds; ++i) {
    HttpReply lost = exchange(server.port(), "GET /closefds HTTP/1.0\r\n\r\n", milliseconds(5'000));
    EXPECT_TRUE(lost.closed_by_server) << "the connection stayed open: " << lost.summary();
    for (int j = 0; j < 3; ++j) {
      HttpReply next = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n", milliseconds(5'000));
      ASSERT_EQ(next.body, "alive\n") << "round " << i << ": " << next.summary() << "; stderr: "
                                        << server.stderr_text();
    }
  }
  EXPECT_TRUE(alive(server.pid()));
  EXPECT_TRUE(eventually([&] { return count_zombie_children(server.pid()) == 0; }, kLogLineAppears));
  // Its process could not log the request (the descriptor was gone): the parent did, once each.
  EXPECT_TRUE(eventually(
      [&] {
        return count_lines_containing(read_file(server.access_log_path()), "\"GET /closefds HTTP/1.0\" ") ==
               static_cast<std::size_t>(rounds);
      },
      kLogLineAppears))
      << read_file(server.access_log_path());
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "left its access line to the parent"),
            static_cast<std::size_t>(rounds))
      << server.stderr_text();
}

}  // namespace
}  // namespace forkserve::integration

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <regex>
#include <string>

#include "core/log.hpp"
#include "core/stats.hpp"

namespace forkserve {
namespace {

// Points standard error at a scratch file for the test's lifetime.
class CapturedStderr {
 public:
  CapturedStderr() {
    char path[] = "/tmp/forkserve-stderr-XXXXXX";
    fd_ = ::mkstemp(path);
    ::unlink(path);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd_, STDERR_FILENO);
  }
  ~CapturedStderr() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    ::close(fd_);
  }
  std::string text() const {
    std::string out;
    char buffer[4096];
    ssize_t n;
    for (off_t at = 0; (n = ::pread(fd_, buffer, sizeof buffer, at)) > 0; at += n) out.append(buffer, n);
    return out;
  }

 private:
  int fd_ = -1;
  int saved_ = -1;
};

std::size_t count_lines(const std::string& text) {
  std::size_t n = 0;
  for (char c : text) n += c == '\n';
  return n;
}

const std::regex kErrorLine(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z forkserve(\[\d+\])?: .*\n)");

TEST(ErrorLog, LineStartsWithAnRfc3339TimestampAndNamesTheServer) {
  CapturedStderr err;
  log_error("bind 0.0.0.0:8888: Address already in use");
  std::string text = err.text();
  EXPECT_TRUE(std::regex_match(text, kErrorLine)) << text;
  EXPECT_NE(text.find("Z forkserve: bind 0.0.0.0:8888: Address already in use\n"), std::string::npos) << text;
}

TEST(ErrorLog, ForgedNewlineArrivesEscapedOnOneLine) {
  CapturedStderr err;
  log_error("handler: boom\nforkserve: child 1 (GET /forged) killed by signal 9\r\x01\x7f");
  std::string text = err.text();
  EXPECT_EQ(count_lines(text), 1U) << text;
  EXPECT_NE(text.find("boom\\nforkserve: child 1 (GET /forged) killed by signal 9\\r\\x01\\x7f\n"),
            std::string::npos)
      << text;
}

TEST(ErrorLog, EscapesEveryControlByteAndKeepsTheRest) {
  EXPECT_EQ(escape_control_bytes("a\tb\nc\rd\x1b[31m\x7f"), "a\\tb\\nc\\rd\\x1b[31m\\x7f");
  EXPECT_EQ(escape_control_bytes("caf\xc3\xa9 \"q\" \xe2\x82\xac \xf0\x9f\x90\x9f"),
            "caf\xc3\xa9 \"q\" \xe2\x82\xac \xf0\x9f\x90\x9f");
}

// What a log reader could misread: a client's literal backslash sequence,
// bytes that are not UTF-8, and characters that are valid but act on the line.
TEST(ErrorLog, EscapesBackslashesAndWhatIsNotPrintableUtf8) {
  EXPECT_EQ(escape_control_bytes("a\\nb"), "a\\\\nb");                       // literal \n stays told apart
  EXPECT_EQ(escape_control_bytes("\xff\xfe x \x80"), "\\xff\\xfe x \\x80");  // not UTF-8
  EXPECT_EQ(escape_control_bytes("\xc0\xaf"), "\\xc0\\xaf");                   // overlong "/"
  EXPECT_EQ(escape_control_bytes("\xed\xa0\x80"), "\\xed\\xa0\\x80");         // a surrogate
  EXPECT_EQ(escape_control_bytes("\xe2\x82"), "\\xe2\\x82");                   // cut short
  EXPECT_EQ(escape_control_bytes("\xc2\x85"), "\\xc2\\x85");                   // C1 next line
  EXPECT_EQ(escape_control_bytes("\xe2\x80\xa8"), "\\xe2\\x80\\xa8");         // line separator
  EXPECT_EQ(escape_control_bytes("\xe2\x80\xae"), "\\xe2\\x80\\xae");         // right-to-left override
}

TEST(ErrorLog, LinesFromAnotherProcessThanTheMainOneCarryItsPid) {
  set_log_main_process();
  CapturedStderr err;
  log_error("from the parent");
  pid_t pid = ::fork();
  if (pid == 0) {
    log_error("from a child");
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::string text = err.text();
  EXPECT_NE(text.find(" forkserve: from the parent\n"), std::string::npos) << text;
  EXPECT_NE(text.find(" forkserve[" + std::to_string(pid) + "]: from a child\n"), std::string::npos) << text;
}

TEST(ErrorLog, LongMessageIsCutOnOneLineAndSaysSo) {
  CapturedStderr err;
  log_error(std::string(10000, 'x'));
  std::string text = err.text();
  EXPECT_EQ(count_lines(text), 1U);
  EXPECT_NE(text.find("x [cut]\n"), std::string::npos);
}

TEST(LogLoss, WriteToAClosedPipeIsCountedAndReportedOnceWithinTenSeconds) {
  ::signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  LogHealth& health = stats().logs[static_cast<int>(LogStream::Access)];
  health.last_report.store(0);  // as if never reported
  health.unreported.store(0);
  std::uint64_t lost_before = health.lines_lost.load();
  CapturedStderr err;
  EXPECT_FALSE(append_log_line(LogStream::Access, fds[1], "127.0.0.1 - - [x] \"GET / HTTP/1.0\" 200 5\n"));
  EXPECT_FALSE(append_log_line(LogStream::Access, fds[1], "127.0.0.1 - - [x] \"GET /2 HTTP/1.0\" 200 5\n"));
  ::close(fds[1]);
  EXPECT_EQ(health.lines_lost.load() - lost_before, 2U);
  std::string text = err.text();
  EXPECT_EQ(count_lines(text), 1U) << text;
  EXPECT_NE(text.find("access log: write failed (Broken pipe); 1 line lost"), std::string::npos) << text;
  EXPECT_EQ(health.unreported.load(), 1U) << "the second loss waits for the next report";
}

// Lines lost after a report are not forgotten when no loss follows: the
// parent's flush reports them once their 10 s are over.
TEST(LogLoss, LinesLostSinceTheLastReportAreReportedWhenTheirTimeComes) {
  ::signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  LogHealth& health = stats().logs[static_cast<int>(LogStream::Access)];
  health.last_report.store(0);
  health.unreported.store(0);
  for (FloodGate& gate : stats().floods) {  // only the loss report is due
    gate.second.store(0);
    gate.suppressed.store(0);
  }
  CapturedStderr err;
  for (int i = 0; i < 5; ++i) append_log_line(LogStream::Access, fds[1], "a line\n");
  ::close(fds[1]);
  EXPECT_TRUE(flush_log_counts()) << "four lines wait for their report";
  EXPECT_EQ(count_lines(err.text()), 1U) << err.text();
  health.last_report.fetch_sub(10);  // ten seconds pass
  EXPECT_FALSE(flush_log_counts());
  std::string text = err.text();
  EXPECT_EQ(count_lines(text), 2U) << text;
  EXPECT_NE(text.find("access log: write failed (Broken pipe); 4 lines lost since the last report"), std::string::npos)
      << text;
}

// The master loop's writes give up on a log whose reader stopped, instead of
// blocking it, and count the line lost.
TEST(LogLoss, BoundedWriteToAFullPipeGivesUpAndCountsTheLine) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::fcntl(fds[1], F_SETPIPE_SZ, 4096);
  std::string page(4096, 'x');
  ASSERT_EQ(::write(fds[1], page.data(), page.size()), 4096);  // full; the write end stays blocking
  pid_t child = ::fork();
  if (child == 0) {  // bounded writes are per process: try it in one of its own
    std::string error;
    if (!bound_log_writes(error)) ::_exit(2);
    std::uint64_t before = stats().logs[0].lines_lost.load();
    bool written = append_log_line(LogStream::Access, fds[1], "blocked line\n");
    bool skipped = !append_log_line(LogStream::Access, fds[1], "next line\n");  // stalled: not even tried
    ::_exit(!written && skipped && stats().logs[0].lines_lost.load() == before + 2 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(LogLoss, WholeLineIsWrittenAndNothingCountedWhenTheLogWorks) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::uint64_t lost_before = stats().logs[0].lines_lost.load();
  EXPECT_TRUE(append_log_line(LogStream::Access, fds[1], "one line\n"));
  char buffer[32];
  EXPECT_EQ(::read(fds[0], buffer, sizeof buffer), 9);
  EXPECT_EQ(stats().logs[0].lines_lost.load(), lost_before);
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(LogLoss, TornLogGetsItsPartialLineEndedBeforeTheNextLine) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  LogHealth& health = stats().logs[static_cast<int>(LogStream::Access)];
  health.torn.store(1);  // as a short write on a full disk leaves it
  EXPECT_TRUE(append_log_line(LogStream::Access, fds[1], "next line\n"));
  EXPECT_TRUE(append_log_line(LogStream::Access, fds[1], "then this\n"));
  char buffer[64];
  ssize_t n = ::read(fds[0], buffer, sizeof buffer);
  EXPECT_EQ(std::string(buffer, n > 0 ? n : 0), "\nnext line\nthen this\n");
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(Floods, OneLineASecondPerKindAndTheRestCountedInTheNextLine) {
  FloodGate& gate = stats().floods[static_cast<int>(Flood::HeaderTimeout)];
  gate.second.store(0);
  gate.suppressed.store(0);
  CapturedStderr err;
  for (int i = 0; i < 800; ++i) log_flood(Flood::HeaderTimeout, "client timeout: request head incomplete");
  gate.second.fetch_sub(3);  // three seconds pass
  EXPECT_TRUE(flush_log_counts()) << "its line is of this second: more may come in it";
  std::string text = err.text();
  EXPECT_GE(count_lines(text), 2U) << text;
  EXPECT_LE(count_lines(text), 3U) << text;  // if the clock ticked during the loop
  EXPECT_NE(text.find("more header timeouts in the last 3 s\n"), std::string::npos) << text;
  EXPECT_EQ(gate.suppressed.load(), 0U);
}

TEST(Floods, CountWaitsUntilItsSecondIsOver) {
  FloodGate& gate = stats().floods[static_cast<int>(Flood::ClientReset)];
  gate.second.store(0);
  gate.suppressed.store(0);
  CapturedStderr err;
  bool pending = false;
  for (int attempt = 0; attempt < 5 && !pending; ++attempt) {  // should the clock tick in between
    gate.second.store(0);
    log_flood(Flood::ClientReset, "reset");
    log_flood(Flood::ClientReset, "reset");
    pending = gate.second.load() == std::time(nullptr) && flush_log_counts();
  }
  EXPECT_TRUE(pending) << "its second is not over yet";
  EXPECT_EQ(gate.suppressed.load(), 1U);
  gate.suppressed.store(0);
}

// A handler can write anything into the shared gates: what it wrote is
// dropped with one line saying so, never printed as a count, and a second
// in the future does not hold the count back for ever.
TEST(Floods, ScribbledGateIsDroppedNotReported) {
  for (FloodGate& other : stats().floods) {  // earlier tests' lines are of this second
    other.second.store(0);
    other.suppressed.store(0);
  }
  FloodGate& gate = stats().floods[static_cast<int>(Flood::BodyTimeout)];
  for (std::int64_t second : {std::int64_t{-1}, std::int64_t{std::time(nullptr) + 1000}}) {
    gate.second.store(second);
    gate.suppressed.store(~std::uint64_t{0});
    CapturedStderr err;
    EXPECT_TRUE(flush_log_counts());
    std::string text = err.text();
    EXPECT_EQ(count_lines(text), 1U) << text;
    EXPECT_NE(text.find("an overwritten count of body timeouts, dropped\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("18446744073709551615"), std::string::npos) << text;
    EXPECT_EQ(gate.suppressed.load(), 0U);
  }
  gate.second.store(-1);
  gate.suppressed.store(7);
  CapturedStderr err;
  log_flood(Flood::BodyTimeout, "client timeout: request body incomplete");
  EXPECT_NE(err.text().find("incomplete (and an overwritten count of body timeouts, dropped)\n"), std::string::npos)
      << err.text();
}

}  // namespace
}  // namespace forkserve

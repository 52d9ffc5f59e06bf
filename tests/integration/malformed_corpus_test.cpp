// A corpus of hostile and malformed requests (tests/data/malformed/cases.txt),
// all sent at once to one live server: each gets its expected status, or a
// clean close, by the header deadline; afterwards the server is unharmed.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

using std::chrono::duration_cast;

constexpr int kHeaderTimeoutSeconds = 2;
constexpr milliseconds kHeaderTimeout{kHeaderTimeoutSeconds * 1000};
// How late after the header deadline a 408 may still come (shared cores, ASan).
constexpr milliseconds kDeadlineSlack{4'000};
// The pause between the bytes of a trickled request.
constexpr milliseconds kTricklePause{1};
constexpr std::size_t kMinimumCases = 40;
constexpr milliseconds kSettleTime{10'000};

enum class How { Whole, Trickle, Eof };

struct CorpusCase {
  std::string name;
  int line = 0;
  std::optional<int> status;  // nullopt: the connection must close without a byte
  How how = How::Whole;
  std::string request;
};

std::string where(const CorpusCase& c) { return c.name + " (cases.txt:" + std::to_string(c.line) + ")"; }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  throw std::runtime_error(std::string("bad hex digit '") + c + "'");
}

// Decodes escapes from `text` at `pos` until its end or, when nested, a `\}`.
std::string unescape(std::string_view text, std::size_t& pos, bool nested) {
  std::string out;
  while (pos < text.size()) {
    char c = text[pos++];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (pos >= text.size()) throw std::runtime_error("escape at end of line");
    char e = text[pos++];
    if (std::size_t simple = std::string_view("rnt\\").find(e); simple != std::string_view::npos) {
      out += "\r\n\t\\"[simple];
    } else if (e == 'x') {
      if (pos + 2 > text.size()) throw std::runtime_error("short \\x escape");
      out += static_cast<char>(hex_digit(text[pos]) * 16 + hex_digit(text[pos + 1]));
      pos += 2;
    } else if (e == '{') {  // \{N:TEXT\}
      std::size_t colon = text.find(':', pos);
      if (colon == std::string_view::npos) throw std::runtime_error("\\{ without ':'");
      std::size_t count = 0;
      auto [end, ec] = std::from_chars(text.data() + pos, text.data() + colon, count);
      if (ec != std::errc{} || end != text.data() + colon) throw std::runtime_error("bad repeat count");
      pos = colon + 1;
      std::string unit = unescape(text, pos, true);
      for (std::size_t i = 0; i < count; ++i) out += unit;
    } else if (e == '}' && nested) {
      return out;
    } else {
      throw std::runtime_error(std::string("unknown escape \\") + e);
    }
  }
  if (nested) throw std::runtime_error("\\{ without \\}");
  return out;
}

// The next space-separated field of `line` from `pos`, skipping the spaces after it.
std::string next_field(std::string_view line, std::size_t& pos) {
  std::size_t end = line.find(' ', pos);
  if (end == std::string_view::npos) end = line.size();
  std::string field(line.substr(pos, end - pos));
  pos = end;
  while (pos < line.size() && line[pos] == ' ') ++pos;
  return field;
}

std::vector<CorpusCase> load_corpus(const std::string& path) {
  std::string text = read_file(path);
  if (text.empty()) throw std::runtime_error("cannot read " + path);
  std::vector<CorpusCase> cases;
  int number = 0;
  for (const std::string& line : lines_of(text)) {
    ++number;
    if (line.empty() || line[0] == '#') continue;
    try {
      CorpusCase c;
      c.line = number;
      std::size_t pos = 0;
      c.name = next_field(line, pos);
      std::string expect = next_field(line, pos);
      std::string how = next_field(line, pos);
      if (expect != "close") {
        int status = 0;
        auto [end, ec] = std::from_chars(expect.data(), expect.data() + expect.size(), status);
        if (ec != std::errc{} || end != expect.data() + expect.size() || status < 100 || status > 599) {
          throw std::runtime_error("expected status '" + expect + "'");
        }
        c.status = status;
      }
      if (how == "whole") {
        c.how = How::Whole;
      } else if (how == "trickle") {
        c.how = How::Trickle;
      } else if (how == "eof") {
        c.how = How::Eof;
      } else {
        throw std::runtime_error("how '" + how + "'");
      }
      c.request = unescape(line, pos, false);
      cases.push_back(std::move(c));
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ":" + std::to_string(number) + ": " + e.what());
    }
  }
  return cases;
}

struct Outcome {
  HttpReply reply;
  milliseconds elapsed{0};
  bool connected = false;
};

// Sends one case the way it says, then reads until the server closes.
Outcome run_case(std::uint16_t port, const CorpusCase& c) {
  Outcome outcome;
  Clock::time_point start = Clock::now();
  Client client(port);
  outcome.connected = client.connected();
  if (!outcome.connected) {
    outcome.reply.error = client.error();
    return outcome;
  }
  if (c.how == How::Trickle) {
    int one = 1;
    ::setsockopt(client.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (std::size_t i = 0; i < c.request.size() && !client.readable_now(); ++i) {
      if (!client.send(std::string_view(c.request).substr(i, 1))) break;
      std::this_thread::sleep_for(kTricklePause);
    }
  } else {
    client.send(c.request);  // the server may answer (and stop reading) before the end
  }
  if (c.how == How::Eof) ::shutdown(client.fd(), SHUT_WR);
  outcome.reply = client.read_reply(kHeaderTimeout + kDeadlineSlack);
  outcome.elapsed = duration_cast<milliseconds>(Clock::now() - start);
  return outcome;
}

void check_outcome(const CorpusCase& c, const Outcome& outcome) {
  SCOPED_TRACE(where(c));
  ASSERT_TRUE(outcome.connected) << std::strerror(outcome.reply.error);
  const HttpReply& reply = outcome.reply;
  EXPECT_TRUE(reply.closed_by_server) << "not closed by the deadline: " << reply.summary();
  if (!c.status) {
    EXPECT_TRUE(reply.raw.empty()) << "expected a close without a response: " << reply.summary();
  } else {
    EXPECT_TRUE(reply.parsed) << reply.summary();
    EXPECT_EQ(reply.status, *c.status) << reply.summary();
  }
  if (c.status == 408) {
    EXPECT_GE(outcome.elapsed, kHeaderTimeout - milliseconds(500)) << "408 before the header deadline";
    EXPECT_LE(outcome.elapsed, kHeaderTimeout + kDeadlineSlack);
  } else {
    EXPECT_LT(outcome.elapsed, kHeaderTimeout) << "judged only at the header deadline";
  }
}

TEST(MalformedCorpusTest, EveryCaseGetsItsStatusOrACleanCloseAndTheServerIsUnharmed) {
  std::vector<CorpusCase> cases;
  ASSERT_NO_THROW(cases = load_corpus(FORKSERVE_MALFORMED_CORPUS));
  ASSERT_GE(cases.size(), kMinimumCases);

  ServerProcess server(
      {"--handler", module_path("hello.so"), "--header-timeout", std::to_string(kHeaderTimeoutSeconds)});
  ASSERT_TRUE(server.ready()) << server.error();
  const int baseline = count_open_fds(server.pid());
  ASSERT_GT(baseline, 0);

  // All at once: the cases that end at the header deadline then cost its
  // length once, not once each.
  std::vector<Outcome> outcomes(cases.size());
  {
    std::vector<std::jthread> senders;
    senders.reserve(cases.size());
    for (std::size_t i = 0; i < cases.size(); ++i) {
      senders.emplace_back([&, i] { outcomes[i] = run_case(server.port(), cases[i]); });
    }
  }
  for (std::size_t i = 0; i < cases.size(); ++i) check_outcome(cases[i], outcomes[i]);

  ProcessInfo info = process_info(server.pid());
  EXPECT_TRUE(info.state != 'Z' && info.state != '?') << "server state " << info.state;
  HttpReply good = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(good.status, 200) << good.summary();
  EXPECT_EQ(good.body, "Hello, World!");
  EXPECT_TRUE(eventually([&] { return count_open_fds(server.pid()) == baseline; }, kSettleTime))
      << "parent holds " << count_open_fds(server.pid()) << " descriptors, " << baseline << " before";
  EXPECT_TRUE(eventually([&] { return count_zombie_children(server.pid()) == 0; }, kSettleTime))
      << count_zombie_children(server.pid()) << " zombie children";
  const std::string log = server.stderr_text();
  EXPECT_EQ(count_lines_containing(log, "killed by signal"), 0U) << "a child crashed on hostile input:\n"
                                                                 << log;
  EXPECT_EQ(count_lines_containing(log, "exited with status"), 0U) << log;
  RecordProperty("cases", static_cast<int>(cases.size()));
  std::printf("%zu malformed-request cases\n", cases.size());
}

}  // namespace
}  // namespace forkserve::integration

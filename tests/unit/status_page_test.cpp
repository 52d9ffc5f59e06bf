#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include "core/stats.hpp"

namespace forkserve {
namespace {

StatusSnapshot known_snapshot() {
  Stats stats;
  stats.busy = 2;
  stats.requests = 10;
  stats.responses[2] = 7;
  stats.responses[4] = 2;
  stats.responses[5] = 1;
  stats.handler_crashes = 1;
  stats.timeouts[static_cast<int>(TimeoutPhase::Header)] = 3;
  stats.fork_failures = 0;
  stats.reloads = 2;
  stats.logs[static_cast<int>(LogStream::Access)].lines_lost = 5;
  StatusSnapshot snapshot = take_snapshot(stats, {.started_at = 1000, .workers = 4, .process_limit = 4}, 1042);
  snapshot.listen_queue = 6;
  snapshot.listen_backlog = 128;
  return snapshot;
}

TEST(StatusPage, PlainTextNamesEveryFigure) {
  std::string text = render_status_text(known_snapshot());
  EXPECT_EQ(text,
            "uptime: 42\n"
            "mode: workers\n"
            "busy: 2 of 4\n"
            "requests: 10\n"
            "responses: 1xx 0 2xx 7 3xx 0 4xx 2 5xx 1 other 0\n"
            "handler crashes: 1\n"
            "timeouts: header 3 body 0 handler 0 write 0\n"
            "fork failures: 0\n"
            "reloads: 2\n"
            "log lines lost: access 5 error 0\n"
            "listen queue: 6 of 128\n");
}

// name{labels} -> value, checking each sample follows a # TYPE of its family.
std::map<std::string, std::string> parse_prometheus(const std::string& text) {
  std::map<std::string, std::string> samples;
  std::map<std::string, std::string> types;
  std::istringstream in(text);
  std::string line;
  const std::regex sample(R"(([a-z_]+)(\{[a-z]+="[^"]*"\})? (\d+))");
  const std::regex type(R"(# TYPE ([a-z_]+) (counter|gauge))");
  std::smatch m;
  while (std::getline(in, line)) {
    if (line.starts_with("# HELP ")) continue;
    if (std::regex_match(line, m, type)) {
      types[m[1]] = m[2];
    } else if (std::regex_match(line, m, sample)) {
      std::string name = m[1];
      EXPECT_TRUE(types.contains(name)) << "no # TYPE before " << line;
      EXPECT_TRUE(name.starts_with("forkserve_")) << line;
      if (types[name] == "counter") {
        EXPECT_TRUE(name.ends_with("_total")) << line;
      }
      samples[name + std::string(m[2])] = m[3];
    } else {
      ADD_FAILURE() << "not exposition format: " << line;
    }
  }
  return samples;
}

TEST(StatusPage, PrometheusExpositionHasTheSameFigures) {
  auto samples = parse_prometheus(render_status_prometheus(known_snapshot()));
  EXPECT_EQ(samples["forkserve_uptime_seconds"], "42");
  EXPECT_EQ(samples["forkserve_workers"], "4");
  EXPECT_EQ(samples["forkserve_busy_processes"], "2");
  EXPECT_EQ(samples["forkserve_process_limit"], "4");
  EXPECT_EQ(samples["forkserve_requests_total"], "10");
  EXPECT_EQ(samples["forkserve_responses_total{class=\"2xx\"}"], "7");
  EXPECT_EQ(samples["forkserve_responses_total{class=\"4xx\"}"], "2");
  EXPECT_EQ(samples["forkserve_responses_total{class=\"5xx\"}"], "1");
  EXPECT_EQ(samples["forkserve_handler_crashes_total"], "1");
  EXPECT_EQ(samples["forkserve_timeouts_total{phase=\"header\"}"], "3");
  EXPECT_EQ(samples["forkserve_timeouts_total{phase=\"write\"}"], "0");
  EXPECT_EQ(samples["forkserve_fork_failures_total"], "0");
  EXPECT_EQ(samples["forkserve_reloads_total"], "2");
  EXPECT_EQ(samples["forkserve_log_lines_lost_total{log=\"access\"}"], "5");
  EXPECT_EQ(samples["forkserve_listen_queue_length"], "6");
  EXPECT_EQ(samples["forkserve_listen_backlog"], "128");
}

TEST(StatusPage, ScribbledCountersStayNumbers) {
  Stats stats;
  stats.busy = -5;  // a child decremented too often
  StatusSnapshot snapshot = take_snapshot(stats, {.started_at = 9999, .workers = 0, .process_limit = 8}, 1000);
  EXPECT_EQ(snapshot.busy, 0U);
  EXPECT_EQ(snapshot.uptime_seconds, 0);  // a start in the future
  EXPECT_NE(render_status_text(snapshot).find("busy: 0 of 8\n"), std::string::npos);
}

// What a handler filling the shared block with 0xff leaves: busy at most the
// limit, and the mode and limit the server was started with.
TEST(StatusPage, ModeAndLimitComeFromTheServerNotTheSharedBlock) {
  Stats stats;
  std::memset(static_cast<void*>(&stats), 0xff, sizeof stats);
  StatusSnapshot snapshot = take_snapshot(stats, {.started_at = 1000, .workers = 0, .process_limit = 64}, 1010);
  std::string text = render_status_text(snapshot);
  EXPECT_NE(text.find("mode: fork\n"), std::string::npos) << text;
  EXPECT_NE(text.find("busy: 0 of 64\n"), std::string::npos) << text;  // busy read as -1
  stats.busy = 1'000'000;
  EXPECT_EQ(take_snapshot(stats, {.started_at = 1000, .workers = 2, .process_limit = 2}, 1010).busy, 2U);
}

}  // namespace
}  // namespace forkserve

#include "core/stats.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

namespace forkserve {
namespace {

Stats g_own_stats;
Stats* g_stats = &g_own_stats;
ServerFacts g_facts;

constexpr const char* kPhaseNames[kTimeoutPhases] = {"header", "body", "handler", "write"};
constexpr const char* kLogNames[kLogStreams] = {"access", "error"};

std::uint64_t read(const Counter& counter) { return counter.load(std::memory_order_relaxed); }

void line(std::string& out, const std::string& text) { out.append(text).append("\n"); }

std::string number(std::uint64_t value) { return std::to_string(value); }

}  // namespace

Stats& stats() { return *g_stats; }

void set_server_facts(const ServerFacts& facts) { g_facts = facts; }
const ServerFacts& server_facts() { return g_facts; }

bool within_server_lifetime(std::int64_t seconds, std::int64_t now) {
  return seconds >= g_facts.started_at && seconds <= now;
}

bool map_shared_stats(std::string& error) {
  void* block = ::mmap(nullptr, sizeof(Stats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (block == MAP_FAILED) {
    error = std::string("mmap status counters: ") + std::strerror(errno);
    return false;
  }
  g_stats = new (block) Stats;
  return true;
}

void unmap_shared_stats() {
  if (g_stats == &g_own_stats) return;
  ::munmap(g_stats, sizeof(Stats));
  g_stats = &g_own_stats;
}

void count_response(int status) {
  Stats& s = stats();
  s.requests.fetch_add(1, std::memory_order_relaxed);
  int status_class = status >= 100 && status <= 599 ? status / 100 : 0;
  s.responses[status_class].fetch_add(1, std::memory_order_relaxed);
}

StatusSnapshot take_snapshot(const Stats& s, const ServerFacts& facts, std::int64_t now) {
  StatusSnapshot snapshot;
  snapshot.uptime_seconds = facts.started_at > 0 && facts.started_at <= now ? now - facts.started_at : 0;
  snapshot.workers = facts.workers;
  snapshot.process_limit = facts.process_limit;
  std::int64_t busy = s.busy.load(std::memory_order_relaxed);
  snapshot.busy = std::min<std::uint64_t>(busy > 0 ? static_cast<std::uint64_t>(busy) : 0, facts.process_limit);
  snapshot.requests = read(s.requests);
  for (int i = 0; i < 6; ++i) snapshot.responses[i] = read(s.responses[i]);
  snapshot.handler_crashes = read(s.handler_crashes);
  for (int i = 0; i < kTimeoutPhases; ++i) snapshot.timeouts[i] = read(s.timeouts[i]);
  snapshot.fork_failures = read(s.fork_failures);
  snapshot.reloads = read(s.reloads);
  for (int i = 0; i < kLogStreams; ++i) snapshot.log_lines_lost[i] = read(s.logs[i].lines_lost);
  return snapshot;
}

std::string render_status_text(const StatusSnapshot& s) {
  std::string out;
  line(out, "uptime: " + std::to_string(s.uptime_seconds));
  line(out, s.workers > 0 ? "mode: workers" : "mode: fork");
  line(out, "busy: " + number(s.busy) + " of " + number(s.process_limit));
  line(out, "requests: " + number(s.requests));
  std::string responses = "responses:";
  for (int i = 1; i <= 5; ++i) responses += " " + std::to_string(i) + "xx " + number(s.responses[i]);
  line(out, responses + " other " + number(s.responses[0]));
  line(out, "handler crashes: " + number(s.handler_crashes));
  std::string timeouts = "timeouts:";
  for (int i = 0; i < kTimeoutPhases; ++i) timeouts += std::string(" ") + kPhaseNames[i] + " " + number(s.timeouts[i]);
  line(out, timeouts);
  line(out, "fork failures: " + number(s.fork_failures));
  line(out, "reloads: " + number(s.reloads));
  line(out, "log lines lost: access " + number(s.log_lines_lost[0]) + " error " + number(s.log_lines_lost[1]));
  if (s.listen_queue) {
    line(out, "listen queue: " + number(*s.listen_queue) + " of " + number(s.listen_backlog.value_or(0)));
  }
  return out;
}

std::string render_status_prometheus(const StatusSnapshot& s) {
  std::string out;
  auto family = [&out](const char* name, const char* type, const char* help) {
    out.append("# HELP forkserve_").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE forkserve_").append(name).append(" ").append(type).append("\n");
  };
  auto sample = [&out](const char* name, const std::string& labels, std::uint64_t value) {
    out.append("forkserve_").append(name);
    if (!labels.empty()) out.append("{").append(labels).append("}");
    out.append(" ").append(number(value)).append("\n");
  };
  family("uptime_seconds", "gauge", "Seconds since the server started.");
  sample("uptime_seconds", "", static_cast<std::uint64_t>(s.uptime_seconds));
  family("workers", "gauge", "Pre-forked workers (--workers); 0 in the child-per-connection mode.");
  sample("workers", "", s.workers);
  family("busy_processes", "gauge", "Children or workers serving a connection now.");
  sample("busy_processes", "", s.busy);
  family("process_limit", "gauge", "Most children (--max-children) or workers serving at once.");
  sample("process_limit", "", s.process_limit);
  family("requests_total", "counter", "Requests answered (one access-log line each).");
  sample("requests_total", "", s.requests);
  family("responses_total", "counter", "Responses by status class.");
  for (int i = 1; i <= 5; ++i) sample("responses_total", "class=\"" + std::to_string(i) + "xx\"", s.responses[i]);
  sample("responses_total", "class=\"other\"", s.responses[0]);
  family("handler_crashes_total", "counter", "Children or workers that died of a signal or a non-zero exit.");
  sample("handler_crashes_total", "", s.handler_crashes);
  family("timeouts_total", "counter", "Deadlines passed, by phase.");
  for (int i = 0; i < kTimeoutPhases; ++i) {
    sample("timeouts_total", std::string("phase=\"") + kPhaseNames[i] + "\"", s.timeouts[i]);
  }
  family("fork_failures_total", "counter", "fork() calls that failed.");
  sample("fork_failures_total", "", s.fork_failures);
  family("reloads_total", "counter", "Handler reloads (SIGHUP).");
  sample("reloads_total", "", s.reloads);
  family("log_lines_lost_total", "counter", "Log lines that could not be written whole.");
  for (int i = 0; i < kLogStreams; ++i) {
    sample("log_lines_lost_total", std::string("log=\"") + kLogNames[i] + "\"", s.log_lines_lost[i]);
  }
  if (s.listen_queue) {
    family("listen_queue_length", "gauge", "Connections waiting in the listen queues to be accepted.");
    sample("listen_queue_length", "", *s.listen_queue);
    family("listen_backlog", "gauge", "Capacity of the listen queues (listen(2) backlog).");
    sample("listen_backlog", "", s.listen_backlog.value_or(0));
  }
  return out;
}

}  // namespace forkserve

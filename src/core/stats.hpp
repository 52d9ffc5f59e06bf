// The server's counters, in one block of shared anonymous memory that the
// parent maps before its first fork(): every child and worker, and every
// later one (reloads included), adds to the same numbers without locks.
// Anyone may write here and nobody trusts what they read: the numbers are
// only ever printed, never used to index, size or decide anything, so a
// handler scribbling on the block can make a figure wrong, never crash the
// parent.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace forkserve {

enum class TimeoutPhase { Header, Body, Handler, Write };
constexpr int kTimeoutPhases = 4;

enum class LogStream { Access, Error };
constexpr int kLogStreams = 2;

// Per-connection failures a client can cause at will, logged aggregated.
enum class Flood { HeaderTimeout, BodyTimeout, ClientReset, Malformed };
constexpr int kFloodKinds = 4;

using Counter = std::atomic<std::uint64_t>;
static_assert(Counter::is_always_lock_free);

// One log's failures: lines lost, and the state that keeps reports to one
// line per 10 s and repairs a line torn by a short write.
struct LogHealth {
  Counter lines_lost{0};
  Counter unreported{0};                     // lost since the last report
  std::atomic<std::int64_t> last_report{0};  // unix seconds
  std::atomic<int> last_error{0};             // errno of the last loss, for the next report
  std::atomic<std::uint32_t> torn{0};        // a partial line without its newline ends the file
};

// One kind of flood: the second of its last line, and how many were not
// written since.
struct FloodGate {
  std::atomic<std::int64_t> second{0};
  Counter suppressed{0};
};

// What the server is, fixed at start-up: in each process's own memory (a
// child or worker inherits it at fork()), so no handler elsewhere can change
// what another process reads.
struct ServerFacts {
  std::int64_t started_at = 0;  // unix seconds
  std::uint32_t workers = 0;    // 0: a child per connection
  std::uint32_t process_limit = 0;
};

// Set once by the parent before its first fork().
void set_server_facts(const ServerFacts& facts);
const ServerFacts& server_facts();

// True if `seconds` (unix time read from shared memory) could be a real
// moment of this server's life: not before it started, not after `now`.
bool within_server_lifetime(std::int64_t seconds, std::int64_t now);

struct Stats {
  // Written by the parent.
  std::atomic<std::int64_t> busy{0};  // processes serving a connection now
  Counter handler_crashes{0};         // children or workers that did not end cleanly
  Counter fork_failures{0};
  Counter reloads{0};
  // Written by whoever serves or logs.
  Counter requests{0};      // access-log lines, one per request
  Counter responses[6]{};   // by status class: [1] 1xx ... [5] 5xx, [0] anything else
  Counter timeouts[kTimeoutPhases]{};
  LogHealth logs[kLogStreams]{};
  FloodGate floods[kFloodKinds]{};
};

// The shared block once map_shared_stats() has run, else this process's own.
Stats& stats();

// Maps the shared block; call once, before the first fork(). On failure the
// counters stay per process (the status page then shows only its own) and
// `error` says why.
bool map_shared_stats(std::string& error);

// Lets the shared block go (an embedding program's serve() returning); the
// counters are this process's own again.
void unmap_shared_stats();

// Counts one request's response in requests and its status class.
void count_response(int status);

// What the status page shows: the counters, read once, plus what only the
// process serving the page can see.
struct StatusSnapshot {
  std::int64_t uptime_seconds = 0;
  std::uint32_t workers = 0;
  std::uint32_t process_limit = 0;
  std::uint64_t busy = 0;
  std::uint64_t requests = 0;
  std::uint64_t responses[6] = {};
  std::uint64_t handler_crashes = 0;
  std::uint64_t timeouts[kTimeoutPhases] = {};
  std::uint64_t fork_failures = 0;
  std::uint64_t reloads = 0;
  std::uint64_t log_lines_lost[kLogStreams] = {};
  // Connections waiting in the listen queues, and their sum of backlogs
  // (Linux TCP_INFO on a listening socket); nullopt where not available.
  std::optional<std::uint64_t> listen_queue;
  std::optional<std::uint64_t> listen_backlog;
};

// Mode, limit and uptime come from `facts`; the counters from `stats`, which
// anyone may have written: busy is kept within 0 and the limit.
StatusSnapshot take_snapshot(const Stats& stats, const ServerFacts& facts, std::int64_t now);

// Plain text, one "name: value" per line, in the spirit of nginx's stub_status.
std::string render_status_text(const StatusSnapshot& snapshot);
// Prometheus text exposition format 0.0.4, every name prefixed forkserve_.
std::string render_status_prometheus(const StatusSnapshot& snapshot);

}  // namespace forkserve

// A pre-forked worker (--workers N): accepts on the shared listening sockets
// and serves one connection at a time, many in its life, until the parent
// tells it to stop, it has served --max-requests, or something it relies on
// breaks (then it leaves and the parent starts another).
#pragma once

#include <forkserve/module.h>

#include <atomic>
#include <cstdint>
#include <span>

#include "connection/child.hpp"
#include "core/config.hpp"
#include "core/log.hpp"

namespace forkserve {

// What a worker tells its parent, in memory shared with it. The parent only
// uses it to decide about that worker, and only believes a deadline near the
// present: a worker scribbling here can get itself killed or restarted,
// nothing more.
struct WorkerStatus {
  std::atomic<std::int64_t> busy_until_ns{0};  // steady clock; 0 while waiting for a connection
  std::atomic<std::uint32_t> connections{0};   // accepted so far
  std::atomic<std::uint32_t> ready{0};         // 1 once post_fork is done and it waits for connections
};

// Written by the parent, read by every worker (and the other way round for
// parent_asleep).
struct WorkersShared {
  // Bumped by the parent at SIGUSR1, before it reopens its own logs: a worker
  // that sees a new value reopens its logs before its next connection, so a
  // connection accepted after the reopen is never logged to the old file.
  std::atomic<std::uint32_t> log_generation{0};
  // 1 while the parent sleeps with no deadline because no worker was busy.
  // The first worker to take a connection then clears it and wakes the parent,
  // which from then on keeps that connection's deadline (see WorkerPool::plan).
  std::atomic<std::uint32_t> parent_asleep{0};
};

struct WorkerSetup {
  std::span<const int> listener_fds;
  std::span<const Endpoint> listener_endpoints;  // their addresses, in the same order
  const Config* config;
  const forkserve_module* module;
  LogFiles* logs;
  WorkerStatus* status;
  WorkersShared* shared;
  int stop_fd;            // readable (EOF) when the parent retires this worker's set, or dies
  int reopen_wake_fd;     // an eventfd the parent writes at SIGUSR1
  int parent_wake_fd;     // an eventfd the worker writes when it is ready, or to wake a sleeping parent
  std::span<char> label;  // shared, as Connection::label
  RequestRecord* record;  // shared, as Connection::record
};

// Runs in the worker right after fork(); never returns. Stops after the
// connection in hand when stop_fd says so; SIGTERM, as for any child, ends it
// at once.
[[noreturn]] void run_worker(const WorkerSetup& setup);

}  // namespace forkserve

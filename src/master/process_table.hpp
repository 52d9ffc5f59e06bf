// The processes the parent started (children or workers): one slot each.
//
// The pid and deadlines live in the parent's own memory. Only what a process
// reports about itself is in a mapping shared with it: the request it is
// serving ("GET /path", so the parent can name it should the process die) and
// a worker's status. A process scribbling on that mapping can garble a log
// line or get itself killed, never corrupt the parent's bookkeeping.
#pragma once

#include <sys/types.h>

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "connection/child.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "master/worker.hpp"
#include "net/io.hpp"

namespace forkserve {

struct ProcessSlot {
  pid_t pid = 0;       // 0: free
  Deadline kill_at{};  // past this the parent SIGKILLs it, whatever its handler did
  Deadline started_at{};
  unsigned generation = 0;  // workers: the set it belongs to
  bool killed = false;      // SIGKILL sent; kill_at is when to send it again
};

struct ProcessExit {
  int slot;
  pid_t pid;
  int status;  // as waitpid() gives it
};

class ProcessTable {
 public:
  // Room for `capacity` processes; false (and `error`) if the shared
  // mapping cannot be made.
  bool open(int capacity, std::string& error);
  ~ProcessTable();  // releases the shared mapping

  int capacity() const { return static_cast<int>(slots_.size()); }
  int live() const { return live_; }
  const ProcessSlot& operator[](int slot) const { return slots_[static_cast<std::size_t>(slot)]; }

  // A free slot, prepared for a new process (its shared part cleared); -1 if none.
  int claim();
  void add(int slot, pid_t pid, Deadline kill_at, unsigned generation);
  // A new deadline for a process not yet killed (a worker's changes with each connection).
  void set_kill_at(int slot, Deadline kill_at);

  // What the process in `slot` shares with the parent.
  std::span<char> label(int slot);
  WorkerStatus& status(int slot);
  RequestRecord& request(int slot);

  // Exited 0, and not in the middle of a request (a handler's exit(0)).
  bool ended_cleanly(const ProcessExit& exit) const;
  // The process ended before writing its request's access line.
  bool owes_access_line(const ProcessExit& exit) const;
  // Counts the exit (a crash, unless `stopping`; busy) and writes the
  // access line of a request whose process ended before writing it.
  void account_exit(const ProcessExit& exit, const Config& config, const LogFiles& logs, bool stopping);
  WorkersShared& workers_shared() { return *workers_shared_; }

  // Reaps every child that has exited; `on_exit` sees each of ours while its
  // slot still holds what it reported, before the slot is freed. Children
  // that are not in the table (a module's trial process; orphans, as PID 1
  // in a container) go to `on_other` with their wait status. What is left of
  // the process group numbered with one of ours (the CGI program it ran) is
  // SIGKILLed first.
  void reap(const std::function<void(const ProcessExit&)>& on_exit,
            const std::function<void(pid_t pid, int status)>& on_other);

  // "worker 4711 (GET /crash) killed by signal 11 (Segmentation fault)", for
  // a process that did not end cleanly; `noun` is "child" or "worker".
  std::string describe(const ProcessExit& exit, std::string_view noun);

  // SIGKILLs (with its CGI program's group, see reap) every process whose kill_at has passed and for which
  // `overdue` gives a reason (logged with it; empty: spare it), and again kTermWait later while it is still
  // listed. Returns the earliest kill_at still ahead (Deadline::max(): none).
  Deadline kill_overdue(Deadline now, const std::function<std::string(int slot)>& overdue);

  // Signals every process, and the CGI program each runs.
  void signal_all(int sig) const;

 private:
  struct SharedSlot;
  std::vector<ProcessSlot> slots_;
  SharedSlot* shared_ = nullptr;
  WorkersShared* workers_shared_ = nullptr;
  void* mapping_ = nullptr;
  std::size_t mapping_bytes_ = 0;
  int live_ = 0;
  int next_slot_ = 0;
};

// After SIGTERM or SIGKILL, how long a process gets before the next step.
constexpr auto kTermWait = std::chrono::seconds(2);

}  // namespace forkserve

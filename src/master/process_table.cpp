#include "master/process_table.hpp"

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <new>

#include "core/log.hpp"
#include "core/stats.hpp"

namespace forkserve {
namespace {

// Signals a process the parent started and the process group numbered with
// its pid, which holds the CGI program it runs, if any (handlers/cgi.cpp):
// so the program and what it started end with it. The pid is the parent's
// own record of fork()'s return, never anything from the shared mapping;
// until the process is reaped no other process can hold that number, so a
// group with it can only be one the process made.
void signal_with_group(pid_t pid, int sig) {
  if (pid <= 0) return;
  ::kill(-pid, sig);
  ::kill(pid, sig);
}

}  // namespace

constexpr std::size_t kLabelSize = 124;
struct ProcessTable::SharedSlot {
  char label[kLabelSize];
  WorkerStatus worker;
  RequestRecord request;
};

bool ProcessTable::open(int capacity, std::string& error) {
  static_assert(sizeof(WorkersShared) <= alignof(std::max_align_t));
  mapping_bytes_ = alignof(std::max_align_t) + sizeof(SharedSlot) * static_cast<std::size_t>(capacity);
  void* mapping = ::mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) {
    error = std::string("mmap process table: ") + std::strerror(errno);
    return false;
  }
  mapping_ = mapping;
  workers_shared_ = new (mapping) WorkersShared;
  shared_ = new (static_cast<char*>(mapping) + alignof(std::max_align_t)) SharedSlot[capacity];
  slots_.assign(static_cast<std::size_t>(capacity), ProcessSlot{});
  return true;
}

ProcessTable::~ProcessTable() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_bytes_);
}

int ProcessTable::claim() {
  const int count = capacity();
  for (int i = 0; i < count; ++i) {
    int slot = (next_slot_ + i) % count;
    if (slots_[static_cast<std::size_t>(slot)].pid != 0) continue;
    next_slot_ = (slot + 1) % count;
    SharedSlot& shared = shared_[slot];
    shared.label[0] = '\0';
    shared.worker.connections.store(0);
    shared.worker.busy_until_ns.store(0);
    shared.worker.ready.store(0);
    shared.request.serving.store(0);
    shared.request.pending.store(0);
    return slot;
  }
  return -1;
}

void ProcessTable::add(int slot, pid_t pid, Deadline kill_at, unsigned generation) {
  slots_[static_cast<std::size_t>(slot)] = {pid, kill_at, Clock::now(), generation, false};
  ++live_;
}

void ProcessTable::set_kill_at(int slot, Deadline kill_at) {
  ProcessSlot& process = slots_[static_cast<std::size_t>(slot)];
  if (!process.killed) process.kill_at = kill_at;
}

std::span<char> ProcessTable::label(int slot) { return shared_[slot].label; }
WorkerStatus& ProcessTable::status(int slot) { return shared_[slot].worker; }
RequestRecord& ProcessTable::request(int slot) { return shared_[slot].request; }

bool ProcessTable::ended_cleanly(const ProcessExit& exit) const {
  // exit(0) from a handler mid-request is no clean end.
  return WIFEXITED(exit.status) && WEXITSTATUS(exit.status) == 0 && !owes_access_line(exit);
}

bool ProcessTable::owes_access_line(const ProcessExit& exit) const {
  std::uint32_t pending = shared_[exit.slot].request.pending.load(std::memory_order_acquire);
  if (pending == 0) return false;
  if (pending == pending_mark(exit.pid)) return true;
  // Neither: a handler scribbled on the record. A process that died may have
  // done it mid-request, and gets its line from what the record holds; one
  // that ended cleanly was another's victim, and owes nothing.
  return !(WIFEXITED(exit.status) && WEXITSTATUS(exit.status) == 0);
}

void ProcessTable::account_exit(const ProcessExit& exit, const Config& config, const LogFiles& logs,
                                bool stopping) {
  RequestRecord& request = shared_[exit.slot].request;
  if (request.serving.exchange(0, std::memory_order_relaxed) != 0) {
    stats().busy.fetch_sub(1, std::memory_order_relaxed);  // it died before taking itself off
  }
  const bool left_line = WIFEXITED(exit.status) && WEXITSTATUS(exit.status) == kExitLineLeftToParent;
  if (!stopping && !ended_cleanly(exit) && !left_line) stats().handler_crashes.fetch_add(1, std::memory_order_relaxed);
  if (!owes_access_line(exit)) return;
  request.pending.store(0, std::memory_order_relaxed);
  // The access line the process did not write, from what it recorded: the
  // request, and the status sent (500 if none); the size "-". Every field is
  // bounded here, and format_access_line escapes every byte.
  auto text = [](const char* field, std::size_t size) { return std::string_view(field, strnlen(field, size)); };
  int status = request.status.load(std::memory_order_relaxed);
  if (status < 100 || status > 599) status = 500;
  std::time_t now = std::time(nullptr);
  std::time_t started = within_server_lifetime(request.started, now) ? request.started : now;
  AccessRecord record{text(request.remote_addr, sizeof request.remote_addr), started,
                      text(request.request_line, sizeof request.request_line), status, 0};
  // The size is known only from a process that handed its line over; any
  // other's is what a crashing handler may have scribbled.
  if (WIFEXITED(exit.status) && WEXITSTATUS(exit.status) == kExitLineLeftToParent) {
    record.body_bytes = request.body_bytes.load(std::memory_order_relaxed);
  }
  if (request.has_referer != 0) record.referer = text(request.referer, sizeof request.referer);
  if (request.has_user_agent != 0) record.user_agent = text(request.user_agent, sizeof request.user_agent);
  append_log_line(LogStream::Access, logs.access_fd(), format_access_line(record, config.log_format));
  count_response(status);
}

void ProcessTable::reap(const std::function<void(const ProcessExit&)>& on_exit,
                        const std::function<void(pid_t pid, int status)>& on_other) {
  while (true) {
    // Looked at before it is reaped (WNOWAIT): while it is a zombie its pid
    // still numbers only its own group, so what is left of that group (a CGI
    // program of a child that crashed or was killed) is killed first.
    siginfo_t exited{};
    if (::waitid(P_ALL, 0, &exited, WEXITED | WNOHANG | WNOWAIT) != 0 || exited.si_pid <= 0) break;
    const pid_t pid = exited.si_pid;
    auto found =
        std::find_if(slots_.begin(), slots_.end(), [pid](const ProcessSlot& s) { return s.pid == pid; });
    if (found != slots_.end()) ::kill(-pid, SIGKILL);
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) break;
    if (found == slots_.end()) {
      on_other(pid, status);
      continue;
    }
    int slot = static_cast<int>(found - slots_.begin());
    on_exit({slot, pid, status});
    *found = ProcessSlot{};
    --live_;
  }
}

std::string ProcessTable::describe(const ProcessExit& exit, std::string_view noun) {
  std::string message = std::string(noun) + " " + std::to_string(exit.pid);
  const char* label = shared_[exit.slot].label;
  if (std::size_t length = strnlen(label, kLabelSize); length > 0) {
    // The process wrote it; log_error escapes any control byte in it.
    message.append(" (").append(label, length).append(")");
  }
  if (WIFSIGNALED(exit.status)) {
    int sig = WTERMSIG(exit.status);
    message += " killed by signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
  } else if (WEXITSTATUS(exit.status) == kExitLineLeftToParent) {
    message += " left its access line to the parent: its handler closed the log's descriptor, or a stalled log"
               " held it past its deadline";
  } else if (WEXITSTATUS(exit.status) == 0) {
    message += " exited with status 0 before its response was logged (exit() in the handler?)";
  } else {
    message += " exited with status " + std::to_string(WEXITSTATUS(exit.status));
  }
  return message;
}

Deadline ProcessTable::kill_overdue(Deadline now, const std::function<std::string(int slot)>& overdue) {
  Deadline next = Deadline::max();
  for (int i = 0; i < capacity(); ++i) {
    ProcessSlot& process = slots_[static_cast<std::size_t>(i)];
    if (process.pid <= 0) continue;
    if (process.kill_at <= now) {
      if (std::string why = process.killed ? "" : overdue(i); process.killed || !why.empty()) {
        if (!why.empty()) {
          log_error(why + "; killing it");
          // Its own deadlines did not end it: a handler that outlived them.
          stats().timeouts[static_cast<int>(TimeoutPhase::Handler)].fetch_add(1, std::memory_order_relaxed);
        }
        signal_with_group(process.pid, SIGKILL);
        process.killed = true;
        process.kill_at = now + kTermWait;  // if it is still listed then, try again
      }
    }
    if (process.kill_at > now) next = std::min(next, process.kill_at);
  }
  return next;
}

void ProcessTable::signal_all(int sig) const {
  for (const ProcessSlot& process : slots_) {
    signal_with_group(process.pid, sig);
  }
}

}  // namespace forkserve

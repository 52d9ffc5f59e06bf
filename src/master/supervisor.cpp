#include "master/supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <new>
#include <string>
#include <vector>

#include "connection/child.hpp"
#include "core/stats.hpp"
#include "master/worker.hpp"

namespace forkserve {
namespace {

// One slot per possible child (or worker). The pid and the deadline live in
// the parent's own memory; only SharedSlot is in a mapping shared with the
// children, where a child writes what it is serving ("GET /path") so the
// parent can name the request when the child dies, and a worker says how busy
// it is. A child scribbling on that mapping can garble a log line or get
// itself killed, never corrupt the parent's bookkeeping.
struct ChildSlot {
  pid_t pid;            // 0: free
  Deadline kill_at;     // past this the parent SIGKILLs it, whatever its handler did
  unsigned generation;  // workers: which set (SIGHUP starts a new one)
  Deadline started_at;  // workers
};
constexpr std::size_t kLabelSize = 124;
struct SharedSlot {
  char label[kLabelSize];
  WorkerStatus worker;
  RequestRecord request;  // for the access line, should the child die before writing it
};

// Signal state. Every signal the parent handles is blocked except inside
// wait_for_event(), so the handlers below never run while the main loop
// touches these.
struct ExitRecord {
  int slot;
  pid_t pid;
  int status;
};
ChildSlot* g_slots = nullptr;      // private to the parent
SharedSlot* g_shared = nullptr;    // shared with the children
WorkersShared* g_workers_shared = nullptr;
int g_slot_count = 0;
volatile sig_atomic_t g_live = 0;
ExitRecord g_abnormal_exits[64];  // children that did not exit 0, for the main loop to log
volatile sig_atomic_t g_abnormal_count = 0;
volatile sig_atomic_t g_abnormal_dropped = 0;  // beyond the array in one wake-up
volatile sig_atomic_t g_stop_requests = 0;
volatile sig_atomic_t g_reopen_requested = 0;
volatile sig_atomic_t g_reload_requested = 0;

// Reaps every child that has exited (the card's waitpid(-1, WNOHANG) loop).
// Async-signal-safe: no allocation, no stdio, errno preserved.
void on_sigchld(int) {
  int saved_errno = errno;
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    // Foreign children (we may be PID 1 in a container) are reaped silently.
    for (int i = 0; i < g_slot_count; ++i) {
      if (g_slots[i].pid != pid) continue;
      g_slots[i].pid = 0;
      g_live = g_live - 1;
      bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      // exit(0) from a handler mid-request is no clean end either.
      if (clean && g_shared[i].request.pending.load(std::memory_order_acquire) == 0) break;
      if (g_abnormal_count < static_cast<sig_atomic_t>(std::size(g_abnormal_exits))) {
        g_abnormal_exits[g_abnormal_count] = {i, pid, status};
        g_abnormal_count = g_abnormal_count + 1;
      } else {
        g_abnormal_dropped = g_abnormal_dropped + 1;
      }
      break;
    }
  }
  errno = saved_errno;
}

void on_stop(int) { g_stop_requests = g_stop_requests + 1; }
void on_reopen(int) { g_reopen_requested = 1; }
void on_reload(int) { g_reload_requested = 1; }

constexpr int kHandledSignals[] = {SIGCHLD, SIGINT, SIGTERM, SIGUSR1, SIGHUP};

// Sent, best effort and without blocking, when no child can be forked.
constexpr std::string_view kUnavailable =
    "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
    "Connection: close\r\n\r\n503 Service Unavailable\n";

// How long the parent stops accepting after running out of descriptors,
// memory or processes, so it does not spin on the same failure.
constexpr timespec kResourceBackoff{0, 100'000'000};

// While flood counts wait to be written, the parent wakes at least this often.
constexpr timespec kFloodFlushInterval{1, 0};

// Connections accepted per wake-up before going back to ppoll() to reap.
constexpr int kAcceptBatch = 8;

// After --grace, stragglers get SIGTERM, then this long before SIGKILL.
constexpr auto kTermWait = std::chrono::seconds(2);

// Workers: how often the parent checks for one stuck past its deadline, and,
// while a new set replaces the old one, for the first new worker ready (until
// then both sets serve).
constexpr auto kWorkerCheckInterval = std::chrono::seconds(1);
constexpr auto kReplacementCheckInterval = std::chrono::milliseconds(10);
// A worker that dies before it is ready to accept failed to boot (a module
// broken after fork(), usually). After such a death only one worker starts
// at a time, after a pause that doubles from 100 ms with each failure in a
// row; this many in a row and the server gives up rather than fork forever
// (or, after a SIGHUP, goes back to the previous module).
constexpr auto kFirstRespawnPause = std::chrono::milliseconds(100);
constexpr int kMaxBootFailures = 5;

// One set of workers, started together (at start-up or SIGHUP). Its workers
// watch the read end of `stop`: closing the parent's write end (or the
// parent dying) tells them to leave after their connection.
struct WorkerSet {
  unsigned generation;
  UniqueFd stop_read;
  UniqueFd stop_write;
};

class Supervisor {
 public:
  Supervisor(const Config& config, std::vector<Listener> listeners, HandlerModule& module, LogFiles& logs)
      : config_(config), listeners_(std::move(listeners)), module_(module), logs_(logs) {
    for (const Listener& listener : listeners_) {
      poll_fds_.push_back({listener.fd.get(), POLLIN, 0});
      listener_fds_.push_back(listener.fd.get());
    }
  }

  int run() {
    // Workers: room for a new set while the old one drains after SIGHUP.
    g_slot_count = workers_mode() ? 2 * config_.workers : config_.max_children;
    static_assert(sizeof(WorkersShared) <= alignof(std::max_align_t));
    std::size_t bytes = alignof(std::max_align_t) + sizeof(SharedSlot) * static_cast<std::size_t>(g_slot_count);
    void* shared = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
      log_error(std::string("mmap child table: ") + std::strerror(errno));
      return 1;
    }
    g_workers_shared = new (shared) WorkersShared;
    g_shared = new (static_cast<char*>(shared) + alignof(std::max_align_t)) SharedSlot[g_slot_count];
    slots_.resize(static_cast<std::size_t>(g_slot_count));
    g_slots = slots_.data();
    if (workers_mode()) {
      reopen_wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!reopen_wake_) {
        log_error(std::string("eventfd: ") + std::strerror(errno));
        return 1;
      }
      if (!start_worker_set()) return 1;
    }
    install_signal_handlers();
    // Announced only now: whoever waits for this line may signal us at once.
    for (const Listener& listener : listeners_) {
      write_line(STDOUT_FILENO, "forkserve: serving HTTP on " + listener.endpoint.host + " port " +
                                    std::to_string(listener.endpoint.port) + " (backlog " +
                                    std::to_string(listener.backlog) + ", pid " + std::to_string(::getpid()) +
                                    (workers_mode() ? ", " + std::to_string(config_.workers) + " workers" : "") +
                                    ")\n");
    }
    // A daemon's standard output was the launcher's pipe, there for these
    // lines only; from now on it is /dev/null, as its standard input is.
    if (config_.daemon) ::dup2(STDIN_FILENO, STDOUT_FILENO);
    if (workers_mode()) {
      supervise_workers();
    } else {
      serve();
    }
    shut_down();
    return exit_status_;
  }

 private:
  bool workers_mode() const { return config_.workers > 0; }
  const char* process_noun() const { return workers_mode() ? "worker" : "child"; }

  void install_signal_handlers() {
    sigset_t handled;
    sigemptyset(&handled);
    for (int sig : kHandledSignals) sigaddset(&handled, sig);
    ::sigprocmask(SIG_BLOCK, &handled, &original_mask_);
    ::sigprocmask(SIG_BLOCK, nullptr, &blocked_mask_);
    poll_mask_ = original_mask_;
    for (int sig : kHandledSignals) sigdelset(&poll_mask_, sig);

    struct sigaction action {};
    sigfillset(&action.sa_mask);
    auto install = [&action](int sig, void (*handler)(int), int flags) {
      action.sa_handler = handler;
      action.sa_flags = flags;
      ::sigaction(sig, &action, nullptr);
    };
    install(SIGCHLD, on_sigchld, SA_NOCLDSTOP);
    install(SIGINT, on_stop, 0);
    install(SIGTERM, on_stop, 0);
    install(SIGUSR1, on_reopen, 0);
    install(SIGHUP, on_reload, 0);
    ::signal(SIGPIPE, SIG_IGN);  // a vanished client is an EPIPE, never a death
  }

  // Waits for a signal or, if `listen`, a connection; handlers run only in
  // here. Afterwards acts on what they recorded.
  int wait_for_event(bool listen, const timespec* timeout) {
    int ready = ::ppoll(poll_fds_.data(), listen ? poll_fds_.size() : 0, timeout, &poll_mask_);
    if (ready > 0) {
      // ppoll() runs handlers only when a signal interrupts its wait; when
      // the listener is already readable (always, under load) a pending
      // SIGCHLD stays pending. Open the mask briefly so it is delivered.
      ::sigprocmask(SIG_SETMASK, &poll_mask_, nullptr);
      ::sigprocmask(SIG_SETMASK, &blocked_mask_, nullptr);
    }
    report_abnormal_exits();  // before any new child can take a freed slot
    if (!workers_mode()) stats().busy.store(g_live, std::memory_order_relaxed);
    floods_pending_ = flush_floods();  // the counts of a flood whose last line was not followed by another
    if (g_reopen_requested) {
      g_reopen_requested = 0;
      // Workers reopen theirs before their next connection, and idle ones
      // at once (woken through the eventfd).
      g_workers_shared->log_generation.fetch_add(1);
      std::string error;
      if (!logs_.reopen(error)) log_error(error);
      if (workers_mode()) (void)::eventfd_write(reopen_wake_.get(), 1);
    }
    if (g_reload_requested) {
      g_reload_requested = 0;
      std::string message;
      HandlerModule::Reload outcome = module_.reload(message);
      log_error(message);
      if (outcome != HandlerModule::Reload::Failed) stats().reloads.fetch_add(1, std::memory_order_relaxed);
      if (!workers_mode()) {
        module_.commit();  // children forked from now on run it
      } else if (outcome != HandlerModule::Reload::Failed) {
        (void)start_worker_set();  // the old set leaves once one of the new ones is ready
      }
    }
    return ready;
  }

  void serve() {
    // Saturation is reported once when the cap is reached and once when the
    // backlog has drained, not at every child that comes and goes.
    bool saturated = false;
    while (g_stop_requests == 0) {
      bool full = g_live >= config_.max_children;
      if (full && !saturated) {
        saturated = true;
        log_error("at --max-children " + std::to_string(config_.max_children) +
                  ": new connections wait in the backlog");
      }
      kill_overdue_children();
      timespec until_next_check{};
      const timespec* timeout = backing_off_ ? &kResourceBackoff : nullptr;
      if (!backing_off_ && g_live > 0) timeout = &(until_next_check = time_until(next_kill_check_));
      if (floods_pending_ && (timeout == nullptr || timeout->tv_sec >= kFloodFlushInterval.tv_sec)) {
        timeout = &kFloodFlushInterval;
      }
      bool listen = !full && !backing_off_;
      backing_off_ = false;
      if (wait_for_event(listen, timeout) > 0 && listen && accept_connections() && saturated) {
        saturated = false;
        log_error("backlog drained: below --max-children again");
      }
    }
  }

  // Accepts from every ready listener; true if every queue was found empty.
  bool accept_connections() {
    bool drained = true;
    for (const pollfd& p : poll_fds_) {
      if (p.revents != 0) drained = accept_from(p.fd) && drained;
    }
    return drained;
  }

  // Accepts until the queue is empty, the cap is reached or a batch is done;
  // true if the queue was found empty. The batch is bounded because exited
  // children are only reaped back in ppoll(): under sustained load an
  // unbounded loop would fill the cap with zombies.
  bool accept_from(int listener_fd) {
    for (int batch = 0; batch < kAcceptBatch && g_live < config_.max_children && g_stop_requests == 0; ++batch) {
      Connection connection;
      socklen_t length = sizeof connection.peer;
      connection.fd = ::accept4(listener_fd, reinterpret_cast<sockaddr*>(&connection.peer), &length,
                                SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (connection.fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          back_off(std::string("accept: ") + std::strerror(errno));
          return false;
        }
        continue;  // EINTR, ECONNABORTED, EPROTO, network errors: that connection is gone, not us
      }
      connection.accepted_at = Clock::now();
      fork_child(connection);
    }
    return false;
  }

  int free_slot() {
    for (int i = 0; i < g_slot_count; ++i) {
      int slot = (next_slot_ + i) % g_slot_count;
      if (g_slots[slot].pid == 0) {
        next_slot_ = (slot + 1) % g_slot_count;
        return slot;
      }
    }
    return -1;
  }

  void fork_child(Connection& connection) {
    int slot = free_slot();
    if (slot < 0) {  // only if the table and g_live disagree; refuse rather than guess
      ::close(connection.fd);
      return;
    }
    ChildSlot& child = g_slots[slot];
    connection.label = g_shared[slot].label;
    connection.label[0] = '\0';
    connection.label_size = kLabelSize;
    g_shared[slot].request.pending.store(0);
    connection.record = &g_shared[slot].request;
    pid_t pid = ::fork();
    if (pid == 0) {
      prepare_child();
      if (!config_.status_path.empty()) connection.listen_queue = read_listen_queue(listener_fds_);
      listeners_.clear();
      const forkserve_module& module = module_.get();
      if (module.post_fork) module.post_fork();
      end_child(serve_connection(connection, config_, module, logs_.access_fd()));
    }
    if (pid < 0) {
      stats().fork_failures.fetch_add(1, std::memory_order_relaxed);
      ::send(connection.fd, kUnavailable.data(), kUnavailable.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      back_off(std::string("fork: ") + std::strerror(errno));
    } else {
      child.pid = pid;
      child.kill_at = connection.accepted_at + lifetime_limit(config_);
      next_kill_check_ = std::min(next_kill_check_, child.kill_at);
      g_live = g_live + 1;
    }
    ::close(connection.fd);  // the child has its own copy
  }

  // Signal dispositions for a new child or worker.
  void prepare_child() {
    ::signal(SIGCHLD, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    // Signals meant for the server as a whole often reach the whole process
    // group (^C in a terminal, a hang-up, `pkill -USR1 forkserve` after
    // logrotate); the parent decides what they mean, so children ignore them.
    for (int sig : {SIGINT, SIGHUP, SIGUSR1}) ::signal(sig, SIG_IGN);
    ::sigprocmask(SIG_SETMASK, &original_mask_, nullptr);
  }

  void back_off(const std::string& why) {
    backing_off_ = true;
    std::time_t now = std::time(nullptr);
    if (now != last_backoff_log_) {  // at most one line a second
      last_backoff_log_ = now;
      log_error(why + "; pausing accept");
    }
  }

  // The access line of a request whose process ended before writing it,
  // from what the parent knows: the request, and the status sent (500 and
  // no size if none). The record was written by the child: every field is
  // bounded here, and format_access_line escapes every byte.
  void write_access_line_for(RequestRecord& request) {
    if (request.pending.exchange(0, std::memory_order_acquire) == 0) return;
    auto text = [](const char* field, std::size_t size) { return std::string_view(field, strnlen(field, size)); };
    int status = request.status.load(std::memory_order_relaxed);
    if (status < 100 || status > 599) status = 500;
    AccessRecord record{text(request.remote_addr, sizeof request.remote_addr), static_cast<std::time_t>(request.started),
                        text(request.request_line, sizeof request.request_line), status, 0};
    if (request.has_referer) record.referer = text(request.referer, sizeof request.referer);
    if (request.has_user_agent) record.user_agent = text(request.user_agent, sizeof request.user_agent);
    append_log_line(LogStream::Access, logs_.access_fd(), format_access_line(record, config_.log_format));
    count_response(status);
  }

  void report_abnormal_exits() {
    for (sig_atomic_t i = 0; i < g_abnormal_count; ++i) {
      const ExitRecord& exit = g_abnormal_exits[i];
      SharedSlot& shared = g_shared[exit.slot];
      if (workers_mode()) {
        count_boot_failure(exit.slot);
        // It died with a connection in hand, so it did not count itself idle.
        if (shared.worker.busy_until_ns.load(std::memory_order_relaxed) != 0) {
          stats().busy.fetch_sub(1, std::memory_order_relaxed);
        }
      }
      if (!stopping_) stats().handler_crashes.fetch_add(1, std::memory_order_relaxed);
      write_access_line_for(shared.request);
      std::string message = process_noun() + (" " + std::to_string(exit.pid));
      if (const char* label = g_shared[exit.slot].label; label[0] != '\0') {
        // The child wrote it; log_error escapes any control byte in it.
        message.append(" (").append(label, strnlen(label, kLabelSize)).append(")");
      }
      if (WIFSIGNALED(exit.status)) {
        int sig = WTERMSIG(exit.status);
        message += " killed by signal " + std::to_string(sig) + " (" + ::strsignal(sig) + ")";
      } else if (WEXITSTATUS(exit.status) == 0) {
        message += " exited with status 0 before its response was logged (exit() in the handler?)";
      } else {
        message += " exited with status " + std::to_string(WEXITSTATUS(exit.status));
      }
      log_error(message);
    }
    g_abnormal_count = 0;
    if (g_abnormal_dropped > 0) {
      log_error(std::to_string(g_abnormal_dropped) + (workers_mode() ? " more workers" : " more children") +
                " ended abnormally (not listed)");
      g_abnormal_dropped = 0;
    }
  }

  // The child's own alarm ends it at its deadlines; this is the backstop for
  // a handler that blocked or cancelled that alarm. Scans the table only
  // when the earliest known deadline has passed.
  void kill_overdue_children() {
    Deadline now = Clock::now();
    if (g_live == 0 || now < next_kill_check_) return;
    next_kill_check_ = Deadline::max();
    for (int i = 0; i < g_slot_count; ++i) {
      ChildSlot& child = g_slots[i];
      if (child.pid <= 0) continue;
      if (child.kill_at <= now) {
        log_error("child " + std::to_string(child.pid) + " overran every deadline; killing it");
        ::kill(child.pid, SIGKILL);
        child.kill_at = now + kTermWait;  // if it is still listed then, try again
      }
      next_kill_check_ = std::min(next_kill_check_, child.kill_at);
    }
  }

  static timespec time_until(Deadline deadline) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - Clock::now()).count();
    if (ns < 0) ns = 0;
    return {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  }

  // Waits for children to exit until `until` or a further stop signal.
  void wait_for_children(Deadline until) {
    sig_atomic_t stops = g_stop_requests;
    while (g_live > 0 && g_stop_requests == stops) {
      if (until <= Clock::now()) return;
      timespec timeout = time_until(until);
      wait_for_event(false, &timeout);
    }
  }

  void signal_children(int sig) {
    for (int i = 0; i < g_slot_count; ++i) {
      if (g_slots[i].pid > 0) ::kill(g_slots[i].pid, sig);
    }
  }

  // Workers: keeps --workers of the current set running, replaces those
  // that exit, and kills one stuck past its connection's deadline.
  void supervise_workers() {
    while (g_stop_requests == 0 && exit_status_ == 0) {
      start_missing_workers();
      kill_overdue_workers();
      // Wake for the next check, or sooner when a paused start is due.
      Deadline now = Clock::now();
      Deadline next = now + (replacing_ ? Clock::duration(kReplacementCheckInterval) : kWorkerCheckInterval);
      if (respawn_at_ > now) next = std::min(next, respawn_at_);
      timespec timeout = time_until(next);
      // With no worker at all because fork() fails, answer 503 as the
      // default mode does rather than leave clients waiting in the backlog.
      bool refuse = fork_failing_ && g_live == 0;
      if (wait_for_event(refuse, &timeout) > 0 && refuse) refuse_connections();
    }
  }

  // A new set of workers for the current module; the previous set (if any)
  // keeps serving until one of the new ones is ready. False if it cannot.
  bool start_worker_set() {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      log_error(std::string("pipe: ") + std::strerror(errno) +
                (worker_sets_.empty() ? "" : "; keeping the workers there are"));
      module_.rollback();
      return false;
    }
    if (!worker_sets_.empty()) replacing_ = true;
    worker_sets_.push_back({++generation_, UniqueFd(pipe_fds[0]), UniqueFd(pipe_fds[1])});
    boot_failures_ = 0;
    respawn_at_ = Deadline{};
    return true;
  }

  // Tells the set to leave: each of its workers ends after its connection.
  void retire_worker_set(unsigned generation) {
    std::erase_if(worker_sets_, [generation](const WorkerSet& set) { return set.generation == generation; });
  }

  void start_missing_workers() {
    int running = 0;
    for (int i = 0; i < g_slot_count; ++i) {
      const ChildSlot& worker = g_slots[i];
      if (worker.pid <= 0 || worker.generation != generation_) continue;
      ++running;
      if (!g_shared[i].worker.ready.load(std::memory_order_relaxed)) continue;
      // Only a worker started after the last boot failure proves the module boots.
      if (worker.started_at > last_boot_failure_) boot_failures_ = 0;
      if (replacing_) finish_replacing();
    }
    // After a boot failure, one probe at a time until one gets ready.
    int wanted = boot_failures_ > 0 ? std::min(config_.workers, running + 1 - probing()) : config_.workers;
    while (running < wanted && Clock::now() >= respawn_at_ && start_worker()) ++running;
  }

  // Workers of the current set started since the last boot failure and not yet ready.
  int probing() const {
    int count = 0;
    for (int i = 0; i < g_slot_count; ++i) {
      const ChildSlot& worker = g_slots[i];
      if (worker.pid > 0 && worker.generation == generation_ && worker.started_at > last_boot_failure_ &&
          !g_shared[i].worker.ready.load(std::memory_order_relaxed)) {
        ++count;
      }
    }
    return count;
  }

  // A worker of the new set is ready: the new module boots, so the old one
  // and its workers can go.
  void finish_replacing() {
    replacing_ = false;
    module_.commit();
    while (worker_sets_.size() > 1) worker_sets_.erase(worker_sets_.begin());
  }

  bool start_worker() {
    int slot = free_slot();
    if (slot < 0) return false;  // the old set is still draining
    SharedSlot& shared = g_shared[slot];
    shared.label[0] = '\0';
    shared.worker.connections.store(0);
    shared.worker.busy_until_ns.store(0);
    shared.worker.ready.store(0);
    shared.request.pending.store(0);
    const WorkerSet& set = worker_sets_.back();
    pid_t pid = ::fork();
    if (pid == 0) {
      prepare_child();
      // Only its own set's read end: the write ends stay with the parent, so
      // that the parent's death, too, reads as "stop".
      for (const WorkerSet& other : worker_sets_) {
        ::close(other.stop_write.get());
        if (other.generation != set.generation) ::close(other.stop_read.get());
      }
      run_worker({listener_fds_, &config_, &module_.get(), &logs_, &shared.worker, g_workers_shared,
                  set.stop_read.get(), reopen_wake_.get(), shared.label, kLabelSize, &shared.request});
    }
    fork_failing_ = pid < 0;
    if (pid < 0) {
      stats().fork_failures.fetch_add(1, std::memory_order_relaxed);
      back_off(std::string("fork: ") + std::strerror(errno));
      respawn_at_ = Clock::now() + std::chrono::nanoseconds(kResourceBackoff.tv_nsec);
      return false;
    }
    Deadline now = Clock::now();
    // Until it is ready, --handler-timeout bounds its start (post_fork).
    g_slots[slot] = {pid, now + std::chrono::seconds(config_.handler_timeout), set.generation, now};
    g_live = g_live + 1;
    return true;
  }

  void refuse_connections() {
    for (const pollfd& p : poll_fds_) {
      if (p.revents == 0) continue;
      for (int batch = 0; batch < kAcceptBatch; ++batch) {
        UniqueFd client(::accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (!client) break;
        ::send(client.get(), kUnavailable.data(), kUnavailable.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      }
    }
  }

  // Called for each worker that ended abnormally, before its slot is reused.
  void count_boot_failure(int slot) {
    if (exit_status_ != 0 || stopping_) return;  // deaths while stopping are ours
    const ChildSlot& worker = g_slots[slot];
    if (g_shared[slot].worker.ready.load(std::memory_order_relaxed)) return;  // it booted: not a boot failure
    // Workers started together count once: a bad module kills them all at once.
    if (worker.started_at <= last_boot_failure_) return;
    last_boot_failure_ = Clock::now();
    if (++boot_failures_ < kMaxBootFailures) {
      respawn_at_ = last_boot_failure_ + kFirstRespawnPause * (1 << (boot_failures_ - 1));
      return;
    }
    if (replacing_ && worker.generation == generation_) {
      log_error("workers of the reloaded handler died " + std::to_string(boot_failures_) +
                " times in a row before they were ready; back to the previous handler");
      module_.rollback();
      retire_worker_set(generation_);
      generation_ = worker_sets_.back().generation;
      replacing_ = false;
      boot_failures_ = 0;
      respawn_at_ = Deadline{};
      return;
    }
    log_error(std::to_string(boot_failures_) +
              " workers in a row died before they were ready; stopping (is the handler module broken?)");
    exit_status_ = 1;
  }

  // Kills a worker stuck past its connection's deadline, or past
  // --handler-timeout in its start-up.
  void kill_overdue_workers() {
    Deadline now = Clock::now();
    std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
    std::int64_t limit_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(lifetime_limit(config_)).count();
    for (int i = 0; i < g_slot_count; ++i) {
      ChildSlot& worker = g_slots[i];
      if (worker.pid <= 0 || now < worker.kill_at) continue;
      const WorkerStatus& status = g_shared[i].worker;
      std::int64_t busy_until = status.busy_until_ns.load(std::memory_order_relaxed);
      // A deadline is believed only near now: the worker wrote it, and one
      // that scribbled on the shared page must not get the others killed.
      bool overdue = busy_until != 0 && busy_until <= now_ns && busy_until > now_ns - 2 * limit_ns;
      bool stuck_starting = !status.ready.load(std::memory_order_relaxed);
      if (!overdue && !stuck_starting) continue;
      log_error("worker " + std::to_string(worker.pid) +
                (overdue ? " overran every deadline of its connection" : " did not get ready in time") +
                "; killing it");
      ::kill(worker.pid, SIGKILL);
      worker.kill_at = now + kTermWait;  // if it is still listed then, try again
    }
  }

  void shut_down() {
    if (workers_mode()) {
      // Workers hold the listeners too: shut them down for every process,
      // so new connections are refused now, as in the default mode. Not a
      // socket systemd passed: it queues connections for the next instance.
      // Idle workers leave at once; busy ones after their connection.
      for (const Listener& listener : listeners_) {
        if (!listener.inherited) ::shutdown(listener.fd.get(), SHUT_RD);
      }
      worker_sets_.clear();
    }
    stopping_ = true;
    listeners_.clear();  // refuse new connections at once
    if (g_live > 0 && g_stop_requests <= 1) {
      log_error("stopping: waiting up to " + std::to_string(config_.grace) + " s for " + std::to_string(g_live) +
                (workers_mode() ? " worker(s)" : " request(s)"));
      wait_for_children(Clock::now() + std::chrono::seconds(config_.grace));
    }
    if (g_live > 0 && g_stop_requests <= 1 && !workers_mode()) {
      signal_children(SIGTERM);
      wait_for_children(Clock::now() + kTermWait);
    }
    if (g_live > 0) {
      signal_children(SIGKILL);
      wait_for_children(Clock::now() + kTermWait);  // SIGKILL cannot be ignored: this ends quickly
    }
  }

  const Config& config_;
  std::vector<Listener> listeners_;
  std::vector<pollfd> poll_fds_;  // one per listener
  std::vector<int> listener_fds_;
  // Workers:
  std::vector<WorkerSet> worker_sets_;  // oldest first; the last is the current set
  unsigned generation_ = 0;             // the current set's
  bool replacing_ = false;              // after SIGHUP, until a worker of the new set is ready
  UniqueFd reopen_wake_;                // eventfd: written at SIGUSR1 to wake idle workers
  int boot_failures_ = 0;               // workers that died before they were ready, in a row
  Deadline last_boot_failure_{};
  Deadline respawn_at_{};               // no new worker before this
  bool fork_failing_ = false;           // the last fork() failed
  bool stopping_ = false;
  int exit_status_ = 0;
  HandlerModule& module_;
  LogFiles& logs_;
  std::vector<ChildSlot> slots_;
  Deadline next_kill_check_ = Deadline::max();
  sigset_t original_mask_{};  // as we found it; children get it back
  sigset_t blocked_mask_{};   // outside ppoll(): the handled signals blocked
  sigset_t poll_mask_{};      // inside ppoll(): the handled signals open
  int next_slot_ = 0;
  bool backing_off_ = false;
  bool floods_pending_ = false;  // flood counts still to be written (flush_floods)
  std::time_t last_backoff_log_ = 0;
};

}  // namespace

int run_supervisor(const Config& config, std::vector<Listener> listeners, HandlerModule& module, LogFiles& logs) {
  return Supervisor(config, std::move(listeners), module, logs).run();
}

}  // namespace forkserve

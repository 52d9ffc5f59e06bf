#include "master/signals.hpp"

#include <cerrno>
#include <chrono>
#include <iterator>

namespace forkserve {
namespace {

volatile sig_atomic_t g_stop_requests = 0;
volatile sig_atomic_t g_child_exited = 0;
volatile sig_atomic_t g_reopen_requested = 0;
volatile sig_atomic_t g_reload_requested = 0;

void on_sigchld(int) { g_child_exited = 1; }
void on_stop(int) { g_stop_requests = g_stop_requests + 1; }
void on_reopen(int) { g_reopen_requested = 1; }
void on_reload(int) { g_reload_requested = 1; }

constexpr int kHandledSignals[] = {SIGCHLD, SIGINT, SIGTERM, SIGUSR1, SIGHUP};

bool take(volatile sig_atomic_t& flag) {
  if (flag == 0) return false;
  flag = 0;
  return true;
}

}  // namespace

void MasterSignals::install() {
  sigset_t handled;
  sigemptyset(&handled);
  for (int sig : kHandledSignals) sigaddset(&handled, sig);
  ::sigprocmask(SIG_BLOCK, &handled, &original_mask_);
  ::sigprocmask(SIG_BLOCK, nullptr, &blocked_mask_);
  wait_mask_ = original_mask_;
  for (int sig : kHandledSignals) sigdelset(&wait_mask_, sig);
  restore();
}

void MasterSignals::restore() const {
  ::sigprocmask(SIG_SETMASK, &blocked_mask_, nullptr);
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

int MasterSignals::wait(std::span<pollfd> fds, std::optional<Deadline> until) {
  timespec timeout{};
  if (until) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(*until - Clock::now()).count();
    if (ns < 0) ns = 0;
    timeout = {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  }
  int ready = ::ppoll(fds.data(), fds.size(), until ? &timeout : nullptr, &wait_mask_);
  if (ready >= 0) {
    // ppoll() runs handlers only when a signal interrupts its wait; when a
    // descriptor is already ready (always, under load) a pending signal
    // stays pending. Open the mask briefly so it is delivered.
    ::sigprocmask(SIG_SETMASK, &wait_mask_, nullptr);
    ::sigprocmask(SIG_SETMASK, &blocked_mask_, nullptr);
  }
  return ready;
}

int MasterSignals::stop_requests() const { return g_stop_requests; }
bool MasterSignals::take_child_exited() { return take(g_child_exited); }
bool MasterSignals::take_reopen() { return take(g_reopen_requested); }
bool MasterSignals::take_reload() { return take(g_reload_requested); }

void MasterSignals::reset_in_child() const {
  ::signal(SIGCHLD, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  for (int sig : {SIGINT, SIGHUP, SIGUSR1}) ::signal(sig, SIG_IGN);
  ::sigprocmask(SIG_SETMASK, &original_mask_, nullptr);
}

}  // namespace forkserve

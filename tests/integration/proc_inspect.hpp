// What /proc says about a running server: its open descriptors and its
// children (to find zombies). Linux only, like the tests that use it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "integration/server_process.hpp"

namespace forkserve::integration {

// Entries in /proc/PID/fd; -1 when the process is gone.
int count_open_fds(pid_t pid);

// The server's processes serving a connection now: its children in the
// default mode; with --workers, the workers holding a socket besides the
// (one) listener: the accepted connection.
std::vector<pid_t> serving_processes(pid_t server);

struct ProcessInfo {
  pid_t pid = 0;
  char state = '?';  // R, S, D, Z, ... from /proc/PID/stat
};

// The process itself; state '?' when it does not exist.
ProcessInfo process_info(pid_t pid);

// Whether it no longer runs: gone, or a zombie its parent has yet to reap.
bool has_exited(pid_t pid);

// With --workers a reload replaces every worker; until the old ones are gone
// a connection can be left waiting in the backlog (a retiring worker woken
// for it leaves without accepting it), so tests that want an answer right
// after a reload wait for them to go. True if all have exited by `timeout`.
bool wait_for_old_workers_to_leave(const std::vector<ProcessInfo>& old_workers, milliseconds timeout);

// Its parent's pid from /proc/PID/stat; 0 when the process does not exist.
pid_t parent_of(pid_t pid);

// User plus system CPU time it has used (utime + stime); nullopt when gone.
std::optional<milliseconds> cpu_time(pid_t pid);

// Lines of /proc/PID/maps: the mappings every fork() copies; nullopt when gone.
std::optional<std::size_t> count_mappings(pid_t pid);
// A figure in KiB from /proc/PID/status: "VmRSS" (resident), "RssAnon"
// (resident and anonymous: what a leak grows), "VmData" (data and heap,
// touched or not); nullopt when gone.
std::optional<long> status_kib(pid_t pid, std::string_view field);
// Times it gave up the CPU of its own accord (voluntary_ctxt_switches in
// /proc/PID/status): each sleep it wakes from counts one, so a process that
// stays asleep keeps the number; nullopt when gone.
std::optional<unsigned long long> voluntary_context_switches(pid_t pid);

// The kernel function it sleeps in, from /proc/PID/wchan ("do_epoll_wait",
// "do_sys_poll", ...); "" while it runs or when it is gone.
std::string sleeping_in(pid_t pid);

// Whether an eventfd it holds has a count nobody read yet (eventfd-count in
// /proc/PID/fdinfo): a wake-up still on its way to it.
bool has_unread_eventfd(pid_t pid);

// Every process whose parent is `parent`, from a scan of /proc/*/stat.
std::vector<ProcessInfo> children_of(pid_t parent);
std::size_t count_zombie_children(pid_t parent);

// Re-checks `condition` every few milliseconds until it holds or the timeout
// passes; returns its last value. For states that settle (reaping, closing),
// never for readiness a test could wait on directly.
bool eventually(const std::function<bool()>& condition, milliseconds timeout);

}  // namespace forkserve::integration

#include "integration/proc_inspect.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kRecheckInterval{10};

// The number after "field:" at the start of a line of /proc/PID/status.
std::optional<unsigned long long> status_number(pid_t pid, std::string_view field) {
  const std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
  const std::string label = std::string(field) + ":";
  std::size_t at = status.starts_with(label) ? 0 : status.find("\n" + label);
  if (at == std::string::npos) return std::nullopt;
  if (at > 0) ++at;
  return std::strtoull(status.c_str() + at + label.size(), nullptr, 10);
}

struct StatLine {
  bool ok = false;
  char state = '?';
  pid_t ppid = 0;
  unsigned long long cpu_ticks = 0;  // utime + stime
};

// "1234 (name with) spaces) S 1 ...": the name may hold anything, so the
// fields are read after its last ')'. Field 3 (state) comes right after it;
// utime and stime are fields 14 and 15 (proc(5)).
StatLine read_stat(pid_t pid) {
  StatLine line;
  std::string text = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::size_t close = text.rfind(')');
  if (close == std::string::npos || close + 4 >= text.size()) return line;
  line.state = text[close + 2];
  char* next = nullptr;
  line.ppid = static_cast<pid_t>(std::strtol(text.c_str() + close + 4, &next, 10));
  for (int field = 5; field < 14 && next != nullptr; ++field) std::strtoull(next, &next, 10);
  if (next != nullptr) {
    unsigned long long utime = std::strtoull(next, &next, 10);
    unsigned long long stime = std::strtoull(next, &next, 10);
    line.cpu_ticks = utime + stime;
  }
  line.ok = true;
  return line;
}

}  // namespace

int count_open_fds(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count;
}

namespace {

int count_open_sockets(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return -1;
  int count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    char target[64];
    ssize_t n = ::readlinkat(::dirfd(dir), entry->d_name, target, sizeof target);
    if (n > 0 && std::string_view(target, static_cast<std::size_t>(n)).starts_with("socket:")) ++count;
  }
  ::closedir(dir);
  return count;
}

}  // namespace

std::vector<pid_t> serving_processes(pid_t server) {
  std::vector<pid_t> serving;
  for (const ProcessInfo& child : children_of(server)) {
    if (!workers_under_test() || count_open_sockets(child.pid) >= 2) serving.push_back(child.pid);
  }
  return serving;
}

std::string sleeping_in(pid_t pid) {
  std::string name = read_file("/proc/" + std::to_string(pid) + "/wchan");
  return name == "0" ? "" : name;
}

bool has_unread_eventfd(pid_t pid) {
  const std::string fds = "/proc/" + std::to_string(pid) + "/fd";
  DIR* dir = ::opendir(fds.c_str());
  if (dir == nullptr) return false;
  bool unread = false;
  while (const dirent* entry = ::readdir(dir)) {
    char target[64];
    ssize_t n = ::readlinkat(::dirfd(dir), entry->d_name, target, sizeof target);
    if (n <= 0 || std::string_view(target, static_cast<std::size_t>(n)) != "anon_inode:[eventfd]") continue;
    std::string info = read_file("/proc/" + std::to_string(pid) + "/fdinfo/" + entry->d_name);
    std::size_t at = info.find("eventfd-count:");
    if (at != std::string::npos && std::strtoull(info.c_str() + at + 14, nullptr, 16) != 0) unread = true;
  }
  ::closedir(dir);
  return unread;
}

ProcessInfo process_info(pid_t pid) {
  StatLine line = read_stat(pid);
  return {pid, line.ok ? line.state : '?'};
}

pid_t parent_of(pid_t pid) { return read_stat(pid).ppid; }

std::optional<milliseconds> cpu_time(pid_t pid) {
  StatLine line = read_stat(pid);
  if (!line.ok) return std::nullopt;
  long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  if (ticks_per_second <= 0) return std::nullopt;
  return milliseconds(
      static_cast<long long>(line.cpu_ticks * 1000 / static_cast<unsigned long long>(ticks_per_second)));
}

std::optional<std::size_t> count_mappings(pid_t pid) {
  const std::string maps = read_file("/proc/" + std::to_string(pid) + "/maps");
  if (maps.empty()) return std::nullopt;
  return static_cast<std::size_t>(std::count(maps.begin(), maps.end(), '\n'));
}

std::optional<long> status_kib(pid_t pid, std::string_view field) {
  std::optional<unsigned long long> kib = status_number(pid, field);
  if (!kib) return std::nullopt;
  return static_cast<long>(*kib);
}

std::optional<unsigned long long> voluntary_context_switches(pid_t pid) {
  return status_number(pid, "voluntary_ctxt_switches");
}

std::vector<ProcessInfo> children_of(pid_t parent) {
  std::vector<ProcessInfo> children;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return children;
  while (const dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    StatLine line = read_stat(static_cast<pid_t>(pid));
    if (line.ok && line.ppid == parent) children.push_back({static_cast<pid_t>(pid), line.state});
  }
  ::closedir(proc);
  return children;
}

std::size_t count_zombie_children(pid_t parent) {
  std::size_t zombies = 0;
  for (const ProcessInfo& child : children_of(parent)) {
    if (child.state == 'Z') ++zombies;
  }
  return zombies;
}

bool eventually(const std::function<bool()>& condition, milliseconds timeout) {
  Deadline deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(kRecheckInterval);
  }
}

bool has_exited(pid_t pid) {
  const char state = process_info(pid).state;
  return state == '?' || state == 'Z';
}

bool wait_for_old_workers_to_leave(const std::vector<ProcessInfo>& old_workers, milliseconds timeout) {
  return eventually(
      [&] {
        return std::all_of(old_workers.begin(), old_workers.end(),
                           [](const ProcessInfo& worker) { return has_exited(worker.pid); });
      },
      timeout);
}

}  // namespace forkserve::integration

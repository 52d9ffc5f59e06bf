// How long fork() takes in a process holding a handler module's state, before
// and after the server's own make_parent_cheap_to_fork(): what every
// connection pays in the default mode. For scripts/bench.sh.
//   fork_latency MODULE.so[:ARG] [FORKS]
// prints one line: "rss_kib shmem_kib huge_kib fork_us_before round_us_before
// fork_us_after round_us_after", where fork_us is the parent's time in fork()
// and round_us fork + the child's _exit + waitpid, medians over FORKS.
#include <dlfcn.h>
#include <forkserve/module.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "master/parent_memory.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Field of /proc/self/status or smaps_rollup, in KiB.
long kib(const char* file, const std::string& field) {
  std::ifstream in(file);
  for (std::string name; in >> name;) {
    long value = 0;
    if (name == field + ":" && in >> value) return value;
  }
  return -1;
}

void measure(int forks, double& fork_us, double& round_us) {
  std::vector<double> in_fork, round;
  for (int i = 0; i < forks; ++i) {
    Clock::time_point start = Clock::now();
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    Clock::time_point forked = Clock::now();
    ::waitpid(pid, nullptr, 0);
    in_fork.push_back(micros(forked - start));
    round.push_back(micros(Clock::now() - start));
  }
  fork_us = median(in_fork);
  round_us = median(round);
}

}  // namespace

int main(int argc, char* argv[]) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fork_latency MODULE.so[:ARG] [FORKS]\n");
    return 2;
  }
  std::string spec = argv[1];
  int forks = argc > 2 ? std::atoi(argv[2]) : 200;
  std::size_t so = spec.find(".so:");
  std::string path = so == std::string::npos ? spec : spec.substr(0, so + 3);
  std::string arg = so == std::string::npos ? "" : spec.substr(so + 4);
  void* library = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  auto entry =
      library ? reinterpret_cast<forkserve_module_entry>(::dlsym(library, FORKSERVE_MODULE_SYMBOL)) : nullptr;
  if (entry == nullptr) {
    std::fprintf(stderr, "fork_latency: %s: %s\n", path.c_str(), library ? "not a module" : ::dlerror());
    return 1;
  }
  const forkserve_module* module = entry();
  char error[512] = "";
  if (module->init(arg.c_str(), error, sizeof error) != FORKSERVE_OK) {
    std::fprintf(stderr, "fork_latency: init: %s\n", error);
    return 1;
  }
  double fork_before = 0, round_before = 0, fork_after = 0, round_after = 0;
  measure(forks, fork_before, round_before);
  forkserve::make_parent_cheap_to_fork();
  measure(forks, fork_after, round_after);
  std::printf("%ld %ld %ld %.0f %.0f %.0f %.0f\n", kib("/proc/self/status", "VmRSS"),
              kib("/proc/self/status", "RssShmem"), kib("/proc/self/smaps_rollup", "AnonHugePages"),
              fork_before, round_before, fork_after, round_after);
  return 0;
}

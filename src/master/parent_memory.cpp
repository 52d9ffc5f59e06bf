#include "master/parent_memory.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/log.hpp"

namespace forkserve {
namespace {

#ifndef MADV_COLLAPSE
constexpr int MADV_COLLAPSE = 25;  // Linux 6.1; older headers lack it
#endif

constexpr std::uintptr_t kHugePage = std::uintptr_t{2} << 20;
// A 2 MiB block is collapsed when at least this share of its pages is in
// use: collapsing fills in the rest, so at most 1 MiB more memory per block,
// for 512 times fewer entries to copy at each fork().
constexpr unsigned kMinResidentPercent = 50;
constexpr const char* kThpSetting = "/sys/kernel/mm/transparent_hugepage/enabled";

bool g_reported = false;  // the "huge pages unavailable" line is said once

// Why huge pages cannot be used, or empty when they can.
std::string why_unavailable() {
  char text[128] = "";
  int fd = ::open(kThpSetting, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "the kernel offers no transparent huge pages";
  ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  // MADV_COLLAPSE would work even at "never"; the administrator's choice wins.
  if (n > 0 && std::strstr(text, "[never]") != nullptr) {
    return std::string("transparent huge pages are off (") + kThpSetting + " is never)";
  }
  if (::prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) > 0) {
    return "transparent huge pages are disabled for this process (prctl PR_SET_THP_DISABLE)";
  }
  return {};
}

struct Range {
  std::uintptr_t start;
  std::uintptr_t end;
};

// The 2 MiB-aligned runs of private anonymous memory (heap and anonymous
// mappings; not stacks, not files' data) that are mostly resident.
std::vector<Range> collapsible_ranges() {
  std::vector<Range> ranges;
  FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return ranges;
  const long page = ::sysconf(_SC_PAGESIZE);
  std::vector<unsigned char> residency(kHugePage / static_cast<std::uintptr_t>(page));
  char line[512];
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    unsigned long start = 0, end = 0, inode = 0;
    char perms[5] = "";
    int path_at = 0;
    if (std::sscanf(line, "%lx-%lx %4s %*s %*s %lu %n", &start, &end, perms, &inode, &path_at) < 4) continue;
    std::string_view path(line + path_at);
    if (!path.empty() && path.back() == '\n') path.remove_suffix(1);
    if (std::strcmp(perms, "rw-p") != 0 || inode != 0 || !(path.empty() || path == "[heap]")) continue;
    for (std::uintptr_t block = (start + kHugePage - 1) & ~(kHugePage - 1); block + kHugePage <= end;
         block += kHugePage) {
      if (::mincore(reinterpret_cast<void*>(block), kHugePage, residency.data()) != 0) continue;
      std::size_t resident = 0;
      for (unsigned char r : residency) resident += r & 1;
      if (resident * 100 < residency.size() * kMinResidentPercent) continue;
      if (!ranges.empty() && ranges.back().end == block) {
        ranges.back().end += kHugePage;
      } else {
        ranges.push_back({block, block + kHugePage});
      }
    }
  }
  std::fclose(maps);
  return ranges;
}

}  // namespace

void make_parent_cheap_to_fork() {
#ifdef __GLIBC__
  ::malloc_trim(0);  // freed chunks become holes that stay small pages
#endif
  std::string unavailable = why_unavailable();
  if (!unavailable.empty()) {
    if (!g_reported) {
      g_reported = true;
      log_error(unavailable +
                ": each fork() copies the page tables of the handler's memory page by page; "
                "big handler state belongs in a forkserve::FrozenArena");
    }
    return;
  }
  for (const Range& range : collapsible_ranges()) {
    void* start = reinterpret_cast<void*>(range.start);
    std::size_t length = range.end - range.start;
    if (::madvise(start, length, MADV_COLLAPSE) == 0 || errno != EINVAL)
      continue;  // EAGAIN, ENOMEM: next time
    // Before Linux 6.1: ask khugepaged to collapse it in time.
    ::madvise(start, length, MADV_HUGEPAGE);
    if (!g_reported) {
      g_reported = true;
      log_error(
          "this kernel cannot collapse memory into huge pages now (MADV_COLLAPSE needs Linux 6.1); "
          "until khugepaged does, each fork() copies the page tables of the handler's memory page by page");
    }
  }
}

}  // namespace forkserve

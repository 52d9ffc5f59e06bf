#include "master/parent_memory.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
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
// Below this much resident memory the heap is left as it is: its entries
// cost fork() less than the copy would save.
constexpr std::uintptr_t kMinHeapSnapshot = std::uintptr_t{4} << 20;
// Mappings larger than this are reservations (a sanitizer's shadow memory,
// say), not handler state: looked at block by block they would take minutes.
constexpr std::uintptr_t kLargestMapping = std::uintptr_t{64} << 30;
constexpr const char* kThpSetting = "/sys/kernel/mm/transparent_hugepage/enabled";
constexpr const char* kHeapName = "forkserve-heap";

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

struct Mapping {
  std::uintptr_t start;
  std::uintptr_t end;
  bool heap;   // malloc's brk heap, as it is or as an earlier snapshot left it
  bool moved;  // the heap as an earlier snapshot left it
};

// The private writable memory of the process that is not a file's: malloc's
// brk heap and anonymous mappings (large allocations, libraries' bss); not
// the stack.
std::vector<Mapping> private_memory() {
  std::vector<Mapping> mappings;
  FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return mappings;
  char line[512];
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    unsigned long start = 0, end = 0, inode = 0;
    char perms[5] = "";
    int path_at = 0;
    if (std::sscanf(line, "%lx-%lx %4s %*s %*s %lu %n", &start, &end, perms, &inode, &path_at) < 4) continue;
    std::string_view path(line + path_at);
    if (!path.empty() && path.back() == '\n') path.remove_suffix(1);
    if (std::strcmp(perms, "rw-p") != 0) continue;
    bool moved = path.starts_with(std::string("/memfd:") + kHeapName);
    bool heap = moved || path == "[heap]";
    if (end - start > kLargestMapping) continue;
    if (heap || (inode == 0 && path.empty())) mappings.push_back({start, end, heap, moved});
  }
  std::fclose(maps);
  return mappings;
}

std::size_t resident_pages(std::uintptr_t start, std::uintptr_t end, std::vector<unsigned char>& residency) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  residency.resize((end - start) / page);
  if (::mincore(reinterpret_cast<void*>(start), end - start, residency.data()) != 0) return 0;
  std::size_t resident = 0;
  for (unsigned char r : residency) resident += r & 1;
  return resident;
}

bool all_zero(const char* page, std::size_t size) {
  const char* end = page + size;
  for (const char* p = page; p < end; p += sizeof(std::uint64_t)) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    if (word != 0) return false;
  }
  return true;
}

// Whether this thread is the process's only one. Another thread's writes to
// the heap between its copy and the remap would be undone, and nothing can
// stop that thread for the while; so a process with threads (a handler's
// init() may start one) keeps its heap as it is.
bool single_threaded() {
  FILE* status = std::fopen("/proc/self/status", "re");
  if (status == nullptr) return false;
  char line[256];
  long threads = 0;
  while (std::fgets(line, sizeof line, status) != nullptr) {
    if (std::sscanf(line, "Threads: %ld", &threads) == 1) break;
  }
  std::fclose(status);
  return threads == 1;
}

// Replaces the mapping with a private mapping of a memfd holding a copy of
// it. Same addresses, same contents, same copy-on-write privacy; but a
// mapping of a file that the process has not written since carries no
// page-table entries into fork(), and a child maps only the pages it reads.
// Pages that are all zero stay holes (they read as zero). False if nothing
// was changed.
bool snapshot_heap(const Mapping& heap) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t length = heap.end - heap.start;
  int fd = ::memfd_create(kHeapName, MFD_CLOEXEC);
  if (fd < 0) return false;
  // A signal handler (a module's, say) writing the heap between the copy and
  // the remap would have its write undone: none runs until the remap is done.
  sigset_t all, before;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &before);
  bool copied = ::ftruncate(fd, static_cast<off_t>(length)) == 0;
  const char* base = reinterpret_cast<const char*>(heap.start);
  // Runs of non-zero pages, one pwrite each.
  for (std::size_t offset = 0; copied && offset < length;) {
    if (all_zero(base + offset, page)) {
      offset += page;
      continue;
    }
    std::size_t run = offset + page;
    while (run < length && !all_zero(base + run, page)) run += page;
    for (std::size_t at = offset; copied && at < run;) {
      ssize_t n = ::pwrite(fd, base + at, run - at, static_cast<off_t>(at));
      copied = n > 0;
      at += n > 0 ? static_cast<std::size_t>(n) : 0;
    }
    offset = run;
  }
  void* mapped = MAP_FAILED;
  if (copied) {
    mapped = ::mmap(reinterpret_cast<void*>(heap.start), length, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_FIXED, fd, 0);
  }
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  ::close(fd);
  return mapped != MAP_FAILED;
}

// Undoes an earlier snapshot_heap(): anonymous memory again, same contents.
// malloc_trim() gives freed pages back with MADV_DONTNEED, which in a private
// file mapping brings back the file's old contents instead of freeing them:
// a replaced module's freed state would be kept and copied on and on.
void unsnapshot_heap(const Mapping& heap) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t length = heap.end - heap.start;
  void* copy = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (copy == MAP_FAILED) return;
  sigset_t all, before;  // as in snapshot_heap()
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &before);
  const char* base = reinterpret_cast<const char*>(heap.start);
  for (std::size_t offset = 0; offset < length; offset += page) {
    if (!all_zero(base + offset, page)) std::memcpy(static_cast<char*>(copy) + offset, base + offset, page);
  }
  if (::mremap(copy, length, length, MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(heap.start)) ==
      MAP_FAILED) {
    ::munmap(copy, length);
  }
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

// The 2 MiB-aligned runs of the mapping that are mostly resident.
void add_collapsible(const Mapping& mapping, std::vector<Mapping>& runs,
                     std::vector<unsigned char>& residency) {
  for (std::uintptr_t block = (mapping.start + kHugePage - 1) & ~(kHugePage - 1);
       block + kHugePage <= mapping.end; block += kHugePage) {
    if (resident_pages(block, block + kHugePage, residency) * 100 < residency.size() * kMinResidentPercent)
      continue;
    if (!runs.empty() && runs.back().end == block) {
      runs.back().end += kHugePage;
    } else {
      runs.push_back({block, block + kHugePage, false, false});
    }
  }
}

void collapse(const std::vector<Mapping>& runs) {
  for (const Mapping& run : runs) {
    void* start = reinterpret_cast<void*>(run.start);
    std::size_t length = run.end - run.start;
    if (::madvise(start, length, MADV_COLLAPSE) == 0 || errno != EINVAL)
      continue;  // EAGAIN, ENOMEM: next time
    // Before Linux 6.1: ask khugepaged to collapse it in time.
    ::madvise(start, length, MADV_HUGEPAGE);
    if (!g_reported) {
      g_reported = true;
      log_error(
          "this kernel cannot collapse memory into huge pages now (MADV_COLLAPSE needs Linux 6.1); "
          "until khugepaged does, each fork() copies the page tables of the handler's large allocations "
          "page by page");
    }
  }
}

}  // namespace

void keep_allocations_on_the_heap() {
#ifdef __GLIBC__
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest
#endif
}

void make_parent_cheap_to_fork() {
  const bool alone = single_threaded();
  if (alone) {
    for (const Mapping& mapping : private_memory()) {
      if (mapping.moved) unsnapshot_heap(mapping);
    }
  }
#ifdef __GLIBC__
  ::malloc_trim(0);  // freed chunks become holes
#endif
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> residency;
  std::vector<Mapping> runs;
  for (const Mapping& mapping : private_memory()) {
    // The brk heap is malloc's alone, so its pages can change backing under
    // it. Other anonymous memory may belong to an allocator that counts on
    // MADV_DONTNEED leaving zeros, which a file's private mapping does not:
    // that is only collapsed into huge pages.
    if (mapping.heap) {
      if (alone && resident_pages(mapping.start, mapping.end, residency) * page >= kMinHeapSnapshot) {
        (void)snapshot_heap(mapping);  // if it cannot be done, the heap stays as it was
      }
    } else {
      add_collapsible(mapping, runs, residency);
    }
  }
  if (runs.empty()) return;
  std::string unavailable = why_unavailable();
  if (unavailable.empty()) {
    collapse(runs);
  } else if (!g_reported) {
    g_reported = true;
    log_error(unavailable +
              ": each fork() copies the page tables of the handler's large allocations page by page; "
              "big handler state belongs in a forkserve::FrozenArena");
  }
}

}  // namespace forkserve

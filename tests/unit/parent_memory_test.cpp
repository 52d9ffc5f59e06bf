// make_parent_cheap_to_fork() run in this process: whatever it does to the
// memory under malloc, the process's data and malloc itself go on as before.
#include "master/parent_memory.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace forkserve {
namespace {

using Block = std::array<unsigned char, 4096>;

// Enough small blocks on malloc's brk heap for it to be worth moving.
std::vector<std::unique_ptr<Block>> heap_state(unsigned char fill) {
  std::vector<std::unique_ptr<Block>> blocks;
  for (int i = 0; i < 4096; ++i) {
    blocks.push_back(std::make_unique<Block>());
    blocks.back()->fill(fill);
  }
  return blocks;
}

bool heap_is_moved() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("/memfd:forkserve-heap") != std::string::npos) return true;
  }
  return false;
}

TEST(ParentMemoryTest, WritesOfAnotherThreadToTheHeapAreNotLost) {
#if FORKSERVE_SANITIZED
  GTEST_SKIP() << "under ASan malloc is the sanitizer's: there is no brk heap to move";
#endif
  auto state = heap_state(1);
  // A thread a handler's init() started, counting in a heap object: each
  // value it reads back must be the one it wrote last.
  auto* counter = new std::atomic<std::uint64_t>(0);
  std::atomic<bool> stop{false};
  std::atomic<bool> lost{false};
  std::thread writer([&] {
    std::uint64_t mine = 0;
    while (!stop.load()) {
      if (counter->load() != mine) {
        lost = true;
        return;
      }
      counter->store(++mine);
    }
  });
  while (counter->load() < 1000) std::this_thread::yield();
  for (int i = 0; i < 10 && !lost; ++i) make_parent_cheap_to_fork();
  stop = true;
  writer.join();
  EXPECT_FALSE(lost) << "a write the other thread made to the heap was undone";
  delete counter;
}

// Bytes of memory the files behind the moved heap hold; -1 if this process
// may not look (/proc/self/map_files).
long long moved_heap_bytes() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  long long total = 0;
  while (std::getline(maps, line)) {
    if (line.find("/memfd:forkserve-heap") == std::string::npos) continue;
    int fd = ::open(("/proc/self/map_files/" + line.substr(0, line.find(' '))).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st {};
    if (::fstat(fd, &st) == 0) total += static_cast<long long>(st.st_blocks) * 512;
    ::close(fd);
  }
  return total;
}

TEST(ParentMemoryTest, HeapMemoryFreedAfterTheHeapWasMovedIsGivenBackByTheNextMove) {
#if FORKSERVE_SANITIZED
  GTEST_SKIP() << "under ASan malloc is the sanitizer's: there is no brk heap to move";
#endif
  const long long state_bytes = 4096LL * 4096;
  auto old_module = heap_state(1);
  make_parent_cheap_to_fork();
  if (moved_heap_bytes() < 0) GTEST_SKIP() << "/proc/self/map_files cannot be read here";
  auto new_module = heap_state(2);  // a reload: the new module's init() runs first
  old_module.clear();               // then the old one goes
  make_parent_cheap_to_fork();
  ASSERT_TRUE(heap_is_moved()) << "the test needs the heap moved";
  EXPECT_LT(moved_heap_bytes(), state_bytes * 3 / 2) << "the old module's freed state is still held";
  for (const auto& block : new_module) {
    for (unsigned char byte : *block) ASSERT_EQ(byte, 2);
  }
}

// A handler's init() may leave a signal handler of its own running.
std::uint64_t* g_signal_counter = nullptr;
std::uint64_t g_signal_count = 0;
volatile sig_atomic_t g_signal_write_lost = 0;
void count_on_heap(int) {
  if (*g_signal_counter != g_signal_count) g_signal_write_lost = 1;
  *g_signal_counter = ++g_signal_count;
}

TEST(ParentMemoryTest, WritesOfASignalHandlerToTheHeapAreNotLost) {
#if FORKSERVE_SANITIZED
  GTEST_SKIP() << "under ASan malloc is the sanitizer's: there is no brk heap to move";
#endif
  auto state = heap_state(3);
  g_signal_counter = new std::uint64_t(0);
  struct sigaction action {
  }, previous{};
  action.sa_handler = count_on_heap;
  action.sa_flags = SA_RESTART;
  ASSERT_EQ(::sigaction(SIGALRM, &action, &previous), 0);
  itimerval every{{0, 50}, {0, 50}};
  ASSERT_EQ(::setitimer(ITIMER_REAL, &every, nullptr), 0);
  for (int i = 0; i < 10 && !g_signal_write_lost; ++i) make_parent_cheap_to_fork();
  itimerval off{};
  ::setitimer(ITIMER_REAL, &off, nullptr);
  ::sigaction(SIGALRM, &previous, nullptr);
  EXPECT_GT(g_signal_count, 0U);
  EXPECT_FALSE(g_signal_write_lost) << "a write a signal handler made to the heap was undone";
  delete g_signal_counter;
}

TEST(ParentMemoryTest, MallocKeepsItsDataAndGivesZeroedMemoryAfterTheHeapShrinksAndGrowsAgain) {
#if FORKSERVE_SANITIZED
  GTEST_SKIP() << "under ASan malloc is the sanitizer's: there is no brk heap to move";
#endif
  auto kept = heap_state(7);
  auto dropped = heap_state(9);
  make_parent_cheap_to_fork();
  ASSERT_TRUE(heap_is_moved()) << "the test needs the heap moved";
  dropped.clear();
  ::malloc_trim(0);  // the heap shrinks into (and holes appear in) what was moved
  for (int round = 0; round < 3; ++round) {
    auto grown = heap_state(5);
    std::vector<void*> zeroed;
    for (int i = 0; i < 2048; ++i) {
      const std::size_t size = 4096 + 16 * i;
      auto* bytes = static_cast<unsigned char*>(std::calloc(1, size));
      ASSERT_NE(bytes, nullptr);
      ASSERT_TRUE(std::all_of(bytes, bytes + size, [](unsigned char b) { return b == 0; }))
          << "calloc gave a non-zero byte";
      zeroed.push_back(bytes);
    }
    make_parent_cheap_to_fork();
    for (void* p : zeroed) std::free(p);
    grown.clear();
    ::malloc_trim(0);
  }
  for (const auto& block : kept) {
    for (unsigned char byte : *block) ASSERT_EQ(byte, 7);
  }
}

}  // namespace
}  // namespace forkserve

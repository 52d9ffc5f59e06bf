// forkserve::FrozenArena (<forkserve/frozen_arena.hpp>): pmr memory that is
// sealed read-only before the first fork, and the export macro's handling of
// it (sealed when init() returns, released by fini()).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <forkserve/export.hpp>
#include <forkserve/frozen_arena.hpp>
#include <fstream>
#include <functional>
#include <limits>
#include <memory_resource>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace forkserve {
namespace {

using Table = std::pmr::unordered_map<std::uint64_t, std::pmr::string>;

std::string value_for(std::uint64_t key) { return "value " + std::to_string(key) + std::string(100, '.'); }

void fill(Table& table, std::uint64_t count) {
  for (std::uint64_t key = 0; key < count; ++key) table.emplace(key, value_for(key));
}

// Runs `body` in a child process; returns its wait status.
int in_child(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    // Under ASan its own SIGSEGV handler would turn the fault into an exit.
    ::signal(SIGSEGV, SIG_DFL);
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

std::size_t arena_mappings() {
  std::ifstream maps("/proc/self/maps");
  std::size_t count = 0;
  for (std::string line; std::getline(maps, line);) {
    if (line.find(FrozenArena::kMappingName) != std::string::npos) ++count;
  }
  return count;
}

TEST(FrozenArenaTest, PmrContainersGivenTheArenaKeepEveryNodeAndStringInIt) {
  FrozenArena arena;
  Table table(&arena);
  fill(table, 1000);
  for (const auto& [key, value] : table) {
    EXPECT_TRUE(arena.contains(&value)) << key;
    EXPECT_TRUE(arena.contains(value.data())) << key;
  }
  EXPECT_GE(arena.bytes_used(), 1000 * value_for(999).size());
  EXPECT_GE(arena.bytes_mapped(), arena.bytes_used());
}

TEST(FrozenArenaTest, AllocationsAreAlignedAsAsked) {
  FrozenArena arena(4096);
  for (std::size_t alignment : {1, 2, 8, 16, 64, 4096, 8192}) {
    void* p = arena.allocate(3, alignment);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % alignment, 0U) << alignment;
    EXPECT_TRUE(arena.contains(p));
  }
}

TEST(FrozenArenaTest, AllocationLargerThanAnyAddressSpaceThrowsBadAlloc) {
  FrozenArena arena(4096);
  (void)arena.allocate(16);  // a chunk is mapped: the request is tried against it first
  const std::size_t most = std::numeric_limits<std::size_t>::max();
  for (std::size_t bytes : {most - 4095, most / 2 + 1}) {
    EXPECT_THROW((void)arena.allocate(bytes), std::bad_alloc) << bytes;
  }
  void* p = arena.allocate(64, 64);  // and the arena still works
  EXPECT_TRUE(arena.contains(p));
}

TEST(FrozenArenaTest, GrowsPastItsFirstChunkInNewChunks) {
  FrozenArena arena(4096);
  std::pmr::vector<std::pmr::string> strings(&arena);
  for (int i = 0; i < 2000; ++i) strings.emplace_back(std::string(1000, 'x'));
  for (const auto& s : strings) ASSERT_TRUE(arena.contains(s.data()));
  EXPECT_GT(arena.bytes_mapped(), 2'000'000U);
}

TEST(FrozenArenaTest, ChildWritingIntoTheSealedArenaDiesOfSigsegv) {
  FrozenArena arena;
  Table table(&arena);
  fill(table, 100);
  arena.seal();
  int status = in_child([&] {
    table.find(7)->second[0] = 'X';
    return 0;
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << "exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  EXPECT_EQ(std::string_view(table.at(7)), value_for(7));
  ASSERT_TRUE(arena.thaw());  // the table's destructor writes
}

TEST(FrozenArenaTest, SealedArenaCannotBeMadeWritableAgain) {
  FrozenArena arena;
  char* p = static_cast<char*>(arena.allocate(4096, 4096));
  p[0] = 'a';
  arena.seal();
  int status = in_child([&] { return ::mprotect(p, 4096, PROT_READ | PROT_WRITE) == 0 ? 1 : 0; });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "mprotect(PROT_WRITE) on a sealed arena succeeded";
  EXPECT_EQ(p[0], 'a');
}

TEST(FrozenArenaTest, AllocatingFromASealedArenaThrowsBadAlloc) {
  FrozenArena arena;
  Table table(&arena);
  fill(table, 10);
  arena.seal();
  EXPECT_THROW(table.emplace(1000, "new"), std::bad_alloc);
  EXPECT_EQ(table.size(), 10U);
  ASSERT_TRUE(arena.thaw());
}

TEST(FrozenArenaTest, ChildrenForkedAfterSealingReadTheWholeState) {
  FrozenArena arena;
  Table table(&arena);
  fill(table, 5000);
  arena.seal();
  int status = in_child([&] {
    for (std::uint64_t key = 0; key < 5000; ++key) {
      if (std::string_view(table.at(key)) != value_for(key)) return 1;
    }
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ASSERT_TRUE(arena.thaw());
}

TEST(FrozenArenaTest, ThawGivesThisProcessAWritableCopyAndOtherProcessesTheOriginal) {
  FrozenArena arena;
  Table table(&arena);
  fill(table, 100);
  arena.seal();
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t reader = ::fork();
  if (reader == 0) {
    char byte;
    ::close(go[1]);
    bool read_ok = ::read(go[0], &byte, 1) == 1;
    ::_exit(read_ok && std::string_view(table.at(3)) == value_for(3) ? 0 : 1);
  }
  ::close(go[0]);
  ASSERT_TRUE(arena.thaw());
  table.find(3)->second[0] = 'X';  // here only
  table.clear();                   // writes the buckets
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  ::close(go[1]);
  int status = 0;
  ::waitpid(reader, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the other process saw the thawed copy's writes";
}

TEST(FrozenArenaTest, DestroyingTheArenaUnmapsItsMemory) {
  std::size_t before = arena_mappings();
  {
    FrozenArena arena;
    Table table(&arena);
    fill(table, 100);
    arena.seal();
    EXPECT_GT(arena_mappings(), before);
    ASSERT_TRUE(arena.thaw());
  }
  EXPECT_EQ(arena_mappings(), before);
}

// A handler as FORKSERVE_EXPORT_HANDLER wraps it.
struct BuildsState {
  FrozenArena arena;
  Table table{&arena};
  BuildsState() { fill(table, 1000); }
  Body operator()(Environ&, StartResponse& start_response) {
    start_response("200 OK", {});
    return Body::text("");
  }
};
using Glue = detail::ModuleGlue<BuildsState>;

TEST(FrozenArenaTest, ExportedHandlerIsSealedWhenInitReturnsAndReleasedByFini) {
  std::size_t before = arena_mappings();
  const forkserve_module* module = Glue::descriptor("BuildsState");
  char error[256] = "";
  ASSERT_EQ(module->init("", error, sizeof error), FORKSERVE_OK) << error;
  EXPECT_TRUE(Glue::instance->arena.sealed());
  EXPECT_GT(arena_mappings(), before);
  module->fini();  // destroys the table, which writes into its buckets
  EXPECT_FALSE(Glue::instance.has_value());
  EXPECT_EQ(arena_mappings(), before);
}

TEST(FrozenArenaTest, ProcessExitingWithoutFiniDoesNotCrashInTheHandlersDestructor) {
#if FORKSERVE_SANITIZED
  GTEST_SKIP() << "LeakSanitizer's check at exit() would judge the forked test process, not the arena";
#endif
  pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGSEGV, SIG_DFL);
    char error[256] = "";
    if (Glue::descriptor("BuildsState")->init("", error, sizeof error) != FORKSERVE_OK) ::_exit(3);
    std::exit(0);  // static destructors run: the handler's table writes into its arena
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace forkserve

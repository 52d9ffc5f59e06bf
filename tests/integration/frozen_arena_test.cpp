// Handler state in a FrozenArena (<forkserve/frozen_arena.hpp>), through the
// real server: every child or worker reads it, one that writes there dies and
// is logged while the others keep reading the original, and a reload that
// replaces the module releases its arena. Runs against both modes.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

constexpr milliseconds kSettle{10'000};

std::string get(const ServerProcess& server, const std::string& target) {
  HttpReply reply = exchange(server.port(), "GET " + target + " HTTP/1.0\r\n\r\n");
  return std::to_string(reply.status) + " " + reply.body;
}

// bigstate's value for key K.
std::string bigstate_value(unsigned long key) {
  std::string value = "value " + std::to_string(key) + " ";
  value.resize(200, '.');
  return value;
}

// Mappings of the arena's memory in the process (one per chunk).
std::size_t arena_mappings(pid_t pid) {
  std::size_t count = 0;
  for (const std::string& line : lines_of(read_file("/proc/" + std::to_string(pid) + "/maps"))) {
    if (line.find("/memfd:forkserve-frozen-arena") != std::string::npos) ++count;
  }
  return count;
}

TEST(FrozenArenaTest, EveryRequestReadsTheStateBuiltAtStartUp) {
  ServerProcess server({"--handler", module_path("bigstate.so") + ":8"});
  ASSERT_TRUE(server.ready()) << server.error();
  const unsigned long entries = (8UL << 20) / 256;
  for (unsigned long key : {0UL, 1UL, 4242UL, entries / 2, entries - 1}) {
    EXPECT_EQ(get(server, "/?key=" + std::to_string(key)), "200 " + bigstate_value(key)) << key;
  }
  EXPECT_EQ(get(server, "/?key=" + std::to_string(entries)).substr(0, 4), "404 ");
  EXPECT_EQ(get(server, "/?key=x").substr(0, 4), "404 ");
  EXPECT_EQ(get(server, "/"),
            "200 bigstate: " + std::to_string(entries) + " entries, 8 MiB in the frozen arena\n");
  EXPECT_GT(arena_mappings(server.pid()), 0U) << "the state is not in the arena";
}

TEST(FrozenArenaTest, ChildWritingIntoTheArenaDiesAndIsLoggedWhileOtherRequestsReadTheOriginal) {
  ServerProcess server({"--handler", fixture_path("frozen_writer.so")});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(get(server, "/get?7"), "200 value 7");

  HttpReply crashed = exchange(server.port(), "GET /write?7 HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(crashed.raw.empty()) << "the writer cannot have answered: " << crashed.summary();
  const std::regex logged(
      "(child|worker) [0-9]+ \\(GET /write\\) killed by signal 11 \\(Segmentation fault\\)$");
  EXPECT_TRUE(eventually(
      [&] {
        for (const std::string& line : lines_of(server.stderr_text())) {
          if (std::regex_search(line, logged)) return true;
        }
        return false;
      },
      kSettle))
      << server.stderr_text();

  for (int i = 0; i < 8; ++i) EXPECT_EQ(get(server, "/get?7"), "200 value 7");
  EXPECT_EQ(get(server, "/get?8"), "200 value 8");
  EXPECT_NE(process_info(server.pid()).state, 'Z');
}

TEST(FrozenArenaTest, ReloadReplacingTheModuleReleasesItsArena) {
  TempDir dir;
  const std::string handler = dir.path() + "/bigstate.so";
  auto install = [&] { install_new_build(module_path("bigstate.so"), handler); };
  ASSERT_NO_FATAL_FAILURE(install());
  ServerProcess server({"--handler", handler + ":4"});
  ASSERT_TRUE(server.ready()) << server.error();
  const std::size_t one_arena = arena_mappings(server.pid());
  ASSERT_GT(one_arena, 0U);

  for (int reload = 1; reload <= 2; ++reload) {
    const std::vector<ProcessInfo> old_workers =
        workers_under_test() ? children_of(server.pid()) : std::vector<ProcessInfo>{};
    ASSERT_NO_FATAL_FAILURE(install());
    server.signal(SIGHUP);
    EXPECT_TRUE(eventually(
        [&] {
          return count_lines_containing(server.stderr_text(), "reloaded handler") == std::size_t(reload);
        },
        kSettle))
        << server.stderr_text();
    // With --workers the old module goes once a new worker is ready.
    EXPECT_TRUE(eventually([&] { return arena_mappings(server.pid()) == one_arena; }, kSettle))
        << "reload " << reload << ": the parent maps " << arena_mappings(server.pid()) << " arena chunks, "
        << one_arena << " before";
    EXPECT_TRUE(wait_for_old_workers_to_leave(old_workers, kSettle))
        << "an old worker stayed after the reload";
    EXPECT_EQ(get(server, "/?key=3"), "200 " + bigstate_value(3));
  }
}

}  // namespace
}  // namespace forkserve::integration

// The parent made cheap to fork: handler state on its heap ends up where
// fork() does not copy it entry by entry (malloc's heap in a private mapping
// of a copy; large allocations in transparent huge pages where the system
// allows), children still change it for themselves only, and where huge
// pages are off (THP set to never, or disabled for the process) the server
// serves exactly the same and says why once. Runs against both modes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>

#include <filesystem>
#include <string>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

// Built with AddressSanitizer (as the server then is), malloc is the
// sanitizer's, which keeps its memory in mappings of its own, not the heap.
constexpr bool kMallocIsTheSanitizers = FORKSERVE_SANITIZED;

constexpr milliseconds kSettle{10'000};

constexpr const char* kThpSetting = "/sys/kernel/mm/transparent_hugepage/enabled";

std::string bigstate_value(unsigned long key) {
  std::string value = "value " + std::to_string(key) + " ";
  value.resize(200, '.');
  return value;
}

// A field of /proc/PID/smaps_rollup in KiB; -1 when absent.
long rollup_kib(pid_t pid, const std::string& field) {
  for (const std::string& line : lines_of(read_file("/proc/" + std::to_string(pid) + "/smaps_rollup"))) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// THP disabled for the processes started while it lives (inherited across
// fork and exec), for this test's process only.
class ThpDisabledForChildren {
 public:
  ThpDisabledForChildren() : ok_(::prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0) {}
  ~ThpDisabledForChildren() { ::prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0); }
  bool ok() const { return ok_; }

 private:
  bool ok_;
};

// A new build of `module` installed in `dir` each time it is called.
std::string install_copy(const std::string& module, const TempDir& dir) {
  const std::string target = dir.path() + "/" + std::filesystem::path(module).filename().string();
  install_new_build(module, target);
  return target;
}
std::string install_bigstate(const TempDir& dir) { return install_copy(module_path("bigstate.so"), dir); }
std::string install_fixture(const TempDir& dir) {
  return install_copy(fixture_path("frozen_writer.so"), dir);
}

// Serves the fixture's heap state right before and after a reload that
// replaces the module (the server looks at its memory again then), and its
// parent holds no huge page. The fixture's 48 MiB block is too large for
// malloc's heap: it is what huge pages would have helped with.
void expect_serves_without_huge_pages(ServerProcess& server, const TempDir& dir) {
  for (int key : {0, 777, 29999}) {
    EXPECT_EQ(exchange(server.port(), "GET /heap-get?" + std::to_string(key) + " HTTP/1.0\r\n\r\n").body,
              "value " + std::to_string(key));
  }
  const std::vector<ProcessInfo> old_workers =
      workers_under_test() ? children_of(server.pid()) : std::vector<ProcessInfo>{};
  install_fixture(dir);
  server.signal(SIGHUP);
  EXPECT_TRUE(eventually(
      [&] { return count_lines_containing(server.stderr_text(), "reloaded handler") == 1; }, kSettle))
      << server.stderr_text();
  EXPECT_TRUE(wait_for_old_workers_to_leave(old_workers, kSettle)) << "an old worker stayed after the reload";
  EXPECT_EQ(exchange(server.port(), "GET /heap-get?5 HTTP/1.0\r\n\r\n").body, "value 5");
  EXPECT_EQ(rollup_kib(server.pid(), "AnonHugePages"), 0);
}

bool can_unshare_mounts() {
  if (::geteuid() != 0 || !find_in_path("unshare")) return false;
  ProcessResult probe = run_process({"unshare", "--mount", "true"});
  return probe.status.exited && probe.status.code == 0;
}

TEST(ParentMemoryTest, WithHugePagesSetToNeverServesAllTheSameAndSaysSoOnce) {
  if (read_file(kThpSetting).empty()) GTEST_SKIP() << "this kernel has no transparent huge pages";
  if (!can_unshare_mounts()) {
    GTEST_SKIP() << "needs root and unshare --mount, to show the server " << kThpSetting
                 << " set to never without changing it for the whole machine";
  }
  TempDir dir;
  const std::string never = dir.write_file("enabled", "always madvise [never]\n");
  ThpDisabledForChildren disabled;  // and the kernel behaves as with never, for the server only
  ASSERT_TRUE(disabled.ok());
  ProcessLimits through;
  through.exec_through = {*find_in_path("unshare"),
                          "--mount",
                          "sh",
                          "-c",
                          std::string("mount --bind \"$0\" ") + kThpSetting + " && exec \"$@\"",
                          never};
  ServerProcess server({"--handler", install_fixture(dir) + ":30000:48"}, through);
  ASSERT_TRUE(server.ready()) << server.error();
  expect_serves_without_huge_pages(server, dir);
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "transparent huge pages are off"), 1U)
      << server.stderr_text();
}

TEST(ParentMemoryTest, WithHugePagesDisabledForTheProcessServesAllTheSameAndSaysSoOnce) {
  ThpDisabledForChildren disabled;
  if (!disabled.ok()) GTEST_SKIP() << "prctl(PR_SET_THP_DISABLE) is not supported here";
  TempDir dir;
  ServerProcess server({"--handler", install_fixture(dir) + ":30000:48"});
  ASSERT_TRUE(server.ready()) << server.error();
  expect_serves_without_huge_pages(server, dir);
  std::size_t said = count_lines_containing(server.stderr_text(), "transparent huge pages are off") +
                     count_lines_containing(server.stderr_text(), "transparent huge pages are disabled");
  EXPECT_EQ(said, 1U) << server.stderr_text();
}

// What fork() copies entry by entry: the parent's private memory in small pages.
long small_private_kib(pid_t pid) { return rollup_kib(pid, "Anonymous") - rollup_kib(pid, "AnonHugePages"); }

TEST(ParentMemoryTest, HeapStateLeavesThePrivateMemoryThatForkCopiesAlsoAfterAReload) {
  if (kMallocIsTheSanitizers)
    GTEST_SKIP() << "AddressSanitizer's malloc keeps no heap for the server to move";
  TempDir dir;
  ServerProcess server({"--handler", install_bigstate(dir) + ":64:heap"});
  ASSERT_TRUE(server.ready()) << server.error();
  EXPECT_LT(small_private_kib(server.pid()), 16 * 1024) << "of 64 MiB of state";
  EXPECT_EQ(exchange(server.port(), "GET /?key=123 HTTP/1.0\r\n\r\n").body, bigstate_value(123));

  const std::vector<ProcessInfo> old_workers =
      workers_under_test() ? children_of(server.pid()) : std::vector<ProcessInfo>{};
  install_bigstate(dir);
  server.signal(SIGHUP);
  ASSERT_TRUE(eventually(
      [&] { return count_lines_containing(server.stderr_text(), "reloaded handler") == 1; }, kSettle))
      << server.stderr_text();
  EXPECT_TRUE(wait_for_old_workers_to_leave(old_workers, kSettle)) << "an old worker stayed after the reload";
  // With --workers the old module is finished once a new worker is ready.
  EXPECT_TRUE(eventually([&] { return small_private_kib(server.pid()) < 16 * 1024; }, kSettle))
      << small_private_kib(server.pid()) << " KiB after the reload";
  EXPECT_EQ(exchange(server.port(), "GET /?key=456 HTTP/1.0\r\n\r\n").body, bigstate_value(456));
}

TEST(ParentMemoryTest, ChildChangingHeapStateChangesItForItselfOnly) {
  if (kMallocIsTheSanitizers)
    GTEST_SKIP() << "AddressSanitizer's malloc keeps no heap for the server to move";
  if (workers_under_test()) GTEST_SKIP() << "a worker's state lives on between its connections";
  ServerProcess server({"--handler", fixture_path("frozen_writer.so") + ":100000"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_NE(read_file("/proc/" + std::to_string(server.pid()) + "/maps").find("/memfd:forkserve-heap"),
            std::string::npos)
      << "the heap was not moved out of the memory fork() copies: this test would show nothing";
  EXPECT_EQ(exchange(server.port(), "GET /heap-write?7 HTTP/1.0\r\n\r\n").body, "changed 7");
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(exchange(server.port(), "GET /heap-get?7 HTTP/1.0\r\n\r\n").body, "value 7");
  }
}

}  // namespace
}  // namespace forkserve::integration

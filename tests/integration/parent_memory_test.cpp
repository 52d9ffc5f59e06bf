// The parent made cheap to fork: handler state on its heap is collapsed into
// transparent huge pages where the system allows, and where it does not (THP
// set to never, or disabled for the process) the server serves exactly the
// same and says why once. Runs against both modes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>

#include <filesystem>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

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

// A copy of bigstate.so in `dir`, replaced the way an install does (a new
// file renamed over the old) each time it is called.
std::string install_bigstate(const TempDir& dir) {
  const std::string target = dir.path() + "/bigstate.so";
  std::filesystem::copy_file(module_path("bigstate.so"), target + ".new",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(target + ".new", target);
  return target;
}

// Serves bigstate's heap state right before and after a reload that replaces
// the module (the server looks at its memory again then), and its parent
// holds no huge page.
void expect_serves_without_huge_pages(ServerProcess& server, const TempDir& dir) {
  for (unsigned long key : {0UL, 777UL, 30000UL}) {
    EXPECT_EQ(exchange(server.port(), "GET /?key=" + std::to_string(key) + " HTTP/1.0\r\n\r\n").body,
              bigstate_value(key));
  }
  install_bigstate(dir);
  server.signal(SIGHUP);
  EXPECT_TRUE(eventually(
      [&] { return count_lines_containing(server.stderr_text(), "reloaded handler") == 1; }, kSettle))
      << server.stderr_text();
  EXPECT_EQ(exchange(server.port(), "GET /?key=5 HTTP/1.0\r\n\r\n").body, bigstate_value(5));
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
  ServerProcess server({"--handler", install_bigstate(dir) + ":24:heap"}, through);
  ASSERT_TRUE(server.ready()) << server.error();
  expect_serves_without_huge_pages(server, dir);
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "transparent huge pages are off"), 1U)
      << server.stderr_text();
}

TEST(ParentMemoryTest, WithHugePagesDisabledForTheProcessServesAllTheSameAndSaysSoOnce) {
  ThpDisabledForChildren disabled;
  if (!disabled.ok()) GTEST_SKIP() << "prctl(PR_SET_THP_DISABLE) is not supported here";
  TempDir dir;
  ServerProcess server({"--handler", install_bigstate(dir) + ":24:heap"});
  ASSERT_TRUE(server.ready()) << server.error();
  expect_serves_without_huge_pages(server, dir);
  std::size_t said = count_lines_containing(server.stderr_text(), "transparent huge pages are off") +
                     count_lines_containing(server.stderr_text(), "transparent huge pages are disabled");
  EXPECT_EQ(said, 1U) << server.stderr_text();
}

TEST(ParentMemoryTest, HeapStateIsCollapsedIntoHugePagesWhereTheSystemAllows) {
  std::string setting = read_file(kThpSetting);
  if (setting.empty() || setting.find("[never]") != std::string::npos) {
    GTEST_SKIP() << "transparent huge pages are unavailable or off here (" << kThpSetting << ")";
  }
  ServerProcess server({"--handler", module_path("bigstate.so") + ":64:heap"});
  ASSERT_TRUE(server.ready()) << server.error();
  // Most of the 64 MiB; some 2 MiB blocks may be only partly used, or the
  // kernel may lack free huge pages for a few.
  EXPECT_GE(rollup_kib(server.pid(), "AnonHugePages"), 32 * 1024) << server.stderr_text();
  EXPECT_EQ(exchange(server.port(), "GET /?key=123 HTTP/1.0\r\n\r\n").body, bigstate_value(123));
  EXPECT_EQ(count_lines_containing(server.stderr_text(), "huge pages"), 0U) << server.stderr_text();
}

}  // namespace
}  // namespace forkserve::integration

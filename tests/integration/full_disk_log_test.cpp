// An access log on a full file system (a 64 KiB tmpfs): serving goes on, the
// loss is reported once on the error log and counted on the status page, and
// the line torn by the short write never merges with the next one.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <regex>
#include <string>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

// A tmpfs of `size` mounted on a fresh directory, unmounted on destruction.
class TinyTmpfs {
 public:
  TinyTmpfs(const std::string& where, const char* size) : path_(where) {
    ::mkdir(path_.c_str(), 0755);
    std::string options = std::string("size=") + size;
    if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      error_ = std::string("mount tmpfs: ") + std::strerror(errno);
    }
  }
  ~TinyTmpfs() {
    if (error_.empty()) ::umount2(path_.c_str(), MNT_DETACH);
  }
  const std::string& error() const { return error_; }

 private:
  std::string path_;
  std::string error_;
};

// Writes to `path` until the file system is full.
void fill(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::string block(4096, 'f');
  while (::write(fd, block.data(), block.size()) > 0) {
  }
  // Then byte by byte into the last partial page, if any.
  while (::write(fd, "f", 1) == 1) {
  }
  ::close(fd);
}

TEST(FullDiskLogTest, LossIsReportedAndCountedAndNoLinesMerge) {
  TempDir scratch;
  std::string mount_point = scratch.path() + "/logs";
  TinyTmpfs tmpfs(mount_point, "64k");
  if (!tmpfs.error().empty()) GTEST_SKIP() << tmpfs.error() << " (needs root, or CAP_SYS_ADMIN, to mount a tmpfs)";
  std::string log_path = mount_point + "/access.log";
  ServerProcess server({"--access-log", log_path, "--status-path", "/status"});
  ASSERT_TRUE(server.ready()) << server.error();
  ASSERT_EQ(exchange(server.port(), "GET /status HTTP/1.0\r\n\r\n").status, 200);
  ASSERT_TRUE(eventually([&] { return !read_file(log_path).empty(); }, milliseconds(5'000)));

  fill(mount_point + "/filler");
  // Lines of ~1 KiB: the first few fill the log's last page, one is cut
  // short, the rest find no room at all.
  std::string long_path = "/" + std::string(1000, 'a');
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(exchange(server.port(), "GET " + long_path + std::to_string(i) + " HTTP/1.0\r\n\r\n").status, 404);
  }
  EXPECT_TRUE(eventually(
      [&] { return count_lines_containing(server.stderr_text(), "access log: write failed (No space left on device)") == 1; },
      milliseconds(5'000)))
      << server.stderr_text();

  ASSERT_EQ(::unlink((mount_point + "/filler").c_str()), 0);
  ASSERT_EQ(exchange(server.port(), "GET /after-space-freed HTTP/1.0\r\n\r\n").status, 404);
  HttpReply status = exchange(server.port(), "GET /status HTTP/1.0\r\n\r\n");
  std::smatch lost;
  ASSERT_TRUE(std::regex_search(status.body, lost, std::regex(R"(log lines lost: access (\d+) )"))) << status.body;
  EXPECT_GE(std::stoi(lost[1]), 1) << status.body;

  ASSERT_TRUE(eventually([&] { return count_lines_containing(read_file(log_path), "after-space-freed") == 1; },
                         milliseconds(5'000)));
  const std::regex whole(R"(127\.0\.0\.1 - - \[[^\]]+\] "GET /[^"]* HTTP/1\.0" \d{3} (-|\d+))");
  std::size_t torn = 0;
  for (const std::string& line : lines_of(read_file(log_path))) {
    if (std::regex_match(line, whole)) continue;
    ++torn;  // the cut line: a start of one request's line, and nothing of the next
    EXPECT_TRUE(line.starts_with("127.0.0.1 - - [")) << line;
    EXPECT_EQ(line.find("after-space-freed"), std::string::npos) << "merged: " << line;
    EXPECT_EQ(line.find("127.0.0.1", 1), std::string::npos) << "merged: " << line;
  }
  EXPECT_LE(torn, 1U);
  std::size_t after = 0;
  for (const std::string& line : lines_of(read_file(log_path))) {
    after += std::regex_match(line, whole) && line.find("\"GET /after-space-freed HTTP/1.0\" 404") != std::string::npos;
  }
  EXPECT_EQ(after, 1U) << read_file(log_path);
}

}  // namespace
}  // namespace forkserve::integration

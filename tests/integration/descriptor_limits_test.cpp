// Running out of file descriptors: the tutorial's experiment (more idle
// connections than the server may open files) leaves nothing behind, and a
// parent that cannot accept at all backs off instead of spinning.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/http_client.hpp"
#include "integration/log_text.hpp"
#include "integration/proc_inspect.hpp"
#include "integration/server_process.hpp"

namespace forkserve::integration {
namespace {

using std::chrono::duration_cast;

constexpr std::string_view kGet = "GET / HTTP/1.0\r\n\r\n";
constexpr std::string_view kHello = "Hello, World!";
// Reaping and closing after the last client is gone (children linger up to 2 s).
constexpr milliseconds kSettleTime{10'000};

milliseconds since(Clock::time_point start) { return duration_cast<milliseconds>(Clock::now() - start); }

// Raises this process's soft RLIMIT_NOFILE to its hard limit, so the test can
// hold more connections than the server may; restores it on destruction.
class RaisedDescriptorLimit {
 public:
  RaisedDescriptorLimit() {
    if (::getrlimit(RLIMIT_NOFILE, &saved_) != 0) return;
    rlimit raised = saved_;
    raised.rlim_cur = raised.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit_ = raised.rlim_cur;
  }
  RaisedDescriptorLimit(const RaisedDescriptorLimit&) = delete;
  RaisedDescriptorLimit& operator=(const RaisedDescriptorLimit&) = delete;
  ~RaisedDescriptorLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

  rlim_t limit() const { return limit_; }

 private:
  rlimit saved_{};
  rlim_t limit_ = 0;
};

// Waits until every client has something to read (its response), or the deadline.
std::size_t wait_until_all_readable(const std::vector<Client>& clients, milliseconds timeout) {
  Deadline deadline = Clock::now() + timeout;
  std::vector<pollfd> fds;
  for (const Client& c : clients) fds.push_back({c.fd(), POLLIN, 0});
  std::size_t readable = 0;
  while (readable < fds.size()) {
    auto left = duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    if (::poll(fds.data(), fds.size(), static_cast<int>(left)) < 0 && errno != EINTR) break;
    for (pollfd& p : fds) {
      if (p.fd >= 0 && p.revents != 0) {
        p.fd = -1;  // poll ignores negative descriptors
        ++readable;
      }
    }
  }
  return readable;
}

TEST(DescriptorExhaustionTest, FourHundredIdleConnectionsAtLimit256LeaveNoFdsOrZombiesBehind) {
  constexpr rlim_t kServerLimit = 256;
  constexpr std::size_t kConnections = 400;
  RaisedDescriptorLimit own_limit;
  if (own_limit.limit() < kConnections + 100) {
    GTEST_SKIP() << "this process may open only " << own_limit.limit() << " files; the test needs "
                 << kConnections + 100;
  }
  // The backlog holds every connection the parent has not accepted yet, so
  // none of them waits out a SYN retransmission.
  ServerProcess server({"--handler", module_path("hello.so"), "--backlog", "512"}, ProcessLimits::max_open_files(kServerLimit));
  ASSERT_TRUE(server.ready()) << server.error();
  const int baseline = count_open_fds(server.pid());
  ASSERT_GT(baseline, 0);

  // Each connection sends a request, then neither reads nor closes.
  std::vector<Client> clients;
  clients.reserve(kConnections);
  int parent_peak = baseline;
  for (std::size_t i = 0; i < kConnections; ++i) {
    clients.emplace_back(server.port(), milliseconds(10'000));
    ASSERT_TRUE(clients.back().connected())
        << "connection " << i << ": " << std::strerror(clients.back().error());
    ASSERT_TRUE(clients.back().send(kGet))
        << "connection " << i << ": " << std::strerror(clients.back().error());
    parent_peak = std::max(parent_peak, count_open_fds(server.pid()));
  }
  EXPECT_EQ(wait_until_all_readable(clients, milliseconds(30'000)), kConnections)
      << "not every idle connection got its response";
  for (Client& c : clients) c.close();

  HttpReply after = exchange(server.port(), kGet);
  EXPECT_EQ(after.status, 200) << after.summary();
  EXPECT_EQ(after.body, kHello);
  int settled = -1;
  EXPECT_TRUE(eventually([&] { return (settled = count_open_fds(server.pid())) == baseline; }, kSettleTime))
      << "parent holds " << settled << " descriptors, " << baseline << " before the connections";
  EXPECT_TRUE(eventually([&] { return count_zombie_children(server.pid()) == 0; }, kSettleTime))
      << count_zombie_children(server.pid()) << " zombie children";
  RecordProperty("parent_fds_baseline", baseline);
  RecordProperty("parent_fds_peak", parent_peak);
  RecordProperty("parent_fds_after", settled);
  std::printf("parent descriptors: %d before, at most %d with %zu connections, %d after\n", baseline,
              parent_peak, kConnections, settled);
}

TEST(DescriptorExhaustionTest, AcceptFailingWithEmfileBacksOffInsteadOfSpinning) {
  constexpr milliseconds kWindow{2'000};
  constexpr milliseconds kMaxCpuInWindow{500};
  // What the parent holds once started (0-2, the listener, the access log),
  // and what the process that accepts holds (the parent, or a worker),
  // measured on a server started without a limit.
  int held_at_start = 0;
  int accepting_holds = 0;
  {
    ServerProcess probe({"--handler", module_path("hello.so")});
    ASSERT_TRUE(probe.ready()) << probe.error();
    held_at_start = count_open_fds(probe.pid());
    ASSERT_GT(held_at_start, 0);
    accepting_holds = held_at_start;
    if (workers_under_test()) {
      ASSERT_TRUE(eventually([&] { return !children_of(probe.pid()).empty(); }, milliseconds(5'000)));
      pid_t worker = children_of(probe.pid()).at(0).pid;
      // Until it has made its epoll instance, a worker's count is not final.
      ASSERT_TRUE(eventually([&] { return count_open_fds(worker) >= held_at_start; }, milliseconds(5'000)));
      accepting_holds = count_open_fds(worker);
    }
  }
  // With exactly that many allowed the server starts, but accept() has no
  // descriptor left to return.
  ServerProcess server({"--handler", module_path("hello.so")},
                       ProcessLimits::max_open_files(static_cast<rlim_t>(std::max(held_at_start, accepting_holds))));
  ASSERT_TRUE(server.ready()) << "the server cannot start with RLIMIT_NOFILE " << held_at_start << ": "
                              << server.error();
  ASSERT_EQ(count_open_fds(server.pid()), held_at_start) << "the limit leaves room for accept()";

  Client client(server.port());
  ASSERT_TRUE(client.connected()) << std::strerror(client.error());  // the kernel queues it
  ASSERT_TRUE(client.send(kGet));
  ASSERT_TRUE(eventually([&] { return count_lines_containing(server.stderr_text(), "pausing accept") >= 1; },
                         milliseconds(5'000)))
      << "no back-off logged; stderr: " << server.stderr_text();

  // Whoever accepts: the parent, or its workers.
  auto accepting_cpu = [&]() -> std::optional<milliseconds> {
    std::optional<milliseconds> total = cpu_time(server.pid());
    for (const ProcessInfo& child : children_of(server.pid())) {
      std::optional<milliseconds> used = cpu_time(child.pid);
      if (total && used) *total += *used;
    }
    return total;
  };
  std::optional<milliseconds> cpu_before = accepting_cpu();
  Clock::time_point start = Clock::now();
  std::this_thread::sleep_for(kWindow);  // the measurement window, not a wait for readiness
  std::optional<milliseconds> cpu_after = accepting_cpu();
  milliseconds window = since(start);

  ProcessInfo info = process_info(server.pid());
  EXPECT_TRUE(info.state != 'Z' && info.state != '?') << "server state " << info.state;
  ASSERT_TRUE(cpu_before && cpu_after);
  milliseconds used = *cpu_after - *cpu_before;
  EXPECT_LT(used, kMaxCpuInWindow) << "the parent used " << used.count() << " ms of CPU in " << window.count()
                                   << " ms: it spins on EMFILE";
  // Rate-limited to one a second: at most one per started second since the
  // first, for each process that accepts.
  const std::size_t pauses = count_lines_containing(server.stderr_text(), "pausing accept");
  const auto seconds = static_cast<std::size_t>(duration_cast<std::chrono::seconds>(window).count());
  const auto accepting = static_cast<std::size_t>(workers_under_test().value_or(1));
  EXPECT_LE(pauses, (seconds + 2) * accepting) << server.stderr_text();
  // A retry every 100 ms for seconds: the lines held back are counted, not dropped.
  EXPECT_TRUE(eventually(
      [&] { return count_lines_containing(server.stderr_text(), "more accept failures in the last") >= 1; },
      milliseconds(5'000)))
      << server.stderr_text();
  RecordProperty("rlimit_nofile", held_at_start);
  RecordProperty("cpu_ms_in_window", static_cast<int>(used.count()));
  std::printf("RLIMIT_NOFILE %d: %lld ms CPU in %lld ms, %zu 'pausing accept' lines\n", held_at_start,
              static_cast<long long>(used.count()), static_cast<long long>(window.count()), pauses);
}

}  // namespace
}  // namespace forkserve::integration

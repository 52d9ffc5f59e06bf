// The parent's process table kills a process with the process group numbered
// with its pid, where a serving process puts the CGI program it runs
// (handlers/cgi.cpp): the program ends with it, whether the parent kills it
// past every deadline or reaps it after it died some other way.
#include "master/process_table.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <utility>
#include <vector>

namespace forkserve {
namespace {

// A stand-in for a serving process running a program: it makes the group
// numbered with its pid, starts a "program" in it, and goes back to its own
// group, as Program::spawn does. Then it either waits to be killed or exits.
struct ServingProcess {
  pid_t pid = -1;
  pid_t program = -1;
};

ServingProcess start_serving_process(bool exit_at_once) {
  int ready[2];
  EXPECT_EQ(::pipe(ready), 0);
  ServingProcess serving;
  serving.pid = ::fork();
  if (serving.pid == 0) {
    pid_t home = ::getpgrp();
    if (::setpgid(0, 0) != 0) ::_exit(2);
    pid_t program = ::fork();
    if (program == 0) {
      for (;;) ::pause();
    }
    if (::setpgid(0, home) != 0) ::_exit(2);
    (void)!::write(ready[1], &program, sizeof program);
    if (exit_at_once) ::_exit(1);  // as if it crashed
    for (;;) ::pause();            // as if its handler blocked every deadline
  }
  ::close(ready[1]);
  EXPECT_EQ(::read(ready[0], &serving.program, sizeof serving.program),
            static_cast<ssize_t>(sizeof serving.program));
  ::close(ready[0]);
  return serving;
}

class ProcessTableTest : public ::testing::Test {
 protected:
  // The "program" is re-parented to this test once its parent is gone, so
  // that the test can reap it and see it gone.
  void SetUp() override {
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    std::string error;
    ASSERT_TRUE(table_.open(2, error)) << error;
  }
  void TearDown() override { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }

  // Whether the program is gone within 5 s (reaped here, or by reap() as a
  // child not in the table); if not, it is ended here.
  static bool ended(pid_t program) {
    for (int i = 0; i < 500; ++i) {
      ::waitpid(program, nullptr, WNOHANG);
      if (::kill(program, 0) != 0 && errno == ESRCH) return true;
      ::usleep(10'000);
    }
    ::kill(program, SIGKILL);
    ::waitpid(program, nullptr, 0);
    return false;
  }

  ProcessTable table_;
};

TEST_F(ProcessTableTest, ProcessKilledPastItsDeadlineTakesItsProgramGroupAlong) {
  ServingProcess serving = start_serving_process(false);
  ASSERT_GT(serving.program, 0);
  int slot = table_.claim();
  ASSERT_GE(slot, 0);
  table_.add(slot, serving.pid, Clock::now() - std::chrono::seconds(1), 0);
  table_.kill_overdue(Clock::now(), [&](int) { return std::string("test process overran every deadline"); });
  int status = 0;
  ASSERT_EQ(::waitpid(serving.pid, &status, 0), serving.pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_TRUE(ended(serving.program));
}

TEST_F(ProcessTableTest, ProcessThatDiedLeavesNoProgramRunningOnceReaped) {
  ServingProcess serving = start_serving_process(true);
  ASSERT_GT(serving.program, 0);
  int slot = table_.claim();
  ASSERT_GE(slot, 0);
  table_.add(slot, serving.pid, Clock::now() + std::chrono::seconds(60), 0);
  siginfo_t exited{};  // wait until it has exited, without reaping it
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(serving.pid), &exited, WEXITED | WNOWAIT), 0);
  int reaped = 0;
  table_.reap(
      [&](const ProcessExit& exit) {
        EXPECT_EQ(exit.pid, serving.pid);
        ++reaped;
      },
      [&](pid_t pid, int) {  // the program, re-parented here, may already be dead and reaped with it
        if (pid != serving.program) ADD_FAILURE() << "reaped " << pid << " as not in the table";
      });
  EXPECT_EQ(reaped, 1);
  EXPECT_TRUE(ended(serving.program));
}

// A child not in the table (a module's trial process) is reaped too, and its
// wait status goes to whoever started it.
TEST_F(ProcessTableTest, ChildNotInTheTableIsReapedWithItsStatusHandedOn) {
  const pid_t other = ::fork();
  ASSERT_GE(other, 0);
  if (other == 0) ::_exit(7);
  siginfo_t exited{};  // wait until it has exited, without reaping it
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(other), &exited, WEXITED | WNOWAIT), 0);
  std::vector<std::pair<pid_t, int>> others;
  table_.reap([](const ProcessExit& exit) { ADD_FAILURE() << "reaped " << exit.pid << " as ours"; },
              [&](pid_t pid, int status) { others.emplace_back(pid, status); });
  ASSERT_EQ(others.size(), 1U);
  EXPECT_EQ(others[0].first, other);
  EXPECT_TRUE(WIFEXITED(others[0].second) && WEXITSTATUS(others[0].second) == 7);
  EXPECT_EQ(::waitpid(other, nullptr, WNOHANG), -1);  // gone: no zombie left
}

}  // namespace
}  // namespace forkserve

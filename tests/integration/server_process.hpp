// Runs the real forkserve binary for integration tests.
//
//     ServerProcess server({"--handler", module_path("hello.so")});
//     ASSERT_TRUE(server.ready()) << server.error();
//     HttpReply reply = exchange(server.port(), "GET / HTTP/1.0\r\n\r\n");
//
// A ServerProcess fork+execs the binary with `--host 127.0.0.1 --port 0`, a
// scratch --root and --access-log in its own temporary directory, stdout on a
// pipe and stderr in a file; it waits (bounded) for the start-up line (one
// per listener: per --listen in the arguments, or per socket passed as if by
// systemd) and takes the ports and pid from them. The destructor stops the server: SIGTERM, a
// bounded wait, then SIGKILL, and removes the scratch directory.
//
// run_process() runs any command to completion with captured output, for
// start-up failures and for curl.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace forkserve::integration {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
using std::chrono::milliseconds;

// Paths baked in by tests/CMakeLists.txt.
std::string server_binary();
std::string module_path(std::string_view file_name);   // examples: hello.so, environ_dump.so
std::string fixture_path(std::string_view file_name);  // tests/fixtures modules: slow.so, crashes.so, ...

// A directory made with mkdtemp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // Writes `content` to path()/relative (parents must exist); returns the full path.
  std::string write_file(std::string_view relative, std::string_view content) const;
  std::string make_dir(std::string_view relative) const;

 private:
  std::string path_;
};

// Reads a whole file; empty when it cannot be opened.
std::string read_file(const std::string& path);

// Installs a new build of the module `source` at `target` the way `install`
// does (a new file renamed over the old). Each call's bytes differ from every
// earlier one's, as a rebuild's do (a counter past the end of the ELF contents,
// which the loader ignores): a SIGHUP after it replaces the module, where the
// same bytes again would be "unchanged".
void install_new_build(const std::string& source, const std::string& target);

// How a process ended: exit code or signal, or still running at the deadline.
struct ExitStatus {
  bool exited = false;
  int code = -1;   // when exited
  int signal = 0;  // when killed by a signal
  bool timed_out = false;
};
std::string describe(const ExitStatus& status);

struct ProcessResult {
  ExitStatus status;
  std::string out;
  std::string err;
};

// Runs argv[0] (a path, or a name looked up in PATH) to completion, capturing
// stdout and stderr. Killed with SIGKILL at the timeout (status.timed_out).
ProcessResult run_process(const std::vector<std::string>& argv, milliseconds timeout = milliseconds(10'000));

// The full path of `name` in PATH, if it is there and executable.
std::optional<std::string> find_in_path(std::string_view name);

// The suite runs twice: as is, and with FORKSERVE_TEST_WORKERS=N set, when
// every ServerProcess gets `--workers N` (tests/CMakeLists.txt). Tests of
// what only one mode does check this and skip in the other.
std::optional<int> workers_under_test();

// What the server process is started with besides its arguments.
struct ProcessLimits {
  std::optional<rlim_t> open_files;  // RLIMIT_NOFILE
  std::optional<rlim_t> processes;   // RLIMIT_NPROC: only enforced for a non-root user
  std::optional<uid_t> user;         // run as this uid (gid = uid), from a copy of the binary in the
                                     // scratch dir, which is chowned to it
  // systemd socket activation: these become fds 3, 4, ... in the server, with
  // LISTEN_FDS their count and LISTEN_PID the server's pid (with
  // listen_pid_elsewhere, the test's pid: variables the server must ignore).
  std::vector<int> listen_fds;
  bool listen_pid_elsewhere = false;
  // A command (argv[0] a full path) that the binary's command line is appended
  // to, and which must exec it in the same process: e.g. unshare --mount
  // sh -c '... && exec "$@"' sh.
  std::vector<std::string> exec_through;

  static ProcessLimits max_open_files(rlim_t n) {
    ProcessLimits limits;
    limits.open_files = n;
    return limits;
  }
};

class ServerProcess {
 public:
  // `args` come after the harness's own flags (a later --root wins).
  explicit ServerProcess(std::vector<std::string> args = {}, ProcessLimits limits = {});
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess();

  // True once the start-up line arrived and parsed; otherwise error() says why.
  bool ready() const { return ready_; }
  const std::string& error() const { return error_; }

  std::uint16_t port() const { return port_; }
  const std::vector<std::uint16_t>& ports() const { return ports_; }  // one per start-up line
  pid_t pid() const { return pid_; }
  const std::string& startup_line() const { return startup_line_; }  // all of them, with several

  const std::string& scratch() const { return scratch_.path(); }  // outside the document root
  const std::string& root() const { return root_; }               // --root
  const TempDir& scratch_dir() const { return scratch_; }
  const std::string& access_log_path() const { return access_log_; }
  std::string stderr_text() const;

  // Writes `content` to root()/relative; returns the full path.
  std::string write_root_file(std::string_view relative, std::string_view content) const;

  // Sends `sig` to the server (not its children).
  void signal(int sig) const;
  // Waits (bounded) for the server to exit and reaps it; once reaped, returns
  // the same status again.
  ExitStatus wait_for_exit(milliseconds timeout);
  // SIGTERM, then wait_for_exit(timeout).
  ExitStatus stop(milliseconds timeout = milliseconds(15'000));

 private:
  void wait_for_startup_line(Deadline deadline, std::size_t lines);

  TempDir scratch_;
  std::string root_;
  std::string access_log_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  ExitStatus exit_status_;  // once reaped_
  int stdout_fd_ = -1;
  bool ready_ = false;
  std::string error_;
  std::string startup_line_;
  std::uint16_t port_ = 0;
  std::vector<std::uint16_t> ports_;
};

}  // namespace forkserve::integration

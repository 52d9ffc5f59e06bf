#include "startup/daemon.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "net/io.hpp"
#include "core/log.hpp"

namespace forkserve {
namespace {

// The launching process: relays the start-up lines, then exits with the
// daemon's verdict. Never returns.
[[noreturn]] void relay_startup_lines(int from_daemon, pid_t intermediate, int lines) {
  int status = 0;
  while (::waitpid(intermediate, &status, 0) < 0 && errno == EINTR) {
  }
  std::string received;
  char buffer[512];
  int seen = 0;
  while (seen < lines) {
    ssize_t n = ::read(from_daemon, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n && seen < lines; ++i) {
      received += buffer[i];
      if (buffer[i] == '\n') ++seen;
    }
  }
  write_line(STDOUT_FILENO, received);
  if (seen < lines) log_error("--daemon: the server exited before it was serving (see the error log)");
  ::_exit(seen < lines ? 1 : 0);
}

}  // namespace

bool daemonize(UniqueFd dev_null, int startup_lines, bool keep_stderr, std::string& error) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    error = std::string("--daemon: pipe: ") + std::strerror(errno);
    return false;
  }
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);
  pid_t intermediate = ::fork();
  if (intermediate < 0) {
    error = std::string("--daemon: fork: ") + std::strerror(errno);
    return false;
  }
  if (intermediate > 0) {
    write_end.reset();  // so that the daemon's end is the only writer: EOF if it dies
    relay_startup_lines(read_end.get(), intermediate, startup_lines);
  }
  // The intermediate process: a new session without a terminal, then a
  // child that is not its leader. Its own exit tells the launcher to read.
  if (::setsid() < 0) ::_exit(1);
  pid_t daemon = ::fork();
  if (daemon != 0) ::_exit(daemon < 0 ? 1 : 0);

  (void)!::chdir("/");  // cannot fail in any way that matters: "/" exists
  ::dup2(dev_null.get(), STDIN_FILENO);
  ::dup2(write_end.get(), STDOUT_FILENO);  // without O_CLOEXEC, like any stdout
  if (!keep_stderr) ::dup2(dev_null.get(), STDERR_FILENO);
  return true;
}

}  // namespace forkserve

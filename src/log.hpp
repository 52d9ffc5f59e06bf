// Error log (standard error) and access log lines. Each line is built in
// memory and written with one write(2), so lines from concurrent children
// never interleave (O_APPEND files and pipes keep such writes whole).
#pragma once

#include <ctime>
#include <string>
#include <string_view>

namespace forkserve {

// "forkserve: " + message + "\n" to standard error.
void log_error(std::string_view message);

struct AccessRecord {
  std::string_view remote_addr;
  std::time_t time = 0;
  std::string_view request_line;  // as received; escaped when written
  int status = 0;
  unsigned long long body_bytes = 0;
};

// One Common Log Format line, newline included:
// 127.0.0.1 - - [28/Nov/2026:15:12:41 +0000] "GET / HTTP/1.1" 200 1234
std::string format_access_line(const AccessRecord& record);

// The line up to the status: `127.0.0.1 - - [...] "GET / HTTP/1.1" `.
std::string format_access_prefix(const AccessRecord& record);

// Appends "STATUS BYTES\n" (bytes "-" when 0) at `out`, returning the new end.
// Async-signal-safe, for the child's timeout handler; `out` needs 32 bytes.
char* append_access_suffix(char* out, int status, unsigned long long body_bytes);

// Appends one whole line to `fd`. Async-signal-safe.
void write_line(int fd, std::string_view line);

// The log files named on the command line ("-": standard output for the
// access log, standard error for the error log). reopen() points the same
// descriptor numbers at fresh files, so after logrotate has moved the old
// ones (SIGUSR1) new children write to the new files while children already
// running finish their lines in the old ones.
class LogFiles {
 public:
  // On failure returns false with `error` naming the file.
  bool open(const std::string& access_path, const std::string& error_path, std::string& error);
  bool reopen(std::string& error);
  int access_fd() const { return access_fd_; }

 private:
  bool open_onto(const std::string& path, int fd, std::string& error);

  std::string access_path_;
  std::string error_path_;
  int access_fd_ = 1;  // standard output
};

}  // namespace forkserve

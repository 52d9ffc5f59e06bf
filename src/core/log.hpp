// Error log (standard error) and access log lines. Each line is built in
// memory and written with one write(2), so lines from concurrent children
// never interleave (O_APPEND files and pipes keep such writes whole).
#pragma once

#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace forkserve {

// "forkserve: " + message + "\n" to standard error, or, after
// send_errors_to_syslog(), to syslog.
void log_error(std::string_view message);

// --syslog. open_syslog() connects at once (LOG_NDELAY), so call it before
// chroot hides /dev/log; send_errors_to_syslog() then diverts log_error()
// (until then start-up failures still reach the terminal).
void open_syslog();
void send_errors_to_syslog();

// --log-format: Common Log Format, or Combined, which adds the Referer and
// User-Agent request headers.
enum class LogFormat { Common, Combined };

struct AccessRecord {
  std::string_view remote_addr;
  std::time_t time = 0;
  std::string_view request_line;  // as received; escaped when written
  int status = 0;
  unsigned long long body_bytes = 0;
  // Combined only: the first such header, as received (escaped when written);
  // nullopt, written "-", when the request had none.
  std::optional<std::string_view> referer = std::nullopt;
  std::optional<std::string_view> user_agent = std::nullopt;
};

// One access log line, newline included. Common:
// 127.0.0.1 - - [28/Nov/2026:15:12:41 +0000] "GET / HTTP/1.1" 200 1234
// Combined:
// 127.0.0.1 - - [28/Nov/2026:15:12:41 +0000] "GET / HTTP/1.1" 200 1234 "http://a/" "curl/8.5.0"
std::string format_access_line(const AccessRecord& record, LogFormat format = LogFormat::Common);

// The line up to the status: `127.0.0.1 - - [...] "GET / HTTP/1.1" `.
std::string format_access_prefix(const AccessRecord& record);

// What follows the body size: nothing for Common, ` "Referer" "User-Agent"`
// for Combined. Escaped like the request line, so a client can neither end
// the quoted field nor the line.
std::string format_access_trailer(const AccessRecord& record, LogFormat format);

// Appends "STATUS BYTES" (bytes "-" when 0), `trailer` and "\n" at `out`,
// returning the new end. Async-signal-safe, for the child's timeout handler;
// `out` needs kAccessSuffixRoom + trailer.size() bytes.
constexpr std::size_t kAccessSuffixRoom = 32;
char* append_access_suffix(char* out, int status, unsigned long long body_bytes,
                           std::string_view trailer = {});

// Appends one whole line to `fd`. Async-signal-safe.
void write_line(int fd, std::string_view line);

// Replaces control bytes (< 0x20, 0x7f) with '?', so that text a client or a
// child chose cannot forge or break an error-log line. Async-signal-safe.
void blank_control_bytes(std::span<char> text);

// log_error() for a failure that repeats with every attempt (no descriptors,
// no memory, fork failing): at most one line a second.
class ThrottledLog {
 public:
  void error(std::string_view message);

 private:
  std::time_t last_ = 0;
};

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

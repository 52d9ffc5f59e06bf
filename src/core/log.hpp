// Error log (standard error, or syslog) and access log lines. Each line is
// built in memory and written with one write(2), so lines from concurrent
// children never interleave (O_APPEND files and pipes keep such writes
// whole). A line that cannot be written whole is counted as lost and
// reported (at most one line per log per 10 s), and a line torn by a short
// write is ended before the next one is written, so no two ever merge.
#pragma once

#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/stats.hpp"

namespace forkserve {

// "2026-11-30T03:47:30.123Z forkserve: " + message + "\n" to standard error,
// or "<27>Nov 30 03:47:30 forkserve[PID]: " + message as one datagram to
// syslog (/dev/log) after send_errors_to_syslog(). Lines from a
// process other than the one that called set_log_main_process() (children,
// workers) say "forkserve[PID]:". `message` is escaped by
// escape_control_bytes(), so text a client or handler chose cannot start a line.
void log_error(std::string_view message);

// The same for the child's timeout handler: async-signal-safe; `message` must
// already be escaped (escape_control_bytes).
void log_error_signal_safe(std::string_view message);

// `text` with CR, LF and every other control byte escaped (\n, \r, \t,
// \xHH), a backslash doubled, and bytes that are not printable UTF-8 (C1
// controls, line separators, bidirectional overrides and malformed sequences
// included) as \xHH: one line of valid UTF-8 that reads as what was sent.
std::string escape_control_bytes(std::string_view text);

// Lines from this process carry no pid (the parent; call after --daemon's fork).
void set_log_main_process();

// A failure that can repeat many times a second (see Flood): at most one
// line per second per kind across all processes; the others are counted and
// the count is added to the next line of that kind ("(and 312 more header
// timeouts in the last 1 s)"), or written by flush_log_counts().
void log_flood(Flood kind, std::string_view message);

// Called in the process that writes a flood's line, so that whoever calls
// flush_log_counts() can be woken (a worker's parent sleeps otherwise; a
// child's wakes at its exit anyway). Async-signal-safe, not allocating.
void set_flood_line_hook(void (*hook)());

// Writes the counts of floods whose last line is over a second old, and the
// report of log lines lost that is due (at most one per log per 10 s). True
// while some may remain unwritten: counted, or a line written this second
// that others may follow (call again within a second).
bool flush_log_counts();

// --syslog. open_syslog() connects to /dev/log at once, so call it before
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

// Appends one whole line to a log at `fd`; false if it was lost (counted in
// stats() and reported). Async-signal-safe.
bool append_log_line(LogStream stream, int fd, std::string_view line);

// From now on this process (the master loop, which must never block) gives
// up a log write after 100 ms, counting the line lost, and then leaves that
// log alone for a second. Uses SIGRTMIN; call again after code that may have
// changed its handler or mask (a module's init()). False (and `error`) if it cannot.
bool bound_log_writes(std::string& error);

// For a process ending in the middle of writing a line (its deadline came
// while the log blocked it): counts the line lost, to be reported by the
// parent's flush_log_counts() (writing the report here could block too), and
// marks the log torn so the next line starts on a line of its own.
// Async-signal-safe.
void abandon_log_line(LogStream stream);

// Writes all of `text` to `fd` (start-up lines, --help); false on failure.
bool write_line(int fd, std::string_view text);

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

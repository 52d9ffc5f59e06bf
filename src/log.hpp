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

// Appends one whole line to `fd`.
void write_line(int fd, std::string_view line);

}  // namespace forkserve

#include "log.hpp"

#include <unistd.h>

#include <cerrno>

#include "http/date.hpp"

namespace forkserve {

void write_line(int fd, std::string_view line) {
  while (!line.empty()) {
    ssize_t n = ::write(fd, line.data(), line.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere left to report a failing log
    line.remove_prefix(static_cast<std::size_t>(n));
  }
}

void log_error(std::string_view message) {
  std::string line = "forkserve: ";
  line.append(message).append("\n");
  write_line(STDERR_FILENO, line);
}

namespace {

// Escapes what a client could use to forge or break log lines.
void append_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
}

}  // namespace

std::string format_access_line(const AccessRecord& record) {
  std::string line;
  line.reserve(96 + record.request_line.size());
  line.append(record.remote_addr).append(" - - [").append(http::format_log_date(record.time)).append("] \"");
  append_escaped(line, record.request_line);
  line.append("\" ").append(std::to_string(record.status)).append(" ");
  line.append(record.body_bytes ? std::to_string(record.body_bytes) : "-").append("\n");
  return line;
}

}  // namespace forkserve

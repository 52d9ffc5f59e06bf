#include "core/log.hpp"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

void blank_control_bytes(std::span<char> text) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
}

void ThrottledLog::error(std::string_view message) {
  std::time_t now = std::time(nullptr);
  if (now == last_) return;
  last_ = now;
  log_error(message);
}

bool LogFiles::open_onto(const std::string& path, int fd, std::string& error) {
  int opened = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (opened < 0) {
    error = "open " + path + ": " + std::strerror(errno);
    return false;
  }
  if (fd < 0) {
    access_fd_ = opened;  // first opening: keep the number it got
    return true;
  }
  bool ok = opened == fd || ::dup3(opened, fd, fd == STDERR_FILENO ? 0 : O_CLOEXEC) == fd;
  if (!ok) error = "reopen " + path + ": " + std::strerror(errno);
  if (opened != fd) ::close(opened);
  return ok;
}

bool LogFiles::open(const std::string& access_path, const std::string& error_path, std::string& error) {
  access_path_ = access_path == "-" ? "" : access_path;
  error_path_ = error_path == "-" ? "" : error_path;
  if (!access_path_.empty() && !open_onto(access_path_, -1, error)) return false;
  return error_path_.empty() || open_onto(error_path_, STDERR_FILENO, error);
}

bool LogFiles::reopen(std::string& error) {
  bool ok = access_path_.empty() || open_onto(access_path_, access_fd_, error);
  return (error_path_.empty() || open_onto(error_path_, STDERR_FILENO, error)) && ok;
}

namespace {
bool g_errors_to_syslog = false;
}  // namespace

void open_syslog() { ::openlog("forkserve", LOG_PID | LOG_NDELAY, LOG_DAEMON); }

void send_errors_to_syslog() { g_errors_to_syslog = true; }

void log_error(std::string_view message) {
  if (g_errors_to_syslog) {
    ::syslog(LOG_ERR, "%.*s", static_cast<int>(message.size()), message.data());
    return;
  }
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

std::string format_access_prefix(const AccessRecord& record) {
  std::string line;
  line.reserve(96 + record.request_line.size());
  line.append(record.remote_addr).append(" - - [").append(http::format_log_date(record.time)).append("] \"");
  append_escaped(line, record.request_line);
  line.append("\" ");
  return line;
}

std::string format_access_trailer(const AccessRecord& record, LogFormat format) {
  std::string trailer;
  if (format != LogFormat::Combined) return trailer;
  for (const std::optional<std::string_view>& header : {record.referer, record.user_agent}) {
    trailer.append(" \"");
    if (header) {
      append_escaped(trailer, *header);
    } else {
      trailer += '-';
    }
    trailer += '"';
  }
  return trailer;
}

char* append_access_suffix(char* out, int status, unsigned long long body_bytes, std::string_view trailer) {
  auto append_decimal = [](char* at, unsigned long long value) {
    char digits[20];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    while (n > 0) *at++ = digits[--n];
    return at;
  };
  out = append_decimal(out, static_cast<unsigned long long>(status));
  *out++ = ' ';
  if (body_bytes == 0) {
    *out++ = '-';
  } else {
    out = append_decimal(out, body_bytes);
  }
  for (char c : trailer) *out++ = c;  // not memcpy: not on the async-signal-safe list
  *out++ = '\n';
  return out;
}

std::string format_access_line(const AccessRecord& record, LogFormat format) {
  std::string line = format_access_prefix(record);
  std::string trailer = format_access_trailer(record, format);
  std::string suffix(kAccessSuffixRoom + trailer.size(), '\0');
  line.append(suffix.data(), append_access_suffix(suffix.data(), record.status, record.body_bytes, trailer));
  return line;
}

}  // namespace forkserve

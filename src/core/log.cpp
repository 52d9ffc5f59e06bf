#include "core/log.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <forkserve/json.hpp>  // detail::utf8_sequence_length

#include "http/date.hpp"

namespace forkserve {

bool write_line(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool LogFiles::open_onto(const std::string& path, int fd, std::string& error) {
  // O_NONBLOCK: a FIFO nobody reads fails at once (ENXIO) instead of holding
  // the opener, the parent on SIGUSR1 among them, until a reader comes.
  // Writes block again afterwards, as the processes sharing it expect.
  int opened = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NONBLOCK, 0644);
  if (opened < 0) {
    error = "open " + path + ": " + (errno == ENXIO ? std::string("a FIFO that no process reads") : std::strerror(errno));
    return false;
  }
  ::fcntl(opened, F_SETFL, ::fcntl(opened, F_GETFL) & ~O_NONBLOCK);
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
pid_t g_main_pid = 0;  // 0: not set yet, so this is the main process

// How often a failing log is reported, at most.
constexpr std::int64_t kLossReportInterval = 10;
// Longest error line; longer messages are cut (and say so).
constexpr std::size_t kMaxErrorLine = 4096;

constexpr const char* kLogNames[kLogStreams] = {"access log", "error log"};
constexpr const char* kFloodNouns[kFloodKinds] = {"header timeouts",    "body timeouts",   "client resets",
                                                  "malformed requests", "accept failures", "fork failures"};

std::int64_t now_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return now.tv_sec;
}

char* append_text(char* out, const char* end, std::string_view text) {
  for (char c : text) {  // not memcpy: not on the async-signal-safe list
    if (out == end) break;
    *out++ = c;
  }
  return out;
}

char* append_decimal(char* out, unsigned long long value) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) *out++ = digits[--n];
  return out;
}

// "2026-11-30T03:47:30.123Z forkserve: " or "... forkserve[4711]: ".
char* append_error_prefix(char* out) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  out = http::append_rfc3339(out, now.tv_sec, static_cast<int>(now.tv_nsec / 1'000'000));
  for (char c : std::string_view(" forkserve")) *out++ = c;
  pid_t pid = ::getpid();
  if (g_main_pid != 0 && pid != g_main_pid) {
    *out++ = '[';
    out = append_decimal(out, static_cast<unsigned long long>(pid));
    *out++ = ']';
  }
  *out++ = ':';
  *out++ = ' ';
  return out;
}

void report_loss(LogStream stream, int error, std::uint64_t lost);

// --syslog: our own datagram socket to /dev/log rather than syslog(3), which
// is not async-signal-safe (the child's timeout handler logs too) and whose
// descriptor we could not see.
int g_syslog_fd = -1;
constexpr const char* kSyslogPath = "/dev/log";

bool connect_syslog() {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  for (std::size_t i = 0; kSyslogPath[i] != '\0'; ++i) address.sun_path[i] = kSyslogPath[i];
  return ::connect(g_syslog_fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

// One datagram, "<27>Nov 30 07:58:00 forkserve[4711]: message" (RFC 3164:
// facility daemon, severity err; the time in UTC, which syslog daemons
// replace with their own). False if it could not be sent. Async-signal-safe.
bool send_to_syslog(std::string_view escaped_message) {
  if (g_syslog_fd < 0) {  // without --syslog: the error log's own losses, reported here as they come
    g_syslog_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (g_syslog_fd < 0 || !connect_syslog()) return false;
  }
  char datagram[kMaxErrorLine];
  char* end = datagram + sizeof datagram;
  char* out = append_text(datagram, end, "<27>");
  out = http::append_syslog_time(out, static_cast<std::time_t>(now_seconds()));
  out = append_text(out, end, " forkserve[");
  out = append_decimal(out, static_cast<unsigned long long>(::getpid()));
  out = append_text(out, end, "]: ");
  out = append_text(out, end, escaped_message);
  const std::size_t size = static_cast<std::size_t>(out - datagram);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (::send(g_syslog_fd, datagram, size, MSG_DONTWAIT | MSG_NOSIGNAL) == static_cast<ssize_t>(size)) return true;
    // The daemon restarted (a new socket at the same path): connect again, once.
    if ((errno != ECONNREFUSED && errno != ENOTCONN) || !connect_syslog()) return false;
  }
  return false;
}

// The one place an error line is written to standard error.
void write_error_line(std::string_view escaped_message) {
  char line[kMaxErrorLine];
  char* end = line + sizeof line - 1;  // room for the newline
  char* out = append_error_prefix(line);
  std::string_view cut = " [cut]";
  if (escaped_message.size() > static_cast<std::size_t>(end - out)) {
    out = append_text(out, end - cut.size(), escaped_message);
    out = append_text(out, end, cut);
  } else {
    out = append_text(out, end, escaped_message);
  }
  *out++ = '\n';
  append_log_line(LogStream::Error, STDERR_FILENO, {line, static_cast<std::size_t>(out - line)});
}

// Counts a lost line and, at most every kLossReportInterval seconds per log,
// says so: on the error log for the access log, on syslog for the error log.
// Seconds from `last` to `now`, where `last` comes from memory a handler can
// write: unsigned, so no value of it can overflow.
std::uint64_t seconds_since(std::int64_t now, std::int64_t last) {
  return static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(last);
}

// Most events of one kind (lost lines, timeouts) the server could count in a
// second: a count above this many per second since `since` was not counted.
constexpr std::uint64_t kMostEventsPerSecond = 1'000'000;

// Whether a count and the second it runs from, read from memory any process
// (and so any handler) can write, are values this server could have put
// there: the second within the server's life (0: since it started), the
// count no more than it could have counted since.
bool plausible(std::int64_t since, std::uint64_t count, std::int64_t now) {
  std::int64_t from = since == 0 ? server_facts().started_at : since;
  if (!within_server_lifetime(from, now)) return false;
  return count / kMostEventsPerSecond <= seconds_since(now, from);
}

// Reports the lines of `stream` lost since its last report, if that was
// kLossReportInterval or more ago and there are some. True if some remain
// unreported (another report is due later).
bool report_loss_if_due(LogStream stream, std::int64_t now) {
  LogHealth& health = stats().logs[static_cast<int>(stream)];
  if (health.unreported.load(std::memory_order_relaxed) == 0) return false;
  std::int64_t last = health.last_report.load(std::memory_order_relaxed);
  if (seconds_since(now, last) < static_cast<std::uint64_t>(kLossReportInterval)) return true;
  if (!health.last_report.compare_exchange_strong(last, now, std::memory_order_relaxed))
    return true;  // another reports
  std::uint64_t lost = health.unreported.exchange(0, std::memory_order_relaxed);
  // A count a handler wrote: the line that brought us here at least was lost.
  report_loss(stream, health.last_error.load(std::memory_order_relaxed),
              plausible(last, lost, now) && lost > 0 ? lost : 1);
  return false;
}

void count_loss(LogStream stream, int error) {
  LogHealth& health = stats().logs[static_cast<int>(stream)];
  health.lines_lost.fetch_add(1, std::memory_order_relaxed);
  health.last_error.store(error, std::memory_order_relaxed);
  health.unreported.fetch_add(1, std::memory_order_relaxed);
  report_loss_if_due(stream, now_seconds());
}

void report_loss(LogStream stream, int error, std::uint64_t lost) {
  char message[256];
  char* end = message + sizeof message;
  char* out = append_text(message, end, kLogNames[static_cast<int>(stream)]);
  out = append_text(out, end, ": write failed (");
  const char* description = error == ETIME ? "its reader took nothing within the writer's time limit"
                                            : ::strerrordesc_np(error);  // a constant string: async-signal-safe
  out = append_text(out, end, description ? description : "unknown error");
  out = append_text(out, end, "); ");
  out = append_decimal(out, lost);
  out = append_text(out, end, lost == 1 ? " line lost" : " lines lost");
  out = append_text(out, end, " since the last report (at most one every 10 s)");
  std::string_view text(message, static_cast<std::size_t>(out - message));
  if (stream == LogStream::Access && !g_errors_to_syslog) {
    write_error_line(text);
  } else {
    send_to_syslog(text);  // a report that fails is not counted: it would report itself
  }
}

}  // namespace

namespace {

// The master loop must never block on a log: a reader that stopped reading
// (a stalled pipe, a terminal paused with Ctrl-S) would stop it accepting,
// reaping and obeying signals. In the process that called
// bound_log_writes(), a one-shot timer's signal (handled without SA_RESTART)
// cuts each write off after kWriteLimit, the line counts as lost, and that
// log is not tried again for kStallPause, so a stalled log costs the loop at
// most one such wait a second.
constexpr long kWriteLimitNs = 100'000'000;
constexpr std::int64_t kStallPauseNs = 1'000'000'000;
bool g_bounded = false;  // this process's writes are bounded; a fork's child's are not (atfork)
timer_t g_write_timer{};
volatile sig_atomic_t g_write_timer_fired = 0;
std::int64_t g_stalled_until_ns[kLogStreams] = {};  // the bounded process's own, not shared

void on_write_timer(int) { g_write_timer_fired = 1; }

std::int64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// Goes off after `ns`, then every 10 ms until disarmed (0): should it go off
// between the check of g_write_timer_fired and writev(), the next one still
// interrupts the write.
void set_write_timer(long ns) {
  itimerspec when{};
  when.it_value.tv_nsec = ns;
  if (ns != 0) when.it_interval.tv_nsec = 10'000'000;
  ::timer_settime(g_write_timer, 0, &when, nullptr);
}

}  // namespace

bool bound_log_writes(std::string& error) {
  struct sigaction action {};
  action.sa_handler = on_write_timer;
  action.sa_flags = 0;  // no SA_RESTART: the write returns
  sigfillset(&action.sa_mask);
  sigevent event{};
  event.sigev_notify = SIGEV_SIGNAL;
  event.sigev_signo = SIGRTMIN;
  // Called again after a module's init() ran here (a reload): the handler and
  // the mask as they must be, the timer made once.
  static bool timer_made = false;
  if (::sigaction(SIGRTMIN, &action, nullptr) != 0 ||
      (!timer_made && ::timer_create(CLOCK_MONOTONIC, &event, &g_write_timer) != 0)) {
    error = std::string("log writes cannot be bounded in time (") + std::strerror(errno) +
            "): a log whose reader stops can stall the server";
    return false;
  }
  timer_made = true;
  sigset_t timer_signal;  // a mask inherited with it blocked would void the limit
  sigemptyset(&timer_signal);
  sigaddset(&timer_signal, SIGRTMIN);
  ::sigprocmask(SIG_UNBLOCK, &timer_signal, nullptr);
  // Cleared in every child at fork(), so that no child or worker pays a
  // getpid() per line to find out it is not the master loop.
  static const bool cleared_in_children = ::pthread_atfork(nullptr, nullptr, [] { g_bounded = false; }) == 0;
  if (!cleared_in_children) {
    error = "log writes cannot be bounded in time (pthread_atfork failed): a log whose reader stops can stall the server";
    return false;
  }
  g_bounded = true;
  return true;
}

namespace {

// Counts the line lost without writing if the bounded process found this
// log stalled within the last second; else arms the timer. False: skip it.
bool begin_bounded_write(LogStream stream, bool bounded) {
  if (!bounded) return true;
  if (monotonic_ns() < g_stalled_until_ns[static_cast<int>(stream)]) {
    count_loss(stream, ETIME);
    return false;
  }
  g_write_timer_fired = 0;
  set_write_timer(kWriteLimitNs);
  return true;
}

}  // namespace

bool append_log_line(LogStream stream, int fd, std::string_view line) {
  LogHealth& health = stats().logs[static_cast<int>(stream)];
  const bool bounded = g_bounded;
  if (!begin_bounded_write(stream, bounded)) return false;
  // Whoever finds the log torn ends the partial line first, in the same write.
  // Exactly 1: any other value is a handler's scribble, not a tear.
  bool repair = health.torn.exchange(0, std::memory_order_relaxed) == 1;
  iovec parts[2] = {{const_cast<char*>("\n"), 1}, {const_cast<char*>(line.data()), line.size()}};
  const int first = repair ? 0 : 1;
  const std::size_t newline = repair ? 1 : 0;
  const std::size_t total = newline + line.size();
  std::size_t written = 0;
  int error = 0;
  while (written < total) {
    iovec rest[2];
    int count = 0;
    std::size_t skip = written;
    for (int i = first; i < 2; ++i) {
      if (skip >= parts[i].iov_len) {
        skip -= parts[i].iov_len;
        continue;
      }
      rest[count++] = {static_cast<char*>(parts[i].iov_base) + skip, parts[i].iov_len - skip};
      skip = 0;
    }
    if (bounded && g_write_timer_fired) {
      error = ETIME;
      break;
    }
    ssize_t n = ::writev(fd, rest, count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : EIO;
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  if (bounded) {
    set_write_timer(0);
    if (error == ETIME) g_stalled_until_ns[static_cast<int>(stream)] = monotonic_ns() + kStallPauseNs;
  }
  if (written == total) return true;
  if (written > newline || (repair && written == 0)) {
    // A partial line is there (or the one we were to end still is): end it
    // now (unless the log is stalled), or leave that to the next writer.
    if (written == 0 || error == ETIME || ::write(fd, "\n", 1) != 1) health.torn.store(1, std::memory_order_relaxed);
  }
  count_loss(stream, error);
  return false;
}

void abandon_log_line(LogStream stream) {
  LogHealth& health = stats().logs[static_cast<int>(stream)];
  health.torn.store(1, std::memory_order_relaxed);
  health.lines_lost.fetch_add(1, std::memory_order_relaxed);
  health.last_error.store(ETIME, std::memory_order_relaxed);
  health.unreported.fetch_add(1, std::memory_order_relaxed);  // reported by the parent's flush
}
void set_log_main_process() { g_main_pid = ::getpid(); }

void open_syslog() {
  g_syslog_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (g_syslog_fd >= 0) connect_syslog();  // if no daemon listens yet, each message tries again
}

void send_errors_to_syslog() { g_errors_to_syslog = true; }

void log_error(std::string_view message) {
  std::string escaped = escape_control_bytes(message);
  if (g_errors_to_syslog) {
    if (!send_to_syslog(escaped)) count_loss(LogStream::Error, errno);
    return;
  }
  write_error_line(escaped);
}

void log_error_signal_safe(std::string_view message) {
  if (g_errors_to_syslog) {
    if (!send_to_syslog(message)) count_loss(LogStream::Error, errno);
    return;
  }
  write_error_line(message);
}

namespace {
void (*g_flood_line_hook)() = nullptr;
}  // namespace

void set_flood_line_hook(void (*hook)()) { g_flood_line_hook = hook; }

namespace {

// "312 more header timeouts in the last 1 s" for a gate whose last line was
// at `last`; empty if none were held back. A gate a handler overwrote (a
// count or second the server cannot have written) is said to be so, and its
// count dropped.
std::string held_back(Flood kind, std::uint64_t more, std::int64_t last, std::int64_t now) {
  const char* noun = kFloodNouns[static_cast<int>(kind)];
  if (!plausible(last, more, now)) return std::string("an overwritten count of ") + noun + ", dropped";
  if (more == 0) return {};
  return std::to_string(more) + " more " + noun + " in the last " + std::to_string(seconds_since(now, last)) + " s";
}

}  // namespace

void log_flood(Flood kind, std::string_view message) {
  FloodGate& gate = stats().floods[static_cast<int>(kind)];
  std::int64_t now = now_seconds();
  std::int64_t last = gate.second.load(std::memory_order_relaxed);
  if (last == now || !gate.second.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    gate.suppressed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::string line(message);
  std::string more = held_back(kind, gate.suppressed.exchange(0, std::memory_order_relaxed), last, now);
  if (!more.empty()) line += " (and " + more + ")";
  log_error(line);
  if (g_flood_line_hook != nullptr) g_flood_line_hook();
}

bool flush_log_counts() {
  std::int64_t now = now_seconds();
  bool pending = false;
  for (LogStream stream : {LogStream::Access, LogStream::Error}) pending = report_loss_if_due(stream, now) || pending;
  for (int kind = 0; kind < kFloodKinds; ++kind) {
    FloodGate& gate = stats().floods[kind];
    std::int64_t last = gate.second.load(std::memory_order_relaxed);
    // A line this second: others may follow it, unwritten. (A second in the
    // future is a handler's scribble, settled below.)
    if (last == now) {
      pending = true;
      continue;
    }
    bool settled = plausible(last, gate.suppressed.load(std::memory_order_relaxed), now);
    if (settled && gate.suppressed.load(std::memory_order_relaxed) == 0) continue;
    if (!gate.second.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      pending = true;
      continue;
    }
    std::string more = held_back(static_cast<Flood>(kind), gate.suppressed.exchange(0, std::memory_order_relaxed),
                                 last, now);
    if (!more.empty()) log_error(more);
    pending = true;  // this line is of this second: what comes later in it is counted, not written
  }
  return pending;
}

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Escapes what a client could use to forge or break access-log lines.
void append_escaped(std::string& out, std::string_view text) {
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

namespace {

// The length of the multi-byte UTF-8 character at the start of `text` if it
// is one a log may show as it is: well formed (the SDK's RFC 3629 rule), and
// neither a C1 control, a line or paragraph separator, nor a bidirectional
// override that could make a line read as something else. 0 otherwise.
std::size_t printable_utf8_length(std::string_view text) {
  const std::size_t length = detail::utf8_sequence_length(text);
  if (length < 2) return 0;
  char32_t code = static_cast<unsigned char>(text[0]) & (0x7f >> length);
  for (std::size_t i = 1; i < length; ++i) code = code << 6 | (static_cast<unsigned char>(text[i]) & 0x3f);
  if (code <= 0x9f || (code >= 0x2028 && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069)) return 0;
  return length;
}

}  // namespace

std::string escape_control_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      if (std::size_t length = printable_utf8_length(text.substr(i)); length > 0) {
        out.append(text.substr(i, length));
        i += length;
        continue;
      }
    }
    ++i;
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else if (c == '\\') {
      out += "\\\\";  // so that a client's literal "\n" cannot read as an escaped newline
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string format_access_prefix(const AccessRecord& record) {
  std::string line;
  line.reserve(96 + record.request_line.size());
  append_escaped(line, record.remote_addr);  // an address, unless a handler scribbled on the record
  line.append(" - - [").append(http::format_log_date(record.time)).append("] \"");
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

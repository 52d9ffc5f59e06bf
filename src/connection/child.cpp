#include "connection/child.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <random>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "connection/environ.hpp"
#include "connection/file_reply.hpp"
#include "connection/request_body.hpp"
#include "connection/response_writer.hpp"
#include "connection/status_page.hpp"
#include "core/log.hpp"
#include "core/stats.hpp"
#include "handlers/cgi.hpp"
#include "handlers/static_files.hpp"
#include "http/date.hpp"
#include "http/request_parser.hpp"
#include "http/response.hpp"
#include "http/url.hpp"
#include "module/abi.hpp"
#include "net/trusted_proxies.hpp"

namespace forkserve {
namespace {

// How long a finished child keeps draining what the client still sends, so
// that closing with unread data does not turn into an RST that destroys the
// response in flight (the "lingering close" of RFC 9112 §9.6). Only needed
// when the request was not read to its end.
constexpr auto kLingerTime = std::chrono::seconds(2);

// A CGI program's local redirects followed for one request, at most: enough
// for a front controller, and a loop between programs ends.
constexpr int kMaxLocalRedirects = 5;

// Everything the callbacks of forkserve_request need; `server` points here.
struct RequestContext {
  RequestContext(int fd, std::string_view context, bool head_only, const Config& config)
      : fd(fd), context(context), writer(fd, head_only, std::chrono::seconds(config.write_timeout)) {}

  int fd;
  std::string_view context;             // "GET /x HTTP/1.1" from 1.2.3.4, for error messages
  std::optional<RequestBody> body;
  bool body_hidden = false;      // after a CGI local redirect: the request served has no body
  unsigned handler_timeout = 0;  // seconds the handler has once the whole body is in
  bool run_once = true;          // wsgi.run_once: this process serves this request only
  const forkserve_request* request = nullptr;
  std::deque<FileReply> file_replies;  // what file_reply handed out stays valid to the end
  ResponseWriter writer;
  int client_error = 0;  // 400/408/413 when reading the body failed, so the answer is not a 500
  std::string last_error;

  void log(std::string_view message) const {
    log_error(std::string(context).append(": ").append(message));
  }
};

RequestContext& self(void* server) { return *static_cast<RequestContext*>(server); }

void set_alarm_in(std::int64_t ns);  // the phase alarm, below

int report(RequestContext& ctx, bool ok) {
  if (ok) return FORKSERVE_OK;
  ctx.last_error = ctx.writer.error();
  return FORKSERVE_FAILED;
}

long long read_input(void* server, char* buffer, std::size_t size) {
  RequestContext& ctx = self(server);
  if (ctx.body_hidden) return 0;
  bool arriving = !ctx.body->received_all();
  if (ctx.writer.head_sent()) ctx.body->forgo_continue();
  long long n = ctx.body->read({buffer, size});
  if (n < 0) {
    ctx.client_error = ctx.body->error_status();
    ctx.last_error = ctx.body->error();
    return n;
  }
  // The upload took the client's time, not the handler's: its deadline
  // counts from now. (Once the response has started, its own phase runs.)
  if (arriving && ctx.body->received_all() && !ctx.writer.head_sent()) set_alarm_in(std::int64_t{ctx.handler_timeout} * 1'000'000'000);
  return n;
}

void log_from_handler(void* server, const char* message, std::size_t size) {
  RequestContext& ctx = self(server);
  // A handler reporting the client's own failure (its body timed out or was
  // cut): that is logged once, aggregated, when the handler returns.
  if (ctx.client_error != 0) return;
  ctx.log(std::string("handler: ").append(message, size));
}

int start_response(void* server, forkserve_str status, const forkserve_pair* headers, std::size_t count,
                   int replace) {
  RequestContext& ctx = self(server);
  std::vector<http::OwnedHeader> owned;
  owned.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    owned.push_back({std::string(headers[i].name.data, headers[i].name.size),
                     std::string(headers[i].value.data, headers[i].value.size)});
  }
  return report(ctx, ctx.writer.start({status.data, status.size}, std::move(owned), replace != 0));
}

int set_content_length(void* server, unsigned long long length) {
  return report(self(server), self(server).writer.set_content_length(length));
}

int write_body(void* server, const char* data, std::size_t size) {
  return report(self(server), self(server).writer.write({data, size}));
}

int send_file(void* server, int fd, long long offset, unsigned long long length) {
  return report(self(server), self(server).writer.send_file(fd, static_cast<off_t>(offset), length));
}

int headers_sent(void* server) { return self(server).writer.head_sent() ? 1 : 0; }

const char* last_error(void* server) { return self(server).last_error.c_str(); }

int file_reply(void* server, forkserve_str path, forkserve_file_reply* reply) {
  RequestContext& ctx = self(server);
  if (reply == nullptr || reply->size < sizeof(forkserve_file_reply)) {
    ctx.last_error = "file_reply: the reply struct is smaller than ABI 1.2's";
    return FORKSERVE_FAILED;
  }
  FileReply& captured = ctx.file_replies.emplace_back();
  if (!captured.capture(*ctx.request, {path.data, path.size}, *reply)) {
    ctx.last_error = captured.error();
    return FORKSERVE_FAILED;
  }
  return FORKSERVE_OK;
}

// The first line of whatever arrived, for logging requests that did not parse.
std::string_view first_line(std::string_view received) {
  std::string_view line = received.substr(0, std::min<std::size_t>(received.find('\n'), 1024));
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

void linger_and_close(int fd) {
  ::shutdown(fd, SHUT_WR);
  Deadline until = Clock::now() + kLingerTime;
  char sink[4096];
  while (read_some(fd, sink, until).status == IoStatus::Ok) {
  }
}

RequestRecord* g_record = nullptr;  // this connection's, if the parent keeps one

// Drawn before main(), so the parent and every process it forks agree on it.
const std::uint32_t g_pending_key = std::random_device{}();

// The phase alarm. While the handler runs, SIGALRM is due --handler-timeout
// seconds after it started, or after the request body is in if that came
// later (the upload is bounded by --body-timeout, not the handler's); once
// the response head goes out, the deadline is --write-timeout after that, and
// it stays until the process exits or serves its next connection, so not even
// a blocked access log can keep a child alive. When it fires during the
// response, the child answers 503 if nothing was sent yet (else resets the
// connection), logs once, and ends; once the response is complete it just
// ends. Everything the signal handler needs is prepared beforehand: it only
// calls clock_gettime, setitimer, write, setsockopt and _exit.
//
// One timer call per connection: the write deadline is usually later than
// the handler's, so the alarm set for the handler is left to go off and, if
// the response is still being written then, is set again for what is left.
struct PhaseAlarm {
  int client_fd = -1;
  int access_log_fd = -1;
  const ResponseWriter* writer = nullptr;
  unsigned write_timeout = 0;
  std::string unavailable_response;
  std::size_t unavailable_body_bytes = 0;
  std::string handler_timeout_line;
  std::string response_timeout_line;
  std::string access_line;  // the prefix, then room for the status, size and trailer
  std::size_t access_prefix_length = 0;
  std::string access_trailer;
  volatile sig_atomic_t active = 0;         // 0: between connections (a worker), the alarm means nothing
  volatile sig_atomic_t response_done = 0;  // the response and its log line are accounted for
  volatile sig_atomic_t logging = 0;        // writing the access line, which a stalled log can block
  volatile sig_atomic_t last_words = 0;     // the alarm's handler is writing its lines (see on_phase_alarm)
  std::atomic<std::int64_t> due_ns{0};      // when the timer goes off (steady clock), 0 if not set
  std::atomic<std::int64_t> write_deadline_ns{0};  // once the head is out
};
PhaseAlarm g_alarm;

// Writes the request's access line, or, if a handler closed the log's
// descriptor, leaves it to the parent (which knows the request from the
// record) and returns false: this process must end. Async-signal-safe.
bool write_access_line(int access_log_fd, std::string_view line, int status, unsigned long long body_bytes) {
  if (g_record != nullptr && ::fcntl(access_log_fd, F_GETFD) < 0 && errno == EBADF) {
    g_record->status.store(status, std::memory_order_relaxed);
    g_record->body_bytes.store(body_bytes, std::memory_order_relaxed);
    return false;  // pending stays set
  }
  g_alarm.logging = 1;
  append_log_line(LogStream::Access, access_log_fd, line);
  if (g_record != nullptr) g_record->pending.store(0, std::memory_order_release);
  g_alarm.logging = 0;  // after: an alarm in between must not leave the written line to the parent
  return true;
}

std::int64_t steady_now_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);  // the clock std::chrono::steady_clock reads
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

// Sets the one timer of the process to go off `ns` from now.
void set_alarm_in(std::int64_t ns) {
  ns = std::max<std::int64_t>(ns, 1000);
  itimerval timer{};
  timer.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  timer.it_value.tv_usec = static_cast<suseconds_t>(ns % 1'000'000'000 / 1000);
  g_alarm.due_ns.store(steady_now_ns() + ns, std::memory_order_relaxed);
  ::setitimer(ITIMER_REAL, &timer, nullptr);
}

// What the alarm's handler writes (a timeout line, the access line) can
// block on a stalled log too, and no later deadline of the process's own
// would end that: the handler first gives itself kLastWords, with the alarm
// set again and let through. Should it go off, the process ends at once: the
// line being written counts as lost (the parent's flush reports it), and an
// access line not yet begun is left to the parent.
constexpr std::int64_t kLastWordsNs = 1'000'000'000;

void begin_last_words() {
  g_alarm.last_words = 1;
  set_alarm_in(kLastWordsNs);
  sigset_t alarm;
  sigemptyset(&alarm);
  sigaddset(&alarm, SIGALRM);
  ::sigprocmask(SIG_UNBLOCK, &alarm, nullptr);
}

[[noreturn]] void end_after_blocked_last_words() {
  if (g_alarm.logging) {
    abandon_log_line(LogStream::Access);
    if (g_record != nullptr) g_record->pending.store(0, std::memory_order_release);
    end_child(0);
  }
  abandon_log_line(LogStream::Error);
  end_child(g_record != nullptr && g_record->pending.load() != 0 ? kExitLineLeftToParent : 0);
}

void on_phase_alarm(int) {
  const PhaseAlarm& a = g_alarm;
  if (a.last_words) end_after_blocked_last_words();
  if (!a.active) return;
  // The alarm set for the handler, while the response is being written: not yet.
  std::int64_t write_deadline = a.write_deadline_ns.load(std::memory_order_relaxed);
  if (write_deadline != 0) {
    std::int64_t left = write_deadline - steady_now_ns();
    if (left > 0) {
      set_alarm_in(left);
      return;
    }
  }
  handlers::stop_cgi_program();  // a program still running goes first, and is reaped
  if (a.response_done) {
    if (a.logging) {  // the log blocked the line past the deadline: lost, and nothing owed by the parent
      abandon_log_line(LogStream::Access);
      if (g_record != nullptr) g_record->pending.store(0, std::memory_order_release);
      count_response(a.writer->status());
    } else if (g_record != nullptr && g_record->pending.load() != 0) {
      // Held elsewhere (an error line on a stalled log) before its access line.
      g_record->status.store(a.writer->status(), std::memory_order_relaxed);
      g_record->body_bytes.store(a.writer->body_bytes(), std::memory_order_relaxed);
      end_child(kExitLineLeftToParent);
    }
    end_child(0);
  }
  begin_last_words();
  int status = 503;
  unsigned long long body_bytes = a.unavailable_body_bytes;
  if (!a.writer->head_sent()) {
    write_line(a.client_fd, a.unavailable_response);
    if (g_record != nullptr) g_record->status.store(503, std::memory_order_relaxed);  // should the parent log it
    stats().timeouts[static_cast<int>(TimeoutPhase::Handler)].fetch_add(1, std::memory_order_relaxed);
    log_error_signal_safe(a.handler_timeout_line);
  } else {
    reset_on_close(a.client_fd);
    status = a.writer->status();
    body_bytes = a.writer->body_bytes();
    stats().timeouts[static_cast<int>(TimeoutPhase::Write)].fetch_add(1, std::memory_order_relaxed);
    log_error_signal_safe(a.response_timeout_line);
  }
  char* line = g_alarm.access_line.data();
  char* end = append_access_suffix(line + a.access_prefix_length, status, body_bytes, a.access_trailer);
  bool logged = write_access_line(a.access_log_fd, {line, static_cast<std::size_t>(end - line)}, status, body_bytes);
  if (!logged) end_child(kExitLineLeftToParent);  // the parent counts the response with its line
  count_response(status);
  end_child(0);
}

// The head went out: from now on --write-timeout counts. The timer is only
// set again if it would go off after that.
void start_response_phase() {
  PhaseAlarm& a = g_alarm;
  std::int64_t window = std::int64_t{a.write_timeout} * 1'000'000'000;
  std::int64_t deadline = steady_now_ns() + window;
  a.write_deadline_ns.store(deadline, std::memory_order_relaxed);
  std::int64_t due = a.due_ns.load(std::memory_order_relaxed);
  if (due == 0 || due > deadline) set_alarm_in(window);
  if (g_record != nullptr) g_record->status.store(a.writer->status(), std::memory_order_relaxed);
}

// Fills the record the parent writes the access line from, should this
// process end before it does.
void open_record(RequestRecord* record, const AccessRecord& access) {
  g_record = record;
  if (record == nullptr) return;
  auto copy = [](char* to, std::size_t size, std::string_view from) {
    std::size_t n = std::min(from.size(), size - 1);
    std::memcpy(to, from.data(), n);
    to[n] = '\0';
  };
  record->status.store(0, std::memory_order_relaxed);
  record->body_bytes.store(0, std::memory_order_relaxed);
  record->started = access.time;
  copy(record->remote_addr, sizeof record->remote_addr, access.remote_addr);
  copy(record->request_line, sizeof record->request_line, access.request_line);
  record->has_referer = access.referer.has_value();
  copy(record->referer, sizeof record->referer, access.referer.value_or(""));
  record->has_user_agent = access.user_agent.has_value();
  copy(record->user_agent, sizeof record->user_agent, access.user_agent.value_or(""));
  record->pending.store(pending_mark(::getpid()), std::memory_order_release);
}

// Arms the alarm `seconds` from now. The handler is installed once per
// process: a handler that replaces it loses its own deadlines, and the
// parent's backstop still ends the process.
void install_phase_alarm(unsigned seconds) {
  static bool installed = false;
  if (!installed) {
    struct sigaction action {};
    action.sa_handler = on_phase_alarm;
    action.sa_flags = SA_RESTART;  // an early alarm that is set again interrupts nothing
    sigfillset(&action.sa_mask);
    installed = ::sigaction(SIGALRM, &action, nullptr) == 0;
  }
  g_alarm.write_deadline_ns.store(0, std::memory_order_relaxed);
  g_alarm.active = 1;
  set_alarm_in(std::int64_t{seconds} * 1'000'000'000);
}

void arm_phase_alarm(const Config& config, const RequestContext& ctx, int access_log_fd,
                     const std::string& access_prefix, const std::string& access_trailer) {
  PhaseAlarm& a = g_alarm;
  a.client_fd = ctx.fd;
  a.access_log_fd = access_log_fd;
  a.writer = &ctx.writer;
  a.write_timeout = static_cast<unsigned>(config.write_timeout);
  a.unavailable_response = http::error_response(503, "handler timeout", http::format_http_date(std::time(nullptr)));
  a.unavailable_body_bytes = a.unavailable_response.size() - (a.unavailable_response.find("\r\n\r\n") + 4);
  // Escaped now: the handler writes them as they are.
  std::string where = escape_control_bytes(ctx.context) + ": ";
  a.handler_timeout_line = where + "handler timeout: no response after " + std::to_string(config.handler_timeout) + " s";
  a.response_timeout_line =
      where + "response timeout: not finished " + std::to_string(config.write_timeout) + " s after its first byte";
  a.access_line = access_prefix;
  a.access_prefix_length = access_prefix.size();
  a.access_trailer = access_trailer;
  a.access_line.resize(a.access_prefix_length + kAccessSuffixRoom + access_trailer.size());

  // While the body is still to come, the handler's time starts when it is
  // in (read_input re-arms), and the client has --body-timeout for it.
  unsigned body_allowance = ctx.body->received_all() ? 0 : static_cast<unsigned>(config.body_timeout);
  install_phase_alarm(static_cast<unsigned>(config.handler_timeout) + body_allowance);
}

// The connection's own address, from the kernel.
void look_up_local_address(int fd, Endpoint& local) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) local = to_endpoint(address);
}

bool is_wildcard(std::string_view host) { return host == "0.0.0.0" || host == "::"; }

// "GET /path" for the parent's log, should this child die (which escapes it).
void write_label(const Connection& connection, const http::RequestHead& head) {
  if (connection.label == nullptr || connection.label_size == 0) return;
  std::string label = std::string(head.method).append(" ").append(head.path);
  std::size_t n = std::min(label.size(), connection.label_size - 1);
  std::copy_n(label.data(), n, connection.label);
  connection.label[n] = '\0';
}

// Everything received before the handler runs: the bytes (head and perhaps
// the start of the body) and what the parser made of them.
struct ReceivedHead {
  std::unique_ptr<char[]> storage;
  std::size_t size = 0;
  http::ParseResult parsed;
  int timeout_status = 0;    // 408 when the head deadline passed
  bool client_gone = false;  // closed or failed before a whole head: nobody to answer

  std::string_view bytes() const { return {storage.get(), size}; }
};

// Reads until the head is complete, the deadline passes or a limit is hit.
ReceivedHead read_head(int fd, const http::Limits& limits, Deadline deadline) {
  ReceivedHead head;
  // Not value-initialised: zeroing 64 KiB would touch (and fault in) every
  // page for a head that is usually a few hundred bytes.
  std::size_t capacity = limits.max_header_bytes + 1;
  head.storage.reset(new char[capacity]);
  char* buffer = head.storage.get();
  while (head.parsed.status == http::ParseStatus::Incomplete) {
    IoResult result = read_some(fd, {buffer + head.size, capacity - head.size}, deadline);
    if (result.status == IoStatus::TimedOut) {
      head.timeout_status = 408;
      return head;
    }
    if (result.status != IoStatus::Ok) {
      head.client_gone = true;
      return head;
    }
    bool first_read = head.size == 0;
    bool new_line = std::memchr(buffer + head.size, '\n', result.bytes) != nullptr;
    head.size += result.bytes;
    // The head can only end at a '\n', so a trickle of other bytes is not
    // re-parsed; the first read is, so that a TLS handshake or binary junk is
    // refused at once rather than at the header deadline.
    if (first_read || new_line || head.size == capacity) head.parsed = http::parse_request_head(head.bytes(), limits);
  }
  return head;
}

// The module's view of one request, over `variables`.
void run_module(RequestContext& ctx, const forkserve_module& module, const EnvironVariables& variables) {
  std::vector<forkserve_pair> pairs;
  pairs.reserve(variables.size());
  for (const auto& [name, value] : variables) {
    pairs.push_back({{name.data(), name.size()}, {value.data(), value.size()}});
  }
  forkserve_request request{sizeof(forkserve_request),
                            FORKSERVE_ABI_MINOR,
                            pairs.data(),
                            pairs.size(),
                            &ctx,
                            &read_input,
                            &log_from_handler,
                            &start_response,
                            &set_content_length,
                            &write_body,
                            &send_file,
                            &headers_sent,
                            &last_error,
                            ctx.run_once ? 1 : 0,
                            &file_reply};
  ctx.request = &request;
  if (call_handle(module, request) != FORKSERVE_OK) {
    ctx.writer.fail(ctx.client_error ? ctx.client_error : 500, "");
  } else if (!ctx.writer.finish()) {
    ctx.log(ctx.writer.error());
    ctx.writer.fail(500, "");
  }
}

// The CGI gateway's view of the connection.
class CgiConnection final : public handlers::CgiExchange {
 public:
  explicit CgiConnection(RequestContext& ctx) : ctx_(ctx) {}

  long long read_body(std::span<char> buffer) override {
    if (ctx_.body_hidden) return 0;
    long long n = read_input(&ctx_, buffer.data(), buffer.size());
    if (n < 0) ctx_.log(ctx_.last_error);
    return n;
  }
  bool start_response(std::string_view status, std::vector<http::OwnedHeader> headers) override {
    if (ctx_.writer.start(status, std::move(headers), false)) return true;
    ctx_.log("CGI response refused: " + ctx_.writer.error());
    return false;
  }
  bool write_body(std::string_view data) override { return sent(ctx_.writer.write(data)); }
  bool write_raw(std::string_view data, int status) override {
    return sent(ctx_.writer.write_raw(data, status));
  }
  void log(std::string_view message) override { ctx_.log(message); }
  // Watched once the whole body is in: before, reading it notices a client
  // that left, and bytes of the body still unread must not count as leaving.
  int hangup_fd() const override { return ctx_.body_hidden || ctx_.body->received_all() ? ctx_.fd : -1; }
  // Recorded like a client that left in the middle of its body: a 400 in the
  // access line (or the status already sent), one error line at the end.
  void client_left() override {
    ctx_.client_error = 400;
    ctx_.last_error = "client closed the connection before the response was complete; CGI program stopped";
  }

 private:
  bool sent(bool ok) {
    if (!ok) ctx_.log(ctx_.writer.error());
    return ok;
  }
  RequestContext& ctx_;
};

// A program's local redirect (RFC 3875 §6.2.2): `variables` as for a GET of
// `location` without a body.
std::optional<EnvironVariables> redirected(EnvironVariables variables, std::string_view location) {
  std::size_t question = location.find('?');
  std::string_view raw_path = location.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view{} : location.substr(question + 1);
  std::optional<std::string> path = http::percent_decode(raw_path);
  if (!path) return std::nullopt;
  std::erase_if(variables,
                [](const auto& v) { return v.first == "CONTENT_LENGTH" || v.first == "CONTENT_TYPE"; });
  for (auto& [name, value] : variables) {
    if (name == "REQUEST_METHOD" && value != "HEAD") value = "GET";
    if (name == "PATH_INFO") value = *path;
    if (name == "QUERY_STRING") value = query;
    if (name == "REQUEST_URI") value = location;
    if (name == "forkserve.raw_path") value = raw_path;
  }
  return variables;
}

std::string_view variable(const EnvironVariables& variables, std::string_view name) {
  for (const auto& [n, value] : variables) {
    if (n == name) return value;
  }
  return {};
}

// Serves the request with the CGI gateway when its path names a program
// (following the program's local redirects), else with the module.
void dispatch(RequestContext& ctx, const forkserve_module& module, EnvironVariables variables,
              const Config& config) {
  if (config.cgi_patterns.empty() && config.cgi_aliases.empty() && config.cgi_interpreters.empty()) {
    return run_module(ctx, module, variables);
  }
  handlers::CgiRules rules{config.root, config.cgi_patterns, config.cgi_aliases, config.cgi_interpreters,
                           config.cgi_env, {}};
  // The index files the built-in handler would serve (a module serves directories its own way).
  if (config.handler_path.empty()) {
    rules.index_names =
        config.index_names.empty() ? handlers::StaticFilesOptions{}.index_names : config.index_names;
  }
  for (int hop = 0;; ++hop) {
    handlers::CgiTarget target = handlers::find_cgi_target(rules, variable(variables, "forkserve.raw_path"));
    switch (target.kind) {
      case handlers::CgiTarget::Kind::None:
        return run_module(ctx, module, variables);
      case handlers::CgiTarget::Kind::Missing:
        ctx.writer.fail(404, "no such CGI program");
        return;
      case handlers::CgiTarget::Kind::Forbidden:
        ctx.log("CGI program " + target.script_filename + " is not executable, or lies outside the root");
        ctx.writer.fail(403, "this CGI program cannot be run");
        return;
      case handlers::CgiTarget::Kind::Run:
        break;
    }
    CgiConnection exchange(ctx);
    handlers::CgiOutcome outcome = handlers::run_cgi(rules, target, variables, exchange);
    switch (outcome.kind) {
      case handlers::CgiOutcome::Kind::Done:
        if (!ctx.writer.finish()) {
          ctx.log(ctx.writer.error());
          ctx.writer.fail(502, "");
        }
        return;
      case handlers::CgiOutcome::Kind::Failed:
        ctx.writer.fail(ctx.client_error ? ctx.client_error : outcome.status, "");
        return;
      case handlers::CgiOutcome::Kind::LocalRedirect:
        break;
    }
    std::optional<EnvironVariables> next = redirected(std::move(variables), outcome.location);
    if (hop == kMaxLocalRedirects || !next) {
      ctx.log("CGI local redirect to " + outcome.location +
              (next ? ": too many redirects" : ": invalid path"));
      ctx.writer.fail(502, "");
      return;
    }
    variables = std::move(*next);
    ctx.body_hidden = true;  // the new request has no body
  }
}

// Runs the handler under the phase alarm and completes the response. True if
// the request was read to its end (so a plain close cannot cause an RST).
bool run_handler(RequestContext& ctx, const forkserve_module& module, const EnvironResult& environ,
                 const ReceivedHead& received, const Config& config, int access_log_fd,
                 const std::string& access_prefix, const std::string& access_trailer) {
  ctx.body.emplace(ctx.fd, received.parsed.head, received.bytes().substr(received.parsed.head_length),
                   config.max_body_bytes, Clock::now() + std::chrono::seconds(config.body_timeout));
  ctx.handler_timeout = static_cast<unsigned>(config.handler_timeout);
  ctx.run_once = config.workers == 0 || config.inetd;

  ctx.writer.on_head_sent(&start_response_phase);
  arm_phase_alarm(config, ctx, access_log_fd, access_prefix, access_trailer);
  dispatch(ctx, module, environ.variables, config);
  g_alarm.response_done = 1;
  if (ctx.client_error == 408) {
    stats().timeouts[static_cast<int>(TimeoutPhase::Body)].fetch_add(1, std::memory_order_relaxed);
    log_flood(Flood::BodyTimeout, std::string(ctx.context) + ": client timeout: request body incomplete after " +
                                      std::to_string(config.body_timeout) + " s");
  } else if (ctx.client_error == 400) {
    log_flood(Flood::ClientReset, std::string(ctx.context) + ": " + ctx.last_error);
  }
  return ctx.body->read_to_end();
}

}  // namespace

int serve_connection(const Connection& connection, const Config& config, const forkserve_module& module,
                     int access_log_fd) {
  UniqueFd socket_fd(connection.fd);
  g_alarm.response_done = 0;
  g_record = nullptr;
  std::time_t started = std::time(nullptr);

  ConnectionInfo info{to_endpoint(connection.peer), connection.local};
  if (info.local.port == 0) look_up_local_address(connection.fd, info.local);  // not from a listener of ours

  http::Limits limits{static_cast<std::size_t>(config.max_request_line),
                      static_cast<std::size_t>(config.max_header_bytes),
                      static_cast<std::size_t>(config.max_headers)};
  ReceivedHead received =
      read_head(connection.fd, limits, connection.accepted_at + std::chrono::seconds(config.header_timeout));
  if (received.client_gone) return 0;
  const http::ParseResult& parsed = received.parsed;
  // Behind a trusted proxy the client is the one it forwarded for: the
  // environ, the access log and error messages all name that client.
  if (!config.trusted_proxies.empty() && parsed.status == http::ParseStatus::Complete) {
    std::optional<IpAddress> peer = ip_of(connection.peer);
    std::optional<std::string> client =
        peer ? forwarded_client(parsed.head, *peer, config.trusted_proxies) : std::nullopt;
    if (client) info.remote.host = std::move(*client);
  }

  // The status to answer without running the handler, if any.
  int early_status = received.timeout_status;
  std::string_view early_reason = "the request head did not arrive in time";
  if (early_status != 0) {
    stats().timeouts[static_cast<int>(TimeoutPhase::Header)].fetch_add(1, std::memory_order_relaxed);
    log_flood(Flood::HeaderTimeout, "client timeout: request head from " + info.remote.host + " incomplete after " +
                                        std::to_string(config.header_timeout) + " s");
  } else if (parsed.status == http::ParseStatus::Error) {
    early_status = parsed.error_status;
    early_reason = parsed.reason;
  }
  EnvironResult environ;
  if (early_status == 0) {
    if (parsed.head.content_length.value_or(0) > config.max_body_bytes) {
      early_status = 413;
      early_reason = "the request body is larger than the server accepts";
    } else {
      if (is_wildcard(info.local.host) && needs_local_host(parsed.head)) {
        look_up_local_address(connection.fd, info.local);
      }
      environ = build_environ(parsed.head, info);
      early_status = environ.error_status;
      early_reason = environ.reason;
    }
  }

  std::string_view request_line =
      parsed.status == http::ParseStatus::Complete ? parsed.head.request_line : first_line(received.bytes());
  std::string context = "\"";
  context.append(request_line.substr(0, 200)).append("\" from ").append(info.remote.host);
  AccessRecord record{info.remote.host, started, request_line, 0, 0};
  if (parsed.status == http::ParseStatus::Complete) {
    if (const http::HeaderField* referer = parsed.head.find("Referer")) record.referer = referer->value;
    if (const http::HeaderField* agent = parsed.head.find("User-Agent")) record.user_agent = agent->value;
  }
  open_record(connection.record, record);
  std::string access_prefix = format_access_prefix(record);
  std::string access_trailer = format_access_trailer(record, config.log_format);
  // From the raw line, so that a HEAD whose head was refused gets no body either.
  RequestContext ctx(connection.fd, context, request_line.starts_with("HEAD "), config);

  bool request_read_to_end = false;
  if (early_status == 0 && is_status_request(parsed.head, config)) {
    g_alarm.response_done = 1;  // as for an error answer: the alarm only bounds the response
    install_phase_alarm(static_cast<unsigned>(config.write_timeout));
    serve_status_page(ctx.writer, parsed.head, connection.peer, config, connection.listen_queue);
    request_read_to_end = received.size == parsed.head_length && parsed.head.content_length.value_or(0) == 0;
  } else if (early_status == 0) {
    write_label(connection, parsed.head);
    request_read_to_end =
        run_handler(ctx, module, environ, received, config, access_log_fd, access_prefix, access_trailer);
  } else {
    // No handler ran: the error response is all there is to send, so the
    // alarm only bounds it, the log line and the lingering close.
    g_alarm.response_done = 1;
    install_phase_alarm(static_cast<unsigned>(config.write_timeout));
    ctx.writer.fail(early_status, early_reason);
  }

  std::string suffix(kAccessSuffixRoom + access_trailer.size(), '\0');
  char* suffix_end =
      append_access_suffix(suffix.data(), ctx.writer.status(), ctx.writer.body_bytes(), access_trailer);
  bool logged = write_access_line(access_log_fd, access_prefix.append(suffix.data(), suffix_end),
                                  ctx.writer.status(), ctx.writer.body_bytes());
  if (logged) count_response(ctx.writer.status());  // else the parent counts it with the line it writes
  if (!ctx.writer.aborted() && !request_read_to_end) linger_and_close(connection.fd);
  if (!logged) end_child(kExitLineLeftToParent);
  return 0;
}

void disarm_phase_alarm() {  // no system call: if the timer still goes off, the handler returns
  g_alarm.active = 0;
  g_alarm.write_deadline_ns.store(0, std::memory_order_relaxed);
}

std::chrono::seconds lifetime_limit(const Config& config) {
  constexpr auto kSlack = std::chrono::seconds(5);  // a loaded machine
  return std::chrono::seconds(config.header_timeout + config.body_timeout + config.handler_timeout +
                              config.write_timeout) +
         kLingerTime + kSlack;
}

void end_child(int status) { ::_exit(status); }

std::uint32_t pending_mark(pid_t pid) {
  std::uint32_t mark = (static_cast<std::uint32_t>(pid) ^ g_pending_key) * 0x9e3779b1U;  // spread the bits
  return mark == 0 ? 1 : mark;
}

}  // namespace forkserve

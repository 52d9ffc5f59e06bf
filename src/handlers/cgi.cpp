#include "handlers/cgi.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "handlers/cgi_response.hpp"
#include "handlers/safe_path.hpp"
#include "net/io.hpp"

namespace forkserve::handlers {
namespace {

// The PATH a program gets: fixed, so that nothing of the server's own
// environment leaks in by default.
constexpr std::string_view kSafePath = "PATH=/usr/local/bin:/usr/bin:/bin";
// How much of a program's standard error one request may log; the rest is
// read and dropped, so a flood neither blocks the program nor fills the disk.
constexpr std::size_t kMaxStderrLogged = 64 * 1024;
// An error-log line from standard error is cut here.
constexpr std::size_t kMaxStderrLine = 1024;
// How long a program may run on after closing its output before its group is
// stopped; and how long SIGTERM has before SIGKILL.
constexpr auto kExitWait = std::chrono::seconds(2);
constexpr auto kTermWait = std::chrono::seconds(1);
// The header block a program may write before its body.
constexpr std::size_t kMaxHeaderBlock = 64 * 1024;
constexpr std::size_t kPipeChunk = 64 * 1024;
// "HTTP/d.d NNN": what an nph- program's output must start with.
constexpr std::size_t kNphStatusLength = 12;

bool starts_with_path(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return false;
  // "/cgi-bin" matches "/cgi-bin" and "/cgi-bin/x", not "/cgi-binary".
  return prefix.ends_with('/') || path.size() == prefix.size() || path[prefix.size()] == '/';
}

std::string_view file_name(std::string_view path) { return path.substr(path.rfind('/') + 1); }

bool is_inside(const std::string& real, const std::string& real_root) {
  return real == real_root ||
         (real.starts_with(real_root) && (real_root == "/" || real[real_root.size()] == '/'));
}

std::optional<std::string> real_path(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(path.c_str(), nullptr), &std::free);
  if (!real) return std::nullopt;
  return std::string(real.get());
}

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

CgiTarget alias_target(const std::string& prefix, const std::string& program, std::string_view decoded_path) {
  CgiTarget target;
  struct stat st {};
  if (::stat(program.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    target.kind = CgiTarget::Kind::Missing;
    return target;
  }
  target.kind = executable(program) ? CgiTarget::Kind::Run : CgiTarget::Kind::Forbidden;
  target.argv = {program};
  target.script_filename = program;
  // ScriptAlias semantics: "/git/" serves "/git/a/b" with SCRIPT_NAME "/git", PATH_INFO "/a/b".
  std::string_view name = std::string_view(prefix);
  if (name.ends_with('/')) name.remove_suffix(1);
  target.script_name = name;
  target.path_info = decoded_path.substr(name.size());
  target.nph = file_name(program).starts_with("nph-");
  return target;
}

// The request names `file` (a regular file at URL path `url`, named
// `segment`): a target if a rule makes it a program, else none.
CgiTarget file_target(const CgiRules& rules, const std::string& file, const std::string& url,
                      std::string_view segment, std::string path_info) {
  auto interpreter = std::find_if(rules.interpreters.begin(), rules.interpreters.end(),
                                  [&](const auto& rule) { return segment.ends_with(rule.first); });
  bool by_pattern = std::any_of(rules.patterns.begin(), rules.patterns.end(), [&](const std::string& p) {
    return p.starts_with('/') ? starts_with_path(url, p)
                              : ::fnmatch(p.c_str(), std::string(segment).c_str(), 0) == 0;
  });
  CgiTarget target;
  if (interpreter == rules.interpreters.end() && !by_pattern) return target;

  std::optional<std::string> real = real_path(file);
  std::optional<std::string> real_root = real_path(rules.root);
  if (!real || !real_root || !is_inside(*real, *real_root)) {
    target.kind = CgiTarget::Kind::Forbidden;  // a symlink out of the root
    return target;
  }
  if (interpreter != rules.interpreters.end()) {
    target.kind = CgiTarget::Kind::Run;
    target.argv = {interpreter->second, file};
  } else {
    target.kind = executable(file) ? CgiTarget::Kind::Run : CgiTarget::Kind::Forbidden;
    target.argv = {file};
  }
  target.script_filename = file;
  target.script_name = url;
  target.path_info = std::move(path_info);
  target.nph = segment.starts_with("nph-");
  return target;
}

}  // namespace

CgiTarget find_cgi_target(const CgiRules& rules, std::string_view raw_path) {
  CgiTarget none;
  // The static handler's path rules hold for programs too: a path with "..",
  // an encoded '/' or a bad escape is its to refuse.
  SafePath safe = make_safe_path(raw_path);
  if (!safe.ok()) return none;
  std::string normal = "/" + safe.relative;
  if (safe.trailing_slash && !safe.relative.empty()) normal += '/';
  for (const auto& [prefix, program] : rules.aliases) {
    if (starts_with_path(normal, prefix)) return alias_target(prefix, program, normal);
  }

  bool under_prefix = std::any_of(rules.patterns.begin(), rules.patterns.end(), [&](const std::string& p) {
    return p.starts_with('/') && starts_with_path("/" + safe.relative, p);
  });

  // The first regular file along the path is the script; the rest is PATH_INFO.
  std::string url;
  std::string_view rest = safe.relative;
  struct stat st {};
  bool directory = true;  // every segment so far named a directory
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (segment.starts_with('.')) return none;  // dotfiles stay the static handler's business
    url.append("/").append(segment);
    std::string file = rules.root + url;
    if (::stat(file.c_str(), &st) != 0) {
      directory = false;
      break;
    }
    directory = S_ISDIR(st.st_mode);
    if (directory) continue;
    if (!S_ISREG(st.st_mode)) break;
    std::string path_info;
    if (slash != std::string_view::npos) path_info = "/" + std::string(rest);
    if (safe.trailing_slash) path_info += '/';  // "/prog/" too: PATH_INFO "/"
    return file_target(rules, file, url, segment, std::move(path_info));
  }
  // A directory (with the slash: else the static handler redirects to it)
  // whose index file, the first that exists, is a program runs it.
  if (directory && (safe.trailing_slash || safe.relative.empty())) {
    for (const std::string& name : rules.index_names) {
      std::string index_url = url + "/" + name;
      std::string file = rules.root + index_url;
      if (::stat(file.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
      if (!S_ISREG(st.st_mode)) break;
      return file_target(rules, file, index_url, name, "");
    }
  }
  if (under_prefix) {
    CgiTarget missing;
    missing.kind = CgiTarget::Kind::Missing;
    return missing;
  }
  return none;
}

std::vector<std::string> cgi_environment(const CgiRules& rules, const CgiTarget& target,
                                         std::span<const std::pair<std::string, std::string>> environ) {
  // RFC 3875 §4.1 plus what programs rely on; PATH_INFO, SCRIPT_NAME and
  // PATH_TRANSLATED are the gateway's own.
  static constexpr std::string_view kPassed[] = {
      "AUTH_TYPE",   "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "QUERY_STRING",
      "REMOTE_ADDR", "REMOTE_HOST",    "REMOTE_PORT",  "REMOTE_USER",       "REQUEST_METHOD",
      "REQUEST_URI", "SERVER_NAME",    "SERVER_PORT",  "SERVER_PROTOCOL",   "SERVER_SOFTWARE"};
  // Request headers that must not reach a program as variables: credentials
  // (RFC 3875 §4.1.18), "Proxy:", which libraries read as HTTP_PROXY
  // ("httpoxy"), and the framing the server already removed.
  static constexpr std::string_view kWithheld[] = {"HTTP_AUTHORIZATION", "HTTP_PROXY",
                                                   "HTTP_PROXY_AUTHORIZATION", "HTTP_TRANSFER_ENCODING"};
  std::vector<std::string> env;
  env.reserve(environ.size() + 12 + rules.env.size());
  for (const auto& [name, value] : environ) {
    bool passed = std::find(std::begin(kPassed), std::end(kPassed), name) != std::end(kPassed);
    bool header = name.starts_with("HTTP_") &&
                  std::find(std::begin(kWithheld), std::end(kWithheld), name) == std::end(kWithheld);
    if (passed || header) env.push_back(name + "=" + value);
  }
  env.push_back("SCRIPT_NAME=" + target.script_name);
  if (!target.path_info.empty()) {
    env.push_back("PATH_INFO=" + target.path_info);
    env.push_back("PATH_TRANSLATED=" + rules.root + target.path_info);
  }
  env.push_back("SCRIPT_FILENAME=" + target.script_filename);
  env.push_back("DOCUMENT_ROOT=" + rules.root);
  env.push_back("REDIRECT_STATUS=200");  // php-cgi (cgi.force_redirect) refuses to run without it
  env.emplace_back(kSafePath);
  for (const std::string& entry : rules.env) {
    std::string name = entry.substr(0, entry.find('='));
    std::string setting = entry;
    if (entry.find('=') == std::string::npos) {
      const char* value = std::getenv(entry.c_str());
      if (value == nullptr) continue;
      setting = entry + "=" + value;
    }
    auto same = [&](const std::string& e) {
      return e.starts_with(name) && e.size() > name.size() && e[name.size()] == '=';
    };
    std::erase_if(env, same);
    env.push_back(std::move(setting));
  }
  return env;
}

namespace {

// The program being run and its process group, for stop_cgi_program()
// (plain values: read in a signal handler).
volatile pid_t g_program = 0;
volatile pid_t g_group = 0;

// This process's children from before the program started (a worker's
// module may keep helpers): never the request's to stop. g_spared_unknown:
// there were more than fit, or /proc could not say, so no child is stopped
// as an escapee.
constexpr int kMaxSpared = 32;
pid_t g_spared[kMaxSpared];
volatile int g_spared_count = 0;
volatile sig_atomic_t g_spared_unknown = 0;

void sleep_briefly() {
  timespec pause{0, 10'000'000};  // 10 ms
  ::nanosleep(&pause, nullptr);
}

// This process's children, from /proc/self/task/<pid>/children (orphans
// re-parented to a subreaper go to its main thread, whose tid is the pid):
// how many were stored, -1 if /proc cannot say (a chroot without it).
// Async-signal-safe: no allocation, no stdio.
int read_children(pid_t* children, int capacity) {
  char path[64] = "/proc/self/task/";
  char* end = path + std::strlen(path);
  char digits[16];
  int n = 0;
  for (pid_t self = ::getpid(); self > 0; self /= 10) digits[n++] = static_cast<char>('0' + self % 10);
  while (n > 0) *end++ = digits[--n];
  std::memcpy(end, "/children", sizeof "/children");
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char text[4096];
  ssize_t size = ::read(fd, text, sizeof text);
  ::close(fd);
  if (size < 0) return -1;
  int count = 0;
  pid_t value = 0;
  for (ssize_t i = 0; i < size && count < capacity; ++i) {
    if (text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + (text[i] - '0');
    } else if (value > 0) {
      children[count++] = value;
      value = 0;
    }
  }
  // A number at the very end is whole only if the text was: a cut-off pid
  // would name some other process.
  if (value > 0 && count < capacity && size < static_cast<ssize_t>(sizeof text)) children[count++] = value;
  return count;
}

// Notes the children that are not the coming program's business.
void remember_spared_children(bool have_children) {
  g_spared_count = 0;
  g_spared_unknown = 0;
  if (!have_children) return;
  pid_t children[kMaxSpared + 1];
  int n = read_children(children, kMaxSpared + 1);
  if (n < 0 || n > kMaxSpared) {
    g_spared_unknown = 1;
    return;
  }
  std::copy_n(children, n, g_spared);
  g_spared_count = n;
}

bool spared(pid_t pid) {
  for (int i = 0; i < g_spared_count; ++i) {
    if (g_spared[i] == pid) return true;
  }
  return false;
}

// What the program left outside its group (setsid(), setpgid(): a daemon it
// started) is still a descendant of ours, and as a child subreaper we get
// each one once its parent is gone: SIGKILL every child of ours that was not
// there before the program, reap, and again for the orphans that brings,
// until none is left. Without any child (the usual case: one waitpid) there
// is no descendant either, since every orphan comes to us. Bounded, in case a
// process keeps forking faster than it is stopped. Async-signal-safe.
void stop_escapees() {
  constexpr int kMaxRounds = 64;
  for (int round = 0; round < kMaxRounds && !g_spared_unknown; ++round) {
    pid_t reaped;
    while ((reaped = ::waitpid(-1, nullptr, WNOHANG)) > 0) {
    }
    if (reaped < 0) return;  // no child at all
    // Children that reap themselves (a handler set SIGCHLD to SIG_IGN) could
    // be gone and their pid reused between reading it and signalling it.
    struct sigaction sigchld {};
    if (::sigaction(SIGCHLD, nullptr, &sigchld) != 0 || sigchld.sa_handler == SIG_IGN ||
        (sigchld.sa_flags & SA_NOCLDWAIT) != 0) {
      return;
    }
    pid_t children[256];
    int count = read_children(children, 256);
    int stopped = 0;
    for (int i = 0; i < count; ++i) {
      if (spared(children[i])) continue;
      ::kill(children[i], SIGKILL);  // ours until we reap it: the pid cannot be anyone else's
      children[stopped++] = children[i];
    }
    if (stopped == 0) return;  // only spared children, or no /proc: what escaped stays (README)
    for (int i = 0; i < stopped; ++i) {
      while (::waitpid(children[i], nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
}

// SIGTERM to the group, up to `term_wait` for the program to go, SIGKILL,
// then every process of the group that came back to us is reaped, then what
// escaped the group. Async-signal-safe. Returns the program's wait status.
int stop_group(pid_t pid, pid_t group, int status, bool reaped, std::chrono::milliseconds term_wait) {
  // Never our own group: if returning to it failed (spawn), only the program is signalled.
  bool whole_group = ::getpgrp() != group;
  auto signal = [&](int sig) { ::kill(whole_group ? -group : pid, sig); };
  signal(SIGTERM);
  for (auto waited = std::chrono::milliseconds(0); !reaped && waited < term_wait;
       waited += std::chrono::milliseconds(10)) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      break;
    }
    sleep_briefly();
  }
  signal(SIGKILL);
  if (!reaped) ::waitpid(pid, &status, 0);
  // Orphans of the group were re-parented to us (subreaper); SIGKILL leaves
  // them no way to linger, so wait for each.
  while (whole_group && (::waitpid(-group, nullptr, 0) > 0 || errno == EINTR)) {
  }
  stop_escapees();
  g_program = 0;
  g_group = 0;
  return status;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  }
  return "ended";
}

// The client went away or stopped reading, or the writer refused the
// program's output (a body after "Status: 304", more than its Content-Length):
// the exchange logged why. Only in the last case can the client still see
// the status, and then the program is at fault.
const CgiOutcome kSendFailed{CgiOutcome::Kind::Failed, 502, "sending the response failed", {}};

// A running program: its pipes and what has been seen of it.
class Program {
 public:
  Program(const CgiTarget& target, CgiExchange& exchange) : target_(target), exchange_(exchange) {}

  // On failure returns the errno of the spawn.
  int spawn(const std::vector<std::string>& env, const std::string& directory);

  CgiOutcome relay();
  // Standard output reached its end: the program is done, or about to be.
  bool output_ended() const { return output_ended_; }
  // Waits (bounded) for the program to exit, logging the rest of its
  // standard error, then stops and reaps its group.
  void end(bool wait);

 private:
  bool feed_stdin();
  bool on_output(std::string_view data);  // false: stop (outcome_ set)
  void on_stderr(std::string_view data, bool at_end);
  void finish_output();
  CgiOutcome fail(int status, std::string reason);

  const CgiTarget& target_;
  CgiExchange& exchange_;
  pid_t pid_ = -1;
  pid_t group_ = -1;  // its process group (see spawn)
  UniqueFd stdin_, stdout_, stderr_, pidfd_;
  bool reaped_ = false;
  int wait_status_ = 0;

  std::unique_ptr<char[]> body_;  // a piece of the request body not yet written to stdin
  std::size_t body_size_ = 0, body_offset_ = 0;
  bool body_failed_ = false;

  std::string head_;  // output until the header block is complete
  bool head_done_ = false;
  bool output_ended_ = false;
  std::string stderr_line_;
  std::size_t stderr_logged_ = 0;
  std::optional<CgiOutcome> outcome_;
};

int Program::spawn(const std::vector<std::string>& env, const std::string& directory) {
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return errno;
  UniqueFd in_read(in[0]);
  stdin_ = UniqueFd(in[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) return errno;
  stdout_ = UniqueFd(out[0]);
  UniqueFd out_write(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) return errno;
  stderr_ = UniqueFd(err[0]);
  UniqueFd err_write(err[1]);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attr);
  // dup2 clears close-on-exec on the copies; everything from 3 up is closed.
  ::posix_spawn_file_actions_adddup2(&actions, in_read.get(), STDIN_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, err_write.get(), STDERR_FILENO);
  ::posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  ::posix_spawn_file_actions_addchdir_np(&actions, directory.c_str());
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &all);  // the server ignores SIGPIPE; a program must not
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv, envp;
  for (const std::string& a : target_.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  // Whatever the program leaves behind is re-parented to us, to be reaped
  // or stopped; in a worker, what an earlier program's escapees left is
  // reaped now, and the children still running are spared.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  pid_t reaped;
  while ((reaped = ::waitpid(-1, nullptr, WNOHANG)) > 0) {
  }
  remember_spared_children(reaped == 0);

  // The program's process group is numbered with this process's own pid:
  // we make the group, the program joins it, we go back to ours. The parent
  // knows our pid from fork() (never from memory we could write), so when
  // it kills us, at its backstop deadline, at shutdown or when it reaps us
  // after a crash, it kills the group too, and the program and all it
  // started (short of escaping the group) die with us. PR_SET_PDEATHSIG
  // would need a fork+exec of our own instead of posix_spawn and reaches
  // the program alone, not its children. Where we cannot make the group (a
  // session leader, as under some inetd setups), the program leads its own.
  const pid_t self = ::getpid();
  const pid_t home = ::getpgrp();
  const bool numbered = home != self && ::setpgid(0, 0) == 0;
  ::posix_spawnattr_setpgroup(&attr, numbered ? self : 0);

  pid_t pid = -1;
  int error = ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  if (numbered) ::setpgid(0, home);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  if (error != 0) return error;
  pid_ = pid;
  group_ = numbered ? self : pid;
  g_group = group_;
  g_program = pid;
  // A descriptor that polls readable when the program exits (Linux 5.3; glibc
  // 2.36's <sys/pidfd.h> lacks extern "C", hence the raw call). Without it the
  // relay looks every 50 ms.
  pidfd_ = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  set_nonblocking(stdin_.get());
  set_nonblocking(stdout_.get());
  set_nonblocking(stderr_.get());
  return 0;
}

CgiOutcome Program::fail(int status, std::string reason) {
  exchange_.log(reason);
  CgiOutcome outcome;
  outcome.kind = CgiOutcome::Kind::Failed;
  outcome.status = status;
  outcome.reason = std::move(reason);
  return outcome;
}

// Writes what it can of the body to the program; reads the next piece from
// the client when the last one is gone. False when the body could not be read.
bool Program::feed_stdin() {
  if (body_offset_ == body_size_) {
    if (!body_) body_.reset(new char[kPipeChunk]);
    long long n = exchange_.read_body({body_.get(), kPipeChunk});
    if (n <= 0) {
      stdin_.reset();  // end of the body: the program sees end of file
      body_failed_ = n < 0;
      return n == 0;
    }
    body_size_ = static_cast<std::size_t>(n);
    body_offset_ = 0;
  }
  IoResult written = write_now(stdin_.get(), {body_.get() + body_offset_, body_size_ - body_offset_});
  if (written.status != IoStatus::Ok) {
    stdin_.reset();  // the program stopped reading (EPIPE): the rest of the body is not its
    return true;
  }
  body_offset_ += written.bytes;
  return true;
}

bool Program::on_output(std::string_view data) {
  if (target_.nph) {
    if (head_done_) {
      if (!exchange_.write_raw(data, 0)) outcome_ = kSendFailed;
      return !outcome_;
    }
    // Nothing goes out before "HTTP/d.d NNN" is seen, so garbage is a 502.
    head_.append(data);
    if (head_.size() < kNphStatusLength) return true;
    int status = nph_status(head_);
    if (status == 0) {
      outcome_ = fail(502, "invalid nph response from " + target_.argv.back() + ": no HTTP status line");
      return false;
    }
    head_done_ = true;
    if (!exchange_.write_raw(head_, status)) outcome_ = kSendFailed;
    return !outcome_;
  }
  if (head_done_) {
    if (!exchange_.write_body(data)) outcome_ = kSendFailed;
    return !outcome_;
  }
  head_.append(data);
  CgiHead head = parse_cgi_head(head_, kMaxHeaderBlock);
  if (head.status == CgiHeadStatus::Incomplete) return true;
  if (head.status == CgiHeadStatus::Error) {
    outcome_ =
        fail(502, "invalid CGI response from " + target_.argv.back() + ": " + std::string(head.reason));
    return false;
  }
  head_done_ = true;
  if (head.kind == CgiResponseKind::LocalRedirect) {
    CgiOutcome redirect;
    redirect.kind = CgiOutcome::Kind::LocalRedirect;
    redirect.location = std::move(head.location);
    outcome_ = std::move(redirect);
    return false;
  }
  if (!exchange_.start_response(head.status_line, std::move(head.headers))) {
    outcome_ = fail(502, "invalid CGI response from " + target_.argv.back());
    return false;
  }
  std::string_view body = std::string_view(head_).substr(head.head_length);
  if (!body.empty() && !exchange_.write_body(body)) outcome_ = kSendFailed;
  head_.clear();
  return !outcome_;
}

void Program::on_stderr(std::string_view data, bool at_end) {
  auto emit = [&](std::string_view line) {
    if (stderr_logged_ >= kMaxStderrLogged) return;
    stderr_logged_ += line.size() + 1;
    if (stderr_logged_ >= kMaxStderrLogged) {
      exchange_.log(target_.argv.back() + ": standard error over " + std::to_string(kMaxStderrLogged / 1024) +
                    " KiB; the rest is discarded");
      return;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    exchange_.log(target_.argv.back() + ": " + std::string(line));  // escaped there, like every error line
  };
  for (char c : data) {
    if (c == '\n') {
      emit(stderr_line_);
      stderr_line_.clear();
    } else if (stderr_line_.size() < kMaxStderrLine) {
      stderr_line_.push_back(c);
    } else {
      emit(stderr_line_);
      stderr_line_.assign(1, c);
    }
  }
  if (at_end && !stderr_line_.empty()) {
    emit(stderr_line_);
    stderr_line_.clear();
  }
}

CgiOutcome Program::relay() {
  char buffer[kPipeChunk];
  while (stdout_ && !outcome_) {
    if (stdin_ && body_offset_ == body_size_ && !feed_stdin() && body_failed_) {
      outcome_ = CgiOutcome{CgiOutcome::Kind::Failed, 0, "reading the request body failed", {}};
      break;
    }
    pollfd fds[5];
    std::size_t count = 0;
    auto add = [&](int fd, short events) -> pollfd* {
      if (fd < 0) return nullptr;
      fds[count] = {fd, events, 0};
      return &fds[count++];
    };
    pollfd* in = add(stdin_.get(), POLLOUT);
    pollfd* out = add(stdout_.get(), POLLIN);
    pollfd* err = add(stderr_.get(), POLLIN);
    pollfd* exited = reaped_ ? nullptr : add(pidfd_.get(), POLLIN);
    // The client hanging up (end of input after the whole request, or a
    // reset): only POLLRDHUP is asked for, so bytes it sent after the
    // request do not wake us.
    pollfd* client = add(exchange_.hangup_fd(), POLLRDHUP);
    // Once the program has exited, only what is already in the pipe counts:
    // a process it left behind holding standard output does not keep us waiting.
    auto timeout = reaped_ ? std::chrono::milliseconds(0) : std::chrono::milliseconds(-1);
    if (!pidfd_ && !reaped_) timeout = std::chrono::milliseconds(50);  // no pidfd: look now and then
    int ready = wait_for_any({fds, count}, timeout);
    if (ready < 0) {
      outcome_ = fail(502, std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (err && err->revents) {
      IoResult r = read_now(stderr_.get(), {buffer, sizeof buffer});
      if (r.status == IoStatus::Ok) on_stderr({buffer, r.bytes}, false);
      if (r.status != IoStatus::Ok) {
        on_stderr({}, true);
        stderr_.reset();
      }
    }
    if (in && in->revents) {
      if (in->revents & (POLLERR | POLLHUP)) {
        stdin_.reset();
      } else if (!feed_stdin() && body_failed_) {
        outcome_ = CgiOutcome{CgiOutcome::Kind::Failed, 0, "reading the request body failed", {}};
        break;
      }
    }
    if ((exited && exited->revents) || (!pidfd_ && !reaped_)) {
      if (::waitpid(pid_, &wait_status_, WNOHANG) == pid_) reaped_ = true;
    }
    if (out && (out->revents || reaped_)) {
      IoResult r = read_now(stdout_.get(), {buffer, sizeof buffer});
      if (r.status == IoStatus::Ok && r.bytes > 0) {
        on_output({buffer, r.bytes});
      } else if (r.status != IoStatus::Ok || (reaped_ && ready == 0)) {
        output_ended_ = r.status == IoStatus::Closed;
        if (r.status == IoStatus::Ok)
          exchange_.log(target_.argv.back() +
                        ": exited, but a process it left behind still holds its output; stopped");
        stdout_.reset();
      }
    }
    if (!outcome_ && client && (client->revents & (POLLRDHUP | POLLHUP | POLLERR))) {
      exchange_.client_left();
      outcome_ = CgiOutcome{CgiOutcome::Kind::Failed, 0, "the client left", {}};
    }
  }
  if (!outcome_) finish_output();
  return *outcome_;
}

void Program::end(bool wait) {
  char buffer[4096];
  Deadline until = Clock::now() + (wait ? kExitWait : std::chrono::seconds(0));
  while (!reaped_ || stderr_) {
    pollfd fds[2];
    std::size_t count = 0;
    if (stderr_) fds[count++] = {stderr_.get(), POLLIN, 0};
    if (!reaped_ && pidfd_) fds[count++] = {pidfd_.get(), POLLIN, 0};
    auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) break;
    if (!pidfd_ && !reaped_) left = std::min(left, std::chrono::milliseconds(50));
    if (reaped_) left = std::chrono::milliseconds(0);  // only what is already in the pipe
    if (wait_for_any({fds, count}, left) < 0) break;
    if (!reaped_ && ::waitpid(pid_, &wait_status_, WNOHANG) == pid_) reaped_ = true;
    if (stderr_) {
      IoResult r = read_now(stderr_.get(), {buffer, sizeof buffer});
      if (r.status == IoStatus::Ok && r.bytes > 0) {
        on_stderr({buffer, r.bytes}, false);
      } else if (r.status != IoStatus::Ok || reaped_) {
        on_stderr({}, true);
        stderr_.reset();
      }
    }
  }
  bool exited_by_itself = reaped_;
  wait_status_ = stop_group(pid_, group_, wait_status_, reaped_, kTermWait);
  if (!exited_by_itself) {
    if (wait) exchange_.log(target_.argv.back() + ": still running after its response; stopped");
  } else if (!WIFEXITED(wait_status_) || WEXITSTATUS(wait_status_) != 0) {
    exchange_.log(target_.argv.back() + ": " + describe_exit(wait_status_));
  }
}

// Standard output ended: the response is complete, or was never valid.
void Program::finish_output() {
  if (target_.nph) {
    if (head_done_) {
      outcome_ = CgiOutcome{};
    } else if (head_.empty()) {
      outcome_ = fail(502, target_.argv.back() + " exited without output");
    } else {
      outcome_ = fail(502, "invalid nph response from " + target_.argv.back() + ": no HTTP status line");
    }
    return;
  }
  if (head_done_) {
    outcome_ = CgiOutcome{};
  } else if (head_.empty()) {
    outcome_ = fail(502, target_.argv.back() + " produced no output");
  } else {
    outcome_ = fail(
        502, "invalid CGI response from " + target_.argv.back() + ": output ended inside the header block");
  }
}

}  // namespace

CgiOutcome run_cgi(const CgiRules& rules, const CgiTarget& target,
                   std::span<const std::pair<std::string, std::string>> environ, CgiExchange& exchange) {
  std::string directory = target.script_filename.substr(0, target.script_filename.rfind('/'));
  if (directory.empty()) directory = "/";
  Program program(target, exchange);
  if (int error = program.spawn(cgi_environment(rules, target, environ), directory); error != 0) {
    CgiOutcome outcome{CgiOutcome::Kind::Failed,
                       502,
                       "cannot execute " + target.argv.front() + ": " + std::strerror(error),
                       {}};
    exchange.log(outcome.reason);
    return outcome;
  }
  CgiOutcome outcome = program.relay();
  // A program that answered, or at least ended its output, gets a moment to
  // exit by itself (and its exit status is logged); one cut off while still
  // writing (garbage, a client that stopped reading) is stopped at once.
  program.end(outcome.kind != CgiOutcome::Kind::Failed || program.output_ended());
  return outcome;
}

void stop_cgi_program() {
  pid_t pid = g_program;
  pid_t group = g_group;
  if (pid > 0 && group > 0) stop_group(pid, group, 0, false, std::chrono::milliseconds(kTermWait));
}

}  // namespace forkserve::handlers

#include "module/module_loader.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "net/io.hpp"

namespace forkserve {

LoadedModule start_module(const forkserve_module* module, const std::string& label, const std::string& arg) {
  auto fail = [&label](const std::string& why) {
    return LoadedModule::failed("handler " + label + ": " + why);
  };
  if (module == nullptr) return fail("the entry point returned no descriptor");
  if (module->magic != FORKSERVE_MODULE_MAGIC) return fail("bad descriptor magic (not a forkserve module)");
  if (module->abi_major != FORKSERVE_ABI_MAJOR) {
    return fail("built for handler ABI " + std::to_string(module->abi_major) + ", this forkserve speaks " +
                std::to_string(FORKSERVE_ABI_MAJOR));
  }
  // A newer minor appends fields, which this server does not read.
  if (module->size < FORKSERVE_MODULE_SIZE_1_0) return fail("descriptor is smaller than ABI 1.0's");
  if (module->init == nullptr || module->handle == nullptr) return fail("descriptor lacks init or handle");

  char error[512] = "";
  if (module->init(arg.c_str(), error, sizeof error) != FORKSERVE_OK) {
    error[sizeof error - 1] = '\0';
    return fail(std::string("init failed: ") + (error[0] ? error : "no reason given"));
  }
  LoadedModule started;
  started.module = module;
  return started;
}

namespace {

// What the trial child reports before it exits 0: one byte, so that an
// init() calling exit(0) itself is not taken for a pass. It exits
// kTrialFailed after writing why it refused the module: one line, which a
// pipe takes whole without blocking (PIPE_BUF), so the child never waits
// for the parent to read it.
constexpr char kTrialUnloads = 'U';
constexpr char kTrialStaysLoaded = 'S';
constexpr int kTrialFailed = 1;
constexpr std::size_t kTrialMessageLimit = 4096;

// dlopen(name) + the entry point + start_module. Errors name `label` once.
LoadedModule open_module(const std::string& name, const std::string& label, const std::string& arg) {
  void* library = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    std::string why = ::dlerror();
    // dlerror() starts with the file name; say it once.
    if (why.starts_with(name + ": ")) why.erase(0, name.size() + 2);
    return LoadedModule::failed("handler " + label + ": " + why);
  }
  void* entry = ::dlsym(library, FORKSERVE_MODULE_SYMBOL);
  if (entry == nullptr) {
    ::dlclose(library);
    return LoadedModule::failed("handler " + label +
                                ": no " FORKSERVE_MODULE_SYMBOL " symbol (not a forkserve handler module?)");
  }
  LoadedModule loaded = start_module(reinterpret_cast<forkserve_module_entry>(entry)(), label, arg);
  if (loaded.module) {
    loaded.library = library;
  } else {
    ::dlclose(library);
  }
  return loaded;
}

// Runs fini() and unloads the library (the code goes once nothing else holds it).
void finish(LoadedModule& loaded) {
  if (loaded.module && loaded.module->fini) loaded.module->fini();
  if (loaded.library) ::dlclose(loaded.library);
  loaded.module = nullptr;
  loaded.library = nullptr;
}

std::string describe_wait_status(int status) {
  if (WIFSIGNALED(status)) {
    const char* name = ::strsignal(WTERMSIG(status));
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + (name ? name : "unknown") + ")";
  }
  return "exit status " + std::to_string(WEXITSTATUS(status));
}

// Closes every descriptor from 3 on but `keep`: the trial holds nothing of
// the parent's (listeners, logs, the pipes whose closing tells workers to
// leave, which a trial lasting seconds would otherwise keep open).
void close_all_but(std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned first = 3;
  for (int fd : keep) {
    if (fd < 0 || static_cast<unsigned>(fd) < first) continue;
    if (static_cast<unsigned>(fd) > first) ::close_range(first, static_cast<unsigned>(fd) - 1, 0);
    first = static_cast<unsigned>(fd) + 1;
  }
  ::close_range(first, ~0U, 0);
}

}  // namespace

// What a trial process found.
struct TrialVerdict {
  bool passed = false;
  bool unloads = true;  // when passed
  std::string error;    // when not
};

// A module file being proven: a child loads it, runs init(arg), fini(),
// unloads it and exits, saying by its exit status how that went (and why,
// on a pipe, when it refused the module). The parent loads only what such a
// child survived. The child is the caller's to reap: at start-up wait()
// does; on a reload the master loop does, with every other child.
class ModuleTrial {
 public:
  ModuleTrial(ModuleImage image, std::string label, const std::string& arg, std::chrono::seconds timeout)
      : image_(std::move(image)), name_(image_.load_name()), label_(std::move(label)), timeout_(timeout) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
      not_started_ = not_started("pipe", errno);
      return;
    }
    report_.reset(fds[0]);
    UniqueFd report_write(fds[1]);
    deadline_ = Clock::now() + timeout;
    pid_ = ::fork();
    if (pid_ < 0) {
      not_started_ = not_started("fork", errno);
      return;
    }
    if (pid_ == 0) {
      ::setpgid(0, 0);  // a group of its own, with whatever its init() starts: all ended with it
      close_all_but({report_write.get(), image_.descriptor()});
      LoadedModule loaded = open_module(name_, label_, arg);
      if (!loaded.module) {
        (void)!::write(report_write.get(), loaded.error.data(),
                       std::min(loaded.error.size(), kTrialMessageLimit));
        ::_exit(kTrialFailed);
      }
      finish(loaded);
      // Still there after dlclose(): something pinned it (unique symbols of a
      // module built without hidden visibility, thread_local destructors).
      const char passed = ::dlopen(name_.c_str(), RTLD_NOW | RTLD_NOLOAD) ? kTrialStaysLoaded : kTrialUnloads;
      (void)!::write(report_write.get(), &passed, 1);
      ::_exit(0);
    }
    ::setpgid(pid_, pid_);  // as the child does: its group exists for a kill from now on
  }
  ModuleTrial(const ModuleTrial&) = delete;
  ModuleTrial& operator=(const ModuleTrial&) = delete;

  // Non-empty when there was no pipe or process to spare: nothing was tried.
  const std::string& not_started() const { return not_started_; }
  pid_t pid() const { return pid_; }
  Deadline deadline() const { return deadline_; }
  const ModuleImage& image() const { return image_; }

  // How it went, from its wait status (it has been reaped). What it started
  // and left behind is killed: a trial leaves no process.
  TrialVerdict verdict(int status) const {
    ::kill(-pid_, SIGKILL);
    // Written before it exited: all there, or nothing.
    std::string report(kTrialMessageLimit, '\0');
    const ssize_t got = ::read(report_.get(), report.data(), report.size());
    report.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && report.size() == 1) {
      if (report[0] == kTrialUnloads) return {true, true, {}};
      if (report[0] == kTrialStaysLoaded) return {true, false, {}};
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == kTrialFailed && !report.empty())
      return {false, true, report};
    if (WIFEXITED(status)) {
      return failed("loading it or its init() ended a trial process: " + describe_wait_status(status) +
                    " (exit() called?)");
    }
    return failed("loading it or its init() crashed a trial process: " + describe_wait_status(status));
  }
  TrialVerdict overdue() const {
    return failed("loading it and its init() took longer than " + std::to_string(timeout_.count()) +
                  " s (stopped)");
  }

  // Waits for it, up to its deadline (then kills it), and reaps it.
  TrialVerdict wait() const {
    // A pidfd turns readable when the process ends, whatever descriptors it
    // passed on; without one (before Linux 5.3), the report pipe's end of
    // file says the same unless init() started a process that kept it.
    UniqueFd exited(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
    // The pipe: only its hang-up (no writer left), not the message in it.
    pollfd watched{exited ? exited.get() : report_.get(), static_cast<short>(exited ? POLLIN : 0), 0};
    bool ended = false;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      if (left <= 0) break;
      int ready = ::poll(&watched, 1, static_cast<int>(std::min<long long>(left, 60'000)));
      if (ready > 0 || (ready < 0 && errno != EINTR)) {
        ended = ready > 0;
        break;
      }
    }
    if (!ended) ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    if (ended) return verdict(status);
    ::kill(-pid_, SIGKILL);
    return overdue();
  }

  // Loads the module here, after it passed.
  LoadedModule load(const std::string& arg, const TrialVerdict& verdict) const {
    LoadedModule loaded = open_module(name_, label_, arg);
    loaded.identity = image_.identity();
    loaded.digest = image_.digest();
    loaded.unloads = verdict.unloads;
    return loaded;
  }

 private:
  TrialVerdict failed(const std::string& why) const {
    return {false, true, "handler " + label_ + ": " + why};
  }
  std::string not_started(const char* operation, int error) const {
    return "handler " + label_ + ": " + operation + " for its trial: " + std::strerror(error);
  }

  ModuleImage image_;
  std::string name_;  // what dlopen() reaches the copy by, in the trial and here
  std::string label_;
  std::chrono::seconds timeout_;
  std::string not_started_;
  UniqueFd report_;
  pid_t pid_ = -1;
  Deadline deadline_{};
};

LoadedModule load_module(const std::string& path, const std::string& arg, std::chrono::seconds timeout) {
  std::string error;
  std::optional<ModuleImage> image = ModuleImage::copy(path, error);
  if (!image) return LoadedModule::failed("handler " + path + ": " + error);
  ModuleTrial trial(std::move(*image), path, arg, timeout);
  // A trial that cannot even start (a tight RLIMIT_NOFILE or RLIMIT_NPROC)
  // is done without at start-up: the parent serves nothing yet, and the
  // limits are for the children.
  if (!trial.not_started().empty()) return trial.load(arg, TrialVerdict{true, true, {}});
  TrialVerdict verdict = trial.wait();
  if (!verdict.passed) return LoadedModule::failed(verdict.error);
  return trial.load(arg, verdict);
}

HandlerModule::HandlerModule(LoadedModule loaded, std::string path, std::string arg,
                             std::chrono::seconds trial_timeout)
    : current_(std::move(loaded)),
      path_(std::move(path)),
      arg_(std::move(arg)),
      trial_timeout_(trial_timeout) {}

HandlerModule::~HandlerModule() {
  stop_trials();
  commit();
  finish(current_);
}

HandlerModule::Reload HandlerModule::reload(std::string& message) {
  message.clear();
  if (path_.empty()) {
    message = "SIGHUP: the built-in handler has no module file to reload";
    return Reload::Unchanged;
  }
  auto unchanged = [&] {
    kill_trial();  // the file is back to the module we have: nothing to adopt
    message = "SIGHUP: handler " + path_ + " is unchanged";
    return Reload::Unchanged;
  };
  struct stat st {};
  const bool found = ::stat(path_.c_str(), &st) == 0;
  // The file under trial is still the one there: its trial goes on.
  if (found && trial_ && FileIdentity::of(st) == trial_->image().identity()) return Reload::Trying;
  if (found && FileIdentity::of(st) == current_.identity) return unchanged();
  std::string error;
  std::optional<ModuleImage> image = ModuleImage::copy(path_, error);
  if (!image) {
    kill_trial();  // a SIGHUP supersedes any trial: what is at the path now is what is wanted
    message = "SIGHUP: reload handler " + path_ + ": " + error + "; keeping the old one";
    return Reload::Failed;
  }
  if (image->digest() == current_.digest) {
    current_.identity = image->identity();  // touched or copied again: same bytes
    return unchanged();
  }
  if (trial_ && image->digest() == trial_->image().digest()) return Reload::Trying;
  kill_trial();
  auto trial = std::make_unique<ModuleTrial>(std::move(*image), path_, arg_, trial_timeout_);
  if (!trial->not_started().empty()) {
    message = "SIGHUP: " + trial->not_started() + "; keeping the old one";
    return Reload::Failed;
  }
  trial_ = std::move(trial);
  return Reload::Trying;
}

std::optional<pid_t> HandlerModule::trial_pid() const {
  return trial_ ? std::optional<pid_t>(trial_->pid()) : std::nullopt;
}

std::optional<Deadline> HandlerModule::trial_deadline() const {
  return trial_ ? std::optional<Deadline>(trial_->deadline()) : std::nullopt;
}

std::optional<HandlerModule::Reload> HandlerModule::trial_exited(pid_t pid, int status,
                                                                 std::string& message) {
  if (auto killed = std::find(killed_.begin(), killed_.end(), pid); killed != killed_.end()) {
    killed_.erase(killed);
    return std::nullopt;
  }
  if (!trial_ || trial_->pid() != pid) return std::nullopt;
  const std::unique_ptr<ModuleTrial> trial = std::move(trial_);
  const TrialVerdict verdict = trial->verdict(status);
  LoadedModule loaded = verdict.passed ? trial->load(arg_, verdict) : LoadedModule::failed(verdict.error);
  if (!loaded.module) {
    message = "SIGHUP: " + loaded.error + "; keeping the old one";
    return Reload::Failed;
  }
  message = "SIGHUP: reloaded handler " + path_;
  if (!current_.unloads) {
    message +=
        " (the module it replaces stays mapped: it cannot be unloaded, e.g. built without "
        "-fvisibility=hidden or leaving thread_local destructors)";
  }
  if (previous_) {
    finish(current_);  // replaced before it was committed: it never served
    current_ = std::move(loaded);
  } else {
    previous_ = std::exchange(current_, std::move(loaded));
  }
  return Reload::Replaced;
}

HandlerModule::Reload HandlerModule::stop_overdue_trial(std::string& message) {
  if (!trial_) return Reload::Unchanged;
  message = "SIGHUP: " + trial_->overdue().error + "; keeping the old one";
  kill_trial();
  return Reload::Failed;
}

void HandlerModule::kill_trial() {
  if (!trial_) return;
  ::kill(-trial_->pid(), SIGKILL);  // its group: with what its init() started
  killed_.push_back(trial_->pid());
  trial_.reset();
}

void HandlerModule::stop_trials() {
  kill_trial();
  for (pid_t pid : killed_) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  killed_.clear();
}

void HandlerModule::commit() {
  if (previous_) finish(*previous_);
  previous_.reset();
}

void HandlerModule::rollback() {
  if (!previous_) return;
  finish(current_);
  current_ = std::move(*previous_);
  previous_.reset();
}

}  // namespace forkserve

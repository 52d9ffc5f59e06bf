#include "module/module_loader.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

// How long the trial of a module (loading it and its init()) may take. The
// parent waits for it, so this bounds how long a module whose init() hangs
// can keep the parent from accepting.
constexpr auto kTrialTimeout = std::chrono::seconds(10);

// The trial child's exit statuses besides those of a crash.
constexpr int kTrialUnloads = 0;
constexpr int kTrialFailed = 1;
constexpr int kTrialStaysLoaded = 3;

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

struct Trial {
  bool passed = false;
  bool unloads = true;
  std::string error;         // when not passed
  bool not_started = false;  // no pipe or process to spare: nothing was tried
};

std::string describe_wait_status(int status) {
  if (WIFSIGNALED(status)) {
    const char* name = ::strsignal(WTERMSIG(status));
    return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + (name ? name : "unknown") + ")";
  }
  return "exit status " + std::to_string(WEXITSTATUS(status));
}

// Loads `name` and runs init(arg) and fini() in a child that then leaves, and
// reports how that went: the parent only loads what this child survived.
Trial try_in_child(const std::string& name, const std::string& label, const std::string& arg) {
  auto failed = [&label](const std::string& why) {
    return Trial{false, true, "handler " + label + ": " + why, false};
  };
  auto not_started = [&label](const char* operation) {
    return Trial{false, true,
                 "handler " + label + ": " + operation + " for its trial: " + std::strerror(errno), true};
  };
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return not_started("pipe");
  UniqueFd report(fds[0]);
  UniqueFd report_write(fds[1]);
  const Deadline deadline = Clock::now() + kTrialTimeout;
  pid_t pid = ::fork();
  if (pid < 0) return not_started("fork");
  if (pid == 0) {
    LoadedModule loaded = open_module(name, label, arg);
    if (!loaded.module) {
      const iovec message{loaded.error.data(), loaded.error.size()};
      (void)write_all(report_write.get(), {&message, 1}, deadline);
      ::_exit(kTrialFailed);
    }
    finish(loaded);
    // Still there after dlclose(): something pinned it (unique symbols of a
    // module built without hidden visibility, thread_local destructors).
    void* pinned = ::dlopen(name.c_str(), RTLD_NOW | RTLD_NOLOAD);
    ::_exit(pinned ? kTrialStaysLoaded : kTrialUnloads);
  }
  report_write.reset();
  std::string message;
  char buffer[512];
  IoResult got;
  while ((got = read_some(report.get(), buffer, deadline)).status == IoStatus::Ok) {
    if (message.size() < 4096) message.append(buffer, got.bytes);
  }
  const bool timed_out = got.status == IoStatus::TimedOut;
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return failed("loading it and its init() took longer than " + std::to_string(kTrialTimeout.count()) +
                  " s (stopped)");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == kTrialUnloads) return Trial{true, true, {}, false};
  if (WIFEXITED(status) && WEXITSTATUS(status) == kTrialStaysLoaded) return Trial{true, false, {}, false};
  if (WIFEXITED(status) && WEXITSTATUS(status) == kTrialFailed && !message.empty()) {
    return Trial{false, true, message, false};
  }
  return failed("loading it or its init() crashed a trial process: " + describe_wait_status(status));
}

// The trial, then the real load in this process. At start-up a trial that
// cannot even start (a tight RLIMIT_NOFILE or RLIMIT_NPROC) is done without:
// the parent serves nothing yet, and the limits are for the children.
enum class TrialNeed { Required, BestEffort };
LoadedModule load_image(ModuleImage& image, const std::string& label, const std::string& arg,
                        TrialNeed need) {
  const std::string name = image.load_name();
  Trial trial = try_in_child(name, label, arg);
  if (!trial.passed && !(trial.not_started && need == TrialNeed::BestEffort)) {
    return LoadedModule::failed(trial.error);
  }
  LoadedModule loaded = open_module(name, label, arg);
  loaded.identity = image.identity();
  loaded.digest = image.digest();
  loaded.unloads = trial.unloads;
  return loaded;
}

}  // namespace

LoadedModule load_module(const std::string& path, const std::string& arg) {
  std::string error;
  std::optional<ModuleImage> image = ModuleImage::copy(path, error);
  if (!image) return LoadedModule::failed("handler " + path + ": " + error);
  return load_image(*image, path, arg, TrialNeed::BestEffort);
}

HandlerModule::HandlerModule(LoadedModule loaded, std::string path, std::string arg)
    : current_(std::move(loaded)), path_(std::move(path)), arg_(std::move(arg)) {}

HandlerModule::~HandlerModule() {
  commit();
  finish(current_);
}

HandlerModule::Reload HandlerModule::reload(std::string& message) {
  if (path_.empty()) {
    message = "SIGHUP: the built-in handler has no module file to reload";
    return Reload::Unchanged;
  }
  commit();  // a reload still pending is settled: the newer one wins
  auto unchanged = [&] {
    message = "SIGHUP: handler " + path_ + " is unchanged";
    return Reload::Unchanged;
  };
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0 && FileIdentity::of(st) == current_.identity) return unchanged();
  std::string error;
  std::optional<ModuleImage> image = ModuleImage::copy(path_, error);
  if (!image) {
    message = "SIGHUP: reload handler " + path_ + ": " + error + "; keeping the old one";
    return Reload::Failed;
  }
  if (image->digest() == current_.digest) {
    current_.identity = image->identity();  // touched or copied again: same bytes
    return unchanged();
  }
  LoadedModule loaded = load_image(*image, path_, arg_, TrialNeed::Required);
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
  previous_ = std::exchange(current_, std::move(loaded));
  return Reload::Replaced;
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

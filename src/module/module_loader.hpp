// Loads handler modules, proves them in a throwaway process first, and holds
// the one the server runs.
#pragma once

#include <forkserve/module.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "module/module_image.hpp"

namespace forkserve {

struct LoadedModule {
  const forkserve_module* module = nullptr;  // null on failure
  std::string error;                         // one line, e.g. "handler ./x.so: ..."
  // Set for a module loaded from a file; null for one linked into the server.
  void* library = nullptr;
  FileIdentity identity;
  std::uint64_t digest = 0;
  bool unloads = true;  // dlclose() really unmaps it (the trial found out)

  static LoadedModule failed(std::string why) {
    LoadedModule loaded;
    loaded.error = std::move(why);
    return loaded;
  }
};

// Checks magic, ABI and required entry points, then runs init(arg).
// `label` names the module in messages.
LoadedModule start_module(const forkserve_module* module, const std::string& label, const std::string& arg);

// How long the trial of a module (loading it and its init()) may take before
// its process is killed and the module refused (--init-timeout).
constexpr auto kDefaultTrialTimeout = std::chrono::seconds(10);

// Copies the file at `path` (ModuleImage), loads the copy and runs init(arg)
// in a throwaway child, waits for it (up to `timeout`), and only if that
// child ends well, loads it here. A file that crashes the loader or whose
// init() throws, crashes or hangs costs that child, never this process.
// (Without a process or descriptor to spare for the trial, at start-up, it
// loads without one.) For start-up, when nothing is served yet; a reload
// (HandlerModule) runs the same trial without waiting for it.
LoadedModule load_module(const std::string& path, const std::string& arg,
                         std::chrono::seconds timeout = kDefaultTrialTimeout);

class ModuleTrial;  // a module file being proven in a throwaway process

// The module the parent holds, which every child or worker forked from now
// on runs, and the way to replace it (SIGHUP). Runs fini() when destroyed.
//
// A reload never waits: reload() starts the trial process and returns; the
// master loop, which reaps every child, hands the trial's exit to
// trial_exited(), and calls stop_overdue_trial() at trial_deadline(). So a
// module whose init() is slow or hangs never stops the parent from serving
// with the module it has.
//
// init() runs twice per load: in the trial, which proves it safe, and here,
// where it builds the state every child and worker inherits. That state
// (pointers, descriptors) cannot be taken over from the trial's memory, and
// running init() only here would let one that crashes or hangs take the
// parent with it. So the parent still spends, once, about as long as the
// trial's init() took; one that hangs never gets here.
class HandlerModule {
 public:
  // `path` empty: `loaded` is the built-in or embedded handler, which has no
  // file to re-read. Otherwise the file at `path` is the one `loaded` came from.
  HandlerModule(LoadedModule loaded, std::string path, std::string arg,
                std::chrono::seconds trial_timeout = kDefaultTrialTimeout);
  HandlerModule(const HandlerModule&) = delete;
  HandlerModule& operator=(const HandlerModule&) = delete;
  ~HandlerModule();  // kills a trial under way and waits for it

  const forkserve_module& get() const { return *current_.module; }

  // Failed and Unchanged leave everything as it was. Replaced: get() is the
  // new module; the one it replaces is kept, unfinished, until commit()
  // (finish and unload it) or rollback() (finish and unload the new one, back
  // to it). Trying: a trial process is proving the new file; the outcome comes
  // from trial_exited() or stop_overdue_trial().
  enum class Reload { Failed, Unchanged, Replaced, Trying };
  // Looks at the file now at the path. Unchanged when its content is the
  // module's (its identity — device, inode, size, mtime — is, or else its
  // bytes are); Trying, with `message` empty, when it differs (a trial of an
  // older file under way is killed: the newest wins; one of the same file
  // goes on); Failed when it cannot be read. Otherwise `message` is one line
  // for the error log saying what happened.
  Reload reload(std::string& message);

  // The trial under way: its process (which the caller reaps) and when it
  // must be stopped.
  std::optional<pid_t> trial_pid() const;
  std::optional<Deadline> trial_deadline() const;
  // A child not the caller's own was reaped. The trial under way: Replaced
  // (loaded here, as above) or Failed, and `message` says which. Any other
  // (a trial killed earlier, an orphan): nullopt.
  std::optional<Reload> trial_exited(pid_t pid, int status, std::string& message);
  // Past trial_deadline(): kills the trial (reaped later like any child); Failed.
  Reload stop_overdue_trial(std::string& message);
  // Stopping: kills every trial process and waits for it, so none outlives
  // the server.
  void stop_trials();

  // After Replaced: the new module stays, and the old one is finished and
  // unloaded; or the new one goes and the old one is back. A Replaced
  // arriving before either drops the module it replaces, which never served,
  // and keeps the one to go back to.
  void commit();
  void rollback();

 private:
  void kill_trial();  // the one under way, reaped later

  LoadedModule current_;
  std::optional<LoadedModule> previous_;  // after Replaced, until commit or rollback
  std::string path_;
  std::string arg_;
  std::chrono::seconds trial_timeout_;
  std::unique_ptr<ModuleTrial> trial_;  // the one under way
  std::vector<pid_t> killed_;           // trials killed, not yet reaped
};

}  // namespace forkserve

// Loads handler modules, proves them in a throwaway process first, and holds
// the one the server runs.
#pragma once

#include <forkserve/module.h>

#include <cstdint>
#include <optional>
#include <string>

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

// Copies the file at `path` (ModuleImage), loads the copy and runs init(arg)
// in a throwaway child, and only if that child ends well, loads it here. A
// file that crashes the loader or whose init() throws, crashes or hangs
// costs that child, never this process. (Without a process or descriptor to
// spare for the trial, at start-up, it loads without one.)
LoadedModule load_module(const std::string& path, const std::string& arg);

// The module the parent holds, which every child or worker forked from now
// on runs, and the way to replace it (SIGHUP). Runs fini() when destroyed.
class HandlerModule {
 public:
  // `path` empty: `loaded` is the built-in or embedded handler, which has no
  // file to re-read. Otherwise the file at `path` is the one `loaded` came from.
  HandlerModule(LoadedModule loaded, std::string path, std::string arg);
  HandlerModule(const HandlerModule&) = delete;
  HandlerModule& operator=(const HandlerModule&) = delete;
  ~HandlerModule();

  const forkserve_module& get() const { return *current_.module; }

  enum class Reload { Failed, Unchanged, Replaced };
  // Loads the file now at the path, if it differs from the one loaded (in
  // content: its identity — device, inode, size, mtime — changed and so did
  // its bytes), as load_module() does. On Replaced, get() is the new module
  // and the old one is kept, unfinished, until commit() (finish and unload
  // the old) or rollback() (finish and unload the new, back to the old). On
  // Failed nothing changed. `message` is one line for the error log saying
  // what happened.
  Reload reload(std::string& message);
  void commit();
  void rollback();

 private:
  LoadedModule current_;
  std::optional<LoadedModule> previous_;  // after Replaced, until commit or rollback
  std::string path_;
  std::string arg_;
};

}  // namespace forkserve

// Loads handler modules and checks their descriptors.
#pragma once

#include <forkserve/module.h>

#include <string>

namespace forkserve {

struct LoadedModule {
  const forkserve_module* module = nullptr;  // null on failure
  std::string error;                         // one line, e.g. "handler ./x.so: ..."
};

// Checks magic, ABI and required entry points, then runs init(arg).
// `label` names the module in messages.
LoadedModule start_module(const forkserve_module* module, const std::string& label, const std::string& arg);

// dlopen(RTLD_NOW | RTLD_LOCAL) + the versioned entry point + start_module.
// A path without '/' is taken relative to the current directory, not looked
// up in the library path. The library stays loaded for the process's life.
LoadedModule load_module(const std::string& path, const std::string& arg);

// The module the parent holds, which every child or worker forked from now
// on runs, and the way to replace it (SIGHUP). Runs fini() when destroyed.
class HandlerModule {
 public:
  // `path` empty: `loaded` is the built-in handler, which has no file to re-read.
  HandlerModule(const forkserve_module& loaded, std::string path, std::string arg)
      : module_(&loaded), path_(std::move(path)), arg_(std::move(arg)) {}
  HandlerModule(const HandlerModule&) = delete;
  HandlerModule& operator=(const HandlerModule&) = delete;
  ~HandlerModule();

  const forkserve_module& get() const { return *module_; }

  // Loads the file at the path again and runs its init; only then finishes
  // the old module. If the new one fails, the old one stays and this returns
  // false. `message` is one line for the error log saying what happened.
  bool reload(std::string& message);

 private:
  const forkserve_module* module_;
  std::string path_;
  std::string arg_;
  unsigned reloads_ = 0;
};

}  // namespace forkserve

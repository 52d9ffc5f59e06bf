// Loads handler modules and checks their descriptors.
#pragma once

#include <forkserve/module.h>

#include <sys/types.h>

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
  // `path` empty: `loaded` is the built-in handler, which has no file to
  // re-read. Otherwise the file at `path` is the one `loaded` came from.
  HandlerModule(const forkserve_module& loaded, std::string path, std::string arg);
  HandlerModule(const HandlerModule&) = delete;
  HandlerModule& operator=(const HandlerModule&) = delete;
  ~HandlerModule();

  const forkserve_module& get() const { return *module_; }

  enum class Reload { Failed, Unchanged, Replaced };
  // Loads the file now at the path, if it is another file than the one
  // loaded (another inode: what `install` or a rename leaves), and runs its
  // init. On Replaced, get() is the new module and the old one is kept,
  // unfinished, until commit() (finish the old) or rollback() (finish the
  // new, back to the old). On Failed nothing changed. `message` is one line
  // for the error log saying what happened.
  Reload reload(std::string& message);
  void commit();
  void rollback();

 private:
  const forkserve_module* module_;
  const forkserve_module* previous_ = nullptr;  // after Replaced, until commit or rollback
  std::string path_;
  std::string arg_;
  dev_t device_ = 0;  // the loaded file's identity
  ino_t inode_ = 0;
  unsigned loads_ = 0;
};

}  // namespace forkserve

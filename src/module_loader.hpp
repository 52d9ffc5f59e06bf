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

}  // namespace forkserve

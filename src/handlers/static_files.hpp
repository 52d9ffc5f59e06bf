// The built-in handler: serves a directory tree like `python3 -m http.server`.
#pragma once

#include <forkserve/module.h>

namespace forkserve::handlers {

// A module descriptor like any loaded one; init()'s argument is the
// document root.
const forkserve_module* static_files_module();

}  // namespace forkserve::handlers

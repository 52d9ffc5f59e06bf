// The built-in handler: serves a directory tree like `python3 -m http.server`.
#pragma once

#include <forkserve/module.h>

#include <string>

namespace forkserve::handlers {

// A module descriptor like any loaded one; init() takes the argument
// static_files_argument() builds.
const forkserve_module* static_files_module();

// The init argument: the document root, and whether listings show dotfiles.
std::string static_files_argument(const std::string& root, bool show_dotfiles);

}  // namespace forkserve::handlers

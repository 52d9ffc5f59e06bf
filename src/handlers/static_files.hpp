// The built-in handler: serves a directory tree (files, precompressed
// siblings, listings).
#pragma once

#include <forkserve/module.h>

#include <string>
#include <utility>
#include <vector>

namespace forkserve::handlers {

// What the command line sets for the built-in handler.
struct StaticFilesOptions {
  std::string root{};
  bool show_dotfiles = false;                                     // --show-dotfiles
  std::vector<std::string> index_names = {"index.html"};          // --index, in order
  std::vector<std::pair<std::string, std::string>> mime_types{};  // --mime-type: extension, type
  std::vector<std::pair<std::string, std::string>> headers{};     // --add-header: name, value
  std::string mime_types_file = "/etc/mime.types";                // read at init when present
};

// A module descriptor like any loaded one; init() takes the argument
// static_files_argument() builds, or just a document root.
const forkserve_module* static_files_module();

// The init argument: the options as lines, the root last.
std::string static_files_argument(const StaticFilesOptions& options);

}  // namespace forkserve::handlers

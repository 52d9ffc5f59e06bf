// libFuzzer target: make_safe_path on arbitrary bytes. Whatever it accepts
// must be a relative path with no way out of the root.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "handlers/safe_path.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view raw(reinterpret_cast<const char*>(data), size);
  forkserve::handlers::SafePath path = forkserve::handlers::make_safe_path(raw);
  if (!path.ok()) return 0;
  std::string_view relative = path.relative;
  if (relative.starts_with('/') || relative.ends_with('/')) std::abort();
  if (relative.find('\0') != std::string_view::npos || relative.find('\\') != std::string_view::npos) std::abort();
  while (!relative.empty()) {
    std::string_view segment = relative.substr(0, relative.find('/'));
    if (segment.empty() || segment == "." || segment == "..") std::abort();
    relative.remove_prefix(std::min(relative.size(), segment.size() + 1));
  }
  return 0;
}

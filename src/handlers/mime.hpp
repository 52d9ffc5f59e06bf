// File extension → Content-Type, for the static handler.
#pragma once

#include <string_view>

namespace forkserve::handlers {

// What unknown extensions are served as: the browser downloads, never sniffs
// into HTML.
inline constexpr std::string_view kDefaultMimeType = "application/octet-stream";

// The Content-Type for a file name (or path), chosen by the text after its
// last '.', case-insensitively: "index.HTML" → "text/html; charset=utf-8".
// Text types carry "; charset=utf-8". A name with no extension, or only a
// leading dot (".profile"), gets kDefaultMimeType.
std::string_view mime_type_for(std::string_view file_name);

}  // namespace forkserve::handlers

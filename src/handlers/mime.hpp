// File extension → Content-Type, for the static handler.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace forkserve::handlers {

// What unknown extensions are served as: the browser downloads, never sniffs
// into HTML.
inline constexpr std::string_view kDefaultMimeType = "application/octet-stream";

// The Content-Type for a file name (or path), chosen by the text after its
// last '.', case-insensitively: "index.HTML" → "text/html; charset=utf-8".
// Text types carry "; charset=utf-8". A name with no extension, or only a
// leading dot (".profile"), gets kDefaultMimeType.
std::string_view mime_type_for(std::string_view file_name);

// "text/html" → "text/html; charset=utf-8": every text/ type is sent as
// UTF-8 unless it names a charset already; other types are kept as given.
std::string with_charset(std::string_view type);

// The (extension, type) pairs of a mime.types(5) text: "type ext1 ext2"
// lines, '#' comments. Extensions come lower-cased, types as written.
std::vector<std::pair<std::string, std::string>> parse_mime_types(std::string_view text);

// The built-in table under overrides (from /etc/mime.types, then
// --mime-type), each looked up by lower-case extension.
class MimeMap {
 public:
  // Adds or replaces the type of `extension` (without the dot, any case),
  // with_charset() applied.
  void set(std::string_view extension, std::string_view type);
  // As mime_type_for(), overrides first.
  std::string_view type_for(std::string_view file_name) const;

 private:
  std::unordered_map<std::string, std::string> overrides_;
};

}  // namespace forkserve::handlers

// Request path → relative filesystem path, for the static handler.
//
// Pure string work, no filesystem access: the raw (still percent-encoded)
// request path is split on '/', each segment is percent-decoded exactly once,
// and the result is either a relative path safe to open under the document
// root or a refusal. Symlinks are the caller's business (it must still check
// where the opened path really lives).
#pragma once

#include <string>
#include <string_view>

namespace forkserve::handlers {

// Why a path was refused. The static handler answers 400 for
// MalformedEscape and NotAbsolute (the request itself is broken) and 404 for
// the rest (the name cannot exist under the root; 404 tells a prober nothing).
enum class PathRefusal {
  None,
  NotAbsolute,       // does not start with '/'
  MalformedEscape,   // '%' not followed by two hex digits ("%zz", "%4")
  DotDot,            // a ".." segment, in any encoding ("%2e%2e", ".%2E", ...)
  EncodedSeparator,  // "%2f" or "%2F": a '/' inside a segment
  Backslash,         // '\' literal or as "%5c"/"%5C"
  Nul,               // "%00" or a raw NUL byte
};

struct SafePath {
  PathRefusal refusal = PathRefusal::None;
  // Decoded segments joined by '/': "docs/a b.txt"; "" for the root itself.
  // No leading or trailing '/', no empty, "." or ".." segment. Only
  // meaningful when refusal == None.
  std::string relative;
  // The raw path ended in '/' ("/docs/"); a directory is listed only then.
  bool trailing_slash = false;

  bool ok() const { return refusal == PathRefusal::None; }
};

// "/docs//./a%20b.txt" → {None, "docs/a b.txt", false}
// "/docs/"             → {None, "docs", true}
// "/a/%2e%2e/b"        → {DotDot}
// "/%252e%252e"        → {None, "%2e%2e", false}: decoded once, a plain name
SafePath make_safe_path(std::string_view raw_path);

}  // namespace forkserve::handlers

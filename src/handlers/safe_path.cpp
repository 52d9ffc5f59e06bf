#include "handlers/safe_path.hpp"

#include "http/url.hpp"

namespace forkserve::handlers {
namespace {

// Decodes one segment (no '/' in it) into `out`; refuses bytes that would
// change the meaning of the path once decoded.
PathRefusal decode_segment(std::string_view segment, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < segment.size(); ++i) {
    char c = segment[i];
    if (c == '%') {
      int high = i + 1 < segment.size() ? forkserve::detail::hex_value(segment[i + 1]) : -1;
      int low = i + 2 < segment.size() ? forkserve::detail::hex_value(segment[i + 2]) : -1;
      if (high < 0 || low < 0) return PathRefusal::MalformedEscape;
      c = static_cast<char>(high * 16 + low);
      i += 2;
      if (c == '/') return PathRefusal::EncodedSeparator;
    }
    // Raw or decoded, a NUL would cut the name short at open(2).
    if (c == '\0') return PathRefusal::Nul;
    // A '\' is a separator to some tools and to every Windows client; it has
    // no business in a name served over HTTP.
    if (c == '\\') return PathRefusal::Backslash;
    out.push_back(c);
  }
  return PathRefusal::None;
}

}  // namespace

SafePath make_safe_path(std::string_view raw_path) {
  SafePath result;
  if (raw_path.empty() || raw_path.front() != '/') {
    result.refusal = PathRefusal::NotAbsolute;
    return result;
  }
  result.trailing_slash = raw_path.back() == '/';

  // Every segment is checked, including ones after a refusal would be found,
  // in order: a malformed escape anywhere wins, so "%zz" is always a 400.
  std::string decoded;
  PathRefusal first_refusal = PathRefusal::None;
  std::size_t start = 1;
  while (start <= raw_path.size()) {
    std::size_t end = raw_path.find('/', start);
    if (end == std::string_view::npos) end = raw_path.size();
    const std::string_view segment = raw_path.substr(start, end - start);
    start = end + 1;

    PathRefusal refusal = decode_segment(segment, decoded);
    if (refusal == PathRefusal::None && decoded == "..") refusal = PathRefusal::DotDot;
    if (refusal == PathRefusal::MalformedEscape) {
      result.refusal = refusal;
      return result;
    }
    if (refusal != PathRefusal::None) {
      if (first_refusal == PathRefusal::None) first_refusal = refusal;
      continue;
    }
    if (decoded.empty() || decoded == ".") continue;
    if (!result.relative.empty()) result.relative.push_back('/');
    result.relative += decoded;
  }
  if (first_refusal != PathRefusal::None) {
    result.refusal = first_refusal;
    result.relative.clear();
  }
  return result;
}

}  // namespace forkserve::handlers

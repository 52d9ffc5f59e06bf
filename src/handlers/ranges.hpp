// Range requests (RFC 9110 §14): which bytes of a representation to send.
// Pure string work, fuzzed (tests/fuzz/file_headers_fuzz.cpp).
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace forkserve::handlers {

// A request may ask for at most this many ranges; past it the whole file is
// sent (200), as nginx does, so a long list of tiny ranges cannot turn one
// request into thousands of multipart heads.
inline constexpr std::size_t kMaxRanges = 16;

struct ByteRange {
  unsigned long long first = 0;
  unsigned long long last = 0;  // inclusive, < the length
  unsigned long long size() const { return last - first + 1; }
};

struct RangeAnswer {
  enum class Kind {
    Whole,          // 200: no Range, another unit, a malformed value, or past a cap
    Partial,        // 206: `ranges` in the order asked, each within the length
    Unsatisfiable,  // 416: no range starts inside the representation
  };
  Kind kind = Kind::Whole;
  std::vector<ByteRange> ranges;
};

// What to send for a Range header value ("bytes=0-99,-500") against a
// representation of `length` bytes. The caps: at most kMaxRanges ranges, and
// ranges whose sizes add up to more than the length (overlap) give Whole, so
// a request never costs more than the whole file.
RangeAnswer evaluate_range(std::string_view header, unsigned long long length);

}  // namespace forkserve::handlers

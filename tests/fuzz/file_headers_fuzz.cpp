// libFuzzer target: the static handler's header parsers (Range,
// If-*/ETag lists, Accept-Encoding) on arbitrary bytes. Whatever they accept
// must stay within the file and the caps.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "handlers/accept_encoding.hpp"
#include "handlers/conditional.hpp"
#include "handlers/ranges.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace forkserve::handlers;
  // The first two bytes pick the file length (0-65535); the rest is the header.
  if (size < 2) return 0;
  const unsigned long long length = static_cast<unsigned long long>(data[0]) << 8 | data[1];
  const std::string_view header(reinterpret_cast<const char*>(data + 2), size - 2);

  const RangeAnswer answer = evaluate_range(header, length);
  if (answer.kind == RangeAnswer::Kind::Partial) {
    if (answer.ranges.empty() || answer.ranges.size() > kMaxRanges) std::abort();
    unsigned long long total = 0;
    for (const ByteRange& r : answer.ranges) {
      if (r.first > r.last || r.last >= length) std::abort();
      total += r.size();
    }
    if (total > length) std::abort();
  } else if (!answer.ranges.empty()) {
    std::abort();
  }

  const int weight = coding_weight(header, "gzip");
  if (weight < 0 || weight > 1000) std::abort();

  const Validators current{"\"1-2-3\"", 784111777};
  evaluate_preconditions({header, header, header, header}, current);
  // Only the current tag or a date (which has spaces) can hold.
  if (if_range_holds(header, current) && header.find("\"1-2-3\"") == std::string_view::npos &&
      header.find(' ') == std::string_view::npos) {
    std::abort();
  }
  return 0;
}

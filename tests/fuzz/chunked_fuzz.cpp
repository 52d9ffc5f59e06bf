// libFuzzer target: the chunked decoder on arbitrary bytes, fed whole and cut
// at a point the input chooses. Besides what the sanitizers catch, it checks
// the decoder's contract: data views lie inside the input, never more is
// decoded than the limit, errors carry 400 or 413 and a reason, and the
// outcome does not depend on how the bytes were split.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/chunked.hpp"

namespace {

using forkserve::http::ChunkedDecoder;
using forkserve::http::ChunkedLimits;
using forkserve::http::ChunkedStatus;
using forkserve::http::ChunkedStep;

void require(bool condition) {
  if (!condition) std::abort();
}

struct Outcome {
  int status = 0;  // 200 Done, 400/413 Error, 0 wants more
  std::string decoded;
  std::size_t consumed = 0;
};

// Small limits, so that short inputs reach every bound.
const ChunkedLimits kLimits{256, 32, 64};

void feed(ChunkedDecoder& decoder, std::string_view input, Outcome& outcome) {
  while (outcome.status == 0) {
    ChunkedStep step = decoder.decode(input);
    require(step.consumed <= input.size());
    require(step.data.empty() || (step.data.data() >= input.data() &&
                                  step.data.data() + step.data.size() <= input.data() + step.consumed));
    outcome.decoded.append(step.data);
    outcome.consumed += step.consumed;
    input.remove_prefix(step.consumed);
    if (step.status == ChunkedStatus::Error) {
      require(step.error_status == 400 || step.error_status == 413);
      require(!step.reason.empty() && step.data.empty());
      outcome.status = step.error_status;
    } else if (step.status == ChunkedStatus::Done) {
      outcome.status = 200;
    } else if (input.empty()) {
      return;
    } else {
      require(step.consumed > 0);  // Continue with input left means progress was made
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  ChunkedDecoder whole_decoder(kLimits);
  Outcome whole;
  feed(whole_decoder, input, whole);
  require(whole.decoded.size() <= kLimits.max_body_bytes);
  require(whole.decoded.size() == whole_decoder.decoded_bytes());

  std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  ChunkedDecoder split_decoder(kLimits);
  Outcome split;
  feed(split_decoder, input.substr(0, cut), split);
  if (split.status == 0) feed(split_decoder, input.substr(split.consumed), split);
  require(split.status == whole.status && split.decoded == whole.decoded && split.consumed == whole.consumed);
  return 0;
}

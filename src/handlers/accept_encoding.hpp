// Accept-Encoding (RFC 9110 §12.5.3): which precompressed sidecar, if any,
// a client takes. Pure; fuzzed with the range parser.
#pragma once

#include <string_view>

namespace forkserve::handlers {

// The weight (0-1000, q=1 is 1000) the Accept-Encoding value gives a
// content coding: its own entry, else "*", else 0. "x-gzip" counts as gzip.
// Malformed weights count as 0 for their entry.
int coding_weight(std::string_view accept_encoding, std::string_view coding);

}  // namespace forkserve::handlers

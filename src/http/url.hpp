// Percent-encoding (RFC 3986 §2.1).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace forkserve::http {

// The value of one hex digit (either case), or -1.
int hex_digit_value(char c);

// Decodes %XX escapes ('+' stays '+': that is form encoding, not URL
// encoding). nullopt for a malformed escape or an encoded NUL.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace forkserve::http

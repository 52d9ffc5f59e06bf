// Percent-encoding (RFC 3986 §2.1).
#pragma once

#include <forkserve/http_rules.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace forkserve::http {

// Decodes %XX escapes ('+' stays '+': that is form encoding, not URL
// encoding). nullopt for a malformed escape or an encoded NUL.
std::optional<std::string> percent_decode(std::string_view text);

}  // namespace forkserve::http

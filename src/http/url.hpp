// Percent-encoding (RFC 3986 §2.1).
#pragma once

#include <forkserve/form.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace forkserve::http {

// Decodes %XX escapes ('+' stays '+': that is form encoding, not URL
// encoding). nullopt for a malformed escape or an encoded NUL. The SDK's
// rule, which forkserve::testing's client applies too.
inline std::optional<std::string> percent_decode(std::string_view text) {
  return forkserve::detail::decode_request_path(text);
}

}  // namespace forkserve::http

// HTTP and log timestamps, without locale or stdio (children format one per request).
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace forkserve::http {

// IMF-fixdate (RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT".
std::string format_http_date(std::time_t t);

// Accepts IMF-fixdate and the two obsolete forms RFC 9110 says recipients
// must accept (RFC 850 and asctime); nullopt for anything else.
std::optional<std::time_t> parse_http_date(std::string_view text);

// Common Log Format timestamp in UTC, without brackets: "10/Oct/2000:13:55:36 +0000".
std::string format_log_date(std::time_t t);

// RFC 3339 timestamp in UTC with milliseconds, "2026-11-30T03:47:30.123Z",
// written at `out` (kRfc3339Size bytes); returns the new end. Async-signal-safe,
// for error lines written from the child's timeout handler.
constexpr std::size_t kRfc3339Size = 24;
char* append_rfc3339(char* out, std::time_t t, int milliseconds);

// The RFC 3164 syslog timestamp of `t` in UTC, "Nov  3 07:58:00", written at
// `out` (kSyslogTimeSize bytes); returns the new end. Async-signal-safe.
constexpr std::size_t kSyslogTimeSize = 15;
char* append_syslog_time(char* out, std::time_t t);

}  // namespace forkserve::http

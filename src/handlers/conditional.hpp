// Validators and conditional requests (RFC 9110 §8.8, §13): the ETag of a
// file, and what If-Match, If-None-Match, If-Modified-Since,
// If-Unmodified-Since and If-Range ask. Pure; fuzzed with the range parser.
#pragma once

#include <sys/stat.h>

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace forkserve::handlers {

// A strong ETag from the file's identity (device, inode), size and
// modification time in nanoseconds: "\"fd01-1a2b-3c-65f0c1d2.1f3a\"". Any
// change of content that goes through the file system changes one of them.
std::string make_etag(const struct stat& st);

// What the request's validators are compared with.
struct Validators {
  std::string_view etag;  // as make_etag() gives it, quotes included
  std::time_t modified = 0;
};

// The conditional headers of a request; nullopt where absent.
struct Conditions {
  std::optional<std::string_view> if_match = std::nullopt;
  std::optional<std::string_view> if_none_match = std::nullopt;
  std::optional<std::string_view> if_modified_since = std::nullopt;
  std::optional<std::string_view> if_unmodified_since = std::nullopt;
};

enum class Precondition {
  Proceed,      // send the representation (or its ranges)
  NotModified,  // 304
  Failed,       // 412
};

// RFC 9110 §13.2.2's order, for GET and HEAD: If-Match, else
// If-Unmodified-Since (→ 412); then If-None-Match (→ 304), else
// If-Modified-Since (→ 304). Dates that do not parse are ignored.
Precondition evaluate_preconditions(const Conditions& conditions, const Validators& current);

// If-Range (§13.1.5): true when the ranges may be sent, i.e. the value is
// the current strong ETag or exactly the current Last-Modified date.
bool if_range_holds(std::string_view if_range, const Validators& current);

// True if `tag` appears in an entity-tag list ("*", "\"a\", W/\"b\"").
// Strong comparison ignores weak tags; weak comparison drops the W/.
bool etag_list_matches(std::string_view list, std::string_view tag, bool strong);

}  // namespace forkserve::handlers

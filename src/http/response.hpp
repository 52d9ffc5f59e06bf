// Response heads: validating what a handler asks for and writing it out.
// Pure functions; the child's ResponseWriter does the I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace forkserve::http {

struct OwnedHeader {
  std::string name;
  std::string value;
};

// What a handler may pass to start_response: the rules of the public
// <forkserve/http_rules.hpp>, which forkserve::testing applies too.
// nullopt if `status` is "NNN Reason" (200-599), else what is wrong with it.
std::optional<std::string_view> check_status(std::string_view status);
// nullopt if the header may be sent, else why not.
std::optional<std::string_view> check_header(std::string_view name, std::string_view value);

// "Not Found" for 404; "Unknown" for codes without a standard phrase.
std::string_view reason_phrase(int status);

// "404 Not Found": the status line (without the version) for `status`.
std::string status_line(int status);

// The status line and headers, ending with the blank line. Adds Date and
// Server unless the handler gave them, Content-Length when `content_length`
// is known and the handler did not give one, and Connection: close.
std::string serialize_head(std::string_view status, const std::vector<OwnedHeader>& headers,
                           std::optional<unsigned long long> content_length, std::string_view date);

// A complete server-generated response, e.g. 400 with a text body naming the problem.
std::string error_response(int status, std::string_view detail, std::string_view date,
                           const std::vector<OwnedHeader>& extra_headers = {});

}  // namespace forkserve::http

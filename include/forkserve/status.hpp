// HTTP status codes checked at compile time, and the exception that carries
// one out of a handler.
//
//     start_response(forkserve::status::not_found, headers);  // "404 Not Found"
//     start_response(forkserve::Status(404), headers);        // the same
//     start_response(forkserve::Status(299), headers);        // does not compile
//
// A Status converts to the "NNN Reason" string start_response takes, so the
// string form stays available for the rare custom status ("299 Custom").
#ifndef FORKSERVE_STATUS_HPP
#define FORKSERVE_STATUS_HPP

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace forkserve {

namespace detail {
// The final statuses a handler may send (the server refuses 1xx), RFC 9110
// §15 plus 429 and 431 (RFC 6585) and 451 (RFC 7725).
inline constexpr std::array<std::string_view, 45> kStatusLines = {
    "200 OK",
    "201 Created",
    "202 Accepted",
    "203 Non-Authoritative Information",
    "204 No Content",
    "205 Reset Content",
    "206 Partial Content",
    "300 Multiple Choices",
    "301 Moved Permanently",
    "302 Found",
    "303 See Other",
    "304 Not Modified",
    "307 Temporary Redirect",
    "308 Permanent Redirect",
    "400 Bad Request",
    "401 Unauthorized",
    "402 Payment Required",
    "403 Forbidden",
    "404 Not Found",
    "405 Method Not Allowed",
    "406 Not Acceptable",
    "407 Proxy Authentication Required",
    "408 Request Timeout",
    "409 Conflict",
    "410 Gone",
    "411 Length Required",
    "412 Precondition Failed",
    "413 Content Too Large",
    "414 URI Too Long",
    "415 Unsupported Media Type",
    "416 Range Not Satisfiable",
    "417 Expectation Failed",
    "421 Misdirected Request",
    "422 Unprocessable Content",
    "426 Upgrade Required",
    "428 Precondition Required",
    "429 Too Many Requests",
    "431 Request Header Fields Too Large",
    "451 Unavailable For Legal Reasons",
    "500 Internal Server Error",
    "501 Not Implemented",
    "502 Bad Gateway",
    "503 Service Unavailable",
    "504 Gateway Timeout",
    "505 HTTP Version Not Supported",
};

constexpr std::optional<std::string_view> status_line_for(int code) {
  for (std::string_view line : kStatusLines) {
    const int line_code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (line_code == code) return line;
  }
  return std::nullopt;
}
}  // namespace detail

class Status {
 public:
  // Only a constant known to the table above compiles.
  consteval Status(int code) : line_(known(code)) {}

  // The same at run time, for a code computed from data: nullopt if unknown.
  static constexpr std::optional<Status> find(int code) {
    if (auto line = detail::status_line_for(code)) return Status(*line);
    return std::nullopt;
  }

  constexpr int code() const { return (line_[0] - '0') * 100 + (line_[1] - '0') * 10 + (line_[2] - '0'); }
  constexpr std::string_view reason() const { return line_.substr(4); }
  constexpr std::string_view line() const { return line_; }  // "404 Not Found"
  constexpr operator std::string_view() const { return line_; }
  friend constexpr bool operator==(Status a, Status b) { return a.line_ == b.line_; }

 private:
  constexpr explicit Status(std::string_view line) : line_(line) {}
  static consteval std::string_view known(int code) {
    auto line = detail::status_line_for(code);
    if (!line) throw "forkserve::Status: not a standard HTTP status code a handler may send";
    return *line;
  }

  std::string_view line_;
};

namespace status {
inline constexpr Status ok{200};
inline constexpr Status created{201};
inline constexpr Status accepted{202};
inline constexpr Status no_content{204};
inline constexpr Status partial_content{206};
inline constexpr Status moved_permanently{301};
inline constexpr Status found{302};
inline constexpr Status see_other{303};
inline constexpr Status not_modified{304};
inline constexpr Status temporary_redirect{307};
inline constexpr Status permanent_redirect{308};
inline constexpr Status bad_request{400};
inline constexpr Status unauthorized{401};
inline constexpr Status forbidden{403};
inline constexpr Status not_found{404};
inline constexpr Status method_not_allowed{405};
inline constexpr Status not_acceptable{406};
inline constexpr Status conflict{409};
inline constexpr Status gone{410};
inline constexpr Status length_required{411};
inline constexpr Status precondition_failed{412};
inline constexpr Status content_too_large{413};
inline constexpr Status uri_too_long{414};
inline constexpr Status unsupported_media_type{415};
inline constexpr Status range_not_satisfiable{416};
inline constexpr Status unprocessable_content{422};
inline constexpr Status too_many_requests{429};
inline constexpr Status internal_server_error{500};
inline constexpr Status not_implemented{501};
inline constexpr Status bad_gateway{502};
inline constexpr Status service_unavailable{503};
inline constexpr Status gateway_timeout{504};
}  // namespace status

// Thrown from a handler (or a helper it calls) to answer with `status` and a
// text/plain body holding the message; forkserve::Router catches it.
class HttpError : public std::runtime_error {
 public:
  HttpError(Status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  Status status() const { return status_; }

 private:
  Status status_;
};

// Malformed request input: a bad percent escape, a broken multipart body, an
// unparsable number. Answered with 400.
class BadRequest : public HttpError {
 public:
  explicit BadRequest(const std::string& message) : HttpError(status::bad_request, message) {}
};

}  // namespace forkserve

#endif  // FORKSERVE_STATUS_HPP

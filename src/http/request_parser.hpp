// Request-head parser: pure, incremental, zero-copy.
//
// The caller owns the buffer; every string_view in the result points into it
// (except static text: error reasons, and path "/" for "http://host").
// Feed it everything received so far: it answers Complete (with the head's
// length, so any bytes after it are the body), Incomplete (read more), or
// Error (with the HTTP status to answer and a short reason). It never reads
// past buffer.size(). Every rule is decided by the bytes seen so far, so a
// prefix of a request gives Incomplete or the same error as the whole.
//
// It rejects rather than repairs (RFC 9112 §11.2, request smuggling):
//   400  bare CR; more than a few empty lines before the request line; not
//        exactly `method SP target SP HTTP/d.d`; method not a token; target
//        not origin-form, absolute-form (http:// or https://) or `*` with
//        OPTIONS; target byte <= 0x20 or 0x7F; header line starting with
//        SP/HTAB (obs-fold); header name not a token or followed by
//        whitespace; control byte in a value; Content-Length not 1*DIGIT or
//        overflowing, or sent twice; Content-Length with Transfer-Encoding;
//        two Host headers, or none in HTTP/1.1
//   414  request line over max_request_line (before its end has arrived)
//   431  head over max_header_bytes (before its end has arrived), or more
//        than max_headers fields
//   501  Transfer-Encoding other than exactly one `chunked`; chunked in
//        HTTP/1.0 is a 400 (the body is then decoded by http/chunked.hpp)
//   505  well-formed version other than HTTP/1.0 and HTTP/1.1
#pragma once

#include <cstddef>
#include <forkserve/http_rules.hpp>
#include <optional>
#include <string_view>
#include <vector>

namespace forkserve::http {

struct HeaderField {
  std::string_view name;   // as sent; compare with iequals()
  std::string_view value;  // leading and trailing spaces/tabs removed
};

struct RequestHead {
  std::string_view method;        // case-sensitive token, e.g. "GET"
  std::string_view target;        // request-target as sent, e.g. "/a%20b?x=1"
  std::string_view path;          // target up to '?', absolute-form reduced to its path, "*" for OPTIONS *
  std::string_view query;         // after the first '?', without it; empty if none
  std::string_view version;       // "HTTP/1.0" or "HTTP/1.1"
  int version_minor = 0;          // 0 or 1
  std::string_view request_line;  // the first line without its line ending
  std::vector<HeaderField> headers;
  std::optional<unsigned long long> content_length;  // set iff a valid Content-Length came
  bool chunked = false;                              // Transfer-Encoding: chunked (never with content_length)

  // First header with this name (case-insensitive), or nullptr.
  const HeaderField* find(std::string_view name) const;

  // An HTTP/1.1 request with "Expect: 100-continue": the client waits (curl
  // 1 s) for an interim 100 or a final status before sending its body. From
  // an HTTP/1.0 client the expectation is ignored (RFC 9110 §10.1.1).
  bool expects_continue() const;
};

// The interim response that lets such a client send its body now.
inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

// Caps on the head; exceeding one is an Error with the status in brackets.
// Limits are checked as the scan reaches them, so with the defaults an
// over-long request line is a 414 even when the buffer is over 64 KiB.
struct Limits {
  std::size_t max_request_line = 8 * 1024;   // [414] long URLs are the usual abuse
  std::size_t max_header_bytes = 64 * 1024;  // [431] the whole head
  std::size_t max_headers = 100;             // [431]
};

enum class ParseStatus { Complete, Incomplete, Error };

struct ParseResult {
  ParseStatus status = ParseStatus::Incomplete;
  std::size_t head_length = 0;  // Complete: bytes up to and including the blank line
  int error_status = 0;         // Error: 400, 414, 431, 501, 505
  std::string_view reason;      // Error: static text, e.g. "invalid header name"
  RequestHead head;             // Complete only; empty otherwise
};

ParseResult parse_request_head(std::string_view buffer, const Limits& limits = {});

// ASCII case-insensitive equality, as header names compare (no locale).
using forkserve::iequals;

// RFC 9110 token (a method or a header name): one or more tchar. The SDK's
// definition, so that the server and a handler's checks cannot disagree.
using forkserve::detail::is_token;

// `text` without the optional whitespace (spaces and tabs, RFC 9110 §5.6.3)
// around it: list elements and parameters of header values.
constexpr std::string_view trim_ows(std::string_view text) { return forkserve::detail::trim(text); }

}  // namespace forkserve::http

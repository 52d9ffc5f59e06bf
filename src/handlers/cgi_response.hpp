// The header block a CGI program writes before its body (RFC 3875 §6):
// pure, parsed strictly, because whatever it lets through goes to the client.
//
// Lines end with LF or CRLF; the block ends at an empty line. Each line is
// `token ":" value` (leading and trailing blanks of the value dropped); a bare
// CR, a control byte, a continuation line, a repeated Status, Content-Type or
// Location, or a block over `max_bytes` is an Error, as is a block with none
// of Content-Type, Location and Status. Then:
//   Location with a local path ("/x?y") and no Status other than 200: a local
//     redirect, which the server serves itself as a new GET;
//   Location with an absolute URI ("scheme:..."): a client redirect, 302
//     unless Status says otherwise;
//   anything else: a document, Status or "200 OK".
// Other fields are passed on for the response writer's own validation.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "http/response.hpp"

namespace forkserve::handlers {

enum class CgiHeadStatus { Complete, Incomplete, Error };
enum class CgiResponseKind { Document, LocalRedirect, ClientRedirect };

struct CgiHead {
  CgiHeadStatus status = CgiHeadStatus::Incomplete;
  std::size_t head_length = 0;  // Complete: the bytes up to and including the empty line
  std::string_view reason;      // Error: static text
  CgiResponseKind kind = CgiResponseKind::Document;
  std::string status_line;                 // "200 OK", "302 Found", "404 Not Found"
  std::string location;                    // LocalRedirect: the path and query to serve instead
  std::vector<http::OwnedHeader> headers;  // what goes to the client (Status removed)
};

// Feed it everything the program wrote so far.
CgiHead parse_cgi_head(std::string_view output, std::size_t max_bytes = 64 * 1024);

// "HTTP/1.1 200 OK\r\n..." → 200, from the status line an nph- program wrote
// itself; 0 when it is not one.
int nph_status(std::string_view output);

}  // namespace forkserve::handlers

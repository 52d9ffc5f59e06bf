// The answer to GET or HEAD of one open regular file: validators, ranges,
// Content-Type. The built-in handler calls it after choosing the file; the
// server's send_file call for modules can call it the same way.
#pragma once

#include <sys/stat.h>

#include <forkserve/handler.hpp>
#include <string>

#include "net/io.hpp"

namespace forkserve::handlers {

struct FileRepresentation {
  std::string content_type;      // "text/plain; charset=utf-8"
  std::string content_encoding;  // "gzip", "br"; empty for the file as it is
  // A precompressed sibling exists, so the answer depends on Accept-Encoding.
  bool vary_accept_encoding = false;
  // Added to every 2xx and 304 answer ("Cache-Control: max-age=60").
  Headers extra_headers;
};

// Answers the request in `environ` (GET or HEAD; the caller refuses other
// methods) with the file `fd` (`st` its fstat): ETag and Last-Modified;
// If-Match / If-Unmodified-Since → 412, If-None-Match / If-Modified-Since →
// 304; Range (with If-Range) → 206 with one region sent by sendfile, several
// as multipart/byteranges, or 416; otherwise 200 with the whole file.
// Takes the descriptor: the returned Body closes it.
Body send_file_response(Environ& environ, StartResponse& start_response, UniqueFd fd, const struct stat& st,
                        const FileRepresentation& representation);

}  // namespace forkserve::handlers

// Sending a file as the server's own static handler would:
//
//     return forkserve::send_file(environ, start_response, "/srv/reports/2026.pdf",
//                                 {{"Content-Disposition", "attachment"}});
//
// The server does the work (module.h's file_reply, ABI 1.2): the MIME type
// from the name, Last-Modified and 304 for If-Modified-Since, 403/404 for a
// file that cannot be served, and whatever else its static handler does. The
// answer comes back as a status, headers and the file's region; send_file
// adds `headers` and returns it as this handler's response, sent with
// sendfile(2).
//
// `path` is a filesystem path the handler chose: the server does not confine
// it to a document root, so never build it from request input unchecked.
#ifndef FORKSERVE_FILES_HPP
#define FORKSERVE_FILES_HPP

#include <forkserve/module.h>

#include <forkserve/handler.hpp>
#include <string>
#include <string_view>
#include <utility>

namespace forkserve {

// Whether the server offers file_reply (a server older than ABI 1.2 does not).
inline bool server_sends_files(const Environ& environ) {
  const forkserve_request& request = environ.request();
  return FORKSERVE_REQUEST_HAS(&request, file_reply) && request.file_reply != nullptr;
}

// The response for the file at `path`, with `headers` added to the server's.
// Throws ResponseError if the server has no file_reply or refuses the path.
inline Body send_file(Environ& environ, StartResponse& start_response, std::string_view path,
                      const Headers& headers = {}) {
  if (!server_sends_files(environ)) throw ResponseError("send_file: this server has no file_reply (ABI 1.2)");
  const forkserve_request& request = environ.request();
  forkserve_file_reply reply{};
  reply.size = sizeof reply;
  reply.fd = -1;
  detail::check(request, request.file_reply(request.server, to_str(path), &reply));
  // Owned before anything else can throw, so the descriptor is never leaked.
  Body body = reply.fd >= 0 ? Body::file(reply.fd, reply.offset, reply.length)
                            : Body::text(std::string(to_view(reply.text)));
  Headers all;
  all.reserve(reply.header_count + headers.size());
  for (std::size_t i = 0; i < reply.header_count; ++i) {
    all.push_back(
        {std::string(to_view(reply.headers[i].name)), std::string(to_view(reply.headers[i].value))});
  }
  all.insert(all.end(), headers.begin(), headers.end());
  start_response(to_view(reply.status), all);
  return body;
}

}  // namespace forkserve

#endif  // FORKSERVE_FILES_HPP

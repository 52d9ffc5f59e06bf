// The server call behind forkserve::send_file (module.h's file_reply): the
// built-in static handler's answer for one file, captured instead of sent, so
// the module sends it as its own response (and may add headers to it).
//
// The static handler runs as a handler against a recording request: what it
// passes to start_response, and the file region or text its Body sends, are
// kept here. So send_file answers exactly as the static handler does (MIME
// type, Last-Modified/304, and whatever that handler learns later) without a
// second copy of its logic.
#pragma once

#include <forkserve/module.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/io.hpp"

namespace forkserve {

class FileReply {
 public:
  // Runs the static handler's file logic for `path` with `request`'s environ
  // (its conditional headers count) and fills `out`, whose views stay valid
  // while this object lives. The fd given in `out` becomes the caller's. False
  // (and error()) if `path` is unusable as a path or the handler failed.
  bool capture(const forkserve_request& request, std::string_view path, forkserve_file_reply& out);
  const std::string& error() const { return error_; }

 private:
  static FileReply& self(void* recorder) { return *static_cast<FileReply*>(recorder); }
  static long long no_input(void*, char*, std::size_t) { return 0; }
  static void log_error(void* recorder, const char* message, std::size_t size);
  static int start_response(void* recorder, forkserve_str status, const forkserve_pair* headers,
                            std::size_t count, int replace);
  static int set_content_length(void*, unsigned long long) { return FORKSERVE_OK; }
  static int write(void* recorder, const char* data, std::size_t size);
  static int send_file(void* recorder, int fd, long long offset, unsigned long long length);
  static int headers_sent(void*) { return 0; }
  static const char* last_error(void* recorder) { return self(recorder).error_.c_str(); }

  const forkserve_request* original_ = nullptr;  // where log_error goes
  std::string status_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::vector<forkserve_pair> pairs_;
  UniqueFd fd_;
  long long offset_ = 0;
  unsigned long long length_ = 0;
  std::string text_;
  std::string error_;
};

}  // namespace forkserve

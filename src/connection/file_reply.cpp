#include "connection/file_reply.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <forkserve/handler.hpp>
#include <forkserve/response.hpp>

#include "handlers/file_response.hpp"
#include "handlers/mime.hpp"

namespace forkserve {
namespace {

// The file a module named, answered by the static handler's file logic
// (validators, ranges, MIME type by name); 403/404 for what cannot be sent.
Body answer_for_file(Environ& environ, StartResponse& start_response, const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not block; the fstat below refuses it.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  struct stat st {};
  if (fd && ::fstat(fd.get(), &st) != 0) fd.reset();
  if (!fd) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR || error == ELOOP || error == ENAMETOOLONG) {
      return forkserve::error(start_response, status::not_found);
    }
    if (error != EACCES && error != EPERM) {
      environ.errors().write("send_file: open " + path + ": " + std::strerror(error));
      return forkserve::error(start_response, status::internal_server_error);
    }
    return forkserve::error(start_response, status::forbidden);
  }
  if (!S_ISREG(st.st_mode)) return forkserve::error(start_response, status::forbidden);
  handlers::FileRepresentation representation;
  representation.content_type = handlers::mime_type_for(path);
  return handlers::send_file_response(environ, start_response, std::move(fd), st, representation);
}

}  // namespace

void FileReply::log_error(void* recorder, const char* message, std::size_t size) {
  const forkserve_request& original = *self(recorder).original_;
  original.log_error(original.server, message, size);
}

int FileReply::start_response(void* recorder, forkserve_str status, const forkserve_pair* headers,
                              std::size_t count, int) {
  FileReply& reply = self(recorder);
  reply.status_.assign(status.data, status.size);
  reply.headers_.clear();
  for (std::size_t i = 0; i < count; ++i) {
    reply.headers_.emplace_back(std::string(to_view(headers[i].name)),
                                std::string(to_view(headers[i].value)));
  }
  return FORKSERVE_OK;
}

int FileReply::write(void* recorder, const char* data, std::size_t size) {
  self(recorder).text_.append(data, size);
  return FORKSERVE_OK;
}

// The Body closes its descriptor when it is destroyed: keep a duplicate.
int FileReply::send_file(void* recorder, int fd, long long offset, unsigned long long length) {
  FileReply& reply = self(recorder);
  reply.fd_ = UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!reply.fd_) {
    reply.error_ = std::string("send_file: dup: ") + std::strerror(errno);
    return FORKSERVE_FAILED;
  }
  reply.offset_ = offset;
  reply.length_ = length;
  return FORKSERVE_OK;
}

bool FileReply::capture(const forkserve_request& request, std::string_view path, forkserve_file_reply& out) {
  if (path.empty() || path.find('\0') != std::string_view::npos) {
    error_ = "send_file: the path is empty or holds a NUL byte";
    return false;
  }
  original_ = &request;
  forkserve_request recorder = request;
  recorder.server = this;
  recorder.read_input = &no_input;
  recorder.log_error = &FileReply::log_error;
  recorder.start_response = &FileReply::start_response;
  recorder.set_content_length = &FileReply::set_content_length;
  recorder.write = &FileReply::write;
  recorder.send_file = &FileReply::send_file;
  recorder.headers_sent = &FileReply::headers_sent;
  recorder.last_error = &FileReply::last_error;
  try {
    Environ environ(recorder);
    StartResponse start_response(recorder);
    Body body = answer_for_file(environ, start_response, std::string(path));
    body.send(recorder);
  } catch (const std::exception& e) {
    error_ = std::string("send_file: ") + e.what();
    return false;
  }

  pairs_.clear();
  for (const auto& [name, value] : headers_) pairs_.push_back({to_str(name), to_str(value)});
  out.status = to_str(status_);
  out.headers = pairs_.data();
  out.header_count = pairs_.size();
  out.fd = fd_.release();
  out.offset = offset_;
  out.length = length_;
  out.text = to_str(text_);
  return true;
}

}  // namespace forkserve

// The built-in handler: GET/HEAD of files and directory listings under one
// document root.
//
// One request travels: method check → make_safe_path (pure) → realpath and a
// check that the result is still under the root → stat → a file (sendfile), a
// redirect to the slash form, index.html, or a listing. Every failure is a
// short text/plain response, never an exception.
//
// Status choices:
//   400  the path has a malformed percent escape or is not absolute;
//   404  missing, refused by make_safe_path ("..", "%2f", "\", "%00"), or a
//        symlink leading out of the root (404 rather than 403, so a prober
//        learns nothing about what exists outside);
//   403  the file exists but cannot be read (EACCES), or is not a regular file
//        or directory (FIFO, socket, device: opening those can block or have
//        side effects);
//   405  any method but GET and HEAD;
//   500  anything unexpected; the reason goes to the error log.
#include "handlers/static_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <forkserve/export.hpp>
#include <forkserve/handler.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handlers/mime.hpp"
#include "handlers/safe_path.hpp"
#include "http/date.hpp"
#include "http/response.hpp"
#include "net/io.hpp"

namespace forkserve::handlers {
namespace {

constexpr std::string_view kIndexFile = "index.html";
constexpr std::string_view kShowDotfiles = "dotfiles=show:";
constexpr std::string_view kHideDotfiles = "dotfiles=hide:";
constexpr std::string_view kHtml = "text/html; charset=utf-8";
constexpr std::string_view kPlainText = "text/plain; charset=utf-8";

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// "404 Not Found", with the phrase the server uses for its own errors.
std::string status_line(int status) {
  return std::to_string(status).append(" ").append(http::reason_phrase(status));
}

// A short text/plain answer: "404 Not Found\n".
Body text_response(StartResponse& start_response, int status, Headers headers = {}) {
  std::string line = status_line(status);
  headers.push_back({"Content-Type", std::string(kPlainText)});
  start_response(line, headers);
  return Body::text(line + "\n");
}

// The status for an errno from realpath/stat/open on a path under the root.
int status_for_errno(int error) {
  switch (error) {
    case ENOENT:
    case ENOTDIR:  // "/file.txt/x"
    case ENAMETOOLONG:
    case ELOOP:
      return 404;
    case EACCES:
    case EPERM:
      return 403;
    default:
      return 500;
  }
}

// The answer to a failed system call on `path`: 403/404 as the errno says, or
// a 500 whose reason goes to the error log ("static files: open /srv/a: I/O
// error").
Body errno_response(Environ& environ, StartResponse& start_response, std::string_view operation,
                    std::string_view path, int error) {
  const int status = status_for_errno(error);
  if (status == 500) {
    std::string message = "static files: ";
    message.append(operation).append(" ").append(path).append(": ").append(std::strerror(error));
    environ.errors().write(message);
  }
  return text_response(start_response, status);
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// "a b/c?" → "a%20b/c%3F": each segment encoded, the slashes kept.
std::string percent_encode_path(std::string_view relative) {
  std::string out;
  while (true) {
    const std::size_t slash = relative.find('/');
    out += percent_encode_segment(relative.substr(0, slash));
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    relative.remove_prefix(slash + 1);
  }
  return out;
}

class StaticFiles {
 public:
  // `argument` is a root, optionally behind a "dotfiles=show:" or
  // "dotfiles=hide:" prefix (see static_files_argument).
  explicit StaticFiles(std::string_view argument) {
    std::string_view root = argument;
    if (root.starts_with(kShowDotfiles)) {
      show_dotfiles_ = true;
      root.remove_prefix(kShowDotfiles.size());
    } else if (root.starts_with(kHideDotfiles)) {
      root.remove_prefix(kHideDotfiles.size());
    }
    if (root.empty()) throw std::runtime_error("static files: no document root given");
    const std::string given(root);
    char* real = ::realpath(given.c_str(), nullptr);
    if (real == nullptr) {
      throw std::runtime_error("static files: document root " + given + ": " + std::strerror(errno));
    }
    root_ = real;
    std::free(real);
    struct stat st {};
    if (::stat(root_.c_str(), &st) != 0) {
      throw std::runtime_error("static files: document root " + given + ": " + std::strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
      throw std::runtime_error("static files: document root " + given + ": Not a directory");
    }
  }

  Body operator()(Environ& environ, StartResponse& start_response) {
    const std::string_view method = environ.get("REQUEST_METHOD");
    if (method != "GET" && method != "HEAD") {
      return text_response(start_response, 405, {{"Allow", "GET, HEAD"}});
    }
    if (!environ.contains("forkserve.raw_path")) {
      environ.errors().write("static files: the server did not set forkserve.raw_path");
      return text_response(start_response, 500);
    }

    const SafePath path = make_safe_path(environ.get("forkserve.raw_path"));
    switch (path.refusal) {
      case PathRefusal::None:
        break;
      case PathRefusal::NotAbsolute:
      case PathRefusal::MalformedEscape:
        return text_response(start_response, 400);
      default:
        return text_response(start_response, 404);
    }

    Resolved target = resolve(path.relative);
    if (target.status != 0) return refuse(environ, start_response, target);

    if (S_ISDIR(target.st.st_mode)) {
      if (!path.trailing_slash) return redirect_to_slash(environ, start_response, path.relative);
      return serve_directory(environ, start_response, path.relative, target);
    }
    // "/file.txt/" names a directory that is not there.
    if (path.trailing_slash) return text_response(start_response, 404);
    return serve_file(environ, start_response, target, path.relative);
  }

 private:
  // Where a request path really leads, after every symlink. Someone who can
  // write inside the root could swap a directory for a symlink between this
  // check and the open() that follows; closing that window needs Linux's
  // openat2(RESOLVE_BENEATH), left for later.
  struct Resolved {
    int status = 0;              // 0: found; else the HTTP status to answer
    int error = 0;               // the errno behind that status, if any
    std::string_view operation;  // the call that failed with `error`
    std::string real_path;
    struct stat st {};
  };

  bool inside_root(std::string_view real_path) const {
    if (root_ == "/" || real_path == root_) return true;
    return real_path.size() > root_.size() && real_path.starts_with(root_) && real_path[root_.size()] == '/';
  }

  Resolved resolve(std::string_view relative) const {
    Resolved r;
    r.operation = "realpath";
    std::string candidate = root_;
    if (!relative.empty()) candidate.append("/").append(relative);
    char* real = ::realpath(candidate.c_str(), nullptr);
    if (real == nullptr) {
      r.error = errno;
      r.status = status_for_errno(r.error);
      r.real_path = std::move(candidate);
      return r;
    }
    r.real_path = real;
    std::free(real);
    if (!inside_root(r.real_path)) {
      r.status = 404;  // a symlink out of the root
      return r;
    }
    if (::stat(r.real_path.c_str(), &r.st) != 0) {
      r.operation = "stat";
      r.error = errno;
      r.status = status_for_errno(r.error);
    }
    return r;
  }

  static Body refuse(Environ& environ, StartResponse& start_response, const Resolved& target) {
    if (target.error != 0) {
      return errno_response(environ, start_response, target.operation, target.real_path, target.error);
    }
    return text_response(start_response, target.status);
  }

  // 301 to the same directory with a trailing slash, so relative links in the
  // listing or index.html resolve inside it. The Location is rebuilt from the
  // normalised path, not echoed: a raw "//host" would otherwise become a
  // protocol-relative redirect to another site.
  static Body redirect_to_slash(Environ& environ, StartResponse& start_response, std::string_view relative) {
    std::string location = "/" + percent_encode_path(relative) + "/";
    const std::string_view query = environ.get("QUERY_STRING");
    if (!query.empty()) location.append("?").append(query);
    return text_response(start_response, 301, {{"Location", std::move(location)}});
  }

  Body serve_directory(Environ& environ, StartResponse& start_response, std::string_view relative,
                       const Resolved& directory) const {
    std::string index_relative(relative);
    if (!index_relative.empty()) index_relative.push_back('/');
    index_relative.append(kIndexFile);
    Resolved index = resolve(index_relative);
    const bool no_index = index.error == ENOENT || (index.status == 0 && S_ISDIR(index.st.st_mode));
    if (!no_index) {
      // An index.html that exists but cannot be served is that error, not a
      // listing the author meant to hide.
      if (index.status != 0) return refuse(environ, start_response, index);
      return serve_file(environ, start_response, index, kIndexFile);
    }
    return list_directory(environ, start_response, relative, directory);
  }

  // `name` is the requested name: it picks the Content-Type, whatever a
  // symlink points to.
  static Body serve_file(Environ& environ, StartResponse& start_response, const Resolved& file,
                         std::string_view name) {
    // Checked before open(): opening a FIFO or a device can block or act.
    if (!S_ISREG(file.st.st_mode)) return text_response(start_response, 403);
    // O_NONBLOCK: should the name be swapped for a FIFO after the stat,
    // open() still returns at once, and the fstat below refuses it.
    UniqueFd fd(::open(file.real_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
    if (!fd) return errno_response(environ, start_response, "open", file.real_path, errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
      return errno_response(environ, start_response, "fstat", file.real_path, errno);
    if (!S_ISREG(st.st_mode)) return text_response(start_response, 403);

    std::string last_modified = http::format_http_date(st.st_mtime);
    if (not_modified_since(environ, st.st_mtime)) {
      start_response(status_line(304), {{"Last-Modified", std::move(last_modified)}});
      return Body();
    }
    start_response(status_line(200), {{"Content-Type", std::string(mime_type_for(name))},
                                      {"Last-Modified", std::move(last_modified)}});
    return Body::file(fd.release(), 0, static_cast<unsigned long long>(st.st_size));
  }

  // RFC 9110 §13.1.3: If-Modified-Since counts only for GET/HEAD (all we
  // serve), only without If-None-Match, and only when it is a valid date.
  static bool not_modified_since(const Environ& environ, std::time_t mtime) {
    if (environ.contains("HTTP_IF_NONE_MATCH")) return false;
    const std::optional<std::time_t> since = http::parse_http_date(environ.get("HTTP_IF_MODIFIED_SINCE"));
    return since && mtime <= *since;
  }

  Body list_directory(Environ& environ, StartResponse& start_response, std::string_view relative,
                             const Resolved& directory) const {
    UniqueFd fd(
        ::open(directory.real_path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) return errno_response(environ, start_response, "open", directory.real_path, errno);
    DirPtr dir(::fdopendir(fd.get()));
    if (!dir) return errno_response(environ, start_response, "fdopendir", directory.real_path, errno);
    fd.release();  // the DIR owns it now

    struct Entry {
      std::string name;
      bool is_directory;
    };
    std::vector<Entry> entries;
    while (true) {
      errno = 0;
      const dirent* entry = ::readdir(dir.get());
      if (entry == nullptr) {
        if (errno != 0) {
          return errno_response(environ, start_response, "readdir", directory.real_path, errno);
        }
        break;
      }
      const std::string_view name = entry->d_name;
      if (name == "." || name == ".." || (name.starts_with('.') && !show_dotfiles_)) continue;
      bool is_directory = entry->d_type == DT_DIR;
      if (entry->d_type == DT_LNK || entry->d_type == DT_UNKNOWN) {
        struct stat st {};
        is_directory = ::fstatat(::dirfd(dir.get()), entry->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
      }
      entries.push_back({std::string(name), is_directory});
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });

    const std::string shown = html_escape(relative.empty() ? "/" : "/" + std::string(relative) + "/");
    std::string html;
    html.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.append("<title>Index of ").append(shown).append("</title>\n</head>\n<body>\n");
    html.append("<h1>Index of ").append(shown).append("</h1>\n<ul>\n");
    if (!relative.empty()) html.append("<li><a href=\"../\">../</a></li>\n");
    for (const Entry& e : entries) {
      const std::string_view slash = e.is_directory ? "/" : "";
      html.append("<li><a href=\"").append(percent_encode_segment(e.name)).append(slash);
      html.append("\">").append(html_escape(e.name)).append(slash).append("</a></li>\n");
    }
    html.append("</ul>\n</body>\n</html>\n");

    start_response(status_line(200), {{"Content-Type", std::string(kHtml)}});
    return Body::text(std::move(html));
  }

  std::string root_;  // realpath of the document root
  bool show_dotfiles_ = false;
};

}  // namespace

std::string static_files_argument(const std::string& root, bool show_dotfiles) {
  return std::string(show_dotfiles ? kShowDotfiles : kHideDotfiles) + root;
}

const forkserve_module* static_files_module() {
  return detail::ModuleGlue<StaticFiles>::descriptor("static_files");
}

}  // namespace forkserve::handlers

// The built-in handler: GET/HEAD of files and directory listings under one
// document root.
//
// One request travels: method check → make_safe_path (pure) → the dotfile
// rule → realpath and a check that the result is still under the root → stat
// → a file (send_file_response: validators, ranges; a precompressed sibling
// when the client takes it), a redirect to the slash form, an index file, or
// a listing. Every failure is a short text/plain response, never an exception.
//
// Status choices:
//   400  the path has a malformed percent escape or is not absolute;
//   404  missing, refused by make_safe_path ("..", "%2f", "\", "%00"), a
//        name starting with '.' anywhere in the path (unless --show-dotfiles;
//        /.well-known/ is always served), or a symlink leading out of the
//        root (404 rather than 403, so a prober learns nothing about what
//        exists, inside or outside);
//   403  the file exists but cannot be read (EACCES), or is not a regular file
//        or directory (FIFO, socket, device: opening those can block or have
//        side effects);
//   405  any method but GET and HEAD;
//   500  anything unexpected; the reason goes to the error log.
#include "handlers/static_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <forkserve/export.hpp>
#include <forkserve/form.hpp>
#include <forkserve/handler.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handlers/accept_encoding.hpp"
#include "handlers/file_response.hpp"
#include "handlers/listing.hpp"
#include "handlers/mime.hpp"
#include "handlers/safe_path.hpp"
#include "http/response.hpp"
#include "net/io.hpp"

namespace forkserve::handlers {
namespace {

constexpr std::string_view kHtml = "text/html; charset=utf-8";
constexpr std::string_view kPlainText = "text/plain; charset=utf-8";
// The one name under which dotfiles are always served (RFC 8615: ACME
// challenges, security.txt).
constexpr std::string_view kWellKnown = ".well-known";
// Listing rows are sent in batches of about this many bytes.
constexpr std::size_t kListingChunk = 64 * 1024;

// Precompressed siblings, in order of preference at equal weight (Brotli is
// the smaller).
struct Sidecar {
  std::string_view suffix;
  std::string_view coding;
};
constexpr std::array kSidecars = {Sidecar{".br", "br"}, Sidecar{".gz", "gzip"}};

// Keys of the init argument's lines (static_files_argument); the root comes last.
constexpr std::string_view kDotfilesKey = "dotfiles=";
constexpr std::string_view kIndexKey = "index=";
constexpr std::string_view kMimeTypeKey = "mime-type=";
constexpr std::string_view kHeaderKey = "header=";
constexpr std::string_view kMimeTypesFileKey = "mime-types-file=";
constexpr std::string_view kRootKey = "root=";

using http::status_line;

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

// "a b/c?" → "a%20b/c%3F": each segment encoded, the slashes kept.
std::string percent_encode_path(std::string_view relative) {
  std::string out;
  while (true) {
    const std::size_t slash = relative.find('/');
    out += url_encode(relative.substr(0, slash));
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    relative.remove_prefix(slash + 1);
  }
  return out;
}

// True if a segment of `relative` ("a/.git/config") starts with '.', other
// than a leading ".well-known".
bool names_a_dotfile(std::string_view relative) {
  bool first = true;
  while (!relative.empty()) {
    const std::size_t slash = relative.find('/');
    const std::string_view segment = relative.substr(0, slash);
    if (segment.starts_with('.') && !(first && segment == kWellKnown)) return true;
    if (slash == std::string_view::npos) break;
    relative.remove_prefix(slash + 1);
    first = false;
  }
  return false;
}

// True if the query string ("a=1&format=json") has the pair `wanted`.
bool query_has(std::string_view query, std::string_view wanted) {
  while (true) {
    const std::size_t amp = query.find('&');
    if (query.substr(0, amp) == wanted) return true;
    if (amp == std::string_view::npos) return false;
    query.remove_prefix(amp + 1);
  }
}

bool newer_or_same(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec != b.tv_sec ? a.tv_sec > b.tv_sec : a.tv_nsec >= b.tv_nsec;
}

StaticFilesOptions parse_argument(std::string_view argument) {
  StaticFilesOptions options;
  const bool has_lines = argument.starts_with(kDotfilesKey) || argument.starts_with(kIndexKey) ||
                         argument.starts_with(kMimeTypeKey) || argument.starts_with(kHeaderKey) ||
                         argument.starts_with(kMimeTypesFileKey) || argument.starts_with(kRootKey);
  if (!has_lines) {
    options.root = argument;
    return options;
  }
  options.index_names.clear();
  options.mime_types_file.clear();
  while (!argument.empty() && !argument.starts_with(kRootKey)) {
    const std::size_t newline = argument.find('\n');
    const std::string_view line = argument.substr(0, newline);
    argument.remove_prefix(newline == std::string_view::npos ? argument.size() : newline + 1);
    auto value_of = [&](std::string_view key) { return std::string(line.substr(key.size())); };
    if (line.starts_with(kDotfilesKey)) {
      options.show_dotfiles = value_of(kDotfilesKey) == "show";
    } else if (line.starts_with(kIndexKey)) {
      options.index_names.push_back(value_of(kIndexKey));
    } else if (line.starts_with(kMimeTypesFileKey)) {
      options.mime_types_file = value_of(kMimeTypesFileKey);
    } else if (line.starts_with(kMimeTypeKey) || line.starts_with(kHeaderKey)) {
      const bool mime = line.starts_with(kMimeTypeKey);
      const std::string value = value_of(mime ? kMimeTypeKey : kHeaderKey);
      const std::size_t split = value.find(mime ? ' ' : ':');
      if (split == std::string::npos) throw std::runtime_error("static files: malformed argument line");
      std::string second = value.substr(split + 1);
      if (!mime && second.starts_with(' ')) second.erase(0, 1);
      (mime ? options.mime_types : options.headers).emplace_back(value.substr(0, split), std::move(second));
    } else {
      throw std::runtime_error("static files: unknown argument line");
    }
  }
  if (argument.starts_with(kRootKey)) argument.remove_prefix(kRootKey.size());
  options.root = argument;
  return options;
}

class StaticFiles {
 public:
  // `argument`: what static_files_argument() builds, or just a root.
  explicit StaticFiles(std::string_view argument) : options_(parse_argument(argument)) {
    if (options_.root.empty()) throw std::runtime_error("static files: no document root given");
    const std::string& given = options_.root;
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
    load_mime_types();
    for (const auto& [name, value] : options_.headers) extra_headers_.push_back({name, value});
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
    if (!options_.show_dotfiles && names_a_dotfile(path.relative)) return text_response(start_response, 404);

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

  void load_mime_types() {
    if (!options_.mime_types_file.empty()) {
      UniqueFd fd(::open(options_.mime_types_file.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd) {
        std::string text;
        char buffer[16384];
        ssize_t n = 0;
        while ((n = ::read(fd.get(), buffer, sizeof buffer)) > 0)
          text.append(buffer, static_cast<std::size_t>(n));
        for (const auto& [extension, type] : parse_mime_types(text)) mime_.set(extension, type);
      }
    }
    for (const auto& [extension, type] : options_.mime_types) mime_.set(extension, type);
  }

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
  Body redirect_to_slash(Environ& environ, StartResponse& start_response, std::string_view relative) const {
    std::string location = "/" + percent_encode_path(relative) + "/";
    const std::string_view query = environ.get("QUERY_STRING");
    if (!query.empty()) location.append("?").append(query);
    Headers headers = extra_headers_;
    headers.push_back({"Location", std::move(location)});
    return text_response(start_response, 301, std::move(headers));
  }

  Body serve_directory(Environ& environ, StartResponse& start_response, std::string_view relative,
                       const Resolved& directory) const {
    for (const std::string& index_name : options_.index_names) {
      std::string index_relative(relative);
      if (!index_relative.empty()) index_relative.push_back('/');
      index_relative.append(index_name);
      Resolved index = resolve(index_relative);
      if (index.error == ENOENT || (index.status == 0 && S_ISDIR(index.st.st_mode))) continue;
      // An index file that exists but cannot be served is that error, not a
      // listing the author meant to hide.
      if (index.status != 0) return refuse(environ, start_response, index);
      return serve_file(environ, start_response, index, index_relative);
    }
    return list_directory(environ, start_response, relative, directory);
  }

  // `relative` is the requested name: it picks the Content-Type, whatever a
  // symlink points to; the precompressed siblings sit beside the real file.
  Body serve_file(Environ& environ, StartResponse& start_response, const Resolved& file,
                  std::string_view relative) const {
    // Checked before open(): opening a FIFO or a device can block or act.
    if (!S_ISREG(file.st.st_mode)) return text_response(start_response, 403);

    FileRepresentation representation;
    representation.content_type = mime_.type_for(relative);
    representation.extra_headers = extra_headers_;
    const std::string_view accept_encoding = environ.get("HTTP_ACCEPT_ENCODING");
    int best_weight = 0;
    std::optional<Resolved> chosen;
    for (const Sidecar& sidecar : kSidecars) {
      Resolved candidate = sibling(file, sidecar.suffix);
      // A sibling older than the file is stale: the file was edited since.
      if (candidate.status != 0 || !S_ISREG(candidate.st.st_mode) ||
          !newer_or_same(candidate.st.st_mtim, file.st.st_mtim)) {
        continue;
      }
      representation.vary_accept_encoding = true;
      const int weight = accept_encoding.empty() ? 0 : coding_weight(accept_encoding, sidecar.coding);
      if (weight > best_weight) {
        best_weight = weight;
        chosen = std::move(candidate);
        representation.content_encoding = sidecar.coding;
      }
    }
    if (chosen) {
      if (UniqueFd fd = open_regular(chosen->real_path); fd) {
        struct stat st {};
        if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
          return send_file_response(environ, start_response, std::move(fd), st, representation);
        }
      }
      representation.content_encoding.clear();  // the sibling went away: send the file itself
    }

    UniqueFd fd = open_regular(file.real_path);
    if (!fd) return errno_response(environ, start_response, "open", file.real_path, errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
      return errno_response(environ, start_response, "fstat", file.real_path, errno);
    if (!S_ISREG(st.st_mode)) return text_response(start_response, 403);
    return send_file_response(environ, start_response, std::move(fd), st, representation);
  }

  // The file FILE.suffix beside the real `file` (after its symlinks).
  // Looked up with one lstat, since most files have no such sibling: a plain
  // file there is inside the root as its directory is; only a symlink needs
  // the full resolve(), of that same name.
  Resolved sibling(const Resolved& file, std::string_view suffix) const {
    Resolved r;
    r.real_path = file.real_path + std::string(suffix);
    if (::lstat(r.real_path.c_str(), &r.st) != 0) {
      r.status = 404;
      return r;
    }
    if (S_ISLNK(r.st.st_mode)) {
      // file.real_path is under root_ (resolve() checked): its name relative to it.
      const std::size_t skip = root_ == "/" ? 1 : root_.size() + 1;
      return resolve(std::string_view(r.real_path).substr(skip));
    }
    return r;
  }

  // O_NONBLOCK: should the name be swapped for a FIFO after the stat, open()
  // still returns at once, and the caller's fstat refuses it.
  static UniqueFd open_regular(const std::string& real_path) {
    return UniqueFd(::open(real_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  }

  Body list_directory(Environ& environ, StartResponse& start_response, std::string_view relative,
                      const Resolved& directory) const {
    const int fd =
        ::open(directory.real_path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return errno_response(environ, start_response, "open", directory.real_path, errno);
    auto listing = std::make_shared<Listing>();
    const auto followable = [&](const char* name) {
      char* real = ::realpath((directory.real_path + "/" + name).c_str(), nullptr);
      if (real == nullptr) return false;
      const bool inside = inside_root(real);
      std::free(real);
      return inside;
    };
    if (const int error = read_listing(fd, options_.show_dotfiles, followable, *listing); error != 0) {
      return errno_response(environ, start_response, "readdir", directory.real_path, error);
    }

    const bool json = query_has(environ.get("QUERY_STRING"), "format=json");
    Headers headers = extra_headers_;
    headers.push_back({"Content-Type", json ? "application/json" : std::string(kHtml)});
    start_response(status_line(200), headers);
    if (environ.get("REQUEST_METHOD") == "HEAD") return Body();

    // Rows go out in batches as they are written, so the page is never held
    // whole next to the entries.
    std::string head = json ? "["
                            : listing_html_head("/" + std::string(relative) + (relative.empty() ? "" : "/"),
                                                !relative.empty());
    struct State {
      std::size_t next = 0;
      bool head_sent = false;
      bool done = false;
    };
    auto state = std::make_shared<State>();
    return Body::pull([listing, state, json, head = std::move(head)]() -> std::optional<std::string> {
      if (state->done) return std::nullopt;
      std::string chunk;
      if (!state->head_sent) {
        chunk = head;
        state->head_sent = true;
      }
      const auto& entries = listing->entries;
      while (state->next < entries.size() && chunk.size() < kListingChunk) {
        const ListingEntry& entry = entries[state->next];
        chunk += json ? listing_json_row(entry, state->next == 0) : listing_html_row(entry);
        ++state->next;
      }
      if (state->next == entries.size()) {
        chunk += json ? "\n]\n" : listing_html_tail(entries.size(), listing->left_out);
        state->done = true;
      }
      return chunk;
    });
  }

  StaticFilesOptions options_;
  std::string root_;  // realpath of the document root
  MimeMap mime_;
  Headers extra_headers_;  // --add-header, on every 2xx and 3xx answer
};

}  // namespace

std::string static_files_argument(const StaticFilesOptions& options) {
  std::string argument;
  if (options.show_dotfiles) argument.append(kDotfilesKey).append("show\n");
  for (const std::string& name : options.index_names) argument.append(kIndexKey).append(name).append("\n");
  for (const auto& [extension, type] : options.mime_types) {
    argument.append(kMimeTypeKey).append(extension).append(" ").append(type).append("\n");
  }
  for (const auto& [name, value] : options.headers) {
    argument.append(kHeaderKey).append(name).append(": ").append(value).append("\n");
  }
  argument.append(kMimeTypesFileKey).append(options.mime_types_file).append("\n");
  return argument.append(kRootKey).append(options.root);
}

const forkserve_module* static_files_module() {
  return detail::ModuleGlue<StaticFiles>::descriptor("static_files");
}

}  // namespace forkserve::handlers

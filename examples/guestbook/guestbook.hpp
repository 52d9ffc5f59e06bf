// A guestbook with an HTML page and a JSON API, built with the handler SDK:
//
//     forkserve --handler guestbook.so:/var/lib/guestbook/entries
//
//   GET  /              the form and every entry, oldest first
//   POST /entries       adds an entry (urlencoded or multipart), 303 to /,
//                       remembers the name in a cookie
//   GET  /api/entries   the entries as JSON; ?limit=N gives the last N
//
// Each request runs in its own process, so the entries live in the data file
// (one urlencoded line per entry). Writers append a whole line with one
// write() under an exclusive flock; readers take a shared one, so concurrent
// posts never interleave and a reader never sees half an entry.
#ifndef FORKSERVE_EXAMPLE_GUESTBOOK_HPP
#define FORKSERVE_EXAMPLE_GUESTBOOK_HPP

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <forkserve/json.hpp>
#include <forkserve/request.hpp>
#include <forkserve/response.hpp>
#include <forkserve/router.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace guestbook_detail {

using forkserve::Body;
using forkserve::Environ;
using forkserve::StartResponse;

struct Entry {
  std::string name;
  std::string message;
};

// The data file; every call opens it afresh, as each runs in a new process.
class EntryFile {
 public:
  explicit EntryFile(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }

  // Appends one entry as a single line, in a single write.
  void append(const Entry& entry) const {
    forkserve::Fields record;
    record.add("name", entry.name);
    record.add("message", entry.message);
    const std::string line = forkserve::to_urlencoded(record) + "\n";
    const Descriptor fd(open_file(O_RDWR | O_APPEND | O_CREAT));
    lock(fd.get(), LOCK_EX);
    drop_partial_last_line(fd.get());
    const ssize_t n = ::write(fd.get(), line.data(), line.size());
    if (n != static_cast<ssize_t>(line.size())) fail("write", n < 0 ? errno : ENOSPC);
  }

  // Every whole entry, oldest first.
  std::vector<Entry> read() const {
    const Descriptor fd(open_file(O_RDONLY | O_CREAT));
    lock(fd.get(), LOCK_SH);
    std::string text;
    char chunk[65536];
    while (true) {
      const ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("read", errno);
      if (n == 0) break;
      text.append(chunk, static_cast<std::size_t>(n));
    }
    std::vector<Entry> entries;
    std::string_view rest = text;
    // A last line without '\n' is a write cut short (a full disk): skipped.
    for (std::size_t eol; (eol = rest.find('\n')) != std::string_view::npos; rest.remove_prefix(eol + 1)) {
      const forkserve::Fields record = forkserve::parse_urlencoded(rest.substr(0, eol));
      entries.push_back({std::string(record.get_or("name", "")), std::string(record.get_or("message", ""))});
    }
    return entries;
  }

 private:
  class Descriptor {
   public:
    explicit Descriptor(int fd) : fd_(fd) {}
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
    ~Descriptor() { ::close(fd_); }
    int get() const { return fd_; }

   private:
    int fd_;
  };

  [[noreturn]] void fail(std::string_view operation, int error) const {
    throw std::runtime_error("guestbook: " + std::string(operation) + " " + path_ + ": " +
                             std::strerror(error));
  }
  int open_file(int flags) const {
    const int fd = ::open(path_.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) fail("open", errno);
    return fd;
  }
  // A writer killed mid-write leaves a line without '\n'; appending after it
  // would glue the next entry onto it (and a cut "%4" would make every read
  // fail). Called under the exclusive lock, so no writer is mid-line now.
  void drop_partial_last_line(int fd) const {
    struct stat st {};
    if (::fstat(fd, &st) != 0) fail("fstat", errno);
    off_t end = st.st_size;
    char c = '\n';
    while (end > 0) {
      const ssize_t n = ::pread(fd, &c, 1, end - 1);
      if (n < 0 && errno == EINTR) continue;
      if (n != 1) fail("read", n < 0 ? errno : EIO);
      if (c == '\n') break;
      --end;
    }
    if (end != st.st_size && ::ftruncate(fd, end) != 0) fail("truncate", errno);
  }
  void lock(int fd, int operation) const {
    while (::flock(fd, operation) != 0) {
      if (errno != EINTR) fail("flock", errno);
    }
  }

  std::string path_;
};

inline Body front_page(const EntryFile& file, Environ& environ, StartResponse& start_response) {
  forkserve::Request request(environ);
  std::string name;
  if (auto cookie = request.cookie("name")) {
    try {
      name = forkserve::url_decode(*cookie);
    } catch (const forkserve::BadRequest&) {
      // a cookie we did not set: ignore it rather than refuse the page
    }
  }
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Guestbook</title>\n"
      "</head>\n<body>\n<h1>Guestbook</h1>\n"
      "<form method=\"post\" action=\"/entries\">\n"
      "<label>Name <input name=\"name\" value=\"" +
      forkserve::html_escape(name) +
      "\"></label>\n"
      "<label>Message <textarea name=\"message\"></textarea></label>\n"
      "<button>Sign</button>\n</form>\n<ul>\n";
  for (const Entry& entry : file.read()) {
    html.append("<li><b>").append(forkserve::html_escape(entry.name)).append("</b>: ");
    html.append(forkserve::html_escape(entry.message)).append("</li>\n");
  }
  html.append("</ul>\n</body>\n</html>\n");
  return forkserve::html(start_response, std::move(html));
}

inline Body add_entry(const EntryFile& file, Environ& environ, StartResponse& start_response) {
  forkserve::Request request(environ);
  const forkserve::Fields& form = request.form();
  const Entry entry{std::string(form.get_or("name", "")), std::string(form.get_or("message", ""))};
  if (entry.name.empty() || entry.message.empty()) {
    throw forkserve::BadRequest("name and message must both be given");
  }
  file.append(entry);
  const auto cookie = forkserve::SetCookie("name", forkserve::url_encode(entry.name))
                          .path("/")
                          .http_only()
                          .same_site(forkserve::SameSite::Lax);
  return forkserve::redirect(start_response, "/", {cookie.header()});
}

inline Body list_entries(const EntryFile& file, Environ& environ, StartResponse& start_response) {
  forkserve::Request request(environ);
  const std::optional<long long> limit = request.integer_query("limit");
  const std::vector<Entry> entries = file.read();
  std::size_t first = 0;
  if (limit && static_cast<unsigned long long>(*limit) < entries.size()) {
    first = entries.size() - static_cast<std::size_t>(*limit);
  }
  forkserve::JsonWriter json;
  json.begin_array();
  for (std::size_t i = first; i < entries.size(); ++i) {
    json.begin_object()
        .key("name")
        .value(entries[i].name)
        .key("message")
        .value(entries[i].message)
        .end_object();
  }
  json.end_array();
  return forkserve::json(start_response, std::move(json).str());
}

}  // namespace guestbook_detail

class Guestbook {
 public:
  // `datafile` (the ARG of --handler guestbook.so:DATAFILE) is made absolute
  // and opened once here, so a bad path stops start-up with its reason.
  explicit Guestbook(std::string_view datafile) : file_(absolute(datafile)) {
    file_.read();
    using namespace guestbook_detail;
    router_.get("/", [file = file_](Environ& e, StartResponse& s) { return front_page(file, e, s); });
    router_.post("/entries", [file = file_](Environ& e, StartResponse& s) { return add_entry(file, e, s); });
    router_.get("/api/entries",
                [file = file_](Environ& e, StartResponse& s) { return list_entries(file, e, s); });
  }

  forkserve::Body operator()(forkserve::Environ& environ, forkserve::StartResponse& start_response) {
    return router_(environ, start_response);
  }

 private:
  static std::string absolute(std::string_view datafile) {
    if (datafile.empty())
      throw std::runtime_error("guestbook: give the data file: --handler guestbook.so:DATAFILE");
    return std::filesystem::absolute(std::filesystem::path(datafile)).string();
  }

  guestbook_detail::EntryFile file_;
  forkserve::Router router_;
};

#endif  // FORKSERVE_EXAMPLE_GUESTBOOK_HPP

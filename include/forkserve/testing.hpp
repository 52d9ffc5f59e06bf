// Calling a handler in a unit test, without sockets or a fork:
//
//     Guestbook handler("/tmp/test-entries");
//     forkserve::testing::Client client(handler);
//     auto reply = client.post_form("/entries", {{"name", "Ann"}, {"message", "hi"}});
//     EXPECT_EQ(reply.status, 303);
//     EXPECT_EQ(reply.header("Location"), "/");
//     EXPECT_EQ(client.get("/api/entries").body, R"([{"name":"Ann","message":"hi"}])");
//
// The Client plays the server's part of module.h: it builds the environ as
// the server does (the CGI variables, HTTP_* per header, PATH_INFO decoded),
// enforces the same rules on start_response (a bad status or header is a
// ResponseError in the handler, as on the real server), drops the body of a
// HEAD, and turns an escaping exception into a 500 with the message in
// error_log. forkserve::send_file gets a plain stand-in (the whole file as
// application/octet-stream with Last-Modified, or 403/404). What it cannot show: timeouts, the client going away, and
// whatever the process model does (the handler object is not copied per
// request here, so state a handler changes stays changed).
#ifndef FORKSERVE_TESTING_HPP
#define FORKSERVE_TESTING_HPP

#include <forkserve/module.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <forkserve/form.hpp>
#include <forkserve/handler.hpp>
#include <forkserve/http_rules.hpp>
#include <forkserve/request.hpp>
#include <forkserve/response.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace forkserve::testing {

struct Response {
  int status = 0;
  std::string status_line;  // "200 OK"
  Headers headers;          // as the handler gave them
  std::string body;         // empty for HEAD, as the server sends none
  // What the server would send as Content-Length (known length bodies).
  std::optional<unsigned long long> content_length;
  std::string error_log;  // environ.errors() lines and handler failures, one per line
  bool aborted = false;   // failed after the head went out: the server would reset the connection

  // The first header named `name` (any case).
  std::optional<std::string> header(std::string_view name) const {
    for (const Header& h : headers) {
      if (iequals(h.name, name)) return h.value;
    }
    return std::nullopt;
  }
  std::vector<std::string> header_values(std::string_view name) const {
    std::vector<std::string> values;
    for (const Header& h : headers) {
      if (iequals(h.name, name)) values.push_back(h.value);
    }
    return values;
  }
};

// A file part for multipart().
struct FilePart {
  std::string field;
  std::string filename;
  std::string content_type;
  std::string content;
};

// A multipart/form-data body and the Content-Type that names its boundary.
struct MultipartBody {
  std::string content_type;
  std::string body;
};

namespace detail {
// A quoted-string's inside: '"' and '\\' escaped, as MediaType::parse reads them.
inline std::string quoted(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}
}  // namespace detail

inline MultipartBody multipart(const Fields& fields, const std::vector<FilePart>& files = {},
                               std::string_view boundary = "forkserve-test-boundary-7MA4YWxkTrZu0gW") {
  MultipartBody out;
  out.content_type = "multipart/form-data; boundary=" + std::string(boundary);
  for (const auto& [name, value] : fields) {
    out.body.append("--").append(boundary).append("\r\n");
    out.body.append("Content-Disposition: form-data; name=\"")
        .append(detail::quoted(name))
        .append("\"\r\n\r\n");
    out.body.append(value).append("\r\n");
  }
  for (const FilePart& f : files) {
    out.body.append("--").append(boundary).append("\r\n");
    out.body.append("Content-Disposition: form-data; name=\"").append(detail::quoted(f.field));
    out.body.append("\"; filename=\"").append(detail::quoted(f.filename)).append("\"\r\n");
    out.body.append("Content-Type: ").append(f.content_type).append("\r\n\r\n");
    out.body.append(f.content).append("\r\n");
  }
  out.body.append("--").append(boundary).append("--\r\n");
  return out;
}

namespace detail {

// The server side of forkserve_request for one call.
struct FakeServer {
  std::string body;
  std::size_t body_read = 0;
  bool head_request = false;
  bool started = false;
  bool head_sent = false;
  std::string error;
  Response response;

  static FakeServer& self(void* server) { return *static_cast<FakeServer*>(server); }

  // The server's own rules (<forkserve/http_rules.hpp>), with its messages.
  static std::optional<std::string> check(std::string_view status, const forkserve_pair* headers,
                                          std::size_t count) {
    if (auto problem = rules::check_status(status)) return "invalid status: " + std::string(*problem);
    for (std::size_t i = 0; i < count; ++i) {
      const std::string_view name = to_view(headers[i].name);
      if (auto problem = rules::check_header(name, to_view(headers[i].value))) {
        return "invalid header " + std::string(forkserve::detail::is_token(name) ? name : "(invalid name)") +
               ": " + std::string(*problem);
      }
    }
    return std::nullopt;
  }

  static int refuse(FakeServer& s, std::string message) {
    s.error = std::move(message);
    return FORKSERVE_FAILED;
  }

  static long long read_input(void* server, char* buffer, std::size_t size) {
    FakeServer& s = self(server);
    const std::size_t n = std::min(size, s.body.size() - s.body_read);
    std::memcpy(buffer, s.body.data() + s.body_read, n);
    s.body_read += n;
    return static_cast<long long>(n);
  }
  static void log_error(void* server, const char* message, std::size_t size) {
    self(server).response.error_log.append(message, size).push_back('\n');
  }
  static int start_response(void* server, forkserve_str status, const forkserve_pair* headers,
                            std::size_t count, int replace) {
    FakeServer& s = self(server);
    if (s.head_sent) return refuse(s, "start_response called after the headers were sent");
    if (s.started && !replace) return refuse(s, "start_response called twice without an exception");
    if (auto problem = check(to_view(status), headers, count)) return refuse(s, *problem);
    s.started = true;
    s.response.status_line = std::string(to_view(status));
    s.response.status = std::stoi(s.response.status_line.substr(0, 3));
    s.response.headers.clear();
    s.response.content_length.reset();
    for (std::size_t i = 0; i < count; ++i) {
      s.response.headers.push_back(
          {std::string(to_view(headers[i].name)), std::string(to_view(headers[i].value))});
    }
    return FORKSERVE_OK;
  }
  static int set_content_length(void* server, unsigned long long length) {
    FakeServer& s = self(server);
    if (!s.head_sent) s.response.content_length = length;
    return FORKSERVE_OK;
  }
  static int append(FakeServer& s, std::string_view data) {
    if (!s.started) return refuse(s, "body written before start_response");
    const int code = s.response.status;
    if (!data.empty() && (code == 204 || code == 304)) {
      return refuse(s, "a " + std::to_string(code) + " response has no body");
    }
    if (data.empty()) return FORKSERVE_OK;
    s.head_sent = true;
    if (!s.head_request) s.response.body.append(data);
    return FORKSERVE_OK;
  }
  static int write(void* server, const char* data, std::size_t size) {
    return append(self(server), std::string_view(data, size));
  }
  static int send_file(void* server, int fd, long long offset, unsigned long long length) {
    FakeServer& s = self(server);
    std::string content;
    char chunk[16384];
    while (content.size() < length) {
      const std::size_t want =
          static_cast<std::size_t>(std::min<unsigned long long>(sizeof chunk, length - content.size()));
      const ssize_t n =
          ::pread(fd, chunk, want, static_cast<off_t>(offset + static_cast<long long>(content.size())));
      if (n < 0) return refuse(s, std::string("send_file: ") + std::strerror(errno));
      if (n == 0) return refuse(s, "send_file: the file is shorter than the length given");
      content.append(chunk, static_cast<std::size_t>(n));
    }
    return append(s, content);
  }
  static int headers_sent(void* server) { return self(server).head_sent ? 1 : 0; }

  // A plain stand-in for the server's static-file answer, so routes using
  // forkserve::send_file run in tests: 200 with the whole file as
  // application/octet-stream and Last-Modified, 404 or 403 when it cannot be
  // sent. The MIME table, 304, ranges and the rest are the server's: test
  // those against it.
  std::string file_status;
  std::vector<std::pair<std::string, std::string>> file_headers;
  std::vector<forkserve_pair> file_pairs;
  std::string file_text;
  static int file_reply(void* server, forkserve_str path, forkserve_file_reply* reply) {
    FakeServer& s = self(server);
    const std::string name(to_view(path));
    reply->fd = -1;
    reply->offset = 0;
    reply->length = 0;
    int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st {};
    if (fd >= 0 && (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
      ::close(fd);
      fd = -1;
      errno = EACCES;
    }
    if (fd < 0) {
      s.file_status = errno == ENOENT || errno == ENOTDIR ? "404 Not Found" : "403 Forbidden";
      s.file_text = s.file_status + "\n";
      s.file_headers = {{"Content-Type", "text/plain; charset=utf-8"}};
    } else {
      s.file_status = "200 OK";
      s.file_text.clear();
      s.file_headers = {{"Content-Type", "application/octet-stream"}, {"Last-Modified", http_date(st.st_mtime)}};
      reply->fd = fd;
      reply->length = static_cast<unsigned long long>(st.st_size);
    }
    s.file_pairs.clear();
    for (const auto& [n, v] : s.file_headers) s.file_pairs.push_back({to_str(n), to_str(v)});
    reply->status = to_str(s.file_status);
    reply->headers = s.file_pairs.data();
    reply->header_count = s.file_pairs.size();
    reply->text = to_str(s.file_text);
    return FORKSERVE_OK;
  }
  static const char* last_error(void* server) { return self(server).error.c_str(); }
};

}  // namespace detail

class Client {
 public:
  // The handler is called by reference: it must outlive the Client.
  template <typename Handler>
  explicit Client(Handler& handler)
      : call_([&handler](Environ& environ, StartResponse& start_response) {
          return handler(environ, start_response);
        }) {}

  // REMOTE_ADDR and REMOTE_PORT of the requests that follow.
  void set_remote(std::string address, int port) {
    remote_address_ = std::move(address);
    remote_port_ = port;
  }

  // `target` is what follows the method on the request line ("/a?b=c").
  Response request(std::string_view method, std::string_view target, const Headers& headers = {},
                   std::string body = {}) {
    detail::FakeServer server;
    server.body = std::move(body);
    server.head_request = method == "HEAD";

    const std::size_t question = target.find('?');
    const std::string_view raw_path = target.substr(0, question);
    const std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
    const std::string path = forkserve::detail::decode_request_path(raw_path).value_or("");
    if (path.empty()) {  // the server answers for the handler
      server.response.status = 400;
      server.response.status_line = "400 Bad Request";
      server.response.body = "400 Bad Request: malformed or NUL percent-escape in the path\n";
      return std::move(server.response);
    }

    std::vector<std::pair<std::string, std::string>> vars = {
        {"REQUEST_METHOD", std::string(method)},
        {"SCRIPT_NAME", ""},
        {"PATH_INFO", path},
        {"QUERY_STRING", std::string(query)},
        {"REQUEST_URI", std::string(target)},
        {"SERVER_PROTOCOL", "HTTP/1.0"},
        {"SERVER_SOFTWARE", "forkserve-testing"},
        {"GATEWAY_INTERFACE", "CGI/1.1"},
        {"REMOTE_ADDR", remote_address_},
        {"REMOTE_HOST", remote_address_},
        {"REMOTE_PORT", std::to_string(remote_port_)},
        {"SERVER_PORT", "80"},
        {"forkserve.raw_path", std::string(raw_path)},
        {"wsgi.url_scheme", "http"},
    };
    std::string server_name = "localhost";
    bool has_length = false;
    for (const Header& h : headers) {
      if (h.name.find('_') != std::string::npos) continue;  // the server drops them
      if (iequals(h.name, "Host")) server_name = h.value.substr(0, h.value.find(':'));
      if (iequals(h.name, "Content-Length")) {
        has_length = true;
        vars.emplace_back("CONTENT_LENGTH", h.value);
      } else if (iequals(h.name, "Content-Type")) {
        vars.emplace_back("CONTENT_TYPE", h.value);
      } else if (std::string name = environ_name_of_header(h.name); !name.empty()) {
        vars.emplace_back(std::move(name), h.value);
      }
    }
    if (!has_length && (!server.body.empty() || method == "POST" || method == "PUT" || method == "PATCH")) {
      vars.emplace_back("CONTENT_LENGTH", std::to_string(server.body.size()));
    }
    vars.emplace_back("SERVER_NAME", server_name);
    forkserve::detail::sort_and_merge_environ(vars);
    std::vector<forkserve_pair> pairs;
    for (const auto& [name, value] : vars) pairs.push_back({to_str(name), to_str(value)});

    forkserve_request request{};
    request.size = sizeof request;
    request.abi_minor = FORKSERVE_ABI_MINOR;
    request.run_once = 1;
    request.file_reply = &detail::FakeServer::file_reply;
    request.environ = pairs.data();
    request.environ_count = pairs.size();
    request.server = &server;
    request.read_input = &detail::FakeServer::read_input;
    request.log_error = &detail::FakeServer::log_error;
    request.start_response = &detail::FakeServer::start_response;
    request.set_content_length = &detail::FakeServer::set_content_length;
    request.write = &detail::FakeServer::write;
    request.send_file = &detail::FakeServer::send_file;
    request.headers_sent = &detail::FakeServer::headers_sent;
    request.last_error = &detail::FakeServer::last_error;
    run(request, server);
    return std::move(server.response);
  }

  Response get(std::string_view target, const Headers& headers = {}) {
    return request("GET", target, headers);
  }
  Response head(std::string_view target, const Headers& headers = {}) {
    return request("HEAD", target, headers);
  }
  Response post(std::string_view target, std::string body, std::string_view content_type,
                Headers headers = {}) {
    headers.push_back({"Content-Type", std::string(content_type)});
    return request("POST", target, headers, std::move(body));
  }
  // POST of an application/x-www-form-urlencoded form.
  Response post_form(std::string_view target, const Fields& fields, Headers headers = {}) {
    return post(target, to_urlencoded(fields), "application/x-www-form-urlencoded", std::move(headers));
  }
  Response post_multipart(std::string_view target, const MultipartBody& form, Headers headers = {}) {
    return post(target, form.body, form.content_type, std::move(headers));
  }

 private:
  // What FORKSERVE_EXPORT_HANDLER's glue and the server do around a handler.
  void run(const forkserve_request& request, detail::FakeServer& server) {
    auto fail = [&server](std::string_view message) {
      server.response.error_log.append(message).push_back('\n');
      if (server.head_sent) {
        server.response.aborted = true;
        return;
      }
      server.response.status = 500;
      server.response.status_line = "500 Internal Server Error";
      server.response.headers = {{"Content-Type", "text/plain; charset=utf-8"}};
      server.response.body = server.head_request ? "" : "500 Internal Server Error\n";
      server.response.content_length.reset();
    };
    try {
      Environ environ(request);
      StartResponse start_response(request);
      Body body = call_(environ, start_response);
      if (!start_response.called()) return fail("handler returned without calling start_response");
      body.send(request);
    } catch (const std::exception& e) {
      fail(e.what());
    } catch (...) {
      fail("handler threw a non-standard exception");
    }
  }

  forkserve::detail::UniqueFunction<Body(Environ&, StartResponse&)> call_;
  std::string remote_address_ = "127.0.0.1";
  int remote_port_ = 40000;
};

}  // namespace forkserve::testing

#endif  // FORKSERVE_TESTING_HPP

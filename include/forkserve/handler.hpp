// The forkserve handler API: a C++ analogue of WSGI (PEP 3333).
//
// A handler is a class with
//
//     forkserve::Body operator()(forkserve::Environ& environ,
//                                forkserve::StartResponse& start_response);
//
// and optionally a constructor taking std::string_view (the ARG of
// --handler PATH.so:ARG) and a `void post_fork()` member. The object is built
// once in the parent at start-up (and again at each reload); every process
// forked to serve inherits a copy and runs post_fork() first. By default that
// process is a child serving one connection, so nothing the handler changes
// survives the request; under --workers it is a worker serving many, so state
// changed by one request is seen by later ones in the same worker.
// environ.run_once() tells which (PEP 3333's wsgi.run_once).
//
//   * environ holds the CGI variables (REQUEST_METHOD, PATH_INFO, QUERY_STRING,
//     HTTP_*, ...), input() streams the request body and ends exactly at
//     CONTENT_LENGTH, errors() writes to the server's error log.
//   * start_response(status, headers) records "NNN Reason" and the headers;
//     they are sent with the first non-empty body bytes, so a handler may
//     still replace them (pass the current exception as the third argument).
//     It throws forkserve::ResponseError for an invalid status or header
//     (CR/LF/NUL, a name that is not a token, a hop-by-hop header) and returns
//     a Writer for the imperative style.
//   * the returned Body is sent after operator() returns; its destructor is
//     WSGI's close().
//   * an exception escaping operator() becomes "500 Internal Server Error" if
//     nothing was sent yet; otherwise the connection is aborted. Either way
//     the message goes to the error log.
//
// Everything here is header-only: a module links nothing from forkserve.
#ifndef FORKSERVE_HANDLER_HPP
#define FORKSERVE_HANDLER_HPP

#include <forkserve/module.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace forkserve {

inline std::string_view to_view(forkserve_str s) { return {s.data, s.size}; }
inline forkserve_str to_str(std::string_view s) { return {s.data(), s.size()}; }

// Thrown when the server refuses a response call, or the client went away.
class ResponseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Header {
  std::string name;
  std::string value;
};
using Headers = std::vector<Header>;

// The request body (wsgi.input). Reads stop at CONTENT_LENGTH.
class Input {
 public:
  explicit Input(const forkserve_request& request) : request_(&request) {}

  // Up to buffer.size() bytes; 0 at the end of the body.
  std::size_t read(std::span<char> buffer) {
    long long n = request_->read_input(request_->server, buffer.data(), buffer.size());
    if (n < 0) throw ResponseError(request_->last_error(request_->server));
    return static_cast<std::size_t>(n);
  }

  // The rest of the body.
  std::string read_all() {
    std::string body;
    char chunk[16384];
    while (std::size_t n = read(chunk)) body.append(chunk, n);
    return body;
  }

 private:
  const forkserve_request* request_;
};

// The server's error log (wsgi.errors).
class ErrorStream {
 public:
  explicit ErrorStream(const forkserve_request& request) : request_(&request) {}
  void write(std::string_view message) {
    request_->log_error(request_->server, message.data(), message.size());
  }

 private:
  const forkserve_request* request_;
};

class Environ {
 public:
  using Variable = std::pair<std::string_view, std::string_view>;

  explicit Environ(const forkserve_request& request)
      : request_(&request),
        variables_(request.environ, request.environ_count),
        input_(request),
        errors_(request),
        run_once_(FORKSERVE_REQUEST_HAS(&request, run_once) ? request.run_once != 0 : true) {}

  // The value of a variable, or `fallback` when the request did not set it.
  std::string_view get(std::string_view name, std::string_view fallback = {}) const {
    const forkserve_pair* found = find(name);
    return found ? to_view(found->value) : fallback;
  }
  bool contains(std::string_view name) const { return find(name) != nullptr; }

  // All variables, sorted by name.
  std::vector<Variable> variables() const {
    std::vector<Variable> out;
    out.reserve(variables_.size());
    for (const forkserve_pair& p : variables_) out.emplace_back(to_view(p.name), to_view(p.value));
    return out;
  }

  Input& input() { return input_; }
  ErrorStream& errors() { return errors_; }
  // The server's C view of this request, for helpers that call the server.
  const forkserve_request& request() const { return *request_; }

  // PEP 3333's facts about this server: fixed ones, and run_once(), true
  // when this process serves only this request (false under --workers).
  static constexpr std::string_view url_scheme = "http";
  static constexpr bool multithread = false;
  static constexpr bool multiprocess = true;
  bool run_once() const { return run_once_; }

 private:
  const forkserve_pair* find(std::string_view name) const {
    auto it = std::lower_bound(variables_.begin(), variables_.end(), name,
                               [](const forkserve_pair& p, std::string_view n) { return to_view(p.name) < n; });
    return it != variables_.end() && to_view(it->name) == name ? &*it : nullptr;
  }

  const forkserve_request* request_;
  std::span<const forkserve_pair> variables_;
  Input input_;
  ErrorStream errors_;
  bool run_once_;
};

namespace detail {

// A move-only std::function: what Body::pull and forkserve::Router keep, so a
// callable may own a unique_ptr or an open file (std::function needs copies).
template <typename Signature>
class UniqueFunction;

// Callables that can be empty: UniqueFunction keeps them empty.
template <typename F>
constexpr bool is_nullable = std::is_pointer_v<F> || std::is_member_pointer_v<F>;
template <typename G>
constexpr bool is_nullable<std::function<G>> = true;

template <typename R, typename... Args>
class UniqueFunction<R(Args...)> {
 public:
  UniqueFunction() = default;
  template <typename F>
    requires(!std::is_same_v<std::decay_t<F>, UniqueFunction> &&
             std::is_invocable_r_v<R, std::decay_t<F>&, Args...>)
  UniqueFunction(F&& f) {
    // An empty std::function or null function pointer stays empty, as it was
    // when Source was a std::function (Body::send tests for it).
    if constexpr (is_nullable<std::decay_t<F>>) {
      if (f == nullptr) return;
    }
    callable_ = std::make_unique<Holder<std::decay_t<F>>>(std::forward<F>(f));
  }

  explicit operator bool() const { return callable_ != nullptr; }
  R operator()(Args... args) const {
    if (!callable_) throw std::bad_function_call();  // as an empty std::function does
    return callable_->call(std::forward<Args>(args)...);
  }

 private:
  struct Callable {
    virtual ~Callable() = default;
    virtual R call(Args... args) = 0;
  };
  template <typename F>
  struct Holder final : Callable {
    template <typename G>
    explicit Holder(G&& g) : f(std::forward<G>(g)) {}
    R call(Args... args) override { return f(std::forward<Args>(args)...); }
    F f;
  };
  std::unique_ptr<Callable> callable_;
};

inline void check(const forkserve_request& request, int rc) {
  if (rc != FORKSERVE_OK) throw ResponseError(request.last_error(request.server));
}
}  // namespace detail

// WSGI's write(): sends body bytes at once (after the held headers).
class Writer {
 public:
  explicit Writer(const forkserve_request& request) : request_(&request) {}
  void operator()(std::string_view data) const {
    if (!data.empty()) detail::check(*request_, request_->write(request_->server, data.data(), data.size()));
  }

 private:
  const forkserve_request* request_;
};

class StartResponse {
 public:
  explicit StartResponse(const forkserve_request& request) : request_(&request) {}

  // Records the status ("200 OK") and headers. A second call is allowed only
  // with the exception being handled (`error`), and only before anything was
  // sent; after that the exception is rethrown, as PEP 3333 asks.
  Writer operator()(std::string_view status, const Headers& headers,
                    std::exception_ptr error = nullptr) {
    if (error && headers_sent()) std::rethrow_exception(error);
    std::vector<forkserve_pair> pairs;
    pairs.reserve(headers.size());
    for (const Header& h : headers) pairs.push_back({to_str(h.name), to_str(h.value)});
    detail::check(*request_, request_->start_response(request_->server, to_str(status), pairs.data(),
                                                      pairs.size(), error ? 1 : 0));
    called_ = true;
    return Writer(*request_);
  }

  bool called() const { return called_; }
  bool headers_sent() const { return request_->headers_sent(request_->server) != 0; }

 private:
  const forkserve_request* request_;
  bool called_ = false;
};

// What a handler returns. Its destructor is WSGI's close(): it always runs.
class Body {
 public:
  // Produces the next chunk, or nullopt at the end. Any callable, also a
  // move-only one (a lambda owning a std::unique_ptr<std::ifstream>).
  using Source = detail::UniqueFunction<std::optional<std::string>()>;

  struct FileRegion {
    int fd = -1;  // owned: closed when the Body is destroyed
    long long offset = 0;
    unsigned long long length = 0;
  };

  Body() = default;
  static Body text(std::string data) { return chunks({std::move(data)}); }
  static Body chunks(std::vector<std::string> parts) { return Body(std::move(parts)); }
  // Each chunk is sent as soon as it is produced (streaming); no
  // Content-Length unless the handler gave one.
  static Body pull(Source source) { return Body(std::move(source)); }
  // Sent with sendfile(2); takes ownership of fd.
  static Body file(int fd, long long offset, unsigned long long length) {
    return Body(FileRegion{fd, offset, length});
  }

  Body(Body&& other) noexcept : content_(std::exchange(other.content_, {})) {}
  Body& operator=(Body&& other) noexcept {
    if (this != &other) {
      release();
      content_ = std::exchange(other.content_, {});
    }
    return *this;
  }
  Body(const Body&) = delete;
  Body& operator=(const Body&) = delete;
  ~Body() { release(); }

  // Sends the body through the server; used by the module glue.
  void send(const forkserve_request& request) const {
    if (auto* parts = std::get_if<std::vector<std::string>>(&content_)) {
      unsigned long long total = 0;
      for (const std::string& p : *parts) total += p.size();
      detail::check(request, request.set_content_length(request.server, total));
      for (const std::string& p : *parts) Writer{request}(p);
    } else if (auto* source = std::get_if<Source>(&content_); source && *source) {
      while (std::optional<std::string> chunk = (*source)()) Writer{request}(*chunk);
    } else if (auto* file = std::get_if<FileRegion>(&content_)) {
      detail::check(request, request.set_content_length(request.server, file->length));
      detail::check(request, request.send_file(request.server, file->fd, file->offset, file->length));
    }
  }

 private:
  using Content = std::variant<std::monostate, std::vector<std::string>, Source, FileRegion>;
  explicit Body(std::vector<std::string> parts) : content_(std::move(parts)) {}
  explicit Body(Source source) : content_(std::move(source)) {}
  explicit Body(FileRegion file) : content_(file) {}

  void release() {
    if (auto* file = std::get_if<FileRegion>(&content_); file && file->fd >= 0) ::close(file->fd);
    content_ = std::monostate{};
  }

  Content content_;
};

}  // namespace forkserve

#endif  // FORKSERVE_HANDLER_HPP

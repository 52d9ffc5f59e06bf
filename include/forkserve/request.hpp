// A convenient view of one request, over the Environ a handler is given:
//
//     forkserve::Request request(environ);
//     request.method();                  // "GET"
//     request.query().get("page");       // ?page=2 → "2"
//     request.header("User-Agent");      // by its HTTP name, any case
//     request.cookie("session");
//     request.form().get("message");     // urlencoded or multipart body
//     request.param("id");               // {id} of a Router pattern
//     request.integer_query("limit");    // nullopt, a number, or BadRequest
//
// Parsing is lazy and happens once. Malformed input throws BadRequest (400)
// and input past FormLimits throws HttpError 413: forkserve::Router turns both
// into responses.
#ifndef FORKSERVE_REQUEST_HPP
#define FORKSERVE_REQUEST_HPP

#include <algorithm>
#include <charconv>
#include <exception>
#include <forkserve/form.hpp>
#include <forkserve/handler.hpp>
#include <forkserve/multipart.hpp>
#include <forkserve/status.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace forkserve {

// A file field of a multipart form, held in memory (bounded by
// FormLimits::max_body_bytes); stream large uploads with MultipartReader.
struct UploadedFile {
  std::string field;     // the form field's name
  std::string filename;  // as the client gave it: never use it as a path unchecked
  std::string content_type;
  std::string content;
};

// "User-Agent" → "HTTP_USER_AGENT"; Content-Type and Content-Length have
// their CGI names. Empty for a name the server never passes on (one with
// '_', which could pose as another header, or one that is not a token).
inline std::string environ_name_of_header(std::string_view header) {
  if (!detail::is_token(header) || header.find('_') != std::string_view::npos) return {};
  if (iequals(header, "Content-Type")) return "CONTENT_TYPE";
  if (iequals(header, "Content-Length")) return "CONTENT_LENGTH";
  std::string name = "HTTP_";
  for (char c : header)
    name.push_back(c == '-' ? '_' : (c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c));
  return name;
}

namespace detail {
// Sorts environ variables by name (Environ looks them up by binary search)
// and merges a repeated one as RFC 9110 §5.3 allows: "a, b", cookies with
// "; ". The server and forkserve::testing's client build the environ alike.
inline void sort_and_merge_environ(std::vector<std::pair<std::string, std::string>>& vars) {
  std::stable_sort(vars.begin(), vars.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<std::string, std::string>> merged;
  merged.reserve(vars.size());
  for (auto& var : vars) {
    if (!merged.empty() && merged.back().first == var.first) {
      merged.back().second.append(var.first == "HTTP_COOKIE" ? "; " : ", ").append(var.second);
    } else {
      merged.push_back(std::move(var));
    }
  }
  vars = std::move(merged);
}
}  // namespace detail

// The environ variable where forkserve::Router puts the path parameter `name`.
inline std::string route_parameter_variable(std::string_view name) {
  return std::string("forkserve.route.").append(name);
}

// A decimal integer in [min, max], or BadRequest naming `what`.
inline long long parse_integer(std::string_view text, std::string_view what, long long min, long long max) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < min || value > max) {
    throw BadRequest(std::string(what) + " must be an integer from " + std::to_string(min) + " to " +
                     std::to_string(max));
  }
  return value;
}

class Request {
 public:
  explicit Request(Environ& environ, FormLimits limits = {}) : environ_(&environ), limits_(limits) {}

  Environ& environ() { return *environ_; }
  std::string_view method() const { return environ_->get("REQUEST_METHOD"); }
  // The percent-decoded path ("/a b" for "/a%20b").
  std::string_view path() const { return environ_->get("PATH_INFO"); }
  std::string_view query_string() const { return environ_->get("QUERY_STRING"); }
  std::string_view content_type() const { return environ_->get("CONTENT_TYPE"); }

  const Fields& query() {
    if (!query_) query_ = parse_urlencoded(query_string(), limits_.max_fields);
    return *query_;
  }
  // A query parameter as an integer in [min, max]: nullopt when absent,
  // BadRequest when it is not such a number.
  std::optional<long long> integer_query(std::string_view name, long long min = 0,
                                         long long max = 1'000'000'000) {
    auto text = query().get(name);
    if (!text) return std::nullopt;
    return parse_integer(*text, name, min, max);
  }

  // A request header by its HTTP name, case-insensitive ("content-type",
  // "X-Request-Id"). Repeated headers arrive joined with ", ".
  std::optional<std::string_view> header(std::string_view name) const {
    const std::string variable = environ_name_of_header(name);
    if (variable.empty() || !environ_->contains(variable)) return std::nullopt;
    return environ_->get(variable);
  }

  const Fields& cookies() {
    if (!cookies_) cookies_ = parse_cookies(environ_->get("HTTP_COOKIE"), limits_.max_fields);
    return *cookies_;
  }
  std::optional<std::string_view> cookie(std::string_view name) { return cookies().get(name); }

  // A {name} of the Router pattern that matched, percent-decoded.
  std::optional<std::string_view> param(std::string_view name) const {
    const std::string variable = route_parameter_variable(name);
    if (!environ_->contains(variable)) return std::nullopt;
    return environ_->get(variable);
  }

  // The form fields of an application/x-www-form-urlencoded or
  // multipart/form-data body (read from input() on the first call), or of
  // the query string for a GET or HEAD; empty for other bodies.
  const Fields& form() {
    load_form();
    return *form_;
  }
  // The file parts of a multipart form.
  const std::vector<UploadedFile>& files() {
    load_form();
    return files_;
  }

 private:
  // The body can be read once: a form that failed to parse fails again the
  // same way on the next call, rather than looking empty.
  void load_form() {
    if (form_error_) std::rethrow_exception(form_error_);
    if (form_) return;
    try {
      read_form();
    } catch (...) {
      form_error_ = std::current_exception();
      throw;
    }
  }

  void read_form() {
    const std::string_view method = this->method();
    if (method == "GET" || method == "HEAD") {
      form_ = query();
      return;
    }
    Fields fields;
    std::vector<UploadedFile> files;
    const MediaType media = MediaType::parse(content_type());
    if (media.type == "application/x-www-form-urlencoded") {
      fields = parse_urlencoded(read_body(), limits_.max_fields);
    } else if (media.type == "multipart/form-data") {
      MultipartReader reader(*environ_, limits_);
      while (std::optional<Part> part = reader.next()) {
        if (part->filename) {
          files.push_back({part->name, *part->filename, part->content_type, reader.read_all()});
        } else {
          fields.add(part->name, reader.read_all());
        }
      }
    }
    form_ = std::move(fields);
    files_ = std::move(files);
  }

  std::string read_body() {
    std::string body;
    char chunk[16384];
    while (std::size_t n = environ_->input().read(chunk)) {
      if (body.size() + n > limits_.max_body_bytes) {
        throw HttpError(status::content_too_large,
                        "form body larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
      }
      body.append(chunk, n);
    }
    return body;
  }

  Environ* environ_;
  FormLimits limits_;
  std::optional<Fields> query_;
  std::optional<Fields> cookies_;
  std::optional<Fields> form_;
  std::vector<UploadedFile> files_;
  std::exception_ptr form_error_;
};

}  // namespace forkserve

#endif  // FORKSERVE_REQUEST_HPP

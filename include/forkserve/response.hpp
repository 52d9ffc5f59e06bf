// Answering: whole responses in one call, redirects, error pages, HTML
// escaping and Set-Cookie.
//
//     return forkserve::html(start_response, "<p>" + forkserve::html_escape(name) + "</p>");
//     return forkserve::json(start_response, std::move(text), forkserve::status::created);
//     return forkserve::redirect(start_response, "/", {cookie.header()});  // 303
//     return forkserve::error(start_response, forkserve::status::not_found);
//
// The status parameters take a forkserve::Status (checked when compiled) or,
// for a custom status, its "NNN Reason" string.
#ifndef FORKSERVE_RESPONSE_HPP
#define FORKSERVE_RESPONSE_HPP

#include <ctime>
#include <forkserve/form.hpp>
#include <forkserve/handler.hpp>
#include <forkserve/status.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace forkserve {

// Text made safe for HTML content and attribute values (& < > " ').
inline std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out.append("&amp;");
        break;
      case '<':
        out.append("&lt;");
        break;
      case '>':
        out.append("&gt;");
        break;
      case '"':
        out.append("&quot;");
        break;
      case '\'':
        out.append("&#39;");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// RFC 9110's IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
inline std::string http_date(std::time_t time) {
  std::tm tm{};
  ::gmtime_r(&time, &tm);
  char buffer[40];
  std::size_t n = std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buffer, n);
}

// Starts the response and returns `body` as its Body (Content-Length known).
inline Body respond(StartResponse& start_response, std::string_view status, std::string_view content_type,
                    std::string body, Headers headers = {}) {
  headers.insert(headers.begin(), {"Content-Type", std::string(content_type)});
  start_response(status, headers);
  return Body::text(std::move(body));
}

inline Body text(StartResponse& start_response, std::string body,
                 std::string_view status = forkserve::status::ok, Headers headers = {}) {
  return respond(start_response, status, "text/plain; charset=utf-8", std::move(body), std::move(headers));
}
inline Body html(StartResponse& start_response, std::string body,
                 std::string_view status = forkserve::status::ok, Headers headers = {}) {
  return respond(start_response, status, "text/html; charset=utf-8", std::move(body), std::move(headers));
}
// `body` is JSON text, e.g. from JsonWriter.
inline Body json(StartResponse& start_response, std::string body,
                 std::string_view status = forkserve::status::ok, Headers headers = {}) {
  return respond(start_response, status, "application/json", std::move(body), std::move(headers));
}

// A short text/plain error: "404 Not Found\n", or the detail given
// ("limit must be a number\n"). Never echo unescaped input into an HTML page:
// this is plain text for that reason.
inline Body error(StartResponse& start_response, std::string_view status, std::string_view detail = {},
                  Headers headers = {}) {
  std::string body(detail.empty() ? status : detail);
  body.push_back('\n');
  return text(start_response, std::move(body), status, std::move(headers));
}

// Redirects to `location` (a path like "/" or an absolute URL), 303 See
// Other by default: after a POST the browser GETs the new location. A
// location with CR or LF is refused by start_response (ResponseError), so
// user input cannot split the header.
inline Body redirect(StartResponse& start_response, std::string_view location, Headers headers = {},
                     std::string_view status = forkserve::status::see_other) {
  headers.insert(headers.begin(), {"Location", std::string(location)});
  return text(start_response, std::string(location) + "\n", status, std::move(headers));
}

enum class SameSite { Strict, Lax, None };

// A Set-Cookie header (RFC 6265):
//
//     forkserve::SetCookie("name", forkserve::url_encode(name))
//         .path("/").http_only().same_site(forkserve::SameSite::Lax).header()
//
// The name must be a token and the value cookie-octets (no space, '"', ',',
// ';', '\\' or control characters): url_encode() any text first.
// std::invalid_argument otherwise, so a value cannot inject attributes.
class SetCookie {
 public:
  SetCookie(std::string_view name, std::string_view value) {
    if (!detail::is_token(name)) throw std::invalid_argument("cookie name is not a token");
    for (const char ch : value) {
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x21 || c > 0x7e || ch == '"' || ch == ',' || ch == ';' || ch == '\\') {
        throw std::invalid_argument(
            "cookie value needs encoding (url_encode): it holds a space, '\"', ',', ';', "
            "'\\' or a byte outside visible ASCII");
      }
    }
    text_.append(name).append("=").append(value);
  }

  SetCookie& path(std::string_view p) { return attribute("Path", p); }
  SetCookie& domain(std::string_view d) { return attribute("Domain", d); }
  SetCookie& max_age(long long seconds) { return attribute("Max-Age", std::to_string(seconds)); }
  SetCookie& expires(std::time_t when) { return attribute("Expires", http_date(when)); }
  SetCookie& secure() { return flag("Secure"); }
  SetCookie& http_only() { return flag("HttpOnly"); }
  SetCookie& same_site(SameSite s) {
    return attribute("SameSite", s == SameSite::Strict ? "Strict" : s == SameSite::Lax ? "Lax" : "None");
  }

  std::string_view value() const { return text_; }
  Header header() const { return {"Set-Cookie", text_}; }

  // Expires a cookie at once: the header that deletes `name` (give the same
  // Path and Domain it was set with).
  static SetCookie removal(std::string_view name) {
    SetCookie cookie(name, "");
    cookie.max_age(0);
    return cookie;
  }

 private:
  SetCookie& attribute(std::string_view name, std::string_view value) {
    for (const char c : value) {
      if (c == ';' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        throw std::invalid_argument("cookie attribute " + std::string(name) +
                                    " holds ';' or a control character");
      }
    }
    text_.append("; ").append(name).append("=").append(value);
    return *this;
  }
  SetCookie& flag(std::string_view name) {
    text_.append("; ").append(name);
    return *this;
  }

  std::string text_;
};

}  // namespace forkserve

#endif  // FORKSERVE_RESPONSE_HPP

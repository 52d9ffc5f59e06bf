// Routing by method and path pattern, itself a handler:
//
//     forkserve::Router router;
//     router.get("/entries/{id}", [](forkserve::Environ& environ, forkserve::StartResponse& start_response) {
//       forkserve::Request request(environ);
//       return forkserve::text(start_response, "entry " + std::string(*request.param("id")));
//     });
//     router.post("/entries", AddEntry{});  // any handler object
//
// A pattern is a path whose segments are literal or {name}; a {name} matches
// one non-empty segment. Segments are split on the raw path and then
// percent-decoded, so "/entries/a%2Fb" gives id "a/b" (the slash is data, not
// a separator). The parameters reach the route in its Environ
// (Request::param reads them).
//
// No route for the path: 404. Routes for the path, none for the method: 405
// with Allow listing them. HEAD runs the GET route (the server sends no
// body). An HttpError (BadRequest, 413 from the form limits, ...) thrown by a
// route becomes its status with the message as a text/plain body, if nothing
// was sent yet; anything else propagates (a 500 from the server).
#ifndef FORKSERVE_ROUTER_HPP
#define FORKSERVE_ROUTER_HPP

#include <algorithm>
#include <cstring>
#include <forkserve/form.hpp>
#include <forkserve/handler.hpp>
#include <forkserve/request.hpp>
#include <forkserve/response.hpp>
#include <forkserve/status.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace forkserve {

class Router {
 public:
  using Handler = detail::UniqueFunction<Body(Environ&, StartResponse&)>;

  // Adds a route; a malformed pattern throws std::invalid_argument (at
  // start-up, when routes are set up in the handler's constructor).
  Router& route(std::string_view method, std::string_view pattern, Handler handler) {
    if (!detail::is_token(method)) throw std::invalid_argument("route method is not a token");
    routes_.push_back({std::string(method), parse_pattern(pattern), std::move(handler)});
    return *this;
  }
  Router& get(std::string_view pattern, Handler handler) { return route("GET", pattern, std::move(handler)); }
  Router& post(std::string_view pattern, Handler handler) {
    return route("POST", pattern, std::move(handler));
  }
  Router& put(std::string_view pattern, Handler handler) { return route("PUT", pattern, std::move(handler)); }
  Router& patch(std::string_view pattern, Handler handler) {
    return route("PATCH", pattern, std::move(handler));
  }
  Router& delete_(std::string_view pattern, Handler handler) {
    return route("DELETE", pattern, std::move(handler));
  }

  Body operator()(Environ& environ, StartResponse& start_response) {
    try {
      return dispatch(environ, start_response);
    } catch (const HttpError& e) {
      if (start_response.headers_sent()) throw;
      std::string body = std::string(e.what()) + "\n";
      start_response(e.status(), {{"Content-Type", "text/plain; charset=utf-8"}},
                     start_response.called() ? std::current_exception() : nullptr);
      return Body::text(std::move(body));
    }
  }

 private:
  struct Segment {
    std::string text;  // literal text, or the parameter's name
    bool parameter;
  };
  struct Route {
    std::string method;
    std::vector<Segment> pattern;
    Handler handler;
  };
  // The Environ a route runs with: the request's variables plus its
  // parameters. Kept until the next request, as the route's Body may still
  // read from it while it is sent.
  struct Scope {
    std::vector<std::pair<std::string, std::string>> owned;  // the parameters
    std::vector<forkserve_pair> pairs;
    forkserve_request request;
    std::optional<Environ> environ;
  };

  static std::vector<Segment> parse_pattern(std::string_view pattern) {
    if (!pattern.starts_with('/')) throw std::invalid_argument("route pattern must start with '/'");
    std::vector<Segment> segments;
    for (const std::string_view part : split(pattern)) {
      if (part.starts_with('{') || part.ends_with('}')) {
        const std::string_view name = part.size() >= 2 ? part.substr(1, part.size() - 2) : std::string_view{};
        const bool valid =
            !name.empty() && part.starts_with('{') && part.ends_with('}') &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            });
        if (!valid)
          throw std::invalid_argument("route parameter must look like {name}: " + std::string(part));
        segments.push_back({std::string(name), true});
      } else {
        segments.push_back({url_decode(part), false});
      }
    }
    return segments;
  }

  // "/a/b/" → "a", "b", "": the empty segments count.
  static std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> parts;
    path.remove_prefix(1);
    while (true) {
      const std::size_t slash = path.find('/');
      parts.push_back(path.substr(0, slash));
      if (slash == std::string_view::npos) break;
      path.remove_prefix(slash + 1);
    }
    return parts;
  }

  static bool match(const std::vector<Segment>& pattern, const std::vector<std::string>& segments,
                    std::vector<std::pair<std::string, std::string>>& parameters) {
    if (pattern.size() != segments.size()) return false;
    parameters.clear();
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i].parameter) {
        if (segments[i].empty()) return false;
        parameters.emplace_back(route_parameter_variable(pattern[i].text), segments[i]);
      } else if (pattern[i].text != segments[i]) {
        return false;
      }
    }
    return true;
  }

  Body dispatch(Environ& environ, StartResponse& start_response) {
    const std::string_view raw =
        environ.contains("forkserve.raw_path") ? environ.get("forkserve.raw_path") : environ.get("PATH_INFO");
    if (!raw.starts_with('/')) return error(start_response, status::not_found);
    std::vector<std::string> segments;
    for (const std::string_view part : split(raw)) segments.push_back(url_decode(part));

    const std::string_view method = environ.get("REQUEST_METHOD");
    Route* chosen = nullptr;
    Route* get_route = nullptr;
    std::vector<std::pair<std::string, std::string>> parameters;
    std::vector<std::pair<std::string, std::string>> get_parameters;
    std::string allow;
    for (Route& route : routes_) {
      if (!match(route.pattern, segments, parameters)) continue;
      if (route.method == method) {
        chosen = &route;
        break;
      }
      if (route.method == "GET" && !get_route) {
        get_route = &route;
        get_parameters = parameters;
      }
      add_allowed(allow, route.method);
      if (route.method == "GET") add_allowed(allow, "HEAD");
    }
    if (!chosen && method == "HEAD" && get_route) {
      chosen = get_route;
      parameters = std::move(get_parameters);
    }
    if (!chosen) {
      if (allow.empty()) return error(start_response, status::not_found);
      return error(start_response, status::method_not_allowed, {}, {{"Allow", allow}});
    }
    if (parameters.empty()) return chosen->handler(environ, start_response);
    return chosen->handler(scoped_environ(environ, std::move(parameters)), start_response);
  }

  static void add_allowed(std::string& allow, std::string_view method) {
    std::string_view rest = allow;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(", ");
      if (rest.substr(0, comma) == method) return;
      rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 2);
    }
    if (!allow.empty()) allow.append(", ");
    allow.append(method);
  }

  Environ& scoped_environ(Environ& environ, std::vector<std::pair<std::string, std::string>> parameters) {
    scope_ = std::make_unique<Scope>();
    Scope& scope = *scope_;
    scope.owned = std::move(parameters);
    for (const auto& [name, value] : environ.variables())
      scope.pairs.push_back({to_str(name), to_str(value)});
    for (const auto& parameter : scope.owned) {  // not a structured binding: clang 14 cannot capture one
      const std::string& name = parameter.first;
      auto same = std::find_if(scope.pairs.begin(), scope.pairs.end(),
                               [&name](const forkserve_pair& p) { return to_view(p.name) == name; });
      if (same != scope.pairs.end()) scope.pairs.erase(same);  // an outer router's parameter of that name
      scope.pairs.push_back({to_str(name), to_str(parameter.second)});
    }
    std::sort(scope.pairs.begin(), scope.pairs.end(), [](const forkserve_pair& a, const forkserve_pair& b) {
      return to_view(a.name) < to_view(b.name);
    });
    // The server's struct may be smaller (an older server) or larger (a newer
    // one) than this build's: copy what both know, and say so in `size`.
    const forkserve_request& original = environ.request();
    const std::size_t known = std::min<std::size_t>(original.size, sizeof scope.request);
    scope.request = forkserve_request{};
    std::memcpy(&scope.request, &original, known);
    scope.request.size = static_cast<uint32_t>(known);
    scope.request.environ = scope.pairs.data();
    scope.request.environ_count = scope.pairs.size();
    scope.environ.emplace(scope.request);
    return *scope.environ;
  }

  std::vector<Route> routes_;
  std::unique_ptr<Scope> scope_;
};

}  // namespace forkserve

#endif  // FORKSERVE_ROUTER_HPP

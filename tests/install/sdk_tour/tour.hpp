// Every helper of the handler SDK in one handler (see CMakeLists.txt).
#pragma once

#include <forkserve/files.hpp>
#include <forkserve/json.hpp>
#include <forkserve/multipart.hpp>
#include <forkserve/request.hpp>
#include <forkserve/response.hpp>
#include <forkserve/router.hpp>
#include <forkserve/status.hpp>
#include <memory>
#include <string>

class Tour {
 public:
  Tour() {
    using forkserve::Environ;
    using forkserve::StartResponse;
    // Query, header, cookie, path parameter, integer parsing, JSON writer.
    router_.get("/items/{id}", [](Environ& environ, StartResponse& start_response) {
      forkserve::Request request(environ);
      const long long count = request.integer_query("count", 0, 10).value_or(1);
      forkserve::JsonWriter json;
      json.begin_object()
          .key("id")
          .value(*request.param("id"))
          .key("count")
          .value(count)
          .key("tag")
          .value(request.header("x-tag").value_or(""))
          .key("seen")
          .value(request.cookie("seen").has_value())
          .end_object();
      return forkserve::json(start_response, std::move(json).str());
    });
    // Urlencoded form, HTML escaping, Set-Cookie, redirect.
    router_.post("/greet", [](Environ& environ, StartResponse& start_response) {
      forkserve::Request request(environ);
      const std::string name(request.form().get_or("name", ""));
      if (name.empty()) throw forkserve::BadRequest("name is required");
      auto cookie =
          forkserve::SetCookie("seen", forkserve::url_encode(name)).path("/").http_only().max_age(60);
      return forkserve::redirect(start_response, "/hello/" + forkserve::url_encode(name), {cookie.header()});
    });
    router_.get("/hello/{name}", [](Environ& environ, StartResponse& start_response) {
      forkserve::Request request(environ);
      return forkserve::html(start_response,
                             "<p>Hello, " + forkserve::html_escape(*request.param("name")) + "</p>");
    });
    // A multipart upload streamed part by part.
    router_.post("/upload", [](Environ& environ, StartResponse& start_response) {
      forkserve::MultipartReader reader(environ);
      std::string summary;
      while (auto part = reader.next()) {
        std::size_t bytes = 0;
        char buffer[4096];
        while (std::size_t n = reader.read(buffer)) bytes += n;
        summary += part->name + ":" + std::to_string(bytes) + ";";
      }
      return forkserve::text(start_response, summary, forkserve::status::created);
    });
    // A streamed body whose source owns a move-only resource.
    router_.get("/count", [](Environ&, StartResponse& start_response) {
      start_response(forkserve::status::ok, {{"Content-Type", "text/plain"}});
      auto next = std::make_unique<int>(0);
      return forkserve::Body::pull([next = std::move(next)]() -> std::optional<std::string> {
        if (*next == 3) return std::nullopt;
        return std::to_string((*next)++);
      });
    });
    // A file answered by the server's static-file logic, with a header added.
    router_.get("/file", [](Environ& environ, StartResponse& start_response) {
      forkserve::Request request(environ);
      return forkserve::send_file(environ, start_response, std::string(request.query().get_or("path", "")),
                                  {{"X-Tour", "file"}});
    });
    router_.get("/gone", [](Environ&, StartResponse& start_response) {
      return forkserve::error(start_response, forkserve::status::gone, "it moved on");
    });
  }

  forkserve::Body operator()(forkserve::Environ& environ, forkserve::StartResponse& start_response) {
    return router_(environ, start_response);
  }

 private:
  forkserve::Router router_;
};

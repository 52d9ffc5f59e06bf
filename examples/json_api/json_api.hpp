// Reading JSON with a maintained parser instead of writing one: nlohmann/json
// (Debian: nlohmann-json3-dev, header-only, so the module still links
// nothing). POST /api/sum with {"numbers": [1, 2.5, ...], "label": "..."}
// answers {"label": ..., "count": N, "sum": S}; anything malformed is a 400
// naming the problem, a body over 64 KiB a 413.
#ifndef FORKSERVE_EXAMPLE_JSON_API_HPP
#define FORKSERVE_EXAMPLE_JSON_API_HPP

#include <forkserve/json.hpp>
#include <forkserve/request.hpp>
#include <forkserve/response.hpp>
#include <forkserve/router.hpp>
#include <nlohmann/json.hpp>
#include <string>

class JsonApi {
 public:
  JsonApi() {
    router_.post("/api/sum", [](forkserve::Environ& environ, forkserve::StartResponse& start_response) {
      const nlohmann::json request = parse(read_bounded(environ, 64 << 10));
      if (!request.is_object() || !request.contains("numbers") || !request["numbers"].is_array()) {
        throw forkserve::BadRequest("expected {\"numbers\": [...]}");
      }
      double sum = 0;
      for (const nlohmann::json& n : request["numbers"]) {
        if (!n.is_number()) throw forkserve::BadRequest("numbers must hold only numbers");
        sum += n.get<double>();
      }
      const std::string label = request.contains("label") && request["label"].is_string()
                                    ? request["label"].get<std::string>()
                                    : std::string();
      forkserve::JsonWriter json;
      json.begin_object()
          .key("label")
          .value(label)
          .key("count")
          .value(request["numbers"].size())
          .key("sum")
          .value(sum)
          .end_object();
      return forkserve::json(start_response, std::move(json).str());
    });
  }

  forkserve::Body operator()(forkserve::Environ& environ, forkserve::StartResponse& start_response) {
    return router_(environ, start_response);
  }

 private:
  // The body, refused with 413 past `limit` bytes before it is all in memory.
  static std::string read_bounded(forkserve::Environ& environ, std::size_t limit) {
    std::string body;
    char chunk[16384];
    while (std::size_t n = environ.input().read(chunk)) {
      if (body.size() + n > limit)
        throw forkserve::HttpError(forkserve::status::content_too_large, "body too large");
      body.append(chunk, n);
    }
    return body;
  }

  // Without exceptions from the parser: a syntax error is the client's 400.
  static nlohmann::json parse(const std::string& text) {
    nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) throw forkserve::BadRequest("the body is not valid JSON");
    return value;
  }

  forkserve::Router router_;
};

#endif  // FORKSERVE_EXAMPLE_JSON_API_HPP

// Shows what a handler receives: every environ variable as KEY=value, one a
// line, then the request body it read.
#include <forkserve/export.hpp>

#include <string>

struct EnvironDump {
  forkserve::Body operator()(forkserve::Environ& environ, forkserve::StartResponse& start_response) {
    std::string text;
    for (auto [name, value] : environ.variables()) {
      text.append(name).append("=").append(value).append("\n");
    }
    std::string body = environ.input().read_all();
    text.append("\n").append(body);
    start_response("200 OK", {{"Content-Type", "text/plain; charset=utf-8"}});
    return forkserve::Body::text(std::move(text));
  }
};

FORKSERVE_EXPORT_HANDLER(EnvironDump)

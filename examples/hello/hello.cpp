// The tutorial's application as a forkserve module: answers every request
// with "Hello, World!".
#include <forkserve/export.hpp>

struct Hello {
  forkserve::Body operator()(forkserve::Environ&, forkserve::StartResponse& start_response) {
    start_response("200 OK", {{"Content-Type", "text/plain"}});
    return forkserve::Body::text("Hello, World!");
  }
};

FORKSERVE_EXPORT_HANDLER(Hello)

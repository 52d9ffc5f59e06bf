// A handler module with an argument: `--handler greeting.so:Bonjour` answers
// GET /world with "Bonjour, world!".
#include <forkserve/export.hpp>

#include <string>
#include <string_view>

class Greeting {
 public:
  // ARG from --handler PATH.so:ARG; built once, in the parent, at start-up.
  explicit Greeting(std::string_view word) : word_(word.empty() ? "Hello" : word) {}

  forkserve::Body operator()(forkserve::Environ& environ, forkserve::StartResponse& start_response) {
    std::string_view path = environ.get("PATH_INFO");
    if (path.starts_with('/')) path.remove_prefix(1);
    start_response("200 OK", {{"Content-Type", "text/plain; charset=utf-8"}});
    return forkserve::Body::text(word_ + ", " + std::string(path.empty() ? "World" : path) + "!\n");
  }

 private:
  std::string word_;
};

FORKSERVE_EXPORT_HANDLER(Greeting)

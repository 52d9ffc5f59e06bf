// Embedding forkserve: one program holding both the server and its handler.
//
//     struct Hello {
//       forkserve::Body operator()(forkserve::Environ&, forkserve::StartResponse& start_response) {
//         start_response("200 OK", {{"Content-Type", "text/plain"}});
//         return forkserve::Body::text("Hello, World!");
//       }
//     };
//     int main(int argc, char* argv[]) { return forkserve::main(argc, argv, Hello{}); }
//
// Link libforkserve (CMake: forkserve::forkserve, the static library, or
// forkserve::forkserve_shared; pkg-config: forkserve). The program then takes
// every flag of the forkserve binary (--help lists them) and behaves as it
// does: same start-up line, logs, signals and exit status. The handler given
// here takes the place of the built-in static-file handler; --handler
// PATH.so still loads a module instead of it, as it does in the binary.
//
// The server runs in the calling process: it installs its signal handlers,
// forks a child per connection (the handler runs there, as in a module) and
// returns when it has shut down. Run it once per process, from the main
// thread, before starting other threads (fork() copies only the calling one).
//
// Only C types cross into the library (argv and the forkserve_module
// descriptor from module.h); everything C++ here is inline in your program.
#ifndef FORKSERVE_SERVER_HPP
#define FORKSERVE_SERVER_HPP

#include <forkserve/export.hpp>
#include <forkserve/module.h>

#include <string>
#include <utility>
#include <vector>

namespace forkserve {

// The forkserve command as a function: parses argv (argv[0] is the program
// name) like the binary, loads the handler, listens and serves until SIGINT
// or SIGTERM. Returns the exit status: 0 after a clean shutdown (or --help,
// --version), 1 if the server could not start, 2 for a bad command line.
// `embedded` replaces the built-in static-file handler unless --handler is
// given; null keeps the binary's behaviour.
__attribute__((visibility("default"))) int server_main(int argc, char* argv[],
                                                       const forkserve_module* embedded = nullptr);

// server_main with a C++ handler (a class or lambda with
// `Body operator()(Environ&, StartResponse&)`, as for FORKSERVE_EXPORT_HANDLER).
// The handler object is moved into the server and lives in the parent; each
// child works on its inherited copy.
template <typename Handler>
int main(int argc, char* argv[], Handler handler) {
  return server_main(argc, argv, detail::ModuleGlue<Handler>::embed(std::move(handler)));
}

// The same with the options as a list of command-line words, without the
// program name: serve({"--host", "127.0.0.1", "--port", "8080"}, Hello{}).
template <typename Handler>
int serve(std::vector<std::string> options, Handler handler) {
  std::string program = "forkserve";
  std::vector<char*> argv{program.data()};
  for (std::string& option : options) argv.push_back(option.data());
  argv.push_back(nullptr);
  return forkserve::main(static_cast<int>(argv.size() - 1), argv.data(), std::move(handler));
}

}  // namespace forkserve

#endif  // FORKSERVE_SERVER_HPP

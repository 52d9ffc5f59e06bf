// Server and handler in one program: takes every forkserve flag
// (./embedded --port 8080, ./embedded --help) and answers each request with
// what it asked for, from a handler compiled into the program.
#include <forkserve/server.hpp>

#include <string>

struct Echo {
  forkserve::Body operator()(forkserve::Environ& environ, forkserve::StartResponse& start_response) {
    std::string text = "embedded handler: ";
    text.append(environ.get("REQUEST_METHOD")).append(" ").append(environ.get("PATH_INFO")).append("\n");
    start_response("200 OK", {{"Content-Type", "text/plain; charset=utf-8"}});
    return forkserve::Body::text(std::move(text));
  }
};

int main(int argc, char* argv[]) { return forkserve::main(argc, argv, Echo{}); }

// The CGI/1.1 gateway (RFC 3875): which requests run a program, the
// program's environment, and running it: the request body on its standard
// input, its standard output parsed (handlers/cgi_response.hpp) and streamed
// to the client, its standard error to the error log.
//
// The program is started with posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK),
// so no page tables are copied) in a process group of its own, numbered with
// the serving process's pid so that the parent can kill it with that process
// (master/process_table.cpp), with exactly descriptors 0-2, default signal
// dispositions, an empty signal mask and the script's directory as working
// directory. The serving process is a child subreaper, so that whatever the
// program leaves behind, in its group or escaped from it, comes back to it
// and is stopped and reaped when the request ends. Deadlines are the
// connection's phase alarm, which calls stop_cgi_program() before it
// answers; the client hanging up stops the program at once.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/response.hpp"

namespace forkserve::handlers {

// What --cgi, --cgi-alias, --cgi-interpreter and --cgi-env configure.
struct CgiRules {
  std::string root;                   // the document root, as this process sees it
  std::vector<std::string> patterns;  // URL-path prefixes ("/cgi-bin/") or file-name patterns ("*.cgi")
  std::vector<std::pair<std::string, std::string>> aliases;       // URL prefix → program
  std::vector<std::pair<std::string, std::string>> interpreters;  // ".php" → interpreter
  std::vector<std::string> env;  // NAME (passed from the server's environment) or NAME=VALUE
  // The static handler's index files, in order (empty under --handler): a
  // directory whose index file is a program runs it.
  std::vector<std::string> index_names;

  bool empty() const { return patterns.empty() && aliases.empty() && interpreters.empty(); }
};

// What a request path maps to.
struct CgiTarget {
  enum class Kind {
    None,       // not CGI: the static handler or the module serves it
    Run,        // run `argv`
    Missing,    // under a CGI prefix or alias, but no such program: 404
    Forbidden,  // matches a CGI pattern but cannot run: 403, never its source
  };
  Kind kind = Kind::None;
  std::vector<std::string> argv;  // the program, or the interpreter and the script
  std::string script_filename;    // the file the request names (SCRIPT_FILENAME)
  std::string script_name;        // its URL path (SCRIPT_NAME)
  std::string path_info;          // the rest of the URL path, decoded (PATH_INFO)
  bool nph = false;               // "nph-*": the program writes the whole response
};

// `raw_path` is the request path as sent (still percent-encoded).
// Looks at the filesystem (stat) under rules.root.
CgiTarget find_cgi_target(const CgiRules& rules, std::string_view raw_path);

// The program's environment: the RFC 3875 meta-variables (and the de-facto
// SCRIPT_FILENAME, DOCUMENT_ROOT, REQUEST_URI, REDIRECT_STATUS) taken from the
// request's environ, a fixed PATH, then --cgi-env. Nothing else of the
// server's own environment. "NAME=VALUE" strings.
std::vector<std::string> cgi_environment(const CgiRules& rules, const CgiTarget& target,
                                         std::span<const std::pair<std::string, std::string>> environ);

// The connection as the gateway uses it.
class CgiExchange {
 public:
  virtual ~CgiExchange() = default;
  // The request body: > 0 bytes, 0 at its end, -1 on failure.
  virtual long long read_body(std::span<char> buffer) = 0;
  // The response, validated and framed by the server.
  virtual bool start_response(std::string_view status, std::vector<http::OwnedHeader> headers) = 0;
  virtual bool write_body(std::string_view data) = 0;
  // nph-: bytes sent as they are; `status` is for the access log.
  virtual bool write_raw(std::string_view data, int status) = 0;
  // One line to the error log (the exchange names the request).
  virtual void log(std::string_view message) = 0;
  // The client's socket, watched for the client hanging up while the program
  // runs; -1 while the request body is still arriving (reading it notices).
  virtual int hangup_fd() const = 0;
  // The client hung up: the program is stopped, the exchange says so.
  virtual void client_left() = 0;
};

struct CgiOutcome {
  enum class Kind {
    Done,           // the response went out (or the client went away: already logged)
    Failed,         // answer `status` if nothing was sent yet (0: the body could not be
                    // read or the client left, the exchange knows why); `reason` was
                    // logged unless the exchange reported it (reading the body,
                    // sending the response, the client leaving)
    LocalRedirect,  // serve `location` instead, as a GET
  };
  Kind kind = Kind::Done;
  int status = 0;
  std::string reason;
  std::string location;
};

// Runs the program and relays its response. Returns once it and everything
// left in its process group are gone.
CgiOutcome run_cgi(const CgiRules& rules, const CgiTarget& target,
                   std::span<const std::pair<std::string, std::string>> environ, CgiExchange& exchange);

// For the phase alarm's signal handler (async-signal-safe): SIGTERM to the
// running program's group, up to a second for it to leave, SIGKILL, reap.
void stop_cgi_program();

}  // namespace forkserve::handlers

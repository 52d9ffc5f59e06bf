// Command-line options: one table (name, argument, default, meaning) feeds
// getopt_long, validation and --help.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/log.hpp"
#include "net/address.hpp"
#include "net/trusted_proxies.hpp"

namespace forkserve {

struct Config {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8000;
  std::vector<Endpoint> listen;  // --listen, in order; when given, host and port are not used
  int backlog = 128;
  bool reuse_port = false;
  bool inetd = false;  // serve the one connection on standard input, then exit
  std::string root = ".";
  std::string handler_path;  // empty: the built-in static-file handler
  std::string handler_arg;
  // CGI programs (handlers/cgi.hpp): which requests run one, and what else
  // their environment holds.
  std::vector<std::string> cgi_patterns;                              // --cgi: "/cgi-bin/" or "*.cgi"
  std::vector<std::pair<std::string, std::string>> cgi_aliases;       // --cgi-alias: URL prefix, program
  std::vector<std::pair<std::string, std::string>> cgi_interpreters;  // --cgi-interpreter: ".php", program
  std::vector<std::string> cgi_env;                                   // --cgi-env: NAME or NAME=VALUE
  std::string access_log = "-";  // "-" is stdout
  std::string error_log = "-";   // "-" is stderr
  LogFormat log_format = LogFormat::Common;
  bool show_dotfiles = false;
  std::vector<std::string> index_names;  // --index, in order; empty: index.html
  std::vector<std::pair<std::string, std::string>> mime_types;  // --mime-type: extension (no dot), type
  std::vector<std::pair<std::string, std::string>> add_headers;  // --add-header: name, value
  int max_children = 512;
  int workers = 0;       // 0: a child per connection; N: N pre-forked workers
  int max_requests = 0;  // connections a worker serves before it is replaced; 0: no limit
  int header_timeout = 10;  // seconds, from accept
  int body_timeout = 30;    // seconds, from the end of the head
  int write_timeout = 300;  // seconds, from the first byte of the response
  int handler_timeout = 60; // seconds the handler may run before its child is stopped
  int init_timeout = 10;    // seconds a module's trial (loading, init()) may take
  int grace = 10;           // seconds in-flight children get at shutdown
  unsigned long long max_body_bytes = 1ULL << 30;
  int max_request_line = 8 * 1024;
  int max_header_bytes = 64 * 1024;
  int max_headers = 100;
  // Peers whose X-Forwarded-For names the client (--trust-proxy); empty: none.
  std::vector<Cidr> trusted_proxies;
  // --status-path: where the server's counters are served; empty: nowhere.
  std::string status_path;
  // --status-allow: peers that may read it (default loopback); others get 403.
  std::vector<Cidr> status_allow;
  bool syslog = false;      // the server's error messages go to syslog(3)
  std::string user;         // "USER[:GROUP]" to switch to after start-up; empty: stay
  std::string chroot_dir;   // empty: no chroot
  std::string pidfile;      // empty: none
  bool daemon = false;
};

struct CommandLine {
  enum class Action { Run, Help, Version, Fail };
  Action action = Action::Run;
  Config config;
  std::string error;  // Fail: one line, without the "forkserve: " prefix
};

// Parses argv; checks values (ranges, that --root is a directory) but opens nothing else.
CommandLine parse_command_line(int argc, char* const argv[]);

// The --help text, generated from the option table.
std::string usage_text();

// The option table as documentation, in --help order (the man page is tested against it).
struct OptionDoc {
  std::string_view name;          // "port"
  std::string_view metavar;       // "N"; empty for a flag
  std::string_view default_text;  // "8000"; empty for --help/--version
  std::string_view help;
};
std::vector<OptionDoc> option_docs();

// Splits "PATH.so:ARG" at the first ':' after ".so" (so paths may hold ':' elsewhere).
void split_handler_spec(std::string_view spec, std::string& path, std::string& arg);

}  // namespace forkserve

#include "core/config.hpp"

#include <getopt.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <optional>

#include "http/request_parser.hpp"
#include "http/response.hpp"
#include "net/address.hpp"

namespace forkserve {
namespace {

// Returns an error message, or an empty string when the value was taken.
using Apply = std::string (*)(Config&, std::string_view value);

struct Option {
  const char* name;
  const char* metavar;  // nullptr: a flag without an argument
  const char* default_text;
  const char* help;
  Apply apply;
};

template <typename Int>
std::optional<Int> to_int(std::string_view text, Int min, Int max) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

// Appended rather than "'" + ...: GCC 12 at -O3 warns (-Wrestrict, a false
// positive) about the inlined operator+.
std::string quoted(std::string_view v) {
  std::string out;
  out.reserve(v.size() + 2);
  out.append(1, '\'').append(v).append(1, '\'');
  return out;
}

// "A=B" → {"A", "B"}; without '=', B is empty.
std::pair<std::string_view, std::string_view> split_assignment(std::string_view v) {
  std::size_t eq = v.find('=');
  if (eq == std::string_view::npos) return {v, {}};
  return {v.substr(0, eq), v.substr(eq + 1)};
}

template <typename Int>
std::string set_int(Int& field, std::string_view value, Int min, Int max, const char* what) {
  auto parsed = to_int<Int>(value, min, max);
  if (!parsed) {
    return quoted(value) + " is not " + what + " (" + std::to_string(min) + "-" + std::to_string(max) + ")";
  }
  field = *parsed;
  return {};
}

// Adds "ADDR[/BITS], ..." to `blocks`.
std::string add_cidrs(std::vector<Cidr>& blocks, std::string_view v) {
  for (;;) {
    std::size_t comma = v.find(',');
    std::string_view item = v.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    std::string error;
    std::optional<Cidr> block = parse_cidr(item, &error);
    if (!block) return error;
    blocks.push_back(*block);
    if (comma == std::string_view::npos) return {};
    v.remove_prefix(comma + 1);
  }
}

constexpr int kMaxSeconds = 24 * 60 * 60;
// Each worker is a process holding one connection; beyond this a pool is
// better served by the default mode.
constexpr int kMaxWorkers = 4096;

// The one table of options. Order here is the order in --help.
const Option kOptions[] = {
    {"host", "ADDR", "0.0.0.0", "IPv4 or IPv6 address to listen on ('::' for every IPv6 and IPv4 address)",
     [](Config& c, std::string_view v) -> std::string {
       socklen_t length = 0;
       if (!make_address(v, 0, length)) return quoted(v) + " is not an IPv4 or IPv6 address";
       c.host = v;
       return {};
     }},
    {"port", "N", "8000", "TCP port; 0 picks a free one (the start-up line tells which)",
     [](Config& c, std::string_view v) {
       return set_int<std::uint16_t>(c.port, v, 0, 65535, "a port number");
     }},
    {"listen", "ADDR:PORT", "none",
     "listen here instead of --host/--port; repeat for several ([::1]:8080 for IPv6)",
     [](Config& c, std::string_view v) -> std::string {
       std::string error;
       auto endpoint = parse_host_port(v, error);
       if (!endpoint) return quoted(v) + ": " + error;
       c.listen.push_back(*endpoint);
       return {};
     }},
    {"backlog", "N", "128", "connections the kernel queues while all children are busy (listen(2))",
     [](Config& c, std::string_view v) { return set_int(c.backlog, v, 1, 65535, "a backlog"); }},
    {"reuse-port", nullptr, "off", "set SO_REUSEPORT, so that several instances can listen on one port",
     [](Config& c, std::string_view) -> std::string {
       c.reuse_port = true;
       return {};
     }},
    {"inetd", nullptr, "off",
     "serve one connection on standard input and exit (inetd, tcpserver, systemd Accept=yes)",
     [](Config& c, std::string_view) -> std::string {
       c.inetd = true;
       return {};
     }},
    {"root", "DIR", ".", "directory the built-in handler serves",
     [](Config& c, std::string_view v) -> std::string {
       struct stat st {};
       std::string path(v);
       if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return quoted(v) + " is not a directory";
       c.root = path;
       return {};
     }},
    {"handler", "PATH.so[:ARG]", "built-in static files", "handler module to load; ARG is passed to its init",
     [](Config& c, std::string_view v) -> std::string {
       split_handler_spec(v, c.handler_path, c.handler_arg);
       if (c.handler_path.empty()) return "empty handler path";
       return {};
     }},
    {"cgi", "PATTERN", "none",
     "run matching files under --root as CGI programs: a URL-path prefix (/cgi-bin/) or a file-name pattern "
     "(*.cgi); repeatable",
     [](Config& c, std::string_view v) -> std::string {
       if (v.empty() || (v.front() != '/' && v.find('/') != std::string_view::npos)) {
         return quoted(v) + " is neither a URL-path prefix (/cgi-bin/) nor a file-name pattern (*.cgi)";
       }
       c.cgi_patterns.emplace_back(v);
       return {};
     }},
    {"cgi-alias", "URL-PREFIX=PROGRAM", "none",
     "run PROGRAM (an absolute path) for every request under URL-PREFIX; repeatable",
     [](Config& c, std::string_view v) -> std::string {
       auto [prefix, program] = split_assignment(v);
       if (!prefix.starts_with('/') || !program.starts_with('/')) {
         return quoted(v) + " is not URL-PREFIX=PROGRAM with both starting with '/'";
       }
       c.cgi_aliases.emplace_back(prefix, program);
       return {};
     }},
    {"cgi-interpreter", ".EXT=PROGRAM", "none",
     "run files ending in .EXT under --root through PROGRAM (an absolute path); repeatable",
     [](Config& c, std::string_view v) -> std::string {
       auto [extension, program] = split_assignment(v);
       if (extension.size() < 2 || !extension.starts_with('.') || !program.starts_with('/')) {
         return quoted(v) + " is not .EXT=PROGRAM with PROGRAM an absolute path";
       }
       c.cgi_interpreters.emplace_back(extension, program);
       return {};
     }},
    {"cgi-env", "NAME[=VALUE]", "none",
     "set NAME=VALUE in CGI programs' environment, or pass NAME from the server's; repeatable",
     [](Config& c, std::string_view v) -> std::string {
       std::string_view name = v.substr(0, v.find('='));
       bool valid = !name.empty() && !(name.front() >= '0' && name.front() <= '9') &&
                    std::all_of(name.begin(), name.end(), [](char ch) {
                      return ch == '_' || (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') ||
                             (ch >= 'a' && ch <= 'z');
                    });
       if (!valid) return quoted(v) + " does not start with a variable name";
       c.cgi_env.emplace_back(v);
       return {};
     }},
    {"access-log", "FILE", "-", "access log, one line per request (see --log-format); '-' is standard output",
     [](Config& c, std::string_view v) -> std::string {
       if (v.empty()) return "empty access log path";
       c.access_log = v;
       return {};
     }},
    {"error-log", "FILE", "-", "error log; '-' is standard error",
     [](Config& c, std::string_view v) -> std::string {
       if (v.empty()) return "empty error log path";
       c.error_log = v;
       return {};
     }},
    {"log-format", "FORMAT", "common",
     "access log format: 'common', or 'combined', which adds \"Referer\" \"User-Agent\"",
     [](Config& c, std::string_view v) -> std::string {
       if (v == "common") {
         c.log_format = LogFormat::Common;
       } else if (v == "combined") {
         c.log_format = LogFormat::Combined;
       } else {
         return quoted(v) + " is not a log format (common or combined)";
       }
       return {};
     }},
    {"show-dotfiles", nullptr, "off",
     "list and serve names starting with '.' (hidden by default: 404, anywhere in the path; "
     "/.well-known/ is always served)",
     [](Config& c, std::string_view) -> std::string {
       c.show_dotfiles = true;
       return {};
     }},
    {"index", "NAME", "index.html", "file served for a directory, tried in order; repeatable",
     [](Config& c, std::string_view v) -> std::string {
       if (v.empty() || v.find_first_of("/\n\r") != std::string_view::npos || v == "." || v == "..") {
         return quoted(v) + " is not a file name";
       }
       c.index_names.emplace_back(v);
       return {};
     }},
    {"mime-type", ".EXT=TYPE", "built-in table, then /etc/mime.types",
     "serve files ending in .EXT as TYPE (text types get charset=utf-8); repeatable",
     [](Config& c, std::string_view v) -> std::string {
       const std::size_t equals = v.find('=');
       if (!v.starts_with('.') || equals == std::string_view::npos || equals < 2) {
         return quoted(v) + " is not .EXT=TYPE";
       }
       const std::string_view extension = v.substr(1, equals - 1);
       const std::string_view type = v.substr(equals + 1);
       if (extension.find_first_of("/. \t\n\r") != std::string_view::npos) {
         return quoted(v) + ": the extension must be one name without '.' or '/'";
       }
       // type "/" subtype, both tokens, then optional "; parameters" (RFC 9110 §8.3.1).
       const std::string_view essence = type.substr(0, type.find(';'));
       const std::size_t slash = essence.find('/');
       if (slash == std::string_view::npos || !http::is_token(essence.substr(0, slash)) ||
           !http::is_token(essence.substr(slash + 1)) || http::check_header("Content-Type", type)) {
         return quoted(v) + ": " + quoted(type) + " is not a media type (type/subtype)";
       }
       c.mime_types.emplace_back(extension, type);
       return {};
     }},
    {"add-header", "HEADER", "none",
     "add HEADER ('Name: value', e.g. 'Cache-Control: max-age=60') to the built-in handler's 2xx and 3xx "
     "answers; repeatable",
     [](Config& c, std::string_view v) -> std::string {
       const std::size_t colon = v.find(':');
       if (colon == std::string_view::npos) return quoted(v) + " is not 'Name: value'";
       const std::string_view name = v.substr(0, colon);
       std::string_view value = v.substr(colon + 1);
       while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
       while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
       if (const auto problem = http::check_header(name, value))
         return quoted(v) + ": " + std::string(*problem);
       // The handler computes these per response; a fixed copy would contradict it.
       for (std::string_view own : {"Content-Length", "Content-Type", "Content-Range", "Content-Encoding",
                                    "ETag", "Last-Modified", "Accept-Ranges", "Vary", "Location", "Date"}) {
         if (http::iequals(name, own))
           return quoted(v) + ": " + std::string(own) + " is set by the handler itself";
       }
       c.add_headers.emplace_back(name, value);
       return {};
     }},
    {"max-children", "N", "512", "children serving at once; at the cap new connections wait in the backlog",
     [](Config& c, std::string_view v) { return set_int(c.max_children, v, 1, 65535, "a child count"); }},
    {"workers", "N", "0 (a child per connection)",
     "pre-fork N workers that each serve one connection at a time, many in their life",
     [](Config& c, std::string_view v) { return set_int(c.workers, v, 0, kMaxWorkers, "a worker count"); }},
    {"max-requests", "N", "0 (no limit)", "with --workers: replace a worker after it served N connections",
     [](Config& c, std::string_view v) {
       return set_int(c.max_requests, v, 0, 1 << 30, "a connection count");
     }},
    {"header-timeout", "SECONDS", "10", "time from accept until the request head is complete (then 408)",
     [](Config& c, std::string_view v) {
       return set_int(c.header_timeout, v, 1, kMaxSeconds, "a number of seconds");
     }},
    {"body-timeout", "SECONDS", "30", "time to receive the request body after the head (then 408)",
     [](Config& c, std::string_view v) {
       return set_int(c.body_timeout, v, 1, kMaxSeconds, "a number of seconds");
     }},
    {"write-timeout", "SECONDS", "300",
     "time to send the response from its first byte, so a client that stops reading is dropped",
     [](Config& c, std::string_view v) {
       return set_int(c.write_timeout, v, 1, kMaxSeconds, "a number of seconds");
     }},
    {"handler-timeout", "SECONDS", "60",
     "time the handler may run once the request body is in; then 503 if nothing was sent yet, and the child is "
     "stopped",
     [](Config& c, std::string_view v) {
       return set_int(c.handler_timeout, v, 1, kMaxSeconds, "a number of seconds");
     }},
    {"init-timeout", "SECONDS", "10",
     "time a new handler module may take to load and run its init() in its trial process (at start-up and on "
     "SIGHUP); then it is refused",
     [](Config& c, std::string_view v) {
       return set_int(c.init_timeout, v, 1, kMaxSeconds, "a number of seconds");
     }},
    {"max-request-line", "BYTES", "8192", "longest request line (then 414)",
     [](Config& c, std::string_view v) {
       return set_int(c.max_request_line, v, 16, 1 << 20, "a byte count");
     }},
    {"max-header-bytes", "BYTES", "65536", "largest request head, request line included (then 431)",
     [](Config& c, std::string_view v) {
       return set_int(c.max_header_bytes, v, 64, 1 << 24, "a byte count");
     }},
    {"max-headers", "N", "100", "most header fields in a request (then 431)",
     [](Config& c, std::string_view v) { return set_int(c.max_headers, v, 1, 100000, "a header count"); }},
    {"max-body-bytes", "N", "1073741824", "largest request body accepted (then 413)",
     [](Config& c, std::string_view v) {
       return set_int<unsigned long long>(c.max_body_bytes, v, 0, 1ULL << 62, "a byte count");
     }},
    {"grace", "SECONDS", "10", "at SIGTERM/SIGINT, how long in-flight requests may finish",
     [](Config& c, std::string_view v) {
       return set_int(c.grace, v, 0, kMaxSeconds, "a number of seconds");
     }},
    {"trust-proxy", "CIDR", "none",
     "proxies whose X-Forwarded-For gives REMOTE_ADDR: ADDR or ADDR/BITS, comma list, repeatable",
     [](Config& c, std::string_view v) { return add_cidrs(c.trusted_proxies, v); }},
    {"status-path", "PATH", "none",
     "serve the server's counters at PATH (plain text; ?format=prometheus for Prometheus)",
     [](Config& c, std::string_view v) -> std::string {
       if (!v.starts_with('/')) return quoted(v) + " is not a path (it must start with '/')";
       c.status_path = v;
       return {};
     }},
    {"status-allow", "CIDR", "127.0.0.1,::1",
     "peers that may read --status-path (others get 403): ADDR or ADDR/BITS, comma list, repeatable",
     [](Config& c, std::string_view v) { return add_cidrs(c.status_allow, v); }},
    {"syslog", nullptr, "off",
     "send the server's error messages to syslog (facility daemon) instead of the error log",
     [](Config& c, std::string_view) -> std::string {
       c.syslog = true;
       return {};
     }},
    {"user", "USER[:GROUP]", "none",
     "once the sockets are bound and logs open, run as USER (and its group, or GROUP), "
     "with no supplementary groups",
     [](Config& c, std::string_view v) -> std::string {
       if (v.empty()) return "empty user name";
       c.user = v;
       return {};
     }},
    {"chroot", "DIR", "none",
     "chroot to DIR before serving; --root must lie inside DIR (given as seen from outside)",
     [](Config& c, std::string_view v) -> std::string {
       struct stat st {};
       std::string path(v);
       if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return quoted(v) + " is not a directory";
       c.chroot_dir = path;
       return {};
     }},
    {"pidfile", "FILE", "none",
     "write the server's pid to FILE, locked while it runs; refuse to start if another instance holds it",
     [](Config& c, std::string_view v) -> std::string {
       if (v.empty()) return "empty pidfile path";
       c.pidfile = v;
       return {};
     }},
    {"daemon", nullptr, "off",
     "detach into the background once serving (after the start-up line); foreground is the default",
     [](Config& c, std::string_view) -> std::string {
       c.daemon = true;
       return {};
     }},
    {"help", nullptr, nullptr, "show this help and exit", nullptr},
    {"version", nullptr, nullptr, "show the version and exit", nullptr},
};

constexpr int kHelpIndex = static_cast<int>(std::size(kOptions)) - 2;
constexpr int kVersionIndex = static_cast<int>(std::size(kOptions)) - 1;

}  // namespace

void split_handler_spec(std::string_view spec, std::string& path, std::string& arg) {
  std::size_t so = spec.find(".so:");
  if (so == std::string_view::npos) {
    path = spec;
    arg.clear();
  } else {
    path = spec.substr(0, so + 3);
    arg = spec.substr(so + 4);
  }
}

std::vector<OptionDoc> option_docs() {
  std::vector<OptionDoc> docs;
  for (const Option& o : kOptions) {
    docs.push_back({o.name, o.metavar ? o.metavar : "", o.default_text ? o.default_text : "", o.help});
  }
  return docs;
}

namespace {

constexpr std::size_t kHelpWidth = 80;
constexpr std::size_t kHelpIndent = 26;

// `text` word-wrapped into lines of at most kHelpWidth columns, each
// starting with `indent` spaces but the first (which starts at `column`).
std::string wrap(std::string_view text, std::size_t column, std::size_t indent) {
  std::string out;
  while (!text.empty()) {
    std::size_t space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
    if (column > indent && column + 1 + word.size() > kHelpWidth) {
      out += "\n" + std::string(indent, ' ');
      column = indent;
    } else if (column > indent) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
  }
  return out;
}

}  // namespace

std::string usage_text() {
  std::string text =
      "Usage: forkserve [OPTION]...\n"
      "Fork-per-connection HTTP/1.0 server: one child process per connection runs\n"
      "the handler (static files from --root, or a module loaded with --handler).\n\nOptions:\n";
  for (const OptionDoc& o : option_docs()) {
    std::string left = "  --" + std::string(o.name);
    if (!o.metavar.empty()) left.append(" ").append(o.metavar);
    if (left.size() < kHelpIndent) {
      left.resize(kHelpIndent, ' ');
    } else {
      left += "\n" + std::string(kHelpIndent, ' ');
    }
    std::string help(o.help);
    if (!o.default_text.empty()) help.append(" [").append(o.default_text).append("]");
    text.append(left).append(wrap(help, kHelpIndent, kHelpIndent)).append("\n");
  }
  text +=
      "\nAddresses: sockets passed by systemd (LISTEN_FDS, LISTEN_PID) are served as\n"
      "they are, and --host, --port, --listen, --backlog and --reuse-port are then\n"
      "ignored; otherwise every --listen is served, or else --host and --port. '::'\n"
      "is dual-stack unless IPv4 is also listed on its port. With --inetd no socket\n"
      "is opened and no worker forked; where standard output is the client, the\n"
      "access log '-' joins standard error, and where that is the client too\n"
      "(inetd, xinetd), both '-' logs are discarded: give log files.\n"
      "\nAccess log lines (--log-format); the request line and headers are escaped\n"
      "(\\\", \\\\, \\xHH):\n"
      "  common    127.0.0.1 - - [28/Nov/2026:15:21:53 +0000] \"GET /a HTTP/1.1\" 200 3\n"
      "  combined  the same, then \"http://example.com/\" \"curl/8.5.0\"\n"
      "Error log lines start with an RFC 3339 time in UTC, and the pid when not the\n"
      "parent's; control bytes in them are escaped (\\n, \\xHH):\n"
      "  2026-11-28T15:21:53.042Z forkserve[4711]: \"GET /x HTTP/1.1\" from ...\n";
  text +=
      "\nSignals:\n"
      "  SIGINT, SIGTERM  stop accepting, let requests finish for --grace seconds,\n"
      "                   then stop the rest and exit 0; a second signal stops at once\n"
      "  SIGUSR1          reopen the access and error logs (after logrotate moved them)\n"
      "  SIGHUP           reload the --handler module; new children (or a new set of\n"
      "                   workers, the old ones finishing their connection) use it\n"
      "  SIGPIPE          ignored: a vanished client only ends its own child\n\n"
      "Exit status: 0 after a clean shutdown, 1 if the server cannot start, 2 for a\n"
      "bad command line.\n";
  return text;
}

CommandLine parse_command_line(int argc, char* const argv[]) {
  option long_options[std::size(kOptions) + 1] = {};
  for (std::size_t i = 0; i < std::size(kOptions); ++i) {
    long_options[i] = {kOptions[i].name, kOptions[i].metavar ? required_argument : no_argument, nullptr,
                       static_cast<int>(i)};
  }
  CommandLine result;
  ::optind = 0;  // glibc: start over, so the parser can run more than once (tests)
  ::opterr = 0;  // we report errors ourselves, on one line
  for (;;) {
    int index = ::getopt_long(argc, argv, "+:", long_options, nullptr);
    if (index == -1) break;
    if (index == '?' || index == ':') {
      std::string given = argv[::optind - 1] ? argv[::optind - 1] : "";
      result.action = CommandLine::Action::Fail;
      result.error = index == '?' ? "unrecognized option " + quoted(given)
                                  : "option " + quoted(given) + " needs an argument";
      return result;
    }
    if (index == kHelpIndex) {
      result.action = CommandLine::Action::Help;
      return result;
    }
    if (index == kVersionIndex) {
      result.action = CommandLine::Action::Version;
      return result;
    }
    std::string error = kOptions[index].apply(result.config, ::optarg ? ::optarg : "");
    if (!error.empty()) {
      result.action = CommandLine::Action::Fail;
      result.error = std::string("--") + kOptions[index].name + ": " + error;
      return result;
    }
  }
  if (result.config.status_allow.empty()) (void)add_cidrs(result.config.status_allow, "127.0.0.1,::1");
  if (::optind < argc) {
    result.action = CommandLine::Action::Fail;
    result.error = "unexpected argument " + quoted(argv[::optind]);
  } else if (result.config.max_requests > 0 && result.config.workers == 0) {
    result.action = CommandLine::Action::Fail;
    result.error = "--max-requests needs --workers (a child per connection serves one anyway)";
  } else if (result.config.inetd && (result.config.daemon || !result.config.pidfile.empty())) {
    result.action = CommandLine::Action::Fail;
    result.error = "--daemon and --pidfile do not apply to --inetd (one connection, then exit)";
  }
  return result;
}

}  // namespace forkserve

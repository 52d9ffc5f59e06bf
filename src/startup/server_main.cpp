// The whole server: argv → Config → logs → module → listeners (or the inetd
// connection) → pidfile → chroot → user → daemon → master loop; exit codes.
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <forkserve/server.hpp>
#include <forkserve/version.hpp>

#include "core/config.hpp"
#include "startup/daemon.hpp"
#include "handlers/static_files.hpp"
#include "master/inetd.hpp"
#include "master/parent_memory.hpp"
#include "net/listener.hpp"
#include "core/log.hpp"
#include "core/stats.hpp"
#include "module/module_loader.hpp"
#include "startup/pidfile.hpp"
#include "startup/privileges.hpp"
#include "master/loop.hpp"

namespace forkserve {
namespace {

constexpr int kExitStartupFailed = 1;
constexpr int kExitUsage = 2;

// The sockets to serve: those systemd passed, else every --listen, else
// --host and --port. On failure returns none and sets `error`.
std::vector<Listener> open_listeners(const Config& config, InheritedSockets& inherited, std::string& error) {
  if (inherited.activated) return std::move(inherited.listeners);
  std::vector<Endpoint> wanted = config.listen;
  if (wanted.empty()) wanted.push_back({config.host, config.port});
  std::vector<Listener> listeners;
  for (const Endpoint& where : wanted) {
    // Accepted once the request starts to arrive: a client that connects and
    // waits holds no process; one that stays silent is answered 408 at the
    // header deadline like any other.
    ListenOptions options{config.backlog, config.reuse_port, ipv4_served_elsewhere(where, wanted),
                          config.header_timeout};
    listeners.push_back(open_listener(where, options, error));
    if (!listeners.back().fd) return {};
  }
  return listeners;
}

// `path` made absolute against the current directory, for --daemon, which
// changes to "/" while the logs are still reopened by name on SIGUSR1.
std::string absolute(const std::string& path) {
  if (path.empty() || path == "-" || path.front() == '/') return path;
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

// The document root CGI programs are found under and given: they run in
// their own directory (and a --daemon in "/"), where a relative one (the
// default ".") names nothing, so it is resolved while the start-up directory
// is current.
std::string absolute_root(const std::string& root) {
  if (root.empty() || root.front() == '/') return root;
  char real[PATH_MAX];
  return ::realpath(root.c_str(), real) != nullptr ? std::string(real) : absolute(root);
}

int fail(const std::string& error) {
  log_error(error);
  return kExitStartupFailed;
}

// The start-up steps, in an order dictated by what each needs:
//  1. The inetd connection or systemd's sockets are taken before the logs
//     open (standard output may be the client); --user is resolved next,
//     while /etc/passwd is in sight and before anything is created.
//  2. The pidfile lock comes first of what is created, so that a second
//     instance is refused before it runs a module's init or binds. Logs, the
//     module and the listening sockets need what only root may have: log
//     directories, a privileged port, a module's own secrets (its init runs
//     here, as the invoking user). The pid is written after the bind.
//  3. syslog's socket and --daemon's /dev/null are opened before chroot
//     hides /dev.
//  4. chroot, which needs root (the pidfile's directory is let go first: it
//     would be a way out), then the built-in handler's root is looked up
//     inside it; then privileges are dropped for good.
//  5. --daemon detaches last, once nothing that can fail is left, so every
//     start-up error still reaches the terminal and the exit status; the pid
//     written to the pidfile is the daemon's.
int start_and_serve(const Config& config, const forkserve_module* embedded) {
  // Before anything forks (a module's init may): every process counts into it.
  std::string stats_error;
  if (!config.inetd && !map_shared_stats(stats_error)) return fail(stats_error);
  struct ReleaseStats {
    ~ReleaseStats() { unmap_shared_stats(); }
  } release_stats;  // serve() may return into an embedding program
  InetdClient client;
  InheritedSockets inherited;
  if (config.inetd) {
    client = take_inetd_client();
    if (!client.fd) return fail(client.error);
  } else {
    // Before the module's init runs: it should see neither the variables nor the sockets.
    inherited = take_systemd_sockets();
    if (!inherited.error.empty()) return fail(inherited.error);
  }

  std::string error;
  std::optional<Credentials> user;
  if (!config.user.empty() && !(user = resolve_user(config.user, error))) return fail(error);

  // First, so that an instance refused here has not run a module's init or bound anything.
  Pidfile pidfile;
  if (!config.pidfile.empty() && !pidfile.acquire(config.pidfile, error)) return fail(error);

  // A daemon has no stdout left for the access log ("-").
  std::string access_log = config.daemon
                               ? (config.access_log == "-" ? "/dev/null" : absolute(config.access_log))
                               : config.access_log;
  std::string error_log = config.daemon ? absolute(config.error_log) : config.error_log;
  LogFiles logs;
  if (!logs.open(access_log, error_log, error)) return fail(error);

  // The module the children run; its destructor runs fini() (not in the
  // launcher of a --daemon, nor in children, which leave with _exit).
  keep_allocations_on_the_heap();  // what init() builds moves with the heap, out of fork()'s way
  std::optional<HandlerModule> module;
  // A daemon changes to "/", and SIGHUP reloads the module by name.
  const std::string handler_path = config.daemon ? absolute(config.handler_path) : config.handler_path;
  auto start_builtin = [&](const std::string& root) {
    handlers::StaticFilesOptions options;
    options.root = root;
    options.show_dotfiles = config.show_dotfiles;
    if (!config.index_names.empty()) options.index_names = config.index_names;
    options.mime_types = config.mime_types;
    options.headers = config.add_headers;
    return start_module(handlers::static_files_module(), "built-in",
                        handlers::static_files_argument(options));
  };
  // The built-in handler resolves its document root as it starts, so in a
  // chroot it starts inside (step 4), where that path is the one it will see.
  const bool builtin = handler_path.empty() && !embedded;
  const bool builtin_in_chroot = builtin && !config.chroot_dir.empty();
  if (!builtin_in_chroot) {
    LoadedModule loaded;
    if (!handler_path.empty()) {
      // --handler wins over an embedded handler too; drop the unused object so
      // every fork() does not copy it.
      if (embedded && embedded->fini) embedded->fini();
      loaded = load_module(handler_path, config.handler_arg, std::chrono::seconds(config.init_timeout));
    } else if (embedded) {
      loaded = start_module(embedded, "embedded", "");
    } else {
      loaded = start_builtin(config.root);
    }
    if (!loaded.module) return fail(loaded.error);
    module.emplace(std::move(loaded), handler_path, config.handler_arg, std::chrono::seconds(config.init_timeout));
  }

  std::vector<Listener> listeners;
  if (!config.inetd) {
    listeners = open_listeners(config, inherited, error);
    if (listeners.empty()) return fail(error);
  }

  if (!config.pidfile.empty() && !config.daemon && !pidfile.write_pid(error)) return fail(error);

  if (config.syslog) open_syslog();
  UniqueFd dev_null;  // for --daemon, which may find none in the chroot
  if (config.daemon && !(dev_null = UniqueFd(::open("/dev/null", O_RDWR | O_CLOEXEC)))) {
    return fail(std::string("--daemon: open /dev/null: ") + std::strerror(errno));
  }

  // The document root as the children see it: inside the chroot, if any.
  Config served = config;
  served.root = absolute_root(config.root);
  if (!config.chroot_dir.empty()) {
    std::optional<std::string> root_inside;
    const bool cgi = !config.cgi_patterns.empty() || !config.cgi_interpreters.empty();
    if ((builtin_in_chroot || cgi) && !(root_inside = path_inside(config.chroot_dir, config.root, error))) {
      return fail(error);
    }
    if (root_inside) served.root = *root_inside;
    pidfile.close_directory();
    if (!enter_chroot(config.chroot_dir, error)) return fail(error);
    if (builtin_in_chroot) {
      LoadedModule loaded = start_builtin(*root_inside);
      if (!loaded.module) return fail(loaded.error);
      module.emplace(std::move(loaded), "", "");
    }
  }
  if (user && !drop_privileges(*user, error)) return fail(error);
  // Not under --inetd: there the super-server picks the user (xinetd's
  // user=, tcpserver -u), and every connection would repeat the line.
  if (::geteuid() == 0 && !config.inetd) {
    log_error("warning: serving as root (without --user): every request runs with full privileges");
  }

  if (config.daemon) {
    // The launcher relays the master loop's start-up line(s), then returns.
    if (!daemonize(std::move(dev_null), static_cast<int>(listeners.size()), config.error_log != "-", error)) {
      return fail(error);
    }
    if (!config.pidfile.empty() && !pidfile.write_pid(error)) return fail(error);
  }
  if (config.syslog) send_errors_to_syslog();
  set_log_main_process();  // after --daemon's fork: the serving parent's lines carry no pid
  set_server_facts({std::time(nullptr), static_cast<std::uint32_t>(config.workers),
                    static_cast<std::uint32_t>(config.workers > 0 ? config.workers : config.max_children)});
  if (config.inetd) return serve_inetd(client, served, module->get(), logs);  // no --daemon, no --pidfile
  if (!config.pidfile.empty()) Pidfile::close_in_children();

  return run_master(served, std::move(listeners), *module, logs);
}

}  // namespace

int server_main(int argc, char* argv[], const forkserve_module* embedded) {
  // Started with 0, 1 or 2 closed, the listener or a client socket would get
  // that number, and log lines would go to a client. Fill the gaps.
  int fd = ::open("/dev/null", O_RDWR);
  while (fd >= 0 && fd <= STDERR_FILENO) fd = ::open("/dev/null", O_RDWR);
  if (fd > STDERR_FILENO) ::close(fd);
  CommandLine command_line = parse_command_line(argc, argv);
  switch (command_line.action) {
    case CommandLine::Action::Help:
      write_line(STDOUT_FILENO, usage_text());
      return 0;
    case CommandLine::Action::Version:
      write_line(STDOUT_FILENO, "forkserve " FORKSERVE_VERSION "\n");
      return 0;
    case CommandLine::Action::Fail:
      // A usage message for whoever typed the command, not a log line: no timestamp.
      write_line(STDERR_FILENO, "forkserve: " + escape_control_bytes(command_line.error) + " (try 'forkserve --help')\n");
      return kExitUsage;
    case CommandLine::Action::Run:
      break;
  }
  const Config& config = command_line.config;
  return start_and_serve(config, embedded);
}

}  // namespace forkserve

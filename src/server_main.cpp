// The whole server: argv → Config → module → listeners → supervisor; exit codes.
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <forkserve/server.hpp>
#include <forkserve/version.hpp>

#include "config.hpp"
#include "handlers/static_files.hpp"
#include "inetd.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "module_loader.hpp"
#include "supervisor.hpp"

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
    ListenOptions options{config.backlog, config.reuse_port, ipv4_served_elsewhere(where, wanted)};
    listeners.push_back(open_listener(where, options, error));
    if (!listeners.back().fd) return {};
  }
  return listeners;
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
      log_error(command_line.error + " (try 'forkserve --help')");
      return kExitUsage;
    case CommandLine::Action::Run:
      break;
  }
  const Config& config = command_line.config;

  // Before the logs open: standard output and error may be the client's socket.
  InetdClient client;
  InheritedSockets inherited;
  if (config.inetd) {
    client = take_inetd_client();
    if (!client.fd) {
      log_error(client.error);
      return kExitStartupFailed;
    }
  } else {
    // Before the module's init runs: it should see neither the variables nor the sockets.
    inherited = take_systemd_sockets();
    if (!inherited.error.empty()) {
      log_error(inherited.error);
      return kExitStartupFailed;
    }
  }

  LogFiles logs;
  std::string error;
  if (!logs.open(config.access_log, config.error_log, error)) {
    log_error(error);
    return kExitStartupFailed;
  }

  LoadedModule loaded;
  if (!config.handler_path.empty()) {
    // --handler wins over an embedded handler too; drop the unused object so
    // every fork() does not copy it.
    if (embedded && embedded->fini) embedded->fini();
    loaded = load_module(config.handler_path, config.handler_arg);
  } else if (embedded) {
    loaded = start_module(embedded, "embedded", "");
  } else {
    loaded = start_module(handlers::static_files_module(), "built-in",
                          handlers::static_files_argument(config.root, config.show_dotfiles));
  }
  if (!loaded.module) {
    log_error(loaded.error);
    return kExitStartupFailed;
  }
  HandlerModule module(*loaded.module, config.handler_path, config.handler_arg);

  if (config.inetd) return serve_inetd(client, config, module.get(), logs);
  std::vector<Listener> listeners = open_listeners(config, inherited, error);
  if (listeners.empty()) {
    log_error(error);
    return kExitStartupFailed;
  }
  return run_supervisor(config, std::move(listeners), module, logs);
}

}  // namespace forkserve

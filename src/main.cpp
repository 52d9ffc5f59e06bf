// forkserve: argv → Config → module → listener → supervisor; exit codes.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <forkserve/version.hpp>

#include "config.hpp"
#include "handlers/static_files.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "module_loader.hpp"
#include "supervisor.hpp"

namespace {

constexpr int kExitStartupFailed = 1;
constexpr int kExitUsage = 2;

}  // namespace

int main(int argc, char* argv[]) {
  using namespace forkserve;
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

  UniqueFd access_log_file;
  int access_log_fd = STDOUT_FILENO;
  if (config.access_log != "-") {
    access_log_file.reset(::open(config.access_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!access_log_file) {
      log_error("open access log " + config.access_log + ": " + std::strerror(errno));
      return kExitStartupFailed;
    }
    access_log_fd = access_log_file.get();
  }

  LoadedModule loaded = config.handler_path.empty()
                            ? start_module(handlers::static_files_module(), "built-in", config.root)
                            : load_module(config.handler_path, config.handler_arg);
  if (!loaded.module) {
    log_error(loaded.error);
    return kExitStartupFailed;
  }

  std::string error;
  Listener listener = open_listener(config.host, config.port, config.backlog, error);
  if (!listener.fd) {
    log_error(error);
    if (loaded.module->fini) loaded.module->fini();
    return kExitStartupFailed;
  }

  write_line(STDOUT_FILENO, "forkserve: serving HTTP on " + listener.endpoint.host + " port " +
                                std::to_string(listener.endpoint.port) + " (backlog " +
                                std::to_string(config.backlog) + ", pid " + std::to_string(::getpid()) + ")\n");
  int status = run_supervisor(config, std::move(listener), *loaded.module, access_log_fd);
  if (loaded.module->fini) loaded.module->fini();
  return status;
}

#include "module/abi.hpp"

#include <cstddef>

namespace forkserve {
namespace {

// forkserve_request as ABI 1.0 defined it (tests/fixtures/abi_1_0 keeps that
// header): the 1.1 struct from `environ` to `last_error`.
struct RequestAbi10 {
  const forkserve_pair* environ;
  size_t environ_count;
  void* server;
  long long (*read_input)(void* server, char* buffer, size_t size);
  void (*log_error)(void* server, const char* message, size_t size);
  int (*start_response)(void* server, forkserve_str status, const forkserve_pair* headers,
                        size_t header_count, int replace);
  int (*set_content_length)(void* server, unsigned long long length);
  int (*write)(void* server, const char* data, size_t size);
  int (*send_file)(void* server, int fd, long long offset, unsigned long long length);
  int (*headers_sent)(void* server);
  const char* (*last_error)(void* server);
};

static_assert(sizeof(RequestAbi10) ==
                  offsetof(forkserve_request, run_once) - offsetof(forkserve_request, environ),
              "1.1 must keep the 1.0 fields in their order");

}  // namespace

int call_handle(const forkserve_module& module, const forkserve_request& request) {
  if (module.abi_minor >= 1) return module.handle(&request);
  RequestAbi10 legacy{request.environ,
                      request.environ_count,
                      request.server,
                      request.read_input,
                      request.log_error,
                      request.start_response,
                      request.set_content_length,
                      request.write,
                      request.send_file,
                      request.headers_sent,
                      request.last_error};
  // The module's handle() was declared with the 1.0 struct; only the type name is shared.
  return module.handle(reinterpret_cast<const forkserve_request*>(&legacy));
}

}  // namespace forkserve

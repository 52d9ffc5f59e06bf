// Turns a handler class into a forkserve module.
//
//     struct Hello {
//       forkserve::Body operator()(forkserve::Environ&, forkserve::StartResponse& start_response) {
//         start_response("200 OK", {{"Content-Type", "text/plain"}});
//         return forkserve::Body::text("Hello, World!");
//       }
//     };
//     FORKSERVE_EXPORT_HANDLER(Hello)
//
// The macro defines the one exported C symbol (forkserve_module_v1). No C++
// exception crosses it: every exception is caught here and reported to the
// server as text.
#ifndef FORKSERVE_EXPORT_HPP
#define FORKSERVE_EXPORT_HPP

#include <forkserve/frozen_arena.hpp>
#include <forkserve/handler.hpp>

#include <cstring>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

namespace forkserve::detail {

inline void copy_message(std::string_view message, char* out, std::size_t out_size) {
  if (out_size == 0) return;
  std::size_t n = std::min(message.size(), out_size - 1);
  std::memcpy(out, message.data(), n);
  out[n] = '\0';
}

template <typename Handler>
struct ModuleGlue {
  // Built in the parent by init(); each child inherits a copy through fork().
  static inline std::optional<Handler> instance;

  static int init(const char* arg, char* error, std::size_t error_size) {
    try {
      if constexpr (std::is_constructible_v<Handler, std::string_view>) {
        instance.emplace(std::string_view(arg ? arg : ""));
      } else {
        instance.emplace();
      }
      detail::seal_frozen_arenas();  // before the first fork: read-only in every child
      return FORKSERVE_OK;
    } catch (const std::exception& e) {
      copy_message(e.what(), error, error_size);
      fini();  // if only sealing failed
    } catch (...) {
      copy_message("unknown exception", error, error_size);
    }
    return FORKSERVE_FAILED;
  }

  static int handle(const forkserve_request* request) {
    auto fail = [request](std::string_view message) {
      request->log_error(request->server, message.data(), message.size());
      return FORKSERVE_FAILED;
    };
    try {
      Environ environ(*request);
      StartResponse start_response(*request);
      Body body = (*instance)(environ, start_response);
      if (!start_response.called()) return fail("handler returned without calling start_response");
      body.send(*request);
      return FORKSERVE_OK;
    } catch (const std::exception& e) {
      return fail(e.what());
    } catch (...) {
      return fail("handler threw a non-standard exception");
    }
  }

  // The parent's view of the arenas becomes a private writable copy first,
  // so destructors of containers built in them may write; if that copy
  // cannot be had, the handler is left undestroyed rather than crash.
  static void fini() {
    if (detail::thaw_frozen_arenas()) instance.reset();
  }

  static const forkserve_module* descriptor(const char* name) {
    static const forkserve_module module = {
        FORKSERVE_MODULE_MAGIC, FORKSERVE_ABI_MAJOR, FORKSERVE_ABI_MINOR,
        static_cast<uint32_t>(sizeof(forkserve_module)), name, &init, nullptr, &handle, &fini};
    return &module;
  }

  // A handler linked into the server's own program (server.hpp): the object
  // is built by the caller, so init() has nothing left to construct.
  static int init_given(const char*, char* error, std::size_t error_size) {
    try {
      detail::seal_frozen_arenas();
      return FORKSERVE_OK;
    } catch (const std::exception& e) {
      copy_message(e.what(), error, error_size);
    }
    return FORKSERVE_FAILED;
  }

  static const forkserve_module* embed(Handler handler) {
    instance.emplace(std::move(handler));
    static const forkserve_module module = {
        FORKSERVE_MODULE_MAGIC, FORKSERVE_ABI_MAJOR, FORKSERVE_ABI_MINOR,
        static_cast<uint32_t>(sizeof(forkserve_module)), "embedded", &init_given, nullptr, &handle, &fini};
    return &module;
  }
};

}  // namespace forkserve::detail

#define FORKSERVE_EXPORT_HANDLER(Handler)                                               \
  extern "C" __attribute__((visibility("default"))) const forkserve_module* forkserve_module_v1( \
      void) {                                                                           \
    return ::forkserve::detail::ModuleGlue<Handler>::descriptor(#Handler);              \
  }

#endif  // FORKSERVE_EXPORT_HPP

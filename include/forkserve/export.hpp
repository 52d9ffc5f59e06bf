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
// server as text. The descriptor's lifecycle hooks come from the class:
// init() constructs it (from ARG if it takes a std::string_view), post_fork()
// calls its `void post_fork()` member if it has one (an exception escaping
// that ends the process, as std::terminate does), fini() destroys it.
#ifndef FORKSERVE_EXPORT_HPP
#define FORKSERVE_EXPORT_HPP

#include <cstring>
#include <forkserve/frozen_arena.hpp>
#include <forkserve/handler.hpp>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#if defined(__GLIBCXX__)
#include <dlfcn.h>
// libstdc++'s own clean-up (of its emergency exception pool, ~72 KiB taken
// from the process's malloc when the library starts), meant for leak checkers.
namespace __gnu_cxx {
void __freeres() noexcept;
}
#endif

namespace forkserve::detail {

// A module that carries its own libstdc++ (-static-libstdc++, the default of
// forkserve_add_handler) starts a private copy of it when loaded, and nothing
// hands back what that copy took from malloc when the module is unloaded: so
// every reload would leave one more pool in the server. This object's
// destructor runs at dlclose() and frees the pool, but only the module's own
// (a shared libstdc++.so is not this module's to clean up).
struct PrivateRuntimeRelease {
  ~PrivateRuntimeRelease() {
#if defined(__GLIBCXX__)
    Dl_info module{}, runtime{};
    if (::dladdr(reinterpret_cast<void*>(&anchor), &module) != 0 &&
        ::dladdr(reinterpret_cast<void*>(&__gnu_cxx::__freeres), &runtime) != 0 &&
        module.dli_fbase == runtime.dli_fbase) {
      __gnu_cxx::__freeres();
    }
#endif
  }
  static void anchor() {}  // an address inside the module
};

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

  static void post_fork() noexcept { instance->post_fork(); }

  // The parent's view of the arenas becomes a private writable copy first,
  // so destructors of containers built in them may write; if that copy
  // cannot be had, the handler is left undestroyed rather than crash.
  static void fini() {
    if (detail::thaw_frozen_arenas()) instance.reset();
  }

  static constexpr void (*post_fork_hook())() {
    if constexpr (requires(Handler & h) { h.post_fork(); }) {
      return &post_fork;
    } else {
      return nullptr;
    }
  }

  static constexpr forkserve_module describe(const char* name,
                                             int (*init_hook)(const char*, char*, std::size_t)) {
    return {FORKSERVE_MODULE_MAGIC,
            FORKSERVE_ABI_MAJOR,
            FORKSERVE_ABI_MINOR,
            static_cast<uint32_t>(sizeof(forkserve_module)),
            name,
            init_hook,
            post_fork_hook(),
            &handle,
            &fini};
  }

  static const forkserve_module* descriptor(const char* name) {
    static const forkserve_module module = describe(name, &init);
    static PrivateRuntimeRelease release_at_unload;
    (void)release_at_unload;
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
    static const forkserve_module module = describe("embedded", &init_given);
    return &module;
  }
};

}  // namespace forkserve::detail

#define FORKSERVE_EXPORT_HANDLER(Handler)                                                               \
  extern "C" __attribute__((visibility("default"))) const forkserve_module* forkserve_module_v1(void) { \
    return ::forkserve::detail::ModuleGlue<Handler>::descriptor(#Handler);                              \
  }

#endif  // FORKSERVE_EXPORT_HPP

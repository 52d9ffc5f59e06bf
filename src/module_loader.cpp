#include "module_loader.hpp"

#include <dlfcn.h>

namespace forkserve {

LoadedModule start_module(const forkserve_module* module, const std::string& label, const std::string& arg) {
  auto fail = [&label](const std::string& why) { return LoadedModule{nullptr, "handler " + label + ": " + why}; };
  if (module == nullptr) return fail("the entry point returned no descriptor");
  if (module->magic != FORKSERVE_MODULE_MAGIC) return fail("bad descriptor magic (not a forkserve module)");
  if (module->abi_major != FORKSERVE_ABI_MAJOR) {
    return fail("built for handler ABI " + std::to_string(module->abi_major) + ", this forkserve speaks " +
                std::to_string(FORKSERVE_ABI_MAJOR));
  }
  if (module->size < sizeof(forkserve_module)) return fail("descriptor is too small for this ABI");
  if (module->init == nullptr || module->handle == nullptr) return fail("descriptor lacks init or handle");

  char error[512] = "";
  if (module->init(arg.c_str(), error, sizeof error) != FORKSERVE_OK) {
    error[sizeof error - 1] = '\0';
    return fail(std::string("init failed: ") + (error[0] ? error : "no reason given"));
  }
  return LoadedModule{module, {}};
}

LoadedModule load_module(const std::string& path, const std::string& arg) {
  std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  void* library = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    std::string why = ::dlerror();
    // dlerror() starts with the file name; say it once.
    if (why.starts_with(file + ": ")) why.erase(0, file.size() + 2);
    return LoadedModule{nullptr, "handler " + path + ": " + why};
  }
  void* entry = ::dlsym(library, FORKSERVE_MODULE_SYMBOL);
  if (entry == nullptr) {
    ::dlclose(library);
    return LoadedModule{nullptr, "handler " + path + ": no " FORKSERVE_MODULE_SYMBOL
                                                     " symbol (not a forkserve handler module?)"};
  }
  auto get_descriptor = reinterpret_cast<forkserve_module_entry>(entry);
  LoadedModule loaded = start_module(get_descriptor(), path, arg);
  if (!loaded.module) ::dlclose(library);
  return loaded;
}

}  // namespace forkserve

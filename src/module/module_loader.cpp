#include "module/module_loader.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/io.hpp"

namespace forkserve {

LoadedModule start_module(const forkserve_module* module, const std::string& label, const std::string& arg) {
  auto fail = [&label](const std::string& why) { return LoadedModule{nullptr, "handler " + label + ": " + why}; };
  if (module == nullptr) return fail("the entry point returned no descriptor");
  if (module->magic != FORKSERVE_MODULE_MAGIC) return fail("bad descriptor magic (not a forkserve module)");
  if (module->abi_major != FORKSERVE_ABI_MAJOR) {
    return fail("built for handler ABI " + std::to_string(module->abi_major) + ", this forkserve speaks " +
                std::to_string(FORKSERVE_ABI_MAJOR));
  }
  // A newer minor appends fields, which this server does not read.
  if (module->size < FORKSERVE_MODULE_SIZE_1_0) return fail("descriptor is smaller than ABI 1.0's");
  if (module->init == nullptr || module->handle == nullptr) return fail("descriptor lacks init or handle");

  char error[512] = "";
  if (module->init(arg.c_str(), error, sizeof error) != FORKSERVE_OK) {
    error[sizeof error - 1] = '\0';
    return fail(std::string("init failed: ") + (error[0] ? error : "no reason given"));
  }
  return LoadedModule{module, {}};
}

namespace {

// dlopen(file) + the entry point; runs init unless the descriptor is
// `current` (the loader handed back a library it already had). Errors name
// `label` once.
LoadedModule open_module(const std::string& file, const std::string& label, const std::string& arg,
                         const forkserve_module* current = nullptr) {
  void* library = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    std::string why = ::dlerror();
    // dlerror() starts with the file name; say it once.
    if (why.starts_with(file + ": ")) why.erase(0, file.size() + 2);
    return LoadedModule{nullptr, "handler " + label + ": " + why};
  }
  void* entry = ::dlsym(library, FORKSERVE_MODULE_SYMBOL);
  if (entry == nullptr) {
    ::dlclose(library);
    return LoadedModule{nullptr, "handler " + label + ": no " FORKSERVE_MODULE_SYMBOL
                                                      " symbol (not a forkserve handler module?)"};
  }
  const forkserve_module* descriptor = reinterpret_cast<forkserve_module_entry>(entry)();
  if (descriptor != nullptr && descriptor == current) {
    ::dlclose(library);  // one reference fewer; the library itself stays
    return LoadedModule{current, {}};
  }
  LoadedModule loaded = start_module(descriptor, label, arg);
  if (!loaded.module) ::dlclose(library);
  return loaded;
}

}  // namespace

LoadedModule load_module(const std::string& path, const std::string& arg) {
  return open_module(path.find('/') == std::string::npos ? "./" + path : path, path, arg);
}

HandlerModule::HandlerModule(const forkserve_module& loaded, std::string path, std::string arg)
    : module_(&loaded), path_(std::move(path)), arg_(std::move(arg)) {
  struct stat st {};
  if (!path_.empty() && ::stat(path_.c_str(), &st) == 0) {
    device_ = st.st_dev;
    inode_ = st.st_ino;
  }
}

HandlerModule::~HandlerModule() {
  commit();
  if (module_->fini) module_->fini();
}

HandlerModule::Reload HandlerModule::reload(std::string& message) {
  if (path_.empty()) {
    message = "SIGHUP: the built-in handler has no module file to reload";
    return Reload::Unchanged;
  }
  commit();  // a reload still pending is settled: the newer one wins
  UniqueFd file(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!file || ::fstat(file.get(), &st) != 0) {
    message = "SIGHUP: reload handler " + path_ + ": " + std::strerror(errno) + "; keeping the old one";
    return Reload::Failed;
  }
  if (st.st_dev == device_ && st.st_ino == inode_) {
    message = "SIGHUP: handler " + path_ + " is unchanged";
    return Reload::Unchanged;
  }
  // The dynamic loader hands back the library it already has when asked for
  // a name it knows, and a module carrying its own libstdc++ is never really
  // unloaded: so load the file through a spelling of its path not used
  // before, one more '/' before the file name for each file loaded (no /proc
  // needed, which a chroot may lack).
  std::string path = path_.find('/') == std::string::npos ? "./" + path_ : path_;
  std::size_t slash = path.rfind('/');
  std::string fresh_name = path.substr(0, slash) + std::string(loads_ + 2, '/') + path.substr(slash + 1);
  LoadedModule loaded = open_module(fresh_name, path_, arg_, module_);
  if (!loaded.module) {
    message = "SIGHUP: " + loaded.error + "; keeping the old one";
    return Reload::Failed;
  }
  if (loaded.module == module_) {
    // Only a module exporting its descriptor as a unique symbol gets here.
    message = "SIGHUP: handler " + path_ +
              ": the new file returned the loaded module's descriptor (build it with -fvisibility=hidden); "
              "keeping the old one";
    return Reload::Failed;
  }
  ++loads_;
  device_ = st.st_dev;
  inode_ = st.st_ino;
  previous_ = module_;
  module_ = loaded.module;
  message = "SIGHUP: reloaded handler " + path_;
  return Reload::Replaced;
}

void HandlerModule::commit() {
  if (previous_ && previous_->fini) previous_->fini();
  previous_ = nullptr;
}

void HandlerModule::rollback() {
  if (!previous_) return;
  if (module_->fini) module_->fini();
  module_ = previous_;
  previous_ = nullptr;
  device_ = 0;  // the file at the path is the one that failed: a later SIGHUP may load it again
  inode_ = 0;
}

}  // namespace forkserve

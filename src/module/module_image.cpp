#include "module/module_image.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace forkserve {
namespace {

// How long reading the module file may take (it is a local file; the bound
// is for a stuck network file system, which would otherwise stall a reload).
constexpr auto kCopyTimeout = std::chrono::seconds(10);

// FNV-1a, 64 bits: enough to tell two builds of a module apart.
std::uint64_t fnv1a(std::uint64_t hash, std::span<const char> bytes) {
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}
constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

// Spellings of one path tried for a name no loaded library has: each one is
// a module that could not be unloaded, so this many mean something is wrong.
constexpr int kMaxSpellings = 64;

bool is_loaded(const std::string& name) {
  void* library = ::dlopen(name.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (library == nullptr) return false;
  ::dlclose(library);  // NOLOAD took a reference too
  return true;
}

// Whether the loader can open the memfd by a path: not in a jail without /proc.
bool reachable_by_path(int fd) {
  return ::access(("/proc/self/fd/" + std::to_string(fd)).c_str(), R_OK) == 0;
}

}  // namespace

FileIdentity FileIdentity::of(const struct stat& st) {
  return {st.st_dev, st.st_ino, st.st_size,
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::optional<ModuleImage> ModuleImage::copy(const std::string& path, std::string& error) {
  auto fail = [&error](const char* operation) {
    error = std::string(operation) + ": " + std::strerror(errno);
    return std::nullopt;
  };
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!file || ::fstat(file.get(), &st) != 0) return fail("open");
  if (!S_ISREG(st.st_mode)) {
    error = "not a regular file";
    return std::nullopt;
  }
  ModuleImage image;
  image.path_ = path;
  image.identity_ = FileIdentity::of(st);
  UniqueFd memfd(::memfd_create("forkserve-handler", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (memfd && !reachable_by_path(memfd.get())) memfd.reset();

  const Deadline deadline = Clock::now() + kCopyTimeout;
  std::uint64_t digest = kFnvOffset;
  char buffer[65536];
  for (;;) {
    IoResult got = read_some(file.get(), buffer, deadline);
    if (got.status == IoStatus::Closed) break;
    if (got.status != IoStatus::Ok) {
      errno = got.status == IoStatus::TimedOut ? ETIMEDOUT : got.error;
      return fail("read");
    }
    std::span<const char> bytes(buffer, got.bytes);
    digest = fnv1a(digest, bytes);
    const iovec chunk{buffer, got.bytes};
    if (memfd && write_all(memfd.get(), {&chunk, 1}, deadline).status != IoStatus::Ok) {
      return fail("copy into memory");
    }
  }
  // Sealed: nobody, the server included, can change the copy from now on.
  if (memfd &&
      ::fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return fail("seal the copy");
  }
  image.memfd_ = std::move(memfd);
  image.digest_ = digest;
  return image;
}

std::string ModuleImage::load_name() {
  if (memfd_) {
    // A library still loaded under this fd's name (one that cannot be
    // unloaded) would be handed back: move the copy to another number.
    while (is_loaded("/proc/self/fd/" + std::to_string(memfd_.get()))) {
      UniqueFd moved(::fcntl(memfd_.get(), F_DUPFD_CLOEXEC, memfd_.get() + 1));
      if (!moved) break;  // dlopen will then say what is wrong
      memfd_ = std::move(moved);
    }
    return "/proc/self/fd/" + std::to_string(memfd_.get());
  }
  std::string directory = ".";
  std::string file = path_;
  if (std::size_t slash = path_.rfind('/'); slash != std::string::npos) {
    directory = path_.substr(0, slash);
    file = path_.substr(slash + 1);
  }
  std::string name = directory + "/" + file;
  // Bounded: a file that is itself the loaded library matches by its inode
  // whatever the spelling, and the loader's answer then says so.
  for (int tries = 0; tries < kMaxSpellings && is_loaded(name); ++tries) {
    name = directory + "/./" + name.substr(directory.size() + 1);
  }
  return name;
}

}  // namespace forkserve

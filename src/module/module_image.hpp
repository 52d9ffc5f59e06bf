// A handler module file as the server takes it: copied once into memory only
// the server holds, sealed, and opened by the dynamic loader from there, so
// that whatever later happens to the file on disk (a `cp` over it in place, a
// truncation, a half-written deploy) never touches code that is mapped.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>

#include "net/io.hpp"

namespace forkserve {

// What says "the file at the path changed" without reading it: `cp` in place
// keeps the inode but not the size or mtime; a rename brings another inode.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = -1;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileIdentity&) const = default;

  static FileIdentity of(const struct stat& st);
};

class ModuleImage {
 public:
  // Copies the file at `path` into a sealed memfd. On failure, `error` says
  // why ("read: Input/output error"). Without memfd_create or /proc (a
  // --chroot jail), the image is only the file's identity and digest, and the
  // loader opens the file at `path` itself.
  static std::optional<ModuleImage> copy(const std::string& path, std::string& error);

  const FileIdentity& identity() const { return identity_; }
  // Of the bytes copied: equal digests mean the same module.
  std::uint64_t digest() const { return digest_; }
  // True when the loader opens the private copy, false when the file itself.
  bool is_private() const { return static_cast<bool>(memfd_); }
  // The private copy's descriptor (-1: none), which load_name() names.
  int descriptor() const { return memfd_.get(); }

  // A name dlopen() reaches the module by and that no library loaded now has
  // (the dynamic loader hands back a loaded library when a name matches):
  // /proc/self/fd/N of the copy, or without one, `path` spelled with as few
  // extra "./" as make it new.
  std::string load_name();

 private:
  UniqueFd memfd_;
  std::string path_;
  FileIdentity identity_;
  std::uint64_t digest_ = 0;
};

}  // namespace forkserve

// --pidfile: a file holding the server's pid, locked (flock) for as long as
// the server runs, so that a second instance is refused while a stale file
// left by a dead one is simply taken over.
#pragma once

#include <string>

#include "net/io.hpp"

namespace forkserve {

class Pidfile {
 public:
  Pidfile() = default;
  Pidfile(const Pidfile&) = delete;
  Pidfile& operator=(const Pidfile&) = delete;
  // Removes the file if this process holds it (see remove()).
  ~Pidfile();

  // Opens (creating) and locks `path`. False with a one-line `error` when
  // another live process holds the lock, or the file cannot be opened.
  bool acquire(const std::string& path, std::string& error);

  // Replaces the content with getpid() and a newline. Called by the process
  // that will serve (after --daemon, the daemon).
  bool write_pid(std::string& error);

  // Unlinks the file (through the directory opened at acquire(), so it works
  // after chroot too), or, when the directory is not writable any more
  // (after --user), empties it; then lets the lock go.
  void remove();

  // Closes the directory kept for remove(): inside a chroot it would be a
  // way out. remove() then only empties the file.
  void close_directory();

  // From now on every fork() closes the child's copies of the descriptors
  // (a pthread_atfork child handler, so before any handler code runs, in
  // per-connection children and workers alike): handler code must not be
  // able to unlock or rewrite the file, nor fchdir() out of a chroot through
  // the directory. Called once detached, as the last forks before serving
  // must keep them.
  static void close_in_children();

 private:
  std::string path_;
  std::string name_;  // path_'s last component, relative to dir_
  UniqueFd dir_;
  UniqueFd file_;
};

}  // namespace forkserve

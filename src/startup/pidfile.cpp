#include "startup/pidfile.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace forkserve {
namespace {

// The held descriptors, for close_inherited() in children.
int g_held_dir = -1;
int g_held_file = -1;

// Another instance may unlink the file between our open and our lock (it is
// exiting); we then hold a lock on a file nobody can find, and start over.
constexpr int kLockAttempts = 5;

std::string errno_text() { return std::strerror(errno); }

// The pid an instance wrote, for the message; empty if unreadable.
std::string pid_in(int fd) {
  char buffer[32];
  ssize_t n = ::pread(fd, buffer, sizeof buffer - 1, 0);
  if (n <= 0) return {};
  std::string text(buffer, static_cast<std::size_t>(n));
  return text.substr(0, text.find_first_not_of("0123456789"));
}

}  // namespace

bool Pidfile::acquire(const std::string& path, std::string& error) {
  std::size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  name_ = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name_.empty() || name_ == "." || name_ == "..") {
    error = "--pidfile " + path + ": not a file name";
    return false;
  }
  dir_.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir_) {
    error = "open pidfile directory " + dir + ": " + errno_text();
    return false;
  }
  for (int attempt = 0; attempt < kLockAttempts; ++attempt) {
    // O_NOFOLLOW: root must not be led to truncate whatever a symlink names.
    file_.reset(::openat(dir_.get(), name_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!file_) {
      error = "open pidfile " + path + ": " + errno_text();
      return false;
    }
    if (::flock(file_.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) {
        error = "lock pidfile " + path + ": " + errno_text();
        return false;
      }
      std::string pid = pid_in(file_.get());
      error =
          "pidfile " + path + " is held by a running instance" + (pid.empty() ? "" : " (pid " + pid + ")");
      return false;
    }
    struct stat held {};
    struct stat named {};
    if (::fstat(file_.get(), &held) == 0 &&
        ::fstatat(dir_.get(), name_.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
      path_ = path;
      g_held_dir = dir_.get();
      g_held_file = file_.get();
      return true;
    }
  }
  error = "lock pidfile " + path + ": the file keeps being replaced";
  file_.reset();
  return false;
}

bool Pidfile::write_pid(std::string& error) {
  std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(file_.get(), 0) != 0 ||
      ::pwrite(file_.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    error = "write pidfile " + path_ + ": " + errno_text();
    return false;
  }
  return true;
}

void Pidfile::remove() {
  if (!file_ || path_.empty()) return;
  struct stat held {};
  struct stat named {};
  bool ours = dir_ && ::fstat(file_.get(), &held) == 0 &&
              ::fstatat(dir_.get(), name_.c_str(), &named, AT_SYMLINK_NOFOLLOW) == 0 &&
              held.st_dev == named.st_dev && held.st_ino == named.st_ino;
  if (!ours || ::unlinkat(dir_.get(), name_.c_str(), 0) != 0) {
    // Unprivileged now (--user) or the name was taken over: an empty,
    // unlocked file names no one, and the next start takes it over.
    (void)!::ftruncate(file_.get(), 0);
  }
  path_.clear();
  g_held_dir = g_held_file = -1;
  file_.reset();
  dir_.reset();
}

Pidfile::~Pidfile() { remove(); }

void Pidfile::close_directory() {
  dir_.reset();
  g_held_dir = -1;
}

void Pidfile::close_in_children() {
  static bool registered = false;
  if (registered) return;
  registered = true;
  ::pthread_atfork(nullptr, nullptr, [] {
    for (int* fd : {&g_held_file, &g_held_dir}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  });
}

}  // namespace forkserve

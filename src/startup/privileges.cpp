#include "startup/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace forkserve {
namespace {

std::string errno_text() { return std::strerror(errno); }

// realpath(3) as a string; nullopt (errno set) when it fails.
std::optional<std::string> real_path(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(path.c_str(), nullptr), &std::free);
  if (!real) return std::nullopt;
  return std::string(real.get());
}

}  // namespace

std::optional<Credentials> resolve_user(std::string_view spec, std::string& error) {
  std::string_view user_name = spec.substr(0, spec.find(':'));
  std::string_view group_name = user_name.size() < spec.size() ? spec.substr(user_name.size() + 1) : "";
  const std::string where = "--user " + std::string(spec) + ": ";
  if (user_name.empty() || (user_name.size() < spec.size() && group_name.empty())) {
    error = where + "expected USER or USER:GROUP";
    return std::nullopt;
  }
  Credentials who;
  who.spec = spec;
  errno = 0;
  const passwd* user = ::getpwnam(std::string(user_name).c_str());
  if (user == nullptr) {
    error = where + (errno != 0 ? "getpwnam: " + errno_text() : "no such user");
    return std::nullopt;
  }
  who.uid = user->pw_uid;
  who.gid = user->pw_gid;
  if (!group_name.empty()) {
    errno = 0;
    const group* found = ::getgrnam(std::string(group_name).c_str());
    if (found == nullptr) {
      error = where + (errno != 0 ? "getgrnam: " + errno_text() : "no such group");
      return std::nullopt;
    }
    who.gid = found->gr_gid;
  }
  if (::geteuid() != 0 && (who.uid != ::geteuid() || who.gid != ::getegid())) {
    error = where + "only root can switch to another user or group (running as uid " +
            std::to_string(::geteuid()) + ")";
    return std::nullopt;
  }
  return who;
}

bool drop_privileges(const Credentials& who, std::string& error) {
  if (::geteuid() != 0) return true;  // resolve_user() made sure we already are `who`
  const std::string where = "--user " + who.spec + ": ";
  // Groups first: once the uid is gone, so is the right to change them.
  if (::setgroups(0, nullptr) != 0) {
    error = where + "setgroups: " + errno_text();
    return false;
  }
  if (::setgid(who.gid) != 0) {
    error = where + "setgid " + std::to_string(who.gid) + ": " + errno_text();
    return false;
  }
  if (::setuid(who.uid) != 0) {
    error = where + "setuid " + std::to_string(who.uid) + ": " + errno_text();
    return false;
  }
  if (who.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0 || ::getuid() != who.uid ||
                       ::geteuid() != who.uid || ::getgid() != who.gid || ::getegid() != who.gid)) {
    error = where + "root privileges could be regained after setuid; refusing to serve";
    return false;
  }
  return true;
}

std::optional<std::string> path_inside(const std::string& dir, const std::string& path, std::string& error) {
  std::optional<std::string> real_dir = real_path(dir);
  if (!real_dir) {
    error = "--chroot " + dir + ": " + errno_text();
    return std::nullopt;
  }
  std::optional<std::string> real = real_path(path);
  if (!real) {
    error = "--root " + path + ": " + errno_text();
    return std::nullopt;
  }
  if (*real_dir == "/") return real;
  if (*real == *real_dir) return "/";
  if (real->starts_with(*real_dir) && (*real)[real_dir->size()] == '/') return real->substr(real_dir->size());
  error = "--root " + path + " (" + *real + ") is outside --chroot " + *real_dir;
  return std::nullopt;
}

bool enter_chroot(const std::string& dir, std::string& error) {
  if (::chroot(dir.c_str()) != 0) {
    error = "chroot " + dir + ": " + errno_text();
    return false;
  }
  if (::chdir("/") != 0) {
    error = "chdir / after chroot " + dir + ": " + errno_text();
    return false;
  }
  return true;
}

}  // namespace forkserve

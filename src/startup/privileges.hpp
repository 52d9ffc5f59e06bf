// --user and --chroot: who the server runs as, and what it can see, once it
// has bound its sockets and opened what needs root.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

namespace forkserve {

struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string spec;  // "USER[:GROUP]" as given, for messages
};

// Resolves "USER[:GROUP]" with getpwnam/getgrnam (the group defaults to the
// user's primary group), and checks that this process may become it: root
// may become anyone, anyone else only itself. Run before chroot, while
// /etc/passwd is in sight. nullopt with a one-line `error` otherwise.
std::optional<Credentials> resolve_user(std::string_view spec, std::string& error);

// setgroups(0) (supplementary groups dropped), setgid, setuid, then checks
// that root cannot be regained. A no-op when already running as `who`.
bool drop_privileges(const Credentials& who, std::string& error);

// `path` (a directory given as seen before chroot) as seen after chroot to
// `dir`: "/srv/jail/www" with `dir` "/srv/jail" is "/www". Fails when `path`
// lies outside `dir`.
std::optional<std::string> path_inside(const std::string& dir, const std::string& path, std::string& error);

// chroot(dir) and chdir("/"), so no working directory is left outside.
bool enter_chroot(const std::string& dir, std::string& error);

}  // namespace forkserve

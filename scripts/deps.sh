# Sourced by the other scripts: installs what building and testing forkserve
# needs on Debian, if it is missing.
# True if the Debian package is installed (not merely known, or removed with
# its configuration files left behind, which `dpkg -s` also accepts).
installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

need_packages() {
  local missing=()
  command -v cmake >/dev/null || missing+=(cmake)
  command -v g++ >/dev/null || missing+=(g++)
  command -v ninja >/dev/null || missing+=(ninja-build)
  command -v curl >/dev/null || missing+=(curl)  # the integration tests talk to the server with it too
  command -v pkg-config >/dev/null || missing+=(pkg-config)  # the install test builds a module with it
  [ -f /usr/src/googletest/CMakeLists.txt ] || installed libgtest-dev ||
    missing+=(libgtest-dev googletest)
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0

  echo "installing: ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; return 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures and builds into $1 with any further cmake arguments.
build_into() {
  local dir=$1
  shift
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$root" -B "$dir" "${generator[@]}" "$@" >/dev/null &&
    cmake --build "$dir" --parallel "$(nproc)"
}

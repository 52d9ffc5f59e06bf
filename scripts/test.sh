#!/usr/bin/env bash
# Builds forkserve and runs every test (installing build tools and GoogleTest
# if missing).
#   scripts/test.sh             the test suite
#   scripts/test.sh --sanitize  the same suite built with ASan + UBSan
#   scripts/test.sh --with-peers  also installs nginx, ab (apache2-utils), wget,
#                                 git, php-cgi and python3 first, so the tests
#                                 of forkserve behind nginx, under ab's load,
#                                 resumed by wget -c, read back by Python's
#                                 email and json packages, and of real CGI
#                                 programs run instead of skipping
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/deps.sh"

dir=$root/build-tests
# Release, as scripts/run.sh builds the server, and warnings as errors: the
# build a new user makes first stays free of warnings.
flags=(-DCMAKE_BUILD_TYPE=Release -DFORKSERVE_WERROR=ON)
peers=()
for arg in "$@"; do
  case "$arg" in
    --sanitize)
      dir=$root/build-sanitize
      flags=(-DCMAKE_BUILD_TYPE=Debug -DFORKSERVE_WERROR=ON -DFORKSERVE_SANITIZE=ON)
      export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
      ;;
    --with-peers) peers=(nginx apache2-utils wget git php-cgi python3) ;;
    *) echo "usage: scripts/test.sh [--sanitize] [--with-peers]" >&2; exit 2 ;;
  esac
done

# ucspi-tcp (70 KB, needs only libc): the --inetd test runs forkserve under tcpserver.
# nlohmann-json3-dev (headers only): the SDK tests check the JSON they write with a real parser.
need_packages ucspi-tcp nlohmann-json3-dev "${peers[@]}"
build_into "$dir" "${flags[@]}"
cd "$dir"
status=0
ctest --output-on-failure --parallel "$(nproc)" --timeout 300 || status=$?

# ctest lists skipped tests without the reason each gave (GTEST_SKIP() << why,
# or the install test's "skipped: ..."); print it from the tests' output.
awk '
  /^[0-9]+\/[0-9]+ Test: / { name = $3; reason = ""; grab = 0 }
  /: Skipped$/ { grab = 1; next }
  grab && /^\[  SKIPPED \]/ { grab = 0; print "skipped " name ": " reason; next }
  grab && NF { reason = reason (reason == "" ? "" : " ") $0 }
  /^SKIPPED: / { print "skipped " name ": " substr($0, 10) }
' Testing/Temporary/LastTest.log | sort -u
exit "$status"

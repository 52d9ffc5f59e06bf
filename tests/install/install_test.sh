#!/usr/bin/env bash
# The installed SDK, used the ways the README tells: installs this build into
# a temporary prefix, then
#   1. builds examples/external (as installed) with find_package(forkserve) and
#      forkserve_add_handler, and serves it with the installed forkserve;
#   2. builds examples/embedded (server and handler in one program) against
#      the prefix and serves with it; its parent maps no library the stock
#      binary does not;
#   3. builds the same module with only `pkg-config --cflags forkserve` and
#      the compiler, and serves it; builds the embedded example against
#      libforkserve.so with `pkg-config --libs` and serves with it;
#   4. renders the installed man page;
#   5. builds tests/install/sdk_tour (a module using every handler-SDK
#      helper, and its unit test with forkserve::testing) against the prefix,
#      runs the test and serves the module.
# Exit 77 (skipped, for ctest) when a tool for step 3 or 4 is missing.
#
# usage: install_test.sh BUILD_DIR CMAKE GENERATOR CXX
set -euo pipefail

build=$1 cmake=$2 generator=$3 cxx=$4
tmp=$(mktemp -d "${TMPDIR:-/tmp}/forkserve-install.XXXXXX")
prefix=$tmp/prefix
servers=()
skipped=()

cleanup() {
  for pid in "${servers[@]}"; do
    { kill "$pid" && wait "$pid"; } 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Starts a server (the command line in "$@") on 127.0.0.1 with --port 0 and
# sets $port from its start-up line and $pid; waits at most 20 s.
start_server() {
  local out=$tmp/server.${#servers[@]}.out
  : >"$out"  # now: the server's own redirection may come after the first look
  "$@" --host 127.0.0.1 --port 0 >"$out" 2>&1 &
  pid=$!
  servers+=("$pid")
  for _ in $(seq 400); do
    port=$(sed -n 's/^forkserve: serving HTTP on 127\.0\.0\.1 port \([0-9]*\) .*/\1/p' "$out")
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || fail "$* exited before serving: $(cat "$out")"
    sleep 0.05
  done
  fail "$* did not print its start-up line within 20 s: $(cat "$out")"
}

stop_server() {
  kill "$1"
  wait "$1" || fail "server $1 did not exit 0 after SIGTERM"
}

# GET URL_PATH from the server on $port; fails unless the body is EXPECTED.
expect_body() {
  local body
  body=$(curl -sS --max-time 10 "http://127.0.0.1:$port$1") || fail "GET $1 on port $port failed"
  [ "$body" = "$2" ] || fail "GET $1: body '$body', expected '$2'"
}

# The shared objects a process maps (ld.so, libc, modules...).
mapped_libraries() {
  awk '$6 ~ /\.so(\.[0-9]+)*$/ {print $6}' "/proc/$1/maps" | sort -u
}

cmake_project() {  # SOURCE BINARY
  "$cmake" -S "$1" -B "$2" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" >"$2.log" 2>&1 || fail "configure $1: $(cat "$2.log")"
  "$cmake" --build "$2" --parallel 2 >>"$2.log" 2>&1 || fail "build $1: $(cat "$2.log")"
}

"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 || fail "install: $(cat "$tmp/install.log")"
sdk_headers=(handler.hpp export.hpp module.h server.hpp version.hpp status.hpp http_rules.hpp form.hpp multipart.hpp request.hpp
  response.hpp json.hpp router.hpp testing.hpp files.hpp
  frozen_arena.hpp)
for header in "${sdk_headers[@]}"; do
  [ -e "$prefix/include/forkserve/$header" ] || fail "include/forkserve/$header was not installed"
done
for file in bin/forkserve lib/cmake/forkserve/forkserveConfig.cmake \
  lib/cmake/forkserve/forkserveConfigVersion.cmake lib/pkgconfig/forkserve.pc lib/libforkserve.a \
  lib/libforkserve.so share/man/man1/forkserve.1 share/doc/forkserve/examples/external/CMakeLists.txt \
  share/doc/forkserve/examples/embedded/CMakeLists.txt share/doc/forkserve/examples/hello/hello.cpp \
  share/doc/forkserve/examples/guestbook/guestbook.cpp share/doc/forkserve/examples/guestbook/guestbook.hpp; do
  [ -e "$prefix/$file" ] || fail "$file was not installed"
done
# Only the public headers: nothing from src/ leaks into the SDK.
extra=$(cd "$prefix/include/forkserve" && find . -type f | sed 's|^\./||' | grep -vxF -f <(printf '%s\n' "${sdk_headers[@]}") || true)
[ -z "$(cd "$prefix/include" && find . -type f -not -path './forkserve/*')" ] || fail "headers installed outside include/forkserve"
[ -z "$extra" ] || fail "unexpected installed headers: $extra"

# The shared library's interface is server_main alone.
exported=$(nm -DC --defined-only "$prefix/lib/libforkserve.so" | cut -d' ' -f3-)
[ "$exported" = 'forkserve::server_main(int, char**, forkserve_module const*)' ] ||
  fail "libforkserve.so exports more than forkserve::server_main: $exported"

# 1. An external module built with CMake, served by the installed binary.
examples=$prefix/share/doc/forkserve/examples
cmake_project "$examples/external" "$tmp/external"
module=$tmp/external/greeting.so
[ -f "$module" ] || fail "forkserve_add_handler did not make greeting.so (no 'lib' prefix)"
exported=$(nm -D --defined-only "$module" | awk '{print $3}')
[ "$exported" = forkserve_module_v1 ] ||
  fail "greeting.so exports $(wc -l <<<"$exported") symbols, not just its entry point: $(head -3 <<<"$exported" | tr '\n' ' ')..."
start_server "$prefix/bin/forkserve" --handler "$module:Bonjour"
expect_body /world 'Bonjour, world!'
stock_libraries=$(mapped_libraries "$pid" | grep -vxF "$module" || true)
stop_server "$pid"

# 2. Server and handler in one program, linked with forkserve::forkserve.
cmake_project "$examples/embedded" "$tmp/embedded"
start_server "$tmp/embedded/embedded"
expect_body /some/path 'embedded handler: GET /some/path'
extra=$(comm -23 <(mapped_libraries "$pid") <(echo "$stock_libraries"))
[ -z "$extra" ] || fail "the embedded server's parent maps libraries the stock forkserve does not: $extra"
stop_server "$pid"
# --handler still replaces the embedded handler, as it replaces the built-in one.
start_server "$tmp/embedded/embedded" --handler "$module:Hi"
expect_body /there 'Hi, there!'
stop_server "$pid"

# 3. The same module with pkg-config and the compiler only.
if command -v pkg-config >/dev/null; then
  cflags=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags forkserve) || fail "pkg-config --cflags forkserve"
  map=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --variable=handler_map forkserve)
  [ -f "$map" ] || fail "pkg-config --variable=handler_map forkserve: no such file: $map"
  # The README's compiler line: the same module forkserve_add_handler builds.
  # shellcheck disable=SC2086 # cflags is a list of words
  "$cxx" -std=c++20 -O2 -shared -fPIC -fvisibility=hidden -fvisibility-inlines-hidden $cflags \
    -Wl,--version-script="$map" -static-libstdc++ -static-libgcc \
    "$examples/external/greeting.cpp" -o "$tmp/greeting_pc.so" || fail "building greeting.cpp with pkg-config's flags"
  exported=$(nm -D --defined-only "$tmp/greeting_pc.so" | awk '{print $NF}')
  [ "$exported" = forkserve_module_v1 ] || fail "the pkg-config module exports more than forkserve_module_v1: $exported"
  start_server "$prefix/bin/forkserve" --handler "$tmp/greeting_pc.so:Salut"
  expect_body /monde 'Salut, monde!'
  stop_server "$pid"
  # And the embedded server against libforkserve.so, with pkg-config --libs.
  libs=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --libs forkserve) || fail "pkg-config --libs forkserve"
  # shellcheck disable=SC2086
  "$cxx" -std=c++20 -O2 $cflags "$examples/embedded/embedded.cpp" $libs -Wl,-rpath,"$prefix/lib" \
    -o "$tmp/embedded_shared" || fail "building embedded.cpp with pkg-config's flags"
  start_server "$tmp/embedded_shared"
  mapped_libraries "$pid" | grep -qxF "$(realpath "$prefix/lib/libforkserve.so")" ||
    fail "embedded_shared does not run on the installed libforkserve.so"
  expect_body /shared 'embedded handler: GET /shared'
  stop_server "$pid"
else
  skipped+=("pkg-config is not installed (scripts/deps.sh installs it)")
fi

# 4. The installed man page renders without warnings.
page=$prefix/share/man/man1/forkserve.1
if command -v groff >/dev/null; then
  text=$(groff -man -Tutf8 -P-cbou -ww "$page" 2>"$tmp/groff.err") || fail "groff $page: $(cat "$tmp/groff.err")"
  [ ! -s "$tmp/groff.err" ] || fail "groff warns about $page: $(cat "$tmp/groff.err")"
elif command -v man >/dev/null; then
  text=$(MANPAGER=cat MANWIDTH=80 man -l "$page") || fail "man -l $page"
else
  text=
  skipped+=("neither groff nor man is installed, the man page was not rendered")
fi
if [ -n "$text" ]; then
  for heading in SYNOPSIS OPTIONS SIGNALS "EXIT STATUS"; do
    grep -q "$heading" <<<"$text" || fail "the rendered man page has no $heading section"
  done
fi

# 5. Every SDK helper in one module and its in-process unit test.
cmake_project "$(cd "$(dirname "$0")" && pwd)/sdk_tour" "$tmp/sdk_tour"
"$tmp/sdk_tour/tour_test" || fail "the tour's unit test (forkserve::testing against the installed headers) failed"
start_server "$prefix/bin/forkserve" --handler "$tmp/sdk_tour/tour.so"
expect_body '/items/7?count=2' '{"id":"7","count":2,"tag":"","seen":false}'
expect_body /count 012
printf 'tour file\n' >"$tmp/tour.txt"
served=$(curl -sS -i --max-time 10 "http://127.0.0.1:$port/file?path=$tmp/tour.txt") || fail "GET /file failed"
grep -q $'^Content-Type: text/plain; charset=utf-8\r$' <<<"$served" || fail "GET /file: not the server's MIME type: $served"
grep -q $'^X-Tour: file\r$' <<<"$served" || fail "GET /file: the module's header is missing: $served"
grep -q '^tour file$' <<<"$served" || fail "GET /file: wrong body: $served"
printf 'abc' >"$tmp/upload.bin"
uploaded=$(curl -sS --max-time 10 -F note=hi -F "f=@$tmp/upload.bin" "http://127.0.0.1:$port/upload") ||
  fail "multipart POST /upload failed"
[ "$uploaded" = 'note:2;f:3;' ] || fail "POST /upload: '$uploaded', expected 'note:2;f:3;'"
stop_server "$pid"

if [ ${#skipped[@]} -gt 0 ]; then
  printf 'SKIPPED: %s\n' "${skipped[@]}"
  exit 77
fi
echo "installed SDK: external module (CMake and pkg-config), embedded server and man page all work"

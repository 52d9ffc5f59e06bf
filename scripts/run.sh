#!/usr/bin/env bash
# Builds forkserve (installing build tools if missing) and runs it with the
# given options; with none it serves the current directory on port 8000.
#   scripts/run.sh --port 8888
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/deps.sh"
need_packages
build_into "$root/build" -DCMAKE_BUILD_TYPE=Release -DFORKSERVE_TESTS=OFF >&2
exec "$root/build/forkserve" "$@"

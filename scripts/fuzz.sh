#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 60), seeded with the request
# corpus. New inputs found go to build-fuzz/corpus/, never into the repo.
#   scripts/fuzz.sh 60
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/deps.sh"
seconds=${1:-60}
need_packages clang libclang-rt-dev
dir=$root/build-fuzz
# The whole core is built with ASan + UBSan so the fuzzers check it too.
build_into "$dir" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug -DFORKSERVE_TESTS=OFF \
  -DFORKSERVE_SANITIZE=ON -DFORKSERVE_FUZZ=ON

mkdir -p "$dir/corpus/request_parser" "$dir/corpus/safe_path" "$dir/corpus/file_headers" "$dir/corpus/chunked"
cp "$root"/tests/data/requests/*/*.http "$dir/corpus/request_parser/"
# Paths: the request targets of the corpus, one per file.
for f in "$root"/tests/data/requests/*/*.http; do
  head -n1 "$f" | awk '{print $2}' | tr -d '\r\n' >"$dir/corpus/safe_path/$(basename "$f")"
done

# Header values: two bytes of file length, then the value.
i=0
for value in 'bytes=0-99' 'bytes=-5,10-,0-0' 'bytes=1-2,3-4,5-6,7-8,9-10' 'gzip;q=0.5, br, *;q=0' \
  '"1-2-3", W/"x"' '*' 'Sun, 06 Nov 1994 08:49:37 GMT'; do
  printf '\001\000%s' "$value" >"$dir/corpus/file_headers/seed$i"
  i=$((i + 1))
done
# Chunked bodies: the WIRE field of each case, its escapes undone by printf %b.
grep -v -e '^#' -e '^$' "$root/tests/data/chunked/cases.txt" | while read -r name _status _decoded wire; do
  printf '%b' "$wire" >"$dir/corpus/chunked/$name"
done

cd "$dir"  # crash-* reproducers land here
for target in request_parser safe_path file_headers chunked; do
  echo "fuzzing $target for $seconds s"
  log=$dir/$target.log
  if ! "$dir/${target}_fuzz" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
    "$dir/corpus/$target" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "$target: the fuzzer found a failure; reproducer in $dir"
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added)' "$log"
  echo "corpus: $(ls "$dir/corpus/$target" | wc -l) inputs"
done

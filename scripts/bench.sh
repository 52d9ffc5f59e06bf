#!/usr/bin/env bash
# Measures forkserve on 127.0.0.1 against the limits of its design and other
# small servers, and prints Markdown tables. Results are printed, not asserted.
#   scripts/bench.sh          3 interleaved rounds and the microbenchmarks (about 10 minutes)
#   scripts/bench.sh --quick  one short round, for development (a few minutes)
#   scripts/bench.sh --large  only the large-file rounds (3 rounds, a few minutes)
#   scripts/bench.sh [--full|--quick] --only REGEX   only the rows whose label matches (and fork_min)
#   scripts/bench.sh --handler-state  only the handler-state round (3 rounds, a few minutes)
#   scripts/bench.sh --reload-soak
#                             1,000 SIGHUP reloads alternating two modules, then the
#                             reloaded server against a fresh one: mappings, memory, req/s
#
# Builds in Release (build-bench/) and installs, if missing, ab (apache2-utils)
# and Google Benchmark, then the optional peers: wrk, busybox, mini-httpd,
# apache2, nginx, lighttpd and libhttp-parser-dev. A peer that cannot be
# installed is skipped, saying so. No system service is started: the install
# runs behind policy-rc.d, and the peers run in the foreground from the
# configs in bench/peers/, with pid and log files in a temp dir.
#
# Every figure is also given as a ratio to fork_min measured in the same
# round: on a small shared machine the absolute numbers drift, the ratios much
# less. Each ab run opens a new connection per request (no -k).
set -Eeuo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Awk functions the report tables share: the median of list[1..count] ("-"
# for none), whether a field holds a number, and a field printed or "-".
report_functions='
  function median(list, count,    i, j, t, a) {
    if (count == 0) return "-"
    for (i = 1; i <= count; i++) a[i] = list[i]
    for (i = 2; i <= count; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return count % 2 ? a[(count + 1) / 2] : (a[count / 2] + a[count / 2 + 1]) / 2
  }
  function number(x) { return x != "-" && x != "" }
  function show(x, format) { return x == "-" ? "-" : sprintf(format, x) }
'
. "$root/scripts/deps.sh"
export PATH="$PATH:/usr/sbin:/sbin"

# --only REGEX (after the mode) keeps the rows whose label matches, plus fork_min:
#   scripts/bench.sh --quick --only 'CGI|cgi'
only=""
if [ "${2:-}" = --only ] && [ -n "${3:-}" ]; then only=$3; fi
large_only=false
state_only=false
case "${1:-}" in
  "" | --full | --large | --handler-state)
    [ "${1:-}" = --large ] && large_only=true
    [ "${1:-}" = --handler-state ] && state_only=true
    quick=false
    rounds=3
    declare -A requests=([1]=5000 [16]=15000 [128]=15000)
    time_cap=20  # seconds one ab run may take, whatever its -n
    micro_args=(--benchmark_min_time=0.2 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
                --benchmark_enable_random_interleaving=true)
    ;;
  --reload-soak)
    reload_soak=true
    ;;
  --quick)
    quick=true
    rounds=1
    declare -A requests=([1]=1000 [16]=2000 [128]=2000)
    time_cap=3
    micro_args=(--benchmark_min_time=0.05)
    ;;
  *) echo "usage: scripts/bench.sh [--full|--quick|--large|--handler-state|--reload-soak] [--only REGEX]" >&2; exit 2 ;;
esac
reload_soak=${reload_soak:-false}
concurrencies=(1 16 128)
dir=$root/build-bench
bin=$dir/bench
sample_interval_ms=20

say() { echo "bench: $*" >&2; }

# --- cleanup: every process this script starts is in a process group of its
# own (setsid), and is ended through that group id, here, whatever happens.
tmp=$(mktemp -d /tmp/forkserve-bench.XXXXXX)
started=()      # group ids of the servers
samplers=()     # pids of peak_children runs still going
made_guard=""   # the policy-rc.d this script wrote, if any
cleanup() {
  set +e
  trap - ERR
  local pid i
  for pid in "${samplers[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${started[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
  for ((i = 0; i < 50; i++)); do  # up to 5 s for them to finish
    local alive=false
    for pid in "${started[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=true; done
    $alive || break
    sleep 0.1
  done
  for pid in "${started[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "$made_guard" ] && rm -f "$made_guard"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM
trap 'say "line $LINENO failed: $BASH_COMMAND"' ERR

# --- installing --------------------------------------------------------------

# Installs each package in turn (so one that fails skips only itself), with
# service starts refused, and stops and disables any service a package it
# installed brought up anyway. Returns nothing: callers check for what they
# need afterwards.
install_optional() {
  local missing=() p
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "not root and no sudo: not installing ${missing[*]}"; return 0; }
    sudo=(sudo)
  fi
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    made_guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# written by forkserve scripts/bench.sh while it installs peers\nexit 101\n' |
      "${sudo[@]}" tee "$made_guard" >/dev/null
    "${sudo[@]}" chmod 755 "$made_guard"
  fi
  say "installing: ${missing[*]}"
  "${sudo[@]}" apt-get update -qq || say "apt-get update failed; trying with the package lists there are"
  local installed=()
  for p in "${missing[@]}"; do
    if DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$p" \
      >"$tmp/apt-$p.log" 2>&1; then
      installed+=("$p")
    else
      say "could not install $p (its rows are skipped): $(tail -n 1 "$tmp/apt-$p.log")"
    fi
  done
  if [ -n "$made_guard" ]; then "${sudo[@]}" rm -f "$made_guard"; made_guard=""; fi
  local service services
  for p in "${installed[@]}"; do
    case $p in
      apache2) services=(apache2 apache-htcacheclean) ;;
      nginx | lighttpd | mini-httpd) services=("$p") ;;
      *) services=() ;;
    esac
    for service in "${services[@]}"; do
      if [ -d /run/systemd/system ]; then
        "${sudo[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
      elif [ -x "/etc/init.d/$service" ] && "${sudo[@]}" service "$service" status >/dev/null 2>&1; then
        say "stopping the $service service the install of $p started"
        "${sudo[@]}" service "$service" stop >/dev/null 2>&1 || true
      fi
    done
  done
}

need_packages apache2-utils libbenchmark-dev
$state_only || $reload_soak || install_optional wrk busybox mini-httpd apache2 nginx lighttpd libhttp-parser-dev

say "building Release into $dir"
build_into "$dir" -DCMAKE_BUILD_TYPE=Release -DFORKSERVE_BENCH=ON -DFORKSERVE_TESTS=OFF >&2

# --- the servers -----------------------------------------------------------

www=$tmp/www  # what every server serves; readable by the peers' "nobody"
run=$tmp/run  # pid files, logs, configs; writable by them
mkdir -p "$www" "$run"
chmod 755 "$tmp" "$www"
chown nobody:nogroup "$run" 2>/dev/null || chmod 777 "$run"
printf 'Hello, World!' >"$www/13.txt"
head -c 65536 /dev/zero | tr '\0' 'x' >"$www/64k.txt"
# The large-file rounds' files (random, so no layer can compress them).
large_files=(1m.bin 256m.bin)
declare -A large_bytes=([1m.bin]=$((1 << 20)) [256m.bin]=$((256 << 20)))
for file in "${large_files[@]}"; do head -c "${large_bytes[$file]}" /dev/urandom >"$www/$file"; done
# The CGI round: the same 13 bytes from a compiled program and from a shell script.
mkdir -p "$www/cgi-bin"
cp "$bin/cgi_hello" "$www/cgi-bin/hello"
printf '#!/bin/sh\nprintf '"'"'Content-Type: text/plain\\r\\n\\r\\nHello, World!'"'"'\n' >"$www/cgi-bin/hello.sh"
chmod 755 "$www/cgi-bin" "$www/cgi-bin/hello" "$www/cgi-bin/hello.sh"

port=18400
# Sets $port to the next port nobody on this machine listens on.
next_port() {
  local tries
  for ((tries = 0; tries < 200; tries++)); do
    port=$((port + 1))
    local hex
    hex=$(printf ':%04X' "$port")
    awk -v p="$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
      /proc/net/tcp /proc/net/tcp6 2>/dev/null || return 0
  done
  say "no free port found"
  exit 1
}

declare -A server_pid server_port
servers=()
# start_server NAME TEMPLATE COMMAND... — runs COMMAND in a process group of
# its own and waits until it answers. In COMMAND, @PORT@ stands for the port
# and @CONFIG@ for TEMPLATE (a file in bench/peers/, or - for none) filled in:
# @PORT@, @ROOT@ (the files) and @RUN@ (pid files and logs).
start_server() {
  local name=$1 template=$2
  shift 2
  next_port
  local config=$run/$name.conf
  if [ "$template" != - ]; then
    sed -e "s|@PORT@|$port|g" -e "s|@ROOT@|$www|g" -e "s|@RUN@|$run|g" "$root/bench/peers/$template" >"$config"
  fi
  local args=("${@//@PORT@/$port}")
  args=("${args[@]//@CONFIG@/$config}")
  setsid "${args[@]}" >"$run/$name.out" 2>&1 </dev/null &
  local pid=$!
  started+=("$pid")
  local tries
  for ((tries = 0; tries < ${start_wait:-5} * 10; tries++)); do  # up to start_wait (5) s
    kill -0 "$pid" 2>/dev/null || break
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/"; then
      server_pid[$name]=$pid
      server_port[$name]=$port
      servers+=("$name")
      return 0
    fi
    sleep 0.1
  done
  say "$name did not start; skipping it. Its output:"
  sed 's/^/    /' "$run/$name.out" >&2
  kill -TERM -- "-$pid" 2>/dev/null || true
}

# --- --reload-soak: what 1,000 reloads leave in the parent -------------------
# Two servers with the same module, one just started, one that has reloaded
# 1,000 times alternating two modules (each reload waited for, as signals
# sent faster merge). Every fork() copies the parent's mappings, so whatever
# reloads leave behind would show in the default mode's req/s.
if $reload_soak; then
  soak_reloads=1000
  soak_requests=5000
  for name in fresh soaked; do cp "$dir/examples/hello.so" "$run/$name.so"; done
  start_server soaked - "$dir/forkserve" --host 127.0.0.1 --port @PORT@ --handler "$run/soaked.so" \
    --access-log "$run/soaked-access.log" --error-log "$run/soaked-error.log"
  soaked_pid=${server_pid[soaked]}
  say "reloading the module $soak_reloads times"
  for ((i = 1; i <= soak_reloads; i++)); do
    if ((i % 2)); then module=environ_dump.so; else module=hello.so; fi
    cp "$dir/examples/$module" "$run/staged.so"
    mv -f "$run/staged.so" "$run/soaked.so"
    kill -HUP "$soaked_pid"
    for ((tries = 0; tries < 5000; tries++)); do  # up to 10 s
      (($(grep -c SIGHUP "$run/soaked-error.log" || true) >= i)) && break
      sleep 0.002
    done
  done
  reloaded=$(grep -c "reloaded handler" "$run/soaked-error.log" || true)
  start_server fresh - "$dir/forkserve" --host 127.0.0.1 --port @PORT@ --handler "$run/fresh.so" \
    --access-log "$run/fresh-access.log" --error-log "$run/fresh-error.log"
  declare -A soak_rps=()
  for ((round = 1; round <= 3; round++)); do
    for name in fresh soaked; do
      rps=$(ab -q -r -s 20 -n "$soak_requests" -c 16 "http://127.0.0.1:${server_port[$name]}/" 2>/dev/null |
        awk '/^Requests per second:/ { print $4 }')
      soak_rps[$name]+="${rps:-0} "
    done
  done
  median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  figure() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
  echo "## forkserve reload soak, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "$reloaded of $soak_reloads SIGHUPs reloaded (alternating hello.so and environ_dump.so, ending on hello.so);" \
    "then both servers answer ab -n $soak_requests -c 16, 3 interleaved rounds, medians. $(nproc) cores."
  echo
  echo "| figure | fresh server | after $soak_reloads reloads | reloaded / fresh |"
  echo "|---|---:|---:|---:|"
  row() { awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN { printf "| %s | %s | %s | %.3f |\n", l, a, b, (a > 0 ? b / a : 0) }'; }
  row "mappings (/proc/PID/maps lines)" "$(wc -l <"/proc/${server_pid[fresh]}/maps")" "$(wc -l <"/proc/$soaked_pid/maps")"
  for field in VmRSS RssAnon VmData; do
    row "$field KiB" "$(figure "${server_pid[fresh]}" $field)" "$(figure "$soaked_pid" $field)"
  done
  row "req/s, c=16" "$(median "${soak_rps[fresh]}")" "$(median "${soak_rps[soaked]}")"
  exit 0
fi

start_server fork_min - "$bin/fork_min" @PORT@
start_server nofork_min - "$bin/nofork_min" @PORT@
start_server fork_http_min - "$bin/fork_http_min" @PORT@ "$run/fork_http_min-access.log"
start_server cgi_min - "$bin/cgi_min" @PORT@ "$www/cgi-bin/hello"
forkserve_common=(--host 127.0.0.1 --port @PORT@ --max-children 256 --error-log "$run/forkserve-error.log")
start_server forkserve_hello - "$dir/forkserve" "${forkserve_common[@]}" \
  --handler "$dir/examples/hello.so" --access-log "$run/forkserve-hello-access.log"
start_server forkserve_static - "$dir/forkserve" "${forkserve_common[@]}" \
  --root "$www" --access-log "$run/forkserve-static-access.log"
# The pre-forked mode: one worker per core (ab takes a core of its own).
start_server forkserve_workers - "$dir/forkserve" "${forkserve_common[@]}" --workers "$(nproc)" \
  --root "$www" --handler "$dir/examples/hello.so" --access-log "$run/forkserve-workers-access.log"

start_server forkserve_cgi - "$dir/forkserve" "${forkserve_common[@]}" \
  --root "$www" --cgi /cgi-bin/ --access-log "$run/forkserve-cgi-access.log"
start_server forkserve_cgi_workers - "$dir/forkserve" "${forkserve_common[@]}" --workers "$(nproc)" \
  --root "$www" --cgi /cgi-bin/ --access-log "$run/forkserve-cgi-workers-access.log"

peer_missing() { say "$1 is not installed: skipping it"; }
if command -v busybox >/dev/null && busybox --list 2>/dev/null | grep -x httpd >/dev/null; then
  start_server busybox - busybox httpd -f -p 127.0.0.1:@PORT@ -h "$www" -u nobody:nogroup
else
  peer_missing "busybox httpd"
fi
if command -v mini_httpd >/dev/null; then
  start_server mini_httpd - mini_httpd -D -h 127.0.0.1 -p @PORT@ -d "$www" -u nobody -c 'cgi-bin/*' \
    -l "$run/mini_httpd-access.log" -i "$run/mini_httpd.pid"
else
  peer_missing mini_httpd
fi
if command -v apache2 >/dev/null && [ -f /usr/lib/apache2/modules/mod_mpm_prefork.so ]; then
  start_server apache_prefork apache2-prefork.conf apache2 -f @CONFIG@ -DFOREGROUND
else
  peer_missing "apache2 (prefork)"
fi
if command -v apache2 >/dev/null && [ -f /usr/lib/apache2/modules/mod_cgid.so ]; then
  start_server apache_cgid apache2-cgid.conf apache2 -f @CONFIG@ -DFOREGROUND
else
  peer_missing "apache2 (mod_cgid)"
fi
if command -v nginx >/dev/null; then
  start_server nginx nginx.conf nginx -p "$run" -e "$run/nginx-error.log" -c @CONFIG@
else
  peer_missing nginx
fi
if command -v lighttpd >/dev/null; then
  start_server lighttpd lighttpd.conf lighttpd -D -f @CONFIG@
  start_server lighttpd_cgi lighttpd-cgi.conf lighttpd -D -f @CONFIG@
else
  peer_missing lighttpd
fi

[ -n "${server_pid[fork_min]:-}" ] || { say "fork_min did not start: nothing to compare with"; exit 1; }

# --- what is measured: a server and a path ----------------------------------

targets=()
declare -A target_server target_path
# add_target LABEL SERVER PATH BYTES — if SERVER runs and answers PATH with
# 200 and BYTES bytes of body.
add_target() {
  local label=$1 server=$2 path=$3 bytes=$4
  [ -n "${server_pid[$server]:-}" ] || return 0
  if [ -n "$only" ] && [ "$label" != fork_min ] && ! [[ $label =~ $only ]]; then return 0; fi
  local answer
  answer=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{size_download}' \
    "http://127.0.0.1:${server_port[$server]}$path" || true)
  if [ "$answer" != "200 $bytes" ]; then
    say "$label: GET $path answered '$answer', not '200 $bytes': skipping it"
    return 0
  fi
  targets+=("$label")
  target_server[$label]=$server
  target_path[$label]=$path
}
add_target fork_min fork_min / 13
add_target nofork_min nofork_min / 13
add_target fork_http_min fork_http_min / 13
add_target "forkserve hello" forkserve_hello / 13
add_target "forkserve 13 B" forkserve_static /13.txt 13
add_target "forkserve 64 KiB" forkserve_static /64k.txt 65536
add_target "forkserve --workers hello" forkserve_workers / 13
add_target "busybox 13 B" busybox /13.txt 13
add_target "busybox 64 KiB" busybox /64k.txt 65536
add_target "mini_httpd 13 B" mini_httpd /13.txt 13
add_target "mini_httpd 64 KiB" mini_httpd /64k.txt 65536
add_target "apache prefork 13 B" apache_prefork /13.txt 13
add_target "nginx 13 B" nginx /13.txt 13
add_target "lighttpd 13 B" lighttpd /13.txt 13
# The CGI round: a compiled program (C) and a shell script (sh), 13 bytes each.
add_target "cgi_min C" cgi_min /cgi-bin/hello 13
add_target "forkserve CGI C" forkserve_cgi /cgi-bin/hello 13
add_target "forkserve CGI sh" forkserve_cgi /cgi-bin/hello.sh 13
add_target "forkserve --workers CGI C" forkserve_cgi_workers /cgi-bin/hello 13
add_target "busybox CGI C" busybox /cgi-bin/hello 13
add_target "busybox CGI sh" busybox /cgi-bin/hello.sh 13
add_target "mini_httpd CGI C" mini_httpd /cgi-bin/hello 13
add_target "mini_httpd CGI sh" mini_httpd /cgi-bin/hello.sh 13
add_target "lighttpd mod_cgi C" lighttpd_cgi /cgi-bin/hello 13
add_target "lighttpd mod_cgi sh" lighttpd_cgi /cgi-bin/hello.sh 13
add_target "apache mod_cgid C" apache_cgid /cgi-bin/hello 13
add_target "apache mod_cgid sh" apache_cgid /cgi-bin/hello.sh 13

# Resident memory of a server's main process, in KiB, from /proc.
status_kib() { awk -v field="$2:" '$1 == field { print $2 }' "/proc/$1/status" 2>/dev/null || echo -; }
declare -A rss_start
for server in "${servers[@]}"; do rss_start[$server]=$(status_kib "${server_pid[$server]}" VmRSS); done

# --- the runs ---------------------------------------------------------------

results=$tmp/results.tsv  # round, label, c, req/s, p50 ms, p99 ms, failed, peak children, peak zombies
: >"$results"
# measure ROUND LABEL C — one ab run, sampling the server's children meanwhile.
measure() {
  local round=$1 label=$2 c=$3
  local server=${target_server[$label]}
  local pid=${server_pid[$server]}
  local n=${requests[$c]} out=$tmp/ab.out csv=$tmp/ab.csv
  if ! kill -0 "$pid" 2>/dev/null; then
    say "round $round: $label c=$c: the server has exited"
    printf '%s\t%s\t%s\t-\t-\t-\t%s\t-\t-\n' "$round" "$label" "$c" "$n" >>"$results"
    return 0
  fi
  rm -f "$csv"
  "$bin/peak_children" "$pid" "$sample_interval_ms" $((time_cap + 30)) >"$tmp/peak" &
  samplers=("$!")
  local status=0
  timeout --foreground $((time_cap + 40)) ab -q -r -s 20 -t "$time_cap" -n "$n" -c "$c" -e "$csv" \
    "http://127.0.0.1:${server_port[$server]}${target_path[$label]}" >"$out" 2>&1 || status=$?
  kill -TERM "${samplers[0]}" 2>/dev/null || true
  wait "${samplers[0]}" 2>/dev/null || true
  samplers=()
  local peak=- zombies=- rest
  read -r peak zombies rest <"$tmp/peak" || true
  local rps failed p50="" p99=""
  rps=$(awk '/^Requests per second:/ { print $4 }' "$out")
  failed=$(awk '/^Failed requests:/ { f += $3 } /^Non-2xx responses:/ { f += $3 } END { print f + 0 }' "$out")
  if [ -s "$csv" ]; then
    p50=$(awk -F, '$1 == "50" { print $2 }' "$csv")
    p99=$(awk -F, '$1 == "99" { print $2 }' "$csv")
  fi
  if [ "$status" -ne 0 ] || [ -z "$rps" ]; then
    # ab gives up on the whole run when a response takes longer than -s;
    # it still says how many requests had completed.
    local completed
    completed=$(awk '/^Total of [0-9]+ requests completed/ { print $3 }' "$out")
    failed=$((n - ${completed:-0}))
    say "round $round: $label c=$c: ab gave up (status $status) after ${completed:-0} of $n requests:" \
      "$(grep -o 'apr_[^ ]*: .*' "$out" | tail -n 1)"
    rps=- p50=- p99=-
  fi
  say "round $round/$rounds: $label c=$c: $rps req/s, p50 ${p50:--} ms, p99 ${p99:--} ms, failed $failed," \
    "peak children ${peak:--} (zombies ${zombies:--})"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$label" "$c" "$rps" "${p50:--}" "${p99:--}" "$failed" \
    "${peak:--}" "${zombies:--}" >>"$results"
}

# --- handler state: what the handler holds in the parent, and what fork() costs then

# examples/bigstate with its lookup state on the ordinary heap and in a
# FrozenArena, at several sizes, against the same module holding nothing and
# fork_http_min, at c=16 in the default mode, interleaved round by round.
# Also each one's parent memory and fork() latency (bench/tools/fork_latency:
# the module loaded in a process of its own, fork() timed before and after
# the server's make_parent_cheap_to_fork()).
handler_state_round() {
  local sizes=(16 64 256) size kind label labels=() empty="state: none"
  [ -n "${target_server[fork_http_min]:-}" ] && labels+=(fork_http_min)
  declare -A state_arg=(["$empty"]=0)
  local empty_body="bigstate: 0 entries, 0 MiB in the frozen arena"
  for size in 0 "${sizes[@]}"; do
    for kind in heap arena; do
      [ "$size" = 0 ] && [ "$kind" = heap ] && continue
      label="state: $size MiB $kind"
      [ "$size" = 0 ] && label=$empty
      state_arg[$label]=$size
      [ "$kind" = heap ] && state_arg[$label]+=:heap
      start_wait=60 start_server "$label" - "$dir/forkserve" "${forkserve_common[@]}" \
        --handler "$dir/examples/bigstate.so:${state_arg[$label]}" --access-log "$run/state-$size-$kind-access.log"
      if [ "$size" = 0 ]; then
        add_target "$label" "$label" / $((${#empty_body} + 1))
      else
        add_target "$label" "$label" "/?key=4242" 200
      fi
      [ -n "${target_server[$label]:-}" ] && labels+=("$label")
    done
  done
  if [ ${#labels[@]} -eq 0 ]; then
    say "handler state: no server to measure"
    return 0
  fi
  local state_results=$tmp/state.tsv round
  : >"$state_results"
  for ((round = 1; round <= rounds; round++)); do
    for label in "${labels[@]}"; do results=$state_results measure "$round" "$label" 16; done
  done
  # KiB of the arena's memory a process maps (whether or not it touched it).
  arena_kib() {
    local range start end total=0
    while read -r range _; do
      start=${range%-*} end=${range#*-}
      total=$((total + (16#$end - 16#$start) / 1024))
    done < <(grep -F '/memfd:forkserve-frozen-arena' "/proc/$1/maps" 2>/dev/null || true)
    echo "$total"
  }
  local memory=$tmp/state-memory.tsv pid
  : >"$memory"
  for label in "${labels[@]}"; do
    [ -n "${state_arg[$label]:-}" ] || continue
    pid=${server_pid[$label]}
    printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$(status_kib "$pid" VmRSS)" "$(arena_kib "$pid")" \
      "$(awk '$1 == "AnonHugePages:" { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo -)" \
      "$("$bin/fork_latency" "$dir/examples/bigstate.so:${state_arg[$label]}" 100 2>/dev/null | cut -d' ' -f4- || echo)" \
      >>"$memory"
  done

  echo
  echo "### Handler state, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "examples/bigstate.so:SIZE (lookup state in a FrozenArena) and bigstate.so:SIZE:heap (the same" \
    "tables on the ordinary heap), default mode, \`ab -n ${requests[16]} -c 16\` (at most ${time_cap} s)," \
    "$rounds interleaved round(s), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end. ×empty and" \
    "×fork_http_min: medians of each round's ratio. Parent memory from /proc/PID/status of the running" \
    "server (the arena: its shared memory, mapped but not counted in RSS until touched); fork() in µs (median of 100, a process holding the same state): the call alone, and" \
    "fork + child's exit + waitpid, after the server's make_parent_cheap_to_fork() and, in brackets, before it."
  echo
  awk -F'\t' -v empty="$empty" -v memory="$memory" "$report_functions"'
    function mib(kib) { return number(kib) ? sprintf("%.0f", kib / 1024) : "-" }
    FILENAME == memory { rss[$1] = $2; shm[$1] = $3; huge[$1] = $4; split($5, f, " ")
                          lat[$1] = number(f[3]) ? f[3] " (" f[1] ")" : "-"
                          round_trip[$1] = number(f[4]) ? f[4] " (" f[2] ")" : "-"; next }
    { if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 }
      rps[$1, $2] = $4; if ($1 > rounds) rounds = $1 }
    END {
      print "| handler state | req/s | ×empty | ×fork_http_min | parent RSS MiB | in huge pages | arena MiB | fork() µs | fork+exit+wait µs |"
      print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
      for (i = 1; i <= n; i++) {
        label = order[i]; split("", v); split("", re); split("", rf); nv = ne = nf = 0
        for (r = 1; r <= rounds; r++) {
          x = rps[r, label]; e = rps[r, empty]; m = rps[r, "fork_http_min"]
          if (!number(x)) continue
          v[++nv] = x
          if (number(e) && e > 0) re[++ne] = x / e
          if (number(m) && m > 0) rf[++nf] = x / m
        }
        shown = label; sub(/^state: /, "", shown)
        printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", shown, show(median(v, nv), "%.0f"),
          show(median(re, ne), "%.2f"), show(median(rf, nf), "%.2f"), (label in rss) ? mib(rss[label]) : "-",
          (label in huge) ? mib(huge[label]) : "-", (label in shm) ? mib(shm[label]) : "-",
          (label in lat) ? lat[label] : "-", (label in round_trip) ? round_trip[label] : "-")
      }
    }
  ' "$memory" "$state_results"
  cp "$state_results" "$dir/bench-state-last.tsv"
  say "handler-state per-round figures: $dir/bench-state-last.tsv"
}
if $state_only; then
  handler_state_round
  exit 0
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started_at=$(date +%s)
for ((round = 1; round <= rounds; round++)); do
  $large_only && break
  for label in "${targets[@]}"; do
    for c in "${concurrencies[@]}"; do measure "$round" "$label" "$c"; done
  done
done

# --- large files: throughput ----------------------------------------------------
# Each of these servers serves 1m.bin and 256m.bin; C curl processes each fetch
# the file a number of times (a new connection each, as every server closes),
# all timed together: MB/s is every byte received over the wall time.
large_servers=(forkserve_static nginx lighttpd busybox mini_httpd)
large_concurrencies=(1 8)
if $quick; then
  declare -A large_downloads=([1m.bin]=40 [256m.bin]=1)
else
  declare -A large_downloads=([1m.bin]=200 [256m.bin]=3)
fi
large_results=$tmp/large.tsv  # round, server, file, c, MB/s
: >"$large_results"
large_ready=()
for server in "${large_servers[@]}"; do
  [ -n "${server_pid[$server]:-}" ] || continue
  answer=$(curl -s -o /dev/null --max-time 20 -w '%{http_code} %{size_download}' \
    "http://127.0.0.1:${server_port[$server]}/1m.bin" || true)
  if [ "$answer" = "200 ${large_bytes[1m.bin]}" ]; then
    large_ready+=("$server")
  else
    say "$server: GET /1m.bin answered '$answer': no large-file rows for it"
  fi
done
# transfer ROUND SERVER FILE C — one timed run, appended to $large_results.
transfer() {
  local round=$1 server=$2 file=$3 c=$4
  local bytes=${large_bytes[$file]} url="http://127.0.0.1:${server_port[$server]}/$file"
  local n=${large_downloads[$file]}
  [ "$c" -gt 1 ] && [ "$file" = 1m.bin ] && n=$((large_downloads[$file] / 2))
  local args=() i pids=()
  for ((i = 0; i < n; i++)); do args+=(-o /dev/null "$url"); done
  local start end
  start=$(date +%s%N)
  for ((i = 0; i < c; i++)); do
    curl -s --max-time 300 -w '%{http_code} %{size_download}\n' "${args[@]}" >"$tmp/client.$i" &
    pids+=("$!")
  done
  for i in "${pids[@]}"; do wait "$i" || true; done
  end=$(date +%s%N)
  local complete
  complete=$(cat "$tmp"/client.* | grep -c "^200 $bytes\$" || true)
  rm -f "$tmp"/client.*
  local rate=-
  if [ "$complete" -eq $((c * n)) ]; then
    rate=$(awk -v b="$((c * n))" -v size="$bytes" -v ns="$((end - start))" 'BEGIN { printf("%.0f", b * size / ns * 1000) }')
  else
    say "round $round: $server $file c=$c: $complete of $((c * n)) downloads complete"
  fi
  say "round $round/$rounds: $server $file c=$c: $rate MB/s"
  printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$server" "$file" "$c" "$rate" >>"$large_results"
}
for ((round = 1; round <= rounds; round++)); do
  for file in "${large_files[@]}"; do
    for c in "${large_concurrencies[@]}"; do
      for server in "${large_ready[@]}"; do transfer "$round" "$server" "$file" "$c"; done
    done
  done
done
declare -A rss_end hwm_end
for server in "${servers[@]}"; do
  rss_end[$server]=$(status_kib "${server_pid[$server]}" VmRSS)
  hwm_end[$server]=$(status_kib "${server_pid[$server]}" VmHWM)
done

# wrk can open a new connection per request only when the server closes it:
# a short cross-check of ab's figures, full run only.
wrk_results=$tmp/wrk.tsv
: >"$wrk_results"
if ! $quick && ! $large_only && command -v wrk >/dev/null; then
  for label in fork_min "forkserve hello"; do
    [ -n "${target_server[$label]:-}" ] || continue
    server=${target_server[$label]}
    timeout --foreground 30 wrk -t1 -c16 -d5s --latency -H 'Connection: close' \
      "http://127.0.0.1:${server_port[$server]}${target_path[$label]}" >"$tmp/wrk.out" 2>&1 || true
    awk -v label="$label" '
      function ms(text) {  # "1.23ms", "456.00us", "1.02s" -> milliseconds
        if (text ~ /us$/) return text / 1000
        if (text ~ /ms$/) return text + 0
        if (text ~ /s$/) return text * 1000
        return text
      }
      $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
      /^Requests\/sec:/ { rps = $2 }
      /Socket errors:/ { errors = $0; sub(/.*Socket errors: */, "", errors) }
      END { printf("%s\t%s\t%s\t%s\t%s\n", label, rps, p50, p99, errors == "" ? "none" : errors) }
    ' "$tmp/wrk.out" >>"$wrk_results"
  done
elif ! $quick && ! $large_only; then
  say "wrk is not installed: no cross-check"
fi

# --- microbenchmarks ----------------------------------------------------------

micro_csv=$tmp/micro.csv
if ! $large_only; then
  say "microbenchmarks"
  "$bin/forkserve_microbench" "${micro_args[@]}" --benchmark_out="$micro_csv" --benchmark_out_format=csv >&2 ||
    say "forkserve_microbench failed"
fi
elapsed=$(($(date +%s) - started_at))

# --- the report (standard output: Markdown) -----------------------------------

printf '%s\n' "${targets[@]}" >"$tmp/targets.txt"
echo "## forkserve bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
if $large_only; then
  echo "$("$dir/forkserve" --version 2>/dev/null | head -n 1) (Release), Linux $(uname -r), $(nproc) cores," \
    "load average before $load_before; $rounds round(s) of the large-file runs only, ${elapsed} s in all."
else
  echo "$("$dir/forkserve" --version 2>/dev/null | head -n 1) (Release), Linux $(uname -r), $(nproc) cores," \
    "load average before $load_before; $rounds round(s) of every server in turn, each with" \
    "\`ab -n ${requests[1]}/${requests[16]}/${requests[128]} -c 1/16/128\` (new connection per request," \
    "at most ${time_cap} s per run), ${elapsed} s in all."
fi
if ! $large_only; then
echo
echo "Medians over the rounds; ×fork_min is the median of each round's ratio to fork_min in that round" \
  "(req/s: above 1 is faster; latency: above 1 is slower). Failed: summed over the rounds (ab's failed" \
  "plus non-2xx). Peak children: most child processes of the server's main process seen at once," \
  "and in brackets the most of those that had exited but were not yet reaped (/proc sampled every" \
  "${sample_interval_ms} ms; a pre-forked pool shows its size)."
echo
awk -F'\t' "$report_functions"'
  FNR == NR { order[++targets] = $0; next }
  {
    round = $1; label = $2; c = $3
    if (!(c in seen_c)) { seen_c[c] = 1; cs[++ncs] = c }
    if (round > rounds) rounds = round
    rps[round, label, c] = $4; p50[round, label, c] = $5; p99[round, label, c] = $6
    failed[label, c] += $7
    if ($8 != "-" && (!((label, c) in peak) || $8 + 0 > peak[label, c])) peak[label, c] = $8 + 0
    if ($9 != "-" && (!((label, c) in zombies) || $9 + 0 > zombies[label, c])) zombies[label, c] = $9 + 0
  }
  END {
    print "| server | c | req/s | ×fork_min | p50 ms | ×fork_min | p99 ms | ×fork_min | failed | peak children |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for (t = 1; t <= targets; t++) for (k = 1; k <= ncs; k++) {
      label = order[t]; c = cs[k]
      split("", v1); split("", v2); split("", v3); split("", r1); split("", r2); split("", r3)
      n1 = n2 = n3 = m1 = m2 = m3 = 0
      for (r = 1; r <= rounds; r++) {
        x = rps[r, label, c]; y = p50[r, label, c]; z = p99[r, label, c]
        xr = rps[r, "fork_min", c]; yr = p50[r, "fork_min", c]; zr = p99[r, "fork_min", c]
        if (number(x)) { v1[++n1] = x; if (number(xr) && xr > 0) r1[++m1] = x / xr }
        if (number(y)) { v2[++n2] = y; if (number(yr) && yr > 0) r2[++m2] = y / yr }
        if (number(z)) { v3[++n3] = z; if (number(zr) && zr > 0) r3[++m3] = z / zr }
      }
      printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", label, c,
        show(median(v1, n1), "%.0f"), show(median(r1, m1), "%.2f"),
        show(median(v2, n2), "%.2f"), show(median(r2, m2), "%.2f"),
        show(median(v3, n3), "%.2f"), show(median(r3, m3), "%.2f"),
        failed[label, c] + 0, ((label, c) in peak) ? peak[label, c] " (" zombies[label, c] + 0 ")" : "-")
    }
    # The pre-forked mode against the servers it is meant to outrun, and the
    # CGI round against the peers that run CGI and against cgi_min: the
    # median of each round'"'"'s req/s ratio (above 1: forkserve is faster).
    ratio_table("forkserve --workers hello", "apache prefork 13 B|nginx 13 B|lighttpd 13 B")
    ratio_table("forkserve CGI C", "cgi_min C|busybox CGI C|mini_httpd CGI C|lighttpd mod_cgi C|apache mod_cgid C")
    ratio_table("forkserve --workers CGI C", "cgi_min C|busybox CGI C|mini_httpd CGI C|lighttpd mod_cgi C|apache mod_cgid C")
    ratio_table("forkserve CGI sh", "busybox CGI sh|mini_httpd CGI sh|lighttpd mod_cgi sh|apache mod_cgid sh")
  }
  function ratio_table(ours, peer_list,    npeers, peers, header, rule, p, k, c, row, q, m, r, x, y, measured) {
    for (k = 1; k <= ncs; k++) for (r = 1; r <= rounds; r++) if (number(rps[r, ours, cs[k]])) measured = 1
    if (!measured) return  # not in this run (--only, or the server did not start)
    npeers = split(peer_list, peers, "|")
    header = "| c |"; rule = "|---:|"
    for (p = 1; p <= npeers; p++) { header = header " " ours " ÷ " peers[p] " |"; rule = rule "---:|" }
    print ""; print header; print rule
    for (k = 1; k <= ncs; k++) {
      c = cs[k]; row = "| " c " |"
      for (p = 1; p <= npeers; p++) {
        split("", q); m = 0
        for (r = 1; r <= rounds; r++) {
          x = rps[r, ours, c]; y = rps[r, peers[p], c]
          if (number(x) && number(y) && y > 0) q[++m] = x / y
        }
        row = row " " show(median(q, m), "%.2f") " |"
      }
      print row
    }
  }
' "$tmp/targets.txt" "$results"

echo
echo "Main process memory (VmRSS from /proc/PID/status, KiB): after start-up, after the last round," \
  "and its peak (VmHWM). A forkserve child starts as a copy-on-write image of this."
echo
echo "| server | RSS at start | RSS at end | peak RSS |"
echo "|---|---:|---:|---:|"
for server in "${servers[@]}"; do
  echo "| $server | ${rss_start[$server]} | ${rss_end[$server]} | ${hwm_end[$server]} |"
done
fi

if [ -s "$large_results" ]; then
  echo
  echo "Large files: MB/s (10^6 bytes per second) received by C concurrent curl processes, each" \
    "fetching the file ${large_downloads[1m.bin]} (1 MiB; half that each at c=8) or" \
    "${large_downloads[256m.bin]} (256 MiB) times over new connections; median over the rounds, and in" \
    "brackets the median of each round's ratio to nginx in that round (above 1: faster than nginx)."
  echo
  printf '%s\n' "${large_ready[@]}" >"$tmp/large-servers.txt"
  awk -F'\t' "$report_functions"'
    FNR == NR { order[++nservers] = $0; next }
    {
      if ($1 > rounds) rounds = $1
      key = $3 SUBSEP $4
      if (!(key in seen)) { seen[key] = 1; rows[++nrows] = key }
      rate[$1, $2, $3, $4] = $5
    }
    END {
      header = "| file | c |"; rule = "|---|---:|"
      for (s = 1; s <= nservers; s++) { header = header " " order[s] " |"; rule = rule "---:|" }
      print header; print rule
      for (k = 1; k <= nrows; k++) {
        split(rows[k], part, SUBSEP); file = part[1]; c = part[2]
        line = "| " (file == "1m.bin" ? "1 MiB" : "256 MiB") " | " c " |"
        for (s = 1; s <= nservers; s++) {
          split("", v); split("", q); n = m = 0
          for (r = 1; r <= rounds; r++) {
            x = rate[r, order[s], file, c]; y = rate[r, "nginx", file, c]
            if (x != "-" && x != "") { v[++n] = x; if (y != "-" && y != "" && y > 0) q[++m] = x / y }
          }
          cell = median(v, n)
          if (cell != "-") cell = sprintf("%.0f", cell) (m ? sprintf(" (%.2f)", median(q, m)) : "")
          line = line " " cell " |"
        }
        print line
      }
    }
  ' "$tmp/large-servers.txt" "$large_results"
fi

if [ -s "$wrk_results" ]; then
  echo
  echo "Cross-check with \`wrk -t1 -c16 -d5s -H 'Connection: close'\` (one round; wrk reconnects after each close):"
  echo
  echo "| server | req/s | p50 ms | p99 ms | socket errors |"
  echo "|---|---:|---:|---:|---|"
  awk -F'\t' '{ printf("| %s | %.0f | %.2f | %.2f | %s |\n", $1, $2, $3, $4, $5) }' "$wrk_results"
fi

if [ -s "$micro_csv" ]; then
  echo
  echo "Microbenchmarks (Google Benchmark; $([ "$rounds" -gt 1 ] && echo "median of 3 repetitions, randomly interleaved" || echo "one repetition")):" \
    "request-head parsing of the same three inputs by forkserve and by http-parser with no-op callbacks" \
    "(ratio: forkserve's time over http-parser's, below 1 is faster), then environ building and response" \
    "serialisation."
  echo
  awk -F, '
    /^name,/ { started = 1; next }
    !started { next }
    {
      name = $1; gsub(/"/, "", name)
      if (name ~ /_(mean|stddev|cv)$/) next
      sub(/_median$/, "", name)
      if ($9 == "true") { error[name] = 1; next }
      ns[name] = $4; bps[name] = $6; names[++count] = name  # CPU time: the machine is shared
    }
    function rate(b) { return b == "" ? "-" : sprintf("%.0f MB/s", b / 1e6) }
    function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "-" }
    END {
      print "| input | forkserve ns | forkserve rate | http-parser ns | http-parser rate | forkserve/http-parser |"
      print "|---|---:|---:|---:|---:|---:|"
      split("curl browser 40_headers", inputs, " ")
      for (i = 1; i <= 3; i++) {
        f = "forkserve_parse/" inputs[i]; h = "http_parser/" inputs[i]
        if (!(f in ns)) continue
        bytes = sprintf("%.0f", bps[f] * ns[f] / 1e9)  # the rate is bytes per CPU second
        if (h in ns) { h_ns = sprintf("%.0f", ns[h]); h_rate = rate(bps[h]); r = ratio(ns[f], ns[h]) }
        else { h_ns = h_rate = r = "-" }
        shown = inputs[i]; gsub(/_/, " ", shown)
        printf("| %s (%s B) | %.0f | %s | %s | %s | %s |\n", shown, bytes, ns[f], rate(bps[f]), h_ns, h_rate, r)
      }
      print ""
      print "| benchmark | ns | rate |"
      print "|---|---:|---:|"
      split("build_environ/browser serialize_head/hello serialize_head/static", others, " ")
      for (i = 1; i <= 3; i++) {
        if (others[i] in ns) printf("| %s | %.0f | %s |\n", others[i], ns[others[i]], rate(bps[others[i]]))
      }
    }
  ' "$micro_csv"
fi
$large_only || handler_state_round
mkdir -p "$dir"
cp "$results" "$dir/bench-last.tsv"
if [ -s "$large_results" ]; then cp "$large_results" "$dir/bench-large-last.tsv"; fi
say "per-round figures: $dir/bench-last.tsv"

#!/usr/bin/env bash
# Where a proxied request's CPU goes: the gateway (one worker, access log on, as the peer bench
# runs it) and the shared bench's C mock pinned to CPU 1, wrk on CPU 0, then
#   perf record -g on the gateway for the load's length  -> $OUT/perf.txt (top symbols)
#   strace -c -f on the gateway for a second load          -> $OUT/strace.txt (syscalls)
# Usage: bench/profile.sh [BIN] [SECONDS]   (BIN: build/src/llmgw). Loopback only, bounded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/src/llmgw}
secs=${2:-8}
shared=${SHARED_BENCH:-$here/../../shared/bench}
out=${OUT:-/tmp/llmgw-profile}
port=18431 mport=18432
mkdir -p "$out" "$shared/bin"
[[ -x $shared/bin/mockllm ]] || cc -O2 -o "$shared/bin/mockllm" "$shared/mock/mockllm.c"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
taskset -c 1 "$shared/bin/mockllm" -p $mport -n 50 -d 0 >/dev/null 2>&1 & pids+=($!)
taskset -c 1 "$shared/peers/llmgw-peer.sh" "$bin" $port "http://127.0.0.1:$mport" "$out/run" \
  >"$out/gateway.out" 2>&1 & gw=$!; pids+=($gw)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
export BENCH_BODY_FILE=$shared/lib/body.json
load() { taskset -c 0 wrk -t1 -c64 -d"${1}s" -s "$shared/lib/post.lua" "http://127.0.0.1:$port/"; }
load 2 >/dev/null  # warm-up: pools, caches
perf record -g -o "$out/perf.data" -p "$gw" -- sleep "$secs" >/dev/null 2>&1 & perfpid=$!
load "$secs" | tee "$out/wrk-perf.txt" | grep -E "Requests/sec"
wait $perfpid || true
perf report -i "$out/perf.data" --no-children --percent-limit 0.7 --stdio 2>/dev/null \
  | grep -E "^ +[0-9.]+%" > "$out/perf.txt" || true
strace -c -f -p "$gw" -o "$out/strace.txt" & spid=$!
sleep 0.3
load 3 | grep -E "Requests/sec" | tee "$out/wrk-strace.txt"
kill -INT $spid; wait $spid 2>/dev/null || true
echo "perf: $out/perf.txt   strace: $out/strace.txt"

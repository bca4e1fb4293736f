#!/usr/bin/env bash
# CPU per proxied request, quickly: the gateway (one worker, access log on) and the shared
# bench's C mock pinned to CPU 1, wrk -c64 on CPU 0 for SECONDS; prints rps and the gateway's
# CPU µs per request (utime+stime from /proc). For A/B checks while working; the figures that
# go in a note come from ../shared/bench/run_peers.sh.
# Usage: bench/cpu_per_request.sh [BIN] [SECONDS] [REPS]   (env PRELOAD=lib.so to try an allocator)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/src/llmgw}
secs=${2:-5}
reps=${3:-3}
shared=${SHARED_BENCH:-$here/../../shared/bench}
run=$(mktemp -d /tmp/llmgw-cpu-XXXX)
port=18451 mport=18452
[[ -x $shared/bin/mockllm ]] || cc -O2 -o "$shared/bin/mockllm" "$shared/mock/mockllm.c"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
taskset -c 1 "$shared/bin/mockllm" -p $mport -n 50 -d 0 >/dev/null 2>&1 & pids+=($!)
LD_PRELOAD=${PRELOAD:-} taskset -c 1 "$shared/peers/llmgw-peer.sh" "$bin" $port \
  "http://127.0.0.1:$mport" "$run" >/dev/null 2>&1 & gw=$!; pids+=($gw)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
export BENCH_BODY_FILE=$shared/lib/body.json
ticks() { awk '{print $14 + $15}' "/proc/$gw/stat"; }
hz=$(getconf CLK_TCK)
taskset -c 0 wrk -t1 -c64 -d2s -s "$shared/lib/post.lua" "http://127.0.0.1:$port/" >/dev/null
for r in $(seq "$reps"); do
  t0=$(ticks)
  line=$(taskset -c 0 wrk -t1 -c64 -d"${secs}s" -s "$shared/lib/post.lua" "http://127.0.0.1:$port/" | grep BENCHLINE)
  t1=$(ticks)
  n=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
  awk -v n="$n" -v t="$((t1 - t0))" -v hz="$hz" -v rps="$rps" \
    'BEGIN { printf "rps %8.0f   cpu %6.1f us/req\n", rps, t / hz * 1e6 / n }'
done
rm -rf "$run"

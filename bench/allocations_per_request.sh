#!/usr/bin/env bash
# Heap allocations per proxied request (heaptrack), a figure that, unlike time, does not move
# with a noisy host: the gateway (peer config, access log on) and the shared bench's C mock,
# wrk -c8 for SECONDS, then heaptrack_print's totals divided by the requests served.
# Usage: bench/allocations_per_request.sh [BIN] [SECONDS]; prints the top allocation sites too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/src/llmgw}
secs=${2:-3}
shared=${SHARED_BENCH:-$here/../../shared/bench}
run=$(mktemp -d /tmp/llmgw-alloc-XXXX)
port=18461 mport=18462
command -v heaptrack >/dev/null || { echo "heaptrack missing (apt-get install heaptrack)"; exit 1; }
[[ -x $shared/bin/mockllm ]] || cc -O2 -o "$shared/bin/mockllm" "$shared/mock/mockllm.c"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$shared/bin/mockllm" -p $mport -n 50 -d 0 >/dev/null 2>&1 & pids+=($!)
"$shared/peers/llmgw-peer.sh" /bin/true $port "http://127.0.0.1:$mport" "$run" >/dev/null
# One run idle (startup and config loading), one under load: the difference is the requests'.
measure() {  # $1: seconds of load (0: none); prints "requests allocations"
  rm -f "$run"/h.*
  heaptrack -o "$run/h" "$bin" --config "$run/llmgw-bench.yaml" >/dev/null 2>&1 & local hp=$!
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
  local n=0
  if [[ $1 != 0 ]]; then
    n=$(wrk -t1 -c8 -d"${1}s" -s "$shared/lib/post.lua" "http://127.0.0.1:$port/" \
      | sed -nE 's/.*BENCHLINE requests=([0-9]+).*/\1/p')
  fi
  pkill -INT -P "$hp" 2>/dev/null || kill -INT "$hp"
  wait "$hp" 2>/dev/null || true
  echo "$n $(heaptrack_print -f "$run"/h.*zst 2>/dev/null \
    | sed -nE 's/^calls to allocation functions: ([0-9]+).*/\1/p')"
}
export BENCH_BODY_FILE=$shared/lib/body.json
read -r _ idle < <(measure 0)
read -r n loaded < <(measure "$secs")
awk -v c="$((loaded - idle))" -v n="$n" \
  'BEGIN { printf "%d requests, %d allocations beyond startup: %.1f per request\n", n, c, c / n }'
[[ -n ${KEEP:-} ]] && echo "kept: $run" || rm -rf "$run"

#!/usr/bin/env bash
# What per-key rate limits and a budget add to a request, on this instance and on a shared
# Redis, in one run beside nginx and haproxy (../shared/bench/run_peers.sh: same mock, the peers
# and the mock on one core). Redis runs on that core too (taskset), outside the peers' process
# trees: its CPU is not in the peers' CPU µs/req, its latency is in theirs.
#   bench/shared_state.sh                 # REPS=1 by default: about 7 minutes
#   REPS=3 bench/shared_state.sh
#   bench/shared_state.sh /tmp/llmgw-old  # ... plus an older build, plain, in the same run
# Run nothing heavy meanwhile (no build). Results: stdout and /tmp/llmgw-peer-bench/results/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_BENCH:-$here/../../shared/bench}
bin=$(realpath "${LLMGW_BIN:-$here/../build/src/llmgw}")
[[ -x $bin ]] || "$here/../scripts/build.sh" "$here/../build" llmgw
command -v redis-server >/dev/null || { echo "needs redis-server (scripts/install-deps.sh)"; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
taskset -c "${SERVER_CPUS:-1}" redis-server --port "$port" --bind 127.0.0.1 --save "" \
  --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
  sleep 0.05
done
url="redis://127.0.0.1:$port/0"

peer() { echo "$1|$here/peers/llmgw-state-peer.sh ${3:-$bin} {PORT} {UPSTREAM} {RUN} $2 $url|http://127.0.0.1:{PORT}"; }
args=(direct nginx haproxy)
if [[ $# -ge 1 ]]; then
  args+=(--peer "$(peer llmgw-before plain "$(realpath "$1")")")
fi
args+=(--peer "$(peer llmgw-plain plain)" --peer "$(peer llmgw-limits-local local)"
       --peer "$(peer llmgw-limits-redis redis)" --peer "$(peer llmgw-cached-redis cached)")
REPS=${REPS:-1} "$shared/run_peers.sh" "${args[@]}"

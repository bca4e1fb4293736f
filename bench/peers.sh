#!/usr/bin/env bash
# The performance yardstick for notes: ../shared/bench/run_peers.sh with nginx, haproxy and this
# build's gateway in one run (the peer and the mock on one core; see that README). Give a
# second binary to compare an older build in the same run:
#   bench/peers.sh                         # direct, nginx, haproxy, llmgw (build/src/llmgw)
#   bench/peers.sh /tmp/llmgw-before       # ... plus llmgw-before
#   REPS=1 DURATION=5 bench/peers.sh       # a quick look
# Run nothing heavy meanwhile (no build). Results: stdout and /tmp/llmgw-peer-bench/results/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${SHARED_BENCH:-$here/../../shared/bench}
bin=${LLMGW_BIN:-$here/../build/src/llmgw}
[[ -x $bin ]] || "$here/../scripts/build.sh" "$here/../build" llmgw
peer() { echo "$1|$shared/peers/llmgw-peer.sh $2 {PORT} {UPSTREAM} {RUN}|http://127.0.0.1:{PORT}"; }
args=(direct nginx haproxy)
if [[ $# -ge 1 ]]; then
  args+=(--peer "$(peer llmgw-before "$(realpath "$1")")")
fi
args+=(--peer "$(peer llmgw "$(realpath "$bin")")")
exec "$shared/run_peers.sh" "${args[@]}"

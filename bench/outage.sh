#!/usr/bin/env bash
# Outage bench: 3 simulators behind llmgw (active + passive health checks, circuit breaker), a
# bounded load (default 20 clients for 20 s) and a fixed fault schedule (primary 503 storm,
# secondary hang, primary refusing connections). Prints success rate, p50/p99 latency, calls
# wasted on broken targets, time to detect and time to recover per fault. Loopback only.
#   bench/outage.sh [--clients N] [--duration S] [--stream-share F] [--think-ms MS] [--json]
#   bench/outage.sh --scenario semantic [--probe-interval MS]   # a primary answering wrongly:
#     time to detect in probe intervals, wrong answers delivered before and after detection
# Uses build/src/llmgw and build/src/sim/llmgw-sim (or LLMGW_BIN / LLMGW_SIM_BIN); builds them
# first (scripts/build.sh, serialised) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export LLMGW_BIN=${LLMGW_BIN:-$PWD/build/src/llmgw}
export LLMGW_SIM_BIN=${LLMGW_SIM_BIN:-$PWD/build/src/sim/llmgw-sim}
if [ ! -x "$LLMGW_BIN" ] || [ ! -x "$LLMGW_SIM_BIN" ]; then
  scripts/build.sh build llmgw llmgw-sim
fi
command -v node >/dev/null || { echo "outage.sh: node (>= 20) is required" >&2; exit 1; }
exec timeout 180 node bench/outage.mjs "$@"

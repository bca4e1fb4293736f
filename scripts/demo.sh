#!/usr/bin/env bash
# Installs dependencies, builds, and runs llmgw on config/demo.yaml in front of two bundled
# provider simulators (no API keys needed). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh build llmgw llmgw-sim

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

./build/src/sim/llmgw-sim --listen 127.0.0.1:9101 --name sim-a --models sim-model,sim-small,sim-embed & pids+=($!)
./build/src/sim/llmgw-sim --listen 127.0.0.1:9102 --name sim-b --models sim-model,sim-small,sim-embed & pids+=($!)
sleep 0.3

cat <<'MSG'

  llmgw demo: gateway on http://127.0.0.1:8080 (admin http://127.0.0.1:9901)
  Try:
    curl -s localhost:8080/v1/chat/completions -H 'content-type: application/json' \
      -d '{"model":"demo","messages":[{"role":"user","content":"hello"}]}'
    curl -s localhost:9101/_sim/fault -d '{"mode":"error","status":503}'   # break sim-a: watch failover
    curl -s localhost:9901/admin/upstreams                                  # sim-a out, and why
    curl -s localhost:9101/_sim/fault -d '{"mode":"none"}'                  # heal it
  Status page: http://127.0.0.1:9901/
    curl -s localhost:9901/metrics | grep llmgw_requests_total

MSG
./build/src/llmgw --config config/demo.yaml & pids+=($!)
wait "${pids[-1]}"

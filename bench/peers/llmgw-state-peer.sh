#!/usr/bin/env bash
# A bench peer (../shared/bench/run_peers.sh) running this build's gateway with a key that has
# rate limits and a budget, kept on this instance or on Redis, so one run shows what a request
# pays for them beside the plain gateway, nginx and haproxy:
#   llmgw-state-peer.sh BIN PORT UPSTREAM RUNDIR MODE [REDIS_URL]
# MODE: plain (no limits: the baseline), local (limits + budget on this instance), redis
# (limits + budget in the shared Redis at REDIS_URL: one Lua round trip per request, plus the
# settlement after the answer), cached (redis, and the model's response cache on that Redis:
# the harness sends one body, so after the first request every one is a hit — one more round
# trip, no upstream call). The key is the harness's own "sk-mock". The access log is off, as
# the nginx peer runs.
set -eu
bin=$1 port=$2 upstream=$3 run=$4 mode=$5 redis=${6:-redis://127.0.0.1:6379/0}
mkdir -p "$run"
cfg=$run/llmgw-state-$mode.yaml
key_hash=$(printf %s sk-mock | sha256sum | cut -d' ' -f1)
limits=""
state="state: { backend: local }"
if [[ $mode != plain ]]; then
  # Far above what a run sends: every request is admitted, and each pays the full check.
  limits="rate_limit: { rpm: 100000000, tpm: 100000000000 }, budget: { usd_per_day: 1000000 },"
fi
cache=""
if [[ $mode == redis || $mode == cached ]]; then
  state="state: { backend: redis, redis: { url: \"$redis\" } }"
fi
if [[ $mode == cached ]]; then
  cache="cache: { ttl: 10m }"
fi
cat >"$cfg" <<YAML
server:
  listen: 127.0.0.1:$port
  admin_listen: 127.0.0.1:0
  threads: 1
auth: { required: true }
keys:
  - { name: bench, sha256: $key_hash, $limits }
$state
logging: { access_log: "off" }
providers:
  - name: mock
    kind: openai_compatible
    base_url: $upstream/v1
    api_key: sk-bench
models:
  - name: gpt-4o-mini
    strategy: priority
    $cache
    targets:
      - { provider: mock, model: gpt-4o-mini, price: { input_per_mtok: 0.15, output_per_mtok: 0.6 } }
YAML
exec "$bin" --config "$cfg"

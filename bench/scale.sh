#!/usr/bin/env bash
# Does CPU per request stay flat as the config grows (issue 9, targets 5 and 6)? One gateway at
# a time against the shared bench's C mock, like bench/cpu_per_request.sh, on a generated config:
#   TARGETS providers (all at the mock) in the one model, priority order;
#   KEYS gateway keys (auth on when KEYS > 0; the client uses the last one);
#   THREADS workers; PIN=0 pins nothing (the default when THREADS > 1: gateway, mock and wrk
#   share both cores), PIN=1 puts gateway and mock on CPU 1, wrk on CPU 0.
# Prints rps and CPU µs per request for each rep, then, with RELOAD=1, the time POST
# /admin/reload takes on that file (5 runs) and wrk's p99 / max latency with a reload every
# 200 ms during the load (a reload that stalled a worker shows up there).
# Usage: TARGETS=1000 KEYS=10000 bench/scale.sh [BIN] [SECONDS] [REPS]. Loopback only, bounded.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../build/src/llmgw}
secs=${2:-4}
reps=${3:-2}
targets=${TARGETS:-1} keys=${KEYS:-0} threads=${THREADS:-1}
pinned=${PIN:-$([[ $threads == 1 ]] && echo 1 || echo 0)}
shared=${SHARED_BENCH:-$here/../../shared/bench}
run=$(mktemp -d /tmp/llmgw-scale-XXXX)
port=18471 mport=18472 aport=18473
[[ -x $shared/bin/mockllm ]] || cc -O2 -o "$shared/bin/mockllm" "$shared/mock/mockllm.c"
# exec: run in the background, $! is then the program itself (its CPU is what we read)
pin() { if [[ $pinned == 1 ]]; then exec taskset -c "$1" "${@:2}"; else exec "${@:2}"; fi; }
python3 - "$run/scale.yaml" "$targets" "$keys" "$threads" "$port" "$aport" "$mport" <<'EOF'
import hashlib, sys
path, targets, keys, threads, port, aport, mport = sys.argv[1:]
targets, keys = int(targets), int(keys)
out = [f"server:\n  listen: 127.0.0.1:{port}\n  admin_listen: 127.0.0.1:{aport}\n"
       f"  threads: {threads}\n",
       f"auth: {{ required: {'true' if keys else 'false'} }}\n",
       "logging: { access_log: stdout }\nproviders:\n"]
for i in range(targets):
    out.append(f"  - name: p{i}\n    kind: openai_compatible\n"
               f"    base_url: http://127.0.0.1:{mport}/v1\n    api_key: sk-bench\n")
out.append("models:\n  - name: gpt-4o-mini\n    strategy: priority\n    targets:\n")
for i in range(targets):
    out.append(f"      - {{ provider: p{i}, model: gpt-4o-mini }}\n")
if keys:
    out.append("keys:\n")
    for i in range(keys):
        digest = hashlib.sha256(f"sk-scale-{i}".encode()).hexdigest()
        out.append(f"  - name: k{i}\n    sha256: {digest}\n")
open(path, "w").write("".join(out))
EOF
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
(pin 1 "$shared/bin/mockllm" -p $mport -n 50 -d 0 >/dev/null 2>&1) & pids+=($!)
(pin 1 "$bin" --config "$run/scale.yaml" >/dev/null 2>"$run/gw.err") & gw=$!; pids+=($gw)
for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.05; done
kill -0 $gw 2>/dev/null || { cat "$run/gw.err"; exit 1; }
export BENCH_BODY_FILE=$shared/lib/body.json
[[ $keys -gt 0 ]] && export BENCH_HEADERS="Authorization: Bearer sk-scale-$((keys - 1))"
ticks() { awk '{print $14 + $15}' "/proc/$gw/stat"; }
hz=$(getconf CLK_TCK)
load() { pin 0 wrk -t1 -c64 -d"${1}s" -s "$shared/lib/post.lua" "http://127.0.0.1:$port/" | grep BENCHLINE; }
echo "targets $targets  keys $keys  threads $threads"
load 2 >/dev/null
for r in $(seq "$reps"); do
  t0=$(ticks)
  line=$(load "$secs")
  t1=$(ticks)
  n=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
  rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
  errs=$(sed -E 's/.* errors=([0-9]+).*/\1/' <<<"$line")
  awk -v n="$n" -v t="$((t1 - t0))" -v hz="$hz" -v rps="$rps" -v e="$errs" \
    'BEGIN { printf "rps %8.0f   cpu %6.1f us/req   errors %d\n", rps, t / hz * 1e6 / n, e }'
done
if [[ ${RELOAD:-0} == 1 ]]; then
  for _ in 1 2 3 4 5; do
    curl -s -o /dev/null -w "reload %{time_total}s\n" -X POST "http://127.0.0.1:$aport/admin/reload"
  done
  line=$(load "$secs")
  echo "no reloads:         $(sed -E 's/.*(p99_us=[0-9.]+).*(max_us=[0-9.]+).*/\1 \2/' <<<"$line")"
  (end=$((SECONDS + secs)); while ((SECONDS < end)); do
     curl -s -o /dev/null -X POST "http://127.0.0.1:$aport/admin/reload"; sleep 0.2; done) &
  reloader=$!
  line=$(load "$secs"); wait $reloader
  echo "reload every 0.2 s: $(sed -E 's/.*(p99_us=[0-9.]+).*(max_us=[0-9.]+).*/\1 \2/' <<<"$line")"
fi
rm -rf "$run"

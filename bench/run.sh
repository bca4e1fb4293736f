#!/usr/bin/env bash
# Load benchmark: the simulator directly, through nginx proxy_pass (the yardstick), and
# through llmgw, in one run, on loopback. Proxies are pinned to core 0; the simulator and wrk
# share core 1. Prints throughput, latency and their ratios. Bounded: each wrk run lasts
# BENCH_SECONDS (default 8) seconds.
#   bench/run.sh            (builds first if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${BENCH_SECONDS:-8}
CONNS=${BENCH_CONNECTIONS:-32}
[ -x build/src/llmgw ] || scripts/build.sh build llmgw llmgw-sim
for tool in wrk nginx taskset curl; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "missing $tool (run scripts/install-deps.sh)"; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port_of() {  # waits for "... port N" / "listening on HOST:N" in a log file
  local file=$1 pattern=$2
  for _ in $(seq 1 100); do
    if grep -qE "$pattern" "$file" 2>/dev/null; then
      grep -oE "$pattern" "$file" | head -1 | grep -oE '[0-9]+$'
      return 0
    fi
    sleep 0.05
  done
  echo "timeout waiting for $pattern in $file" >&2; cat "$file" >&2; return 1
}

taskset -c 1 build/src/sim/llmgw-sim --listen 127.0.0.1:0 --name bench-sim >"$work/sim.log" 2>&1 &
pids+=($!)
SIM=$(port_of "$work/sim.log" 'listening on 127.0.0.1:[0-9]+')

cat >"$work/llmgw.yaml" <<YAML
server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, threads: 1 }
providers:
  - { name: sim, kind: openai_compatible, base_url: "http://127.0.0.1:$SIM/v1", max_connections: 1024 }
models:
  - { name: bench, targets: [ { provider: sim, model: sim-model } ] }
auth: { required: false }
logging: { level: warn, access_log: "off" }
YAML
taskset -c 0 build/src/llmgw --config "$work/llmgw.yaml" >"$work/gw.log" 2>&1 &
pids+=($!)
GW=$(port_of "$work/gw.log" 'listening on port [0-9]+')

NGX_PORT=$((20000 + RANDOM % 20000))
mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fcgi; uwsgi_temp_path $work/nginx/uwsgi; scgi_temp_path $work/nginx/scgi;
  upstream sim { server 127.0.0.1:$SIM; keepalive 256; }
  server {
    listen 127.0.0.1:$NGX_PORT;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGX
taskset -c 0 "$NGINX" -c "$work/nginx.conf" -e "$work/nginx/error.log" >"$work/nginx.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$NGX_PORT/v1/models" && break; sleep 0.05; done

declare -A URL=([direct]="http://127.0.0.1:$SIM" [nginx]="http://127.0.0.1:$NGX_PORT" [llmgw]="http://127.0.0.1:$GW")

to_ms() {  # wrk latency like 1.23ms / 850.00us / 1.01s -> ms
  awk -v v="$1" 'BEGIN{ if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v+0} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000} else print v }'
}

run_wrk() {  # mode conns threads delay -> "rps p50 p99"
  local out
  out=$(WRK_DELAY_MS=$4 taskset -c 1 wrk -t"$3" -c"$2" -d"${SECS}s" --latency -s bench/wrk-chat.lua "${URL[$1]}/v1/chat/completions")
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1=="50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1=="99%" {print $2}' <<<"$out")")
  non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  [ -n "$non2xx" ] && echo "WARNING: $1 returned $non2xx non-2xx responses" >&2
  echo "$rps $p50 $p99"
}

ttfb_ms() {  # median time to first byte of a streamed answer over N sequential requests
  local body='{"model":"bench","stream":true,"messages":[{"role":"user","content":"hello stream"}]}'
  for _ in $(seq 1 "${BENCH_TTFB_REQUESTS:-200}"); do
    curl -s -N -o /dev/null -w '%{time_starttransfer}\n' -H 'content-type: application/json' \
      -d "$body" "${URL[$1]}/v1/chat/completions"
  done | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]*1000}'
}

echo "warming up..."
for m in direct nginx llmgw; do WRK_DELAY_MS=0 taskset -c 1 wrk -t1 -c8 -d1s -s bench/wrk-chat.lua "${URL[$m]}/v1/chat/completions" >/dev/null; done

declare -A RPS P50 P99 L50 L99 TTFB
for m in direct nginx llmgw; do
  read -r RPS[$m] P50[$m] P99[$m] < <(run_wrk $m "$CONNS" 1 0)
  # ~500 rps: 2 connections each pausing 4 ms between requests.
  read -r _ L50[$m] L99[$m] < <(run_wrk $m 2 1 4)
  TTFB[$m]=$(ttfb_ms $m)
done

printf '\nllmgw bench (%ss per run, %s connections, proxies pinned to core 0)\n' "$SECS" "$CONNS"
printf '%-8s %12s %10s %10s %14s %14s %12s\n' mode "req/s" "p50 ms" "p99 ms" "p50@~500rps" "p99@~500rps" "ttfb ms"
for m in direct nginx llmgw; do
  printf '%-8s %12.0f %10.3f %10.3f %14.3f %14.3f %12.3f\n' "$m" "${RPS[$m]}" "${P50[$m]}" "${P99[$m]}" "${L50[$m]}" "${L99[$m]}" "${TTFB[$m]}"
done
awk -v g="${RPS[llmgw]}" -v n="${RPS[nginx]}" -v d="${RPS[direct]}" \
    -v gl="${L50[llmgw]}" -v nl="${L50[nginx]}" -v dl="${L50[direct]}" \
    -v gt="${TTFB[llmgw]}" -v nt="${TTFB[nginx]}" -v dt="${TTFB[direct]}" 'BEGIN {
  printf "\nthroughput llmgw/nginx: %.2f   llmgw/direct: %.2f   nginx/direct: %.2f\n", g/n, g/d, n/d
  ratio = (nl - dl > 0) ? (gl - dl) / (nl - dl) : 0
  printf "added p50 at ~500 rps: llmgw %+.3f ms, nginx %+.3f ms (ratio %.2f)\n", gl-dl, nl-dl, ratio
  printf "added streaming TTFB: llmgw %+.3f ms, nginx %+.3f ms\n", gt-dt, nt-dt
}'

#!/usr/bin/env bash
# Validates what ships for deployment, offline: no cluster, no Docker, no network beyond
# loopback, a few seconds. Exits non-zero with a message naming the file on any problem.
#
#  - deploy/kubernetes/: `kubectl kustomize` renders the kustomization, and kubectl's own
#    decoder parses every manifest (`kubectl label --local`: `kubectl apply/create
#    --dry-run=client` need an API server for the resource mapping, even with --validate=false,
#    so they cannot run here). Then scripts/check-deploy.py checks the rendered objects: every
#    manifest is in kustomization.yaml; selectors match pod labels; Service targetPorts and
#    probe ports exist; /readyz is probed on the client port, /healthz on the client or admin
#    port; the config is mounted from the ConfigMap without subPath; the grace period exceeds
#    preStop + server.drain_timeout; every ${VAR} the config needs is in the container's env;
#    non-root, read-only root fs, resources; several replicas share sessions and state on a Redis
#    Service of the manifests.
#  - docker/compose.yaml: parses; build contexts, Dockerfiles and bind-mounted files exist; the
#    Dockerfile's COPY sources exist and every entrypoint is a file it installs; images not
#    built here are pinned to a tag (not latest);
#    every published port is on 127.0.0.1; two or more gateways on shared Redis; nginx's
#    upstreams are the gateways (and `nginx -t` accepts docker/nginx.conf); Prometheus scrapes
#    every gateway's admin port with its token (and `promtool check config` accepts it, rules
#    from docs/alerts.yaml included).
#  - The llmgw configs found (the ConfigMap's, docker/llmgw.compose.yaml) pass
#    `llmgw --check-config` when a built binary exists ($LLMGW_BIN, default build/src/llmgw),
#    with dummy values for the ${VAR}s they need. --check-config reads the file only: host names
#    in URLs (api.openai.com, redis, llmgw-redis) are not resolved.
#
#  - packaging/llmgw.service: `systemd-analyze verify` on a copy whose ExecStart is the built
#    daemon; any message fails.
#  - docs/alerts.yaml: `promtool check rules`, and `promtool test rules tests/alerts/*.yaml`.
#  - scripts/check-metrics.py: every metric the dashboard and the alerts query is declared in
#    src/metrics and, with the daemon and simulator built, has a sample in a live /metrics.
#
# Tools: kubectl (Debian's kubernetes-client or any other), python3 with PyYAML (python3-yaml),
# systemd-analyze, promtool, optionally nginx: scripts/install-deps.sh installs them all.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "check-deploy: FAIL: $*" >&2; exit 1; }

command -v kubectl >/dev/null || fail "kubectl not found (scripts/install-deps.sh installs kubernetes-client)"
# Debian's python3 has python3-yaml from install-deps; a python3 earlier on PATH may lack it.
PY=""
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import yaml' 2>/dev/null; then PY="$p"; break; fi
done
[ -n "$PY" ] || fail "no python3 with the yaml module (scripts/install-deps.sh installs python3-yaml)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# Never talk to a real cluster from a developer's kubeconfig.
export KUBECONFIG="$tmp/no-kubeconfig"

echo "== check-deploy: deploy/kubernetes"
kubectl kustomize deploy/kubernetes >"$tmp/rendered.yaml" 2>"$tmp/err" ||
  fail "kubectl kustomize deploy/kubernetes: $(cat "$tmp/err")"
for f in deploy/kubernetes/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] && continue
  kubectl label --local -o name -f "$f" check-deploy=1 >"$tmp/names" 2>"$tmp/err" ||
    fail "$f does not parse: $(cat "$tmp/err")"
  echo "   $f: $(tr '\n' ' ' <"$tmp/names")"
done
mkdir -p "$tmp/out"
"$PY" scripts/check-deploy.py k8s "$tmp/rendered.yaml" deploy/kubernetes docker/Dockerfile "$tmp/out" ||
  fail "deploy/kubernetes: see the problems above"

echo "== check-deploy: docker/compose.yaml"
"$PY" scripts/check-deploy.py compose docker/compose.yaml "$tmp/out" ||
  fail "docker/compose.yaml: see the problems above"
if command -v nginx >/dev/null; then
  # The upstream host names (compose services) do not resolve here: the copy points them at
  # 127.0.0.1. nginx -t only parses and checks; it does not connect.
  nginx -t -q -c "$tmp/out/nginx.conf" 2>"$tmp/err" || fail "docker/nginx.conf: $(cat "$tmp/err")"
  echo "   docker/nginx.conf: nginx -t OK"
else
  echo "   docker/nginx.conf: nginx not installed, nginx -t skipped"
fi
if command -v promtool >/dev/null; then
  promtool check config "$tmp/out/prometheus.yml" >"$tmp/err" 2>&1 ||
    fail "docker/prometheus.yml: $(cat "$tmp/err")"
  echo "   docker/prometheus.yml: promtool check config OK (rules included)"
else
  echo "   docker/prometheus.yml: promtool not installed, skipped"
fi

echo "== check-deploy: llmgw --check-config"
bin="${LLMGW_BIN:-build/src/llmgw}"
if [ -x "$bin" ]; then
  while IFS=$'\t' read -r label cfg envfile; do
    env_args=()
    while IFS= read -r kv; do [ -n "$kv" ] && env_args+=("$kv"); done <"$envfile"
    env "${env_args[@]}" "$bin" --check-config "$cfg" >"$tmp/err" 2>&1 ||
      fail "$label does not pass llmgw --check-config (paths below are a temporary copy):
$(cat "$tmp/err")"
    echo "   $label: OK"
  done <"$tmp/out/configs.tsv"
else
  echo "   skipped: no built daemon at $bin (scripts/build.sh build llmgw); the configs were only parsed"
fi

echo "== check-deploy: packaging/llmgw.service"
command -v systemd-analyze >/dev/null ||
  fail "systemd-analyze not found (scripts/install-deps.sh installs systemd)"
# `systemd-analyze verify` requires every Exec*= binary to exist. The copy differs from the
# shipped unit only in the daemon's path, /usr/local/bin/llmgw -> the built binary (or /bin/true
# when none is built: the rest of the unit is still verified); anything systemd prints fails.
grep -q '^ExecStart=/usr/local/bin/llmgw ' packaging/llmgw.service ||
  fail "packaging/llmgw.service: ExecStart is not /usr/local/bin/llmgw (where its comment puts it)"
unit_bin=/bin/true
[ -x "$bin" ] && unit_bin="$(realpath "$bin")"
sed "s#=/usr/local/bin/llmgw #=$unit_bin #" packaging/llmgw.service >"$tmp/llmgw.service"
systemd-analyze verify "$tmp/llmgw.service" >"$tmp/err" 2>&1 ||
  fail "packaging/llmgw.service: systemd-analyze verify: $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] ||
  fail "packaging/llmgw.service: systemd-analyze verify warns: $(cat "$tmp/err")"
echo "   packaging/llmgw.service: systemd-analyze verify OK (ExecStart=$unit_bin)"

echo "== check-deploy: docs/alerts.yaml, docs/grafana-dashboard.json"
command -v promtool >/dev/null ||
  fail "promtool not found (scripts/install-deps.sh installs prometheus)"
promtool check rules docs/alerts.yaml >"$tmp/err" 2>&1 || fail "docs/alerts.yaml: $(cat "$tmp/err")"
echo "   docs/alerts.yaml: promtool check rules OK"
promtool test rules tests/alerts/*.yaml >"$tmp/err" 2>&1 ||
  fail "tests/alerts: promtool test rules: $(cat "$tmp/err")"
echo "   tests/alerts: promtool test rules OK ($(ls tests/alerts/*.yaml | wc -l) files)"
sim="${LLMGW_SIM_BIN:-build/src/sim/llmgw-sim}"
if [ -x "$bin" ] && [ -x "$sim" ]; then
  "$PY" scripts/check-metrics.py docs/grafana-dashboard.json docs/alerts.yaml "$bin" "$sim" ||
    fail "docs/grafana-dashboard.json, docs/alerts.yaml: see the problems above"
else
  "$PY" scripts/check-metrics.py docs/grafana-dashboard.json docs/alerts.yaml ||
    fail "docs/grafana-dashboard.json, docs/alerts.yaml: see the problems above"
  echo "   (no built daemon and simulator: the names were checked against src/metrics only)"
fi
echo "== check-deploy: OK"

#!/usr/bin/env bash
# Installs everything llmgw needs to build, test and benchmark, from Debian packages only.
# Idempotent: a second run only checks. With --fuzz, also clang-16 and libFuzzer for
# scripts/fuzz.sh (CI replays the fuzz corpora in the g++ sanitizer build and needs neither).
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates curl openssl
  libboost1.81-dev libboost-url1.81-dev libssl-dev zlib1g-dev
  nlohmann-json3-dev libspdlog-dev libfmt-dev libyaml-cpp-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev libpcre2-dev
  libsqlite3-dev libhiredis-dev redis-server
  prometheus wrk nginx-light nodejs npm
  kubernetes-client python3-yaml chromium
  systemd procps
)
if [ "${1:-}" = "--fuzz" ]; then
  # clang's sanitizer + libFuzzer runtimes are only Recommended by clang-16, so name them;
  # llvm-16 ships llvm-symbolizer for readable crash stacks.
  PKGS+=(clang-16 libfuzzer-16-dev libclang-rt-16-dev llvm-16)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The machine image may ship node/npm outside dpkg; don't fight it.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
fi
# Likewise kubectl (scripts/check-deploy.sh needs one, any version from 1.20 on): a kubectl from
# another package owns /usr/bin/kubectl, which kubernetes-client would conflict with.
if command -v kubectl >/dev/null; then
  missing=("${missing[@]/kubernetes-client/}")
fi
clean=(); for p in "${missing[@]}"; do [ -n "$p" ] && clean+=("$p"); done

if [ "${#clean[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${clean[@]}"
fi
# nginx-light's package starts a system nginx on :80; we only use the binary.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx >/dev/null 2>&1 || true; fi
echo "llmgw: dependencies installed"

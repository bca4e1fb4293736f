#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: unit tests (ctest), integration tests
# against the real daemon and simulator (node:test, including the official openai SDK), and the
# unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Set LLMGW_SKIP_ASAN=1 to skip the sanitizer pass locally, LLMGW_SKIP_FUZZ=1 to skip the
# fuzzers (scripts/fuzz.sh: corpus regression plus LLMGW_FUZZ_SECONDS of fuzzing per target).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== build (release with debug info)"
scripts/build.sh build

echo "== unit tests"
ctest --test-dir build -L unit --output-on-failure -j2 --timeout 120

echo "== integration tests"
(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
LLMGW_BIN="$PWD/build/src/llmgw" LLMGW_SIM_BIN="$PWD/build/src/sim/llmgw-sim" \
  node --test --test-concurrency=1 tests/integration/

if [ "${LLMGW_SKIP_FUZZ:-0}" != "1" ]; then
  echo "== fuzzers: regression corpora, then ${LLMGW_FUZZ_SECONDS:-30} s per target"
  LLMGW_FUZZ_SECONDS=${LLMGW_FUZZ_SECONDS:-30} scripts/fuzz.sh
fi

if [ "${LLMGW_SKIP_ASAN:-0}" != "1" ]; then
  echo "== unit tests under ASan + UBSan"
  LLMGW_SANITIZE=address,undefined scripts/build.sh build-asan unit_tests
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -L unit --output-on-failure -j2 --timeout 300
  echo "== integration tests against the ASan + UBSan gateway"
  # The coroutine-heavy request path (cancellation, continuation, hedging) only runs here.
  LLMGW_SANITIZE=address,undefined scripts/build.sh build-asan llmgw
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LLMGW_SANITIZED=1 LLMGW_BIN="$PWD/build-asan/src/llmgw" LLMGW_SIM_BIN="$PWD/build/src/sim/llmgw-sim" \
    node --test --test-concurrency=1 tests/integration/
fi
echo "== all tests passed"

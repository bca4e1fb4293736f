#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test: the integration tests against the real
# (release) daemon and simulator (node:test, including the official openai SDK); the unit tests
# (ctest) and the integration suite again under AddressSanitizer + UndefinedBehaviorSanitizer;
# the unit tests of the modules that share state and the integration suite under
# ThreadSanitizer. What ships besides the binaries (deploy/kubernetes, docker/compose.yaml, the
# systemd unit, the Grafana dashboard and the alert rules) is checked by scripts/check-deploy.sh
# right after the first build.
# The fuzz targets' committed corpora replay under ASan + UBSan with the unit tests (g++; no
# libFuzzer needed). Set LLMGW_SKIP_ASAN=1 / LLMGW_SKIP_TSAN=1 to skip a sanitizer pass locally,
# LLMGW_FUZZ_SECONDS=N to also fuzz every target N seconds with libFuzzer (scripts/fuzz.sh, after
# scripts/install-deps.sh --fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."

# Every section header carries the time since the start, so a slow CI run shows where it went.
started=$SECONDS
section() { printf '== [%dm%02ds] %s\n' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)) "$*"; }

scripts/install-deps.sh

section "build (release with debug info): the daemon and the simulator"
# The unit tests run under ASan + UBSan below (the fastest of the sanitizer builds to also
# cover them); building them here too would add a sixth of the run for the same assertions.
scripts/build.sh build llmgw llmgw-sim

section "what ships (deploy/kubernetes, docker/compose.yaml, the systemd unit, dashboard, alerts)"
# Right after the first build, so the shipped configs also pass the daemon's --check-config.
LLMGW_BIN="$PWD/build/src/llmgw" LLMGW_SIM_BIN="$PWD/build/src/sim/llmgw-sim" scripts/check-deploy.sh

if [ "${LLMGW_SKIP_ASAN:-0}" = "1" ]; then
  section "unit tests (release build: the ASan pass is skipped)"
  scripts/build.sh build unit_tests
  ctest --test-dir build -L unit --output-on-failure -j2 --timeout 120
fi

section "integration tests"
(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
LLMGW_BIN="$PWD/build/src/llmgw" LLMGW_SIM_BIN="$PWD/build/src/sim/llmgw-sim" \
  node --test --test-concurrency=1 tests/integration/

if [ "${LLMGW_FUZZ_SECONDS:-0}" != "0" ]; then
  section "fuzzers (libFuzzer): regression corpora, then ${LLMGW_FUZZ_SECONDS} s per target"
  scripts/install-deps.sh --fuzz
  scripts/fuzz.sh
fi

if [ "${LLMGW_SKIP_ASAN:-0}" != "1" ]; then
  section "unit tests and the fuzz corpora under ASan + UBSan"
  LLMGW_SANITIZE=address,undefined scripts/build.sh build-asan unit_tests fuzz_replay
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -L 'unit|corpus' --output-on-failure -j2 --timeout 300
  section "integration tests against the ASan + UBSan gateway"
  # The coroutine-heavy request path (cancellation, continuation, hedging) only runs here.
  LLMGW_SANITIZE=address,undefined scripts/build.sh build-asan llmgw
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LLMGW_SANITIZED=1 LLMGW_BIN="$PWD/build-asan/src/llmgw" LLMGW_SIM_BIN="$PWD/build/src/sim/llmgw-sim" \
    node --test --test-concurrency=1 tests/integration/
fi
if [ "${LLMGW_SKIP_TSAN:-0}" != "1" ]; then
  # Reports go to files (log_path), so one raised at a gateway's exit, after its test already
  # passed, still fails the run.
  tsan_logs="$PWD/build-tsan/tsan-reports"
  rm -rf "$tsan_logs" && mkdir -p "$tsan_logs"
  check_tsan() {
    if compgen -G "$tsan_logs/*" >/dev/null; then
      echo "ThreadSanitizer reports:" >&2
      cat "$tsan_logs"/* >&2
      exit 1
    fi
  }
  section "unit tests under ThreadSanitizer (the modules that share state across threads)"
  # The other modules (providers, faces, config, api) are single-threaded pure translation;
  # their byte-split tests would take minutes under TSan and could find nothing.
  tsan_tests=(common_test resilience_test health_test upstream_test router_test server_test
    state_test session_store_test session_sqlite_test session_redis_test limits_test cache_test
    cache_redis_test tracing_test)
  LLMGW_SANITIZE=thread scripts/build.sh build-tsan llmgw "${tsan_tests[@]}"
  for t in "${tsan_tests[@]}"; do
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$tsan_logs/$t" \
      "build-tsan/tests/$t" --gtest_brief=1
  done
  check_tsan
  section "integration tests against the ThreadSanitizer gateway"
  # Every suite but those whose subject is one request's parsing and translation on one worker
  # (hostile input, the faces' SDK suites, config checks): ASan + UBSan ran those already, and
  # under TSan they cost minutes without a second thread to race with. A new suite runs here
  # unless it is added to this list.
  tsan_skip=" bad_input hostile sim_hostile sim_answers anthropic_ingress openai_sdk providers_e2e 
    check_config "
  tsan_suites=()
  for f in tests/integration/*.test.mjs; do
    [[ "$tsan_skip" == *" $(basename "$f" .test.mjs) "* ]] || tsan_suites+=("$f")
  done
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$tsan_logs/gateway" \
    LLMGW_SANITIZED=1 LLMGW_BIN="$PWD/build-tsan/src/llmgw" LLMGW_SIM_BIN="$PWD/build/src/sim/llmgw-sim" \
    node --test --test-concurrency=1 "${tsan_suites[@]}"
  check_tsan
fi
section "all tests passed"

#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ (clang-16, ASan + UBSan + libFuzzer) in build-fuzz, then
#  (a) runs every target over its committed corpus fuzz/corpus/<target>/ (the regression run), and
#  (b) fuzzes every target for LLMGW_FUZZ_SECONDS seconds (default 60; 0 skips this step), two
#      targets at a time, new inputs going to a scratch corpus, never to fuzz/corpus/.
# Exits non-zero on any crash, leak, timeout, OOM or sanitizer report and prints the reproducer.
# Installs nothing: scripts/install-deps.sh --fuzz brings clang-16 and the sanitizer runtimes.
#
# Usage: scripts/fuzz.sh [target...]        (default: every target of fuzz/CMakeLists.txt)
# Environment:
#   LLMGW_FUZZ_SECONDS  seconds of fuzzing per target (60; 0 = regression run only)
#   LLMGW_FUZZ_JOBS     fuzzers running at once (2: one per core)
#   LLMGW_FUZZ_MAX_LEN  largest input the fuzzers generate, in bytes (16384)
#   LLMGW_FUZZ_BUILD    build directory (build-fuzz)
#   LLMGW_FUZZ_OUT      scratch directory for new corpus entries, logs and crash files
#                       (<build dir>/fuzz-out; wiped at the start of each run)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=${LLMGW_FUZZ_BUILD:-build-fuzz}
seconds=${LLMGW_FUZZ_SECONDS:-60}
jobs=${LLMGW_FUZZ_JOBS:-2}
max_len=${LLMGW_FUZZ_MAX_LEN:-16384}
out=${LLMGW_FUZZ_OUT:-$dir/fuzz-out}

for tool in clang-16 clang++-16; do
  if ! command -v "$tool" >/dev/null; then
    echo "fuzz.sh: $tool is missing; run scripts/install-deps.sh --fuzz" >&2
    exit 2
  fi
done

t0=$SECONDS
echo "== build ($dir: clang-16, libFuzzer + ASan + UBSan)"
(
  # The same global lock as scripts/build.sh: never two C++ builds at once on 2 cores.
  exec 9>/tmp/llmgw-build.lock
  flock 9
  if [ ! -f "$dir/build.ninja" ]; then
    CC=clang-16 CXX=clang++-16 cmake -S . -B "$dir" -G Ninja -DLLMGW_FUZZ=ON \
      -DLLMGW_BUILD_TESTS=OFF -DLLMGW_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" >/dev/null
  fi
  cmake --build "$dir" -j2 --target fuzz_all
)
echo "   build: $((SECONDS - t0)) s"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(grep -v '^$' "$dir/fuzz/targets.txt")
fi

symbolizer=$(command -v llvm-symbolizer-16 || command -v llvm-symbolizer || true)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH=$symbolizer

rm -rf "$out"
mkdir -p "$out"

# The last "stat::<name>: N" line of a libFuzzer log (-print_final_stats=1).
final_stat() { grep -o "stat::$2: *[0-9]*" "$1" | tail -1 | grep -o '[0-9]*$' || echo "?"; }

# Prints the crash files of one target and the sanitizer report that came with them.
report() {
  local t=$1 log=$2
  echo "!! $t FAILED (log: $log)"
  grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|llmgw-fuzz:|what\(\):|SUMMARY:' \
    "$log" | head -8 | sed 's/^/   /'
  # The top frames of the first stack, without the sanitizer, libFuzzer, libc and libstdc++ ones.
  awk '/^    #0 /{n++} n==1' "$log" | grep -E '^    #[0-9]+ ' |
    grep -vE '__sanitizer|fuzzer::|libc\.so|libstdc\+\+|nptl/|stdlib/abort|signal/|__cxa_throw' |
    head -8 | cut -c1-200 | sed 's/^/   /'
  local f
  for f in "$out/$t/artifacts/"*; do
    [ -e "$f" ] || continue
    echo "   reproducer: $f"
    echo "   run it:     $dir/fuzz/$t $f"
  done
}

flags_for() {  # the flags every run of target $1 gets
  local t=$1
  local args=(-rss_limit_mb=2048 -timeout=10 -print_final_stats=1
              "-artifact_prefix=$out/$t/artifacts/")
  [ -f "fuzz/$t.dict" ] && args+=("-dict=fuzz/$t.dict")
  printf '%s\n' "${args[@]}"
}

failed=()

echo "== regression: every target over its committed corpus"
for t in "${targets[@]}"; do
  bin=$dir/fuzz/$t
  corpus=fuzz/corpus/$t
  mkdir -p "$out/$t/artifacts"
  log=$out/$t/regression.log
  if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
    echo "!! $t: no seed corpus in $corpus" && failed+=("$t") && continue
  fi
  mapfile -t flags < <(flags_for "$t")
  # -max_len far above every committed file: a corpus run must not truncate an input.
  if "$bin" "${flags[@]}" -runs=0 -max_len=1048576 "$corpus" >"$log" 2>&1; then
    printf '   %-26s %5s inputs  ok\n' "$t" "$(ls "$corpus" | wc -l)"
  else
    report "$t" "$log"
    failed+=("$t")
  fi
done

if [ "$seconds" != "0" ] && [ "${#failed[@]}" -eq 0 ]; then
  echo "== fuzzing: ${seconds}s per target, $jobs at a time (new inputs: $out/<target>/corpus)"
  run_one() {
    local t=$1
    local flags
    mapfile -t flags < <(flags_for "$t")
    mkdir -p "$out/$t/corpus"
    local rc=0
    "$dir/fuzz/$t" "${flags[@]}" -max_total_time="$seconds" -max_len="$max_len" \
      "$out/$t/corpus" "fuzz/corpus/$t" >"$out/$t/fuzz.log" 2>&1 || rc=$?
    echo "$rc" >"$out/$t/rc"
  }
  for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
      wait -n || true
    done
    run_one "$t" &
  done
  wait
  for t in "${targets[@]}"; do
    log=$out/$t/fuzz.log
    if [ "$(cat "$out/$t/rc" 2>/dev/null)" = "0" ]; then
      printf '   %-26s %10s execs  %6s exec/s  %5s new inputs  ok\n' "$t" \
        "$(final_stat "$log" number_of_executed_units)" "$(final_stat "$log" average_exec_per_sec)" \
        "$(ls "$out/$t/corpus" | wc -l)"
    else
      printf '   %-26s %10s execs  %6s exec/s\n' "$t" \
        "$(final_stat "$log" number_of_executed_units)" "$(final_stat "$log" average_exec_per_sec)"
      report "$t" "$log"
      failed+=("$t")
    fi
  done
fi

echo "   total: $((SECONDS - t0)) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "== fuzz FAILED: ${failed[*]} (reproduce: fuzz/README.md)"
  exit 1
fi
echo "== fuzz: all targets passed"

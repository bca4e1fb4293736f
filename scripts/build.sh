#!/usr/bin/env bash
# Configure (once) and build. Serialised with a lock: the machine has 2 cores and two
# concurrent C++ builds would thrash it. Usage: scripts/build.sh [BUILD_DIR] [targets...]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}; shift || true
extra=(-DLLMGW_WERROR=ON)
# Line tables only (-g1): backtraces and sanitizer reports keep file:line, and the build of the
# Beast/Asio-heavy units takes about half the time of full debug info (measured: 66 s -> 36 s
# for one test unit under ASan). A user's own cmake build keeps CMake's -g.
extra+=("-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DCMAKE_CXX_FLAGS_DEBUG=-g1")
# The test files (not the code they test) at -O1: a quarter less compile time
# (tests/CMakeLists.txt).
extra+=(-DLLMGW_TEST_OPT=-O1)
[ "${LLMGW_SANITIZE:-}" ] && extra+=("-DLLMGW_SANITIZE=${LLMGW_SANITIZE}" -DCMAKE_BUILD_TYPE=Debug -DLLMGW_BUILD_BENCH=OFF)
# Checkouts side by side (git worktrees) share ccache entries: paths under the parent folder are
# hashed relative to the build folder, and the build folder itself is not hashed.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(dirname "$PWD")} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
exec 9>/tmp/llmgw-build.lock
flock 9
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja "${extra[@]}" >/dev/null
fi
cmake --build "$dir" -j2 ${1:+--target "$@"}

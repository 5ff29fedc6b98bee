#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing (apt), builds the
# tests three times (optimised; AddressSanitizer + UBSan; ThreadSanitizer for the
# threaded tests), fuzzes the decoders (libFuzzer, bounded in time), and runs each build's CTest suite
# against its own throwaway PostgreSQL cluster, which CTest stops even when tests fail.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/install-deps.sh

cleanup() {
  # The fixtures (cluster, PgBouncer), and any cluster of a test's own left by a crashed
  # test run.
  for s in build/release/test-{cluster,bouncer}* build/sanitize/test-{cluster,bouncer}* build/tsan/test-{cluster,bouncer}*; do
    [ -d "$s" ] && bash scripts/pg-cluster.sh stop "$s" || true
  done
}
trap cleanup EXIT

status=0
echo "== release build"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build/release -j"$jobs"
(cd build/release && ctest --output-on-failure) || status=1

echo "== AddressSanitizer + UBSan build"
cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Debug -DPGCORO_SANITIZE=ON \
  -DPGCORO_BUILD_EXAMPLES=OFF -DPGCORO_BUILD_BENCHMARKS=OFF -DPGCORO_BUILD_TOOLS=ON
cmake --build build/sanitize -j"$jobs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd build/sanitize && ctest --output-on-failure -E '^package_') || status=1

echo "== libFuzzer: every decoder family, 15 s each, under ASan + UBSan"
bash scripts/fuzz.sh 15 || status=1

echo "== ThreadSanitizer build (one connection and one pool from two threads)"
cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPGCORO_TSAN=ON \
  -DPGCORO_BUILD_EXAMPLES=OFF -DPGCORO_BUILD_BENCHMARKS=OFF -DPGCORO_BUILD_TOOLS=OFF
cmake --build build/tsan -j"$jobs"
(cd build/tsan && ctest --output-on-failure) || status=1

exit $status

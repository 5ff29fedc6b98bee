#!/usr/bin/env bash
# The decoders' libFuzzer targets (tests/fuzz), one per family, each for a bounded time
# under ASan + UBSan: scripts/fuzz.sh [SECONDS_PER_FAMILY] (default 15). Needs clang (the
# test suite's install step adds it). New inputs go to a temp dir; to grow the committed
# corpus, run with PGFUZZ_KEEP=1 and review tests/fuzz/corpus.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-15}
cxx=${PGFUZZ_CXX:-clang++}
if ! command -v "$cxx" >/dev/null; then
  echo "fuzz.sh: $cxx not found (apt-get install clang)" >&2
  exit 1
fi
out="$root/build/fuzz"
mkdir -p "$out"
pg_include=$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
echo "== building the fuzz targets with $cxx"
"$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/include" -I"$pg_include" "$root/tests/fuzz/libfuzzer.cpp" -o "$out/pgcoro_fuzz"
status=0
for family in scalars numeric datetime text arrays ranges network json composites; do
  work=$(mktemp -d)
  if [ "${PGFUZZ_KEEP:-0}" = 1 ]; then work="$root/tests/fuzz/corpus/$family"; fi
  log="$out/$family.log"
  if PGFUZZ_FAMILY=$family "$out/pgcoro_fuzz" "$work" "$root/tests/fuzz/corpus/$family" \
       -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$out/$family-" >"$log" 2>&1; then
    echo "$family: $(grep -E '^Done' "$log" || echo done)"
  else
    echo "$family: FAILED (crash input in $out/$family-*)"
    grep -E "ERROR|SUMMARY|round trip|runtime error" "$log" | head -5
    status=1
  fi
  [ "${PGFUZZ_KEEP:-0}" = 1 ] || rm -rf "$work"
done
exit $status

#!/usr/bin/env bash
# A row type that cannot be mapped fails to compile with one clear message naming what to
# do, and a good one compiles. Usage: run.sh CXX SOURCE_DIR -I... flags
set -uo pipefail
cxx=$1 src=$2
shift 2
file="$src/tests/compile_fail/rows.cpp"
compile() { "$cxx" -std=c++20 -fsyntax-only -I"$src/include" "$@" -DCASE="$case" "$file" 2>&1; }
status=0
expect() {
  case=$1 want=$2
  out=$(compile "${flags[@]}")
  rc=$?
  errors=$(grep -c "error:" <<<"$out")
  if [ $rc -eq 0 ]; then echo "case $case compiled; it must not"; status=1; return; fi
  if ! grep -qF "$want" <<<"$out"; then echo "case $case: no '$want' in:"; echo "$out" | grep "error:" | head; status=1; return; fi
  if [ "$errors" -ne 1 ]; then echo "case $case: $errors errors, want one:"; echo "$out" | grep "error:" | cut -c1-300; status=1; return; fi
  echo "case $case: one error, '$want'"
}
flags=("$@")
expect 1 "needs #include <pgcoro/types/json.hpp>"
expect 2 "specialise pgcoro::type_traits<Field>"
expect 3 "nor an aggregate struct"
expect 4 "point into the result, which this function frees"
expect 5 "point into the result, which this function frees"
expect 6 "binary COPY maps fields by position"
expect 7 "is described (BOOST_DESCRIBE_STRUCT) and read by attribute name"
case=0
if ! out=$(compile "${flags[@]}"); then echo "the good case does not compile:"; echo "$out" | head; status=1; else echo "case 0 compiles"; fi
exit $status

#!/usr/bin/env bash
# Every public header compiles on its own: for each include/pgcoro/**.hpp outside
# detail/, a translation unit holding just `#include <pgcoro/X.hpp>` is compiled (syntax
# and template definitions, the project's warnings as errors), two at a time.
#
#   check.sh CXX INCLUDE_DIR [more compiler flags: -I..., ...]
set -euo pipefail
cxx=$1
inc=$2
shift 2
export PGCORO_CXX=$cxx PGCORO_FLAGS="-std=c++20 -fsyntax-only -Wall -Wextra -Werror -I$inc $*"
cd "$inc"
headers=$(find pgcoro -name '*.hpp' -not -path 'pgcoro/detail/*' | sort)
n=$(echo "$headers" | wc -l)
# xargs stops at the first header that fails (exit 255), after printing its errors.
if ! echo "$headers" | xargs -P 2 -I{} bash -c \
    'echo "#include <{}>" | $PGCORO_CXX $PGCORO_FLAGS -x c++ - -o /dev/null || { echo "NOT SELF-CONTAINED: {}" >&2; exit 255; }'; then
  echo "a public header does not compile on its own (above)" >&2
  exit 1
fi
echo "$n public headers compile on their own"

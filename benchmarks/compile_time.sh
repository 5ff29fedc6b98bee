#!/usr/bin/env bash
# Compile time of a translation unit that connects and runs one query<T> into a
# two-field struct, including <pgcoro/connection.hpp>, <pgcoro/pool.hpp>,
# <pgcoro/pgcoro.hpp>, or that and <pgcoro/migrator.hpp> (what pgcoro.hpp cost when it
# included the migrator), next to a bare Asio coroutine translation unit (includes
# <boost/asio.hpp>, co_spawns a coroutine awaiting a steady_timer); both
# `g++ -std=c++20 -O2 -c`. Prints seconds, peak memory and the ratios.
#   bash benchmarks/compile_time.sh [runs=3]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/bare.cpp" <<'CPP'
#include <boost/asio.hpp>
namespace asio = boost::asio;
asio::awaitable<void> wait_a_bit() {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
    co_await t.async_wait(asio::use_awaitable);
}
int main() {
    asio::io_context io;
    asio::co_spawn(io, wait_a_bit(), asio::detached);
    io.run();
}
CPP
# pgcoro+migrator: what <pgcoro/pgcoro.hpp> cost before the migrator got its own header.
for header in connection pool pgcoro pgcoro+migrator; do
includes="#include <pgcoro/${header%+*}.hpp>"
[ "$header" = "pgcoro+migrator" ] && includes="$includes
#include <pgcoro/migrator.hpp>"
cat > "$work/$header.cpp" <<CPP
$includes
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
namespace asio = boost::asio;
struct row { int id; std::string name; };
asio::awaitable<void> run() {
    auto c = co_await pgcoro::connection::connect(co_await asio::this_coro::executor, "");
    auto rows = co_await c.query<row>("select 1, 'a'");
    (void)rows;
}
int main() {
    asio::io_context io;
    asio::co_spawn(io, run(), asio::detached);
    io.run();
}
CPP
done
measure() {  # file -> "seconds peak_MB" (median of $runs)
  local f=$1 out=()
  for ((i = 0; i < runs; i++)); do
    if [ -x /usr/bin/time ]; then
      out+=("$( { /usr/bin/time -f '%e %M' g++ -std=c++20 -O2 -c "$f" -o /dev/null \
        -I"$root/include" -I/usr/include/postgresql; } 2>&1 | tail -n 1)")
    else
      local s=$(date +%s.%N)
      g++ -std=c++20 -O2 -c "$f" -o /dev/null -I"$root/include" -I/usr/include/postgresql
      out+=("$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') 0")
    fi
  done
  printf '%s\n' "${out[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p"
}
read -r bare_s bare_kb < <(measure "$work/bare.cpp")
printf '%-40s %8s %10s %8s\n' "translation unit" "seconds" "peak MB" "ratio"
printf '%-40s %8.1f %10d %8s\n' "bare Asio coroutine" "$bare_s" $((bare_kb / 1024)) "1.00x"
for header in connection pool pgcoro pgcoro+migrator; do
  read -r s kb < <(measure "$work/$header.cpp")
  printf '%-40s %8.1f %10d %7.2fx\n' "query<T> with $header" "$s" $((kb / 1024)) \
    "$(awk -v a="$s" -v b="$bare_s" 'BEGIN { print a / b }')"
done

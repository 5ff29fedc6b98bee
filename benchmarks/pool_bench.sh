#!/usr/bin/env bash
# The pool benchmark in full: builds it, installs what it compares against (postgres.js
# from npm, gnuplot from Debian), uses DATABASE_URL or a throwaway cluster, prints the
# table, writes build/bench/pool-bench.json and draws docs/pool-throughput.svg.
#
#   bash benchmarks/pool_bench.sh [extra pgcoro_bench_pool arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$root/build/bench

need_apt=()
command -v gnuplot >/dev/null || need_apt+=(gnuplot-nox)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}"
fi
bash scripts/install-deps.sh

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target pgcoro_bench_pool -j2

node_dir=$build/bench-node
mkdir -p "$node_dir"
cp benchmarks/postgresjs/bench.mjs "$node_dir/"
[ -d "$node_dir/node_modules/postgres" ] || npm install --silent --prefix "$node_dir" postgres@3 >/dev/null

cluster=""
if [ -z "${DATABASE_URL:-}" ]; then
  cluster=$build/bench-cluster
  DATABASE_URL=$(bash scripts/pg-cluster.sh start "$cluster")
  export DATABASE_URL
  trap 'bash scripts/pg-cluster.sh stop "$cluster" >/dev/null 2>&1 || true' EXIT
fi

json=$build/pool-bench.json
"$build/benchmarks/pgcoro_bench_pool" --json "$json" --postgresjs "$node_dir" "$@"

mkdir -p docs
gnuplot <<GP
set terminal svg size 900,440 font "sans,11" background rgb "white"
set output "$root/docs/pool-throughput.svg"
set title "select \$1::int in closed loops, one client thread, same server (median of interleaved runs)"
set ylabel "thousand statements / s"
set xlabel "connections / concurrent callers"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key top left autotitle columnhead
set grid ytics
set xtics scale 0
set yrange [0:*]
plot "$json.tsv" using 2:xtic(1) title "pgcoro pool (default configuration)" lc rgb "#1f77b4", \
     "" using 3 title "raw libpq, pipeline mode, Sync per statement" lc rgb "#7f7f7f", \
     "" using 4 title "postgres.js" lc rgb "#ff7f0e"
GP
echo "chart: docs/pool-throughput.svg; figures: $json"

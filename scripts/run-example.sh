#!/usr/bin/env bash
# Runs the example service (examples/service.cpp) from a fresh machine: installs what is
# missing (apt), builds it, and, when DATABASE_URL is not set, starts a throwaway local
# PostgreSQL (stopped and deleted again when the service exits). Ctrl-C stops it.
#   PORT (default 8080) and HOST (default 127.0.0.1) choose where it listens.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release --target pgcoro_service -j"$(nproc 2>/dev/null || echo 2)"

if [ -z "${DATABASE_URL:-}" ]; then
  state="$root/build/example-cluster"
  trap 'bash "$root/scripts/pg-cluster.sh" stop "$state"' EXIT
  bash scripts/pg-cluster.sh start "$state" >/dev/null
  # The service logs in as the non-superuser role, owner of its own database.
  DATABASE_URL=$(cat "$state/app_url")
  export DATABASE_URL
  echo "started a throwaway PostgreSQL on 127.0.0.1:$(cat "$state/port") (data deleted on exit)"
fi
# Not exec: the trap above must run when the service stops.
build/release/examples/pgcoro_service "$@"

#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for development and tests.
#
#   scripts/pg-cluster.sh start STATE_DIR [tls]
#                                           start a cluster; prints its superuser URL
#   scripts/pg-cluster.sh standby STATE_DIR PRIMARY_STATE_DIR
#                                           a streaming standby of a running cluster
#                                           (pg_basebackup -R); prints its URL
#   scripts/pg-cluster.sh bouncer STATE_DIR TARGET_STATE_DIR session|transaction
#                                           PgBouncer in front of a running cluster, in that
#                                           pool mode, 2 server connections per pool; prints
#                                           its URL (app_url too)
#   scripts/pg-cluster.sh promote STATE_DIR a standby becomes a primary
#   scripts/pg-cluster.sh crash STATE_DIR   stop the server at once (-m immediate), keep its data
#   scripts/pg-cluster.sh stop  STATE_DIR   stop it, delete its data (and STATE_DIR when empty)
#   scripts/pg-cluster.sh url   STATE_DIR   print the superuser URL of a running cluster
#   scripts/pg-cluster.sh halt  STATE_DIR   stop the server, keep its data and port
#   scripts/pg-cluster.sh resume STATE_DIR  start a halted server again (same port)
#
# The data lives in a fresh temp dir, the server listens on 127.0.0.1 only, on a free
# port, with fsync off. Two roles log in over TCP with SCRAM-SHA-256 passwords:
#   pgcoro      superuser          (STATE_DIR/url)
#   pgcoro_app  no superuser, no BYPASSRLS, owns database pgcoro_app (STATE_DIR/app_url)
# The passwords are random per cluster. As root, the server runs as the `postgres` user.
# With `tls`, the server also takes TLS with a certificate for localhost and 127.0.0.1
# from a throwaway CA (openssl), and a third role logs in with a client certificate:
#   pgcoro_cert        `cert` authentication over TLS only
# STATE_DIR/tls holds ca.crt, client.crt, client.key and other_ca.crt (a CA the server's
# certificate does not come from).
set -euo pipefail

cmd=${1:-}; state=${2:-}; arg3=${3:-}
usage="usage: $0 start STATE_DIR [tls] | standby STATE_DIR PRIMARY_STATE_DIR | bouncer STATE_DIR TARGET_STATE_DIR MODE | stop|url|halt|resume|promote|crash STATE_DIR"
if [ -z "$cmd" ] || [ -z "$state" ]; then
  echo "$usage" >&2; exit 2
fi

pg_bin=${PGCORO_PG_BIN:-}
if [ -z "$pg_bin" ]; then
  for v in 17 16 15 14; do
    if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then pg_bin=/usr/lib/postgresql/$v/bin; break; fi
  done
fi
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || { echo "pg-cluster: no PostgreSQL server binaries found (set PGCORO_PG_BIN)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

make_tls() {  # make_tls DATA_DIR CLIENT_DIR
  local data=$1 out=$2 t
  t=$(mktemp -d)
  command -v openssl >/dev/null || { echo "pg-cluster: openssl is missing (scripts/install-deps.sh)" >&2; exit 1; }
  local key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  (
    cd "$t"
    openssl req -x509 "${key[@]}" -days 3 -subj "/CN=pgcoro test CA" -keyout ca.key -out ca.crt
    openssl req -x509 "${key[@]}" -days 3 -subj "/CN=pgcoro other CA" -keyout other_ca.key -out other_ca.crt
    openssl req "${key[@]}" -subj "/CN=localhost" -keyout server.key -out server.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3 -extfile san.ext -out server.crt
    openssl req "${key[@]}" -subj "/CN=pgcoro_cert" -keyout client.key -out client.csr
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3 -out client.crt
  ) >"$t/openssl.log" 2>&1 || { cat "$t/openssl.log" >&2; rm -rf "$t"; exit 1; }
  install -m 600 "$t/server.key" "$t/server.crt" "$t/ca.crt" "$data/"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$data/server.key" "$data/server.crt" "$data/ca.crt"
  mkdir -p "$out"
  install -m 600 "$t/ca.crt" "$t/other_ca.crt" "$t/client.crt" "$t/client.key" "$out/"
  rm -rf "$t"
  cat >>"$data/postgresql.conf" <<CONF
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'ca.crt'
CONF
  # Certificate logins first; everything else as initdb wrote it (SCRAM on TCP).
  local hba
  hba=$(mktemp)
  { echo "hostssl all pgcoro_cert 127.0.0.1/32 cert"; cat "$data/pg_hba.conf"; } > "$hba"
  cat "$hba" > "$data/pg_hba.conf"; rm -f "$hba"
}

start_on_free_port() {  # start_on_free_port DIR: starts DIR/data, sets $port
  local dir=$1
  # Below the kernel's ephemeral range: a client socket must never take the port of a
  # halted cluster before it resumes.
  local eph_low
  eph_low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$eph_low" -gt 21000 ] 2>/dev/null || eph_low=32768
  port=""
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % (eph_low - 20000) ))
    if port_free "$p"; then
      if as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $p" -w -t 60 start >/dev/null 2>&1; then
        port=$p; break
      fi
    fi
  done
  [ -n "$port" ] || { echo "pg-cluster: could not start the server" >&2; cat "$dir/server.log" >&2 || true; exit 1; }
}

stop_bouncer() {  # stop_bouncer DIR: SIGTERM, wait, SIGKILL
  local pid
  pid=$(cat "$1/pgbouncer.pid" 2>/dev/null) || return 0
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

new_dir() {
  dir=$(mktemp -d /tmp/pgcoro-cluster.XXXXXX)
  chmod 700 "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  return 0
}

port_free() {
  # Free when nothing accepts a TCP connection on it.
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

case "$cmd" in
start)
  mkdir -p "$state"
  state=$(cd "$state" && pwd)
  if [ -f "$state/datadir" ]; then
    old=$(cat "$state/datadir")
    # Already running: the same cluster again (a second `start` must not orphan it).
    if [ -f "$state/url" ] && as_owner "$pg_bin/pg_ctl" -D "$old/data" status >/dev/null 2>&1; then
      cat "$state/url"; exit 0
    fi
    # Left behind (halted, or its server died): delete it before making a new one.
    as_owner "$pg_bin/pg_ctl" -D "$old/data" -m immediate -w stop >/dev/null 2>&1 || true
    case "$old" in /tmp/pgcoro-cluster.*) rm -rf "$old" ;; esac
  fi
  new_dir
  pw=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  app_pw=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  printf '%s\n' "$pw" > "$dir/pwfile"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pwfile"
  as_owner "$pg_bin/initdb" -D "$dir/data" -U pgcoro --pwfile="$dir/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 128MB
log_min_messages = warning
CONF
  [ "$arg3" = tls ] && make_tls "$dir/data" "$state/tls"
  start_on_free_port "$dir"
  as_owner "$pg_bin/psql" -h "$dir" -p "$port" -U pgcoro -d postgres -v ON_ERROR_STOP=1 -q >/dev/null <<SQL
create role pgcoro_app login password '$app_pw' nosuperuser nobypassrls;
create database pgcoro_app owner pgcoro_app;
create role pgcoro_cert login nosuperuser;
SQL
  echo "$dir" > "$state/datadir"
  echo "$port" > "$state/port"
  echo "postgresql://pgcoro:$pw@127.0.0.1:$port/postgres" > "$state/url"
  echo "postgresql://pgcoro_app:$app_pw@127.0.0.1:$port/pgcoro_app" > "$state/app_url"
  echo "$pg_bin" > "$state/pg_bin"
  chmod 600 "$state/url" "$state/app_url"
  cat "$state/url"
  ;;
stop)
  [ -f "$state/datadir" ] || exit 0
  dir=$(cat "$state/datadir")
  if [ -f "$dir/pgbouncer.pid" ]; then
    stop_bouncer "$dir"
  else
    as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  rm -f "$state/datadir" "$state/port" "$state/url" "$state/app_url" "$state/pg_bin"
  rm -rf "$state/tls"
  rmdir "$state" 2>/dev/null || true  # only when nothing else was put there
  ;;
url)
  cat "$state/url"
  ;;
halt)
  dir=$(cat "$state/datadir")
  as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  ;;
resume)
  dir=$(cat "$state/datadir")
  as_owner "$pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $(cat "$state/port")" -w -t 30 start >/dev/null \
    || { echo "pg-cluster: resume failed:" >&2; tail -5 "$dir/server.log" >&2; exit 1; }
  ;;
standby)
  primary=$arg3
  [ -n "$primary" ] && [ -f "$primary/url" ] || { echo "pg-cluster: standby needs a running primary's STATE_DIR" >&2; exit 2; }
  [ -f "$state/datadir" ] && { echo "pg-cluster: $state is in use" >&2; exit 1; }
  mkdir -p "$state"
  state=$(cd "$state" && pwd)
  purl=$(cat "$primary/url"); pport=$(cat "$primary/port")
  pw=${purl#postgresql://pgcoro:}; pw=${pw%%@*}
  new_dir
  # initdb's pg_hba.conf lets the superuser replicate over TCP with its password.
  # (In the environment, not on a command line where ps would show it.)
  PGPASSWORD="$pw" as_owner "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$pport" -U pgcoro \
    -D "$dir/data" -R -X stream -c fast >"$dir/basebackup.log" 2>&1 \
    || { cat "$dir/basebackup.log" >&2; rm -rf "$dir"; exit 1; }
  echo "unix_socket_directories = '$dir'" >> "$dir/data/postgresql.conf"
  start_on_free_port "$dir"
  echo "$dir" > "$state/datadir"
  echo "$port" > "$state/port"
  echo "postgresql://pgcoro:$pw@127.0.0.1:$port/postgres" > "$state/url"
  sed "s/:$pport\//:$port\//" "$primary/app_url" > "$state/app_url"
  echo "$pg_bin" > "$state/pg_bin"
  chmod 600 "$state/url" "$state/app_url"
  cat "$state/url"
  ;;
bouncer)
  target=$arg3; mode=${4:-}
  [ -n "$target" ] && [ -f "$target/url" ] || { echo "pg-cluster: bouncer needs a running cluster's STATE_DIR" >&2; exit 2; }
  case "$mode" in session|transaction) ;; *) echo "$usage" >&2; exit 2 ;; esac
  command -v pgbouncer >/dev/null || { echo "pg-cluster: pgbouncer is missing (scripts/install-deps.sh)" >&2; exit 1; }
  [ -f "$state/datadir" ] && { echo "pg-cluster: $state is in use" >&2; exit 1; }
  mkdir -p "$state"
  state=$(cd "$state" && pwd)
  turl=$(cat "$target/url"); tport=$(cat "$target/port"); tapp=$(cat "$target/app_url")
  pw=${turl#postgresql://pgcoro:}; pw=${pw%%@*}
  app_pw=${tapp#postgresql://pgcoro_app:}; app_pw=${app_pw%%@*}
  new_dir
  printf '"pgcoro" "%s"\n"pgcoro_app" "%s"\n' "$pw" "$app_pw" > "$dir/userlist.txt"
  chmod 600 "$dir/userlist.txt"; [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/userlist.txt"
  started=""
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 10000 ))
    port_free "$p" || continue
    cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$tport
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $p
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = $mode
default_pool_size = 2
max_client_conn = 1000
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pgbouncer.ini"
    if as_owner pgbouncer -d -q "$dir/pgbouncer.ini" 2>>"$dir/start.log"; then
      for _ in $(seq 1 100); do port_free "$p" || { started=$p; break; }; sleep 0.1; done
      [ -n "$started" ] && break
      stop_bouncer "$dir"  # started but not listening: never leave it behind
    fi
  done
  [ -n "$started" ] || { echo "pg-cluster: could not start pgbouncer" >&2; cat "$dir/start.log" "$dir/pgbouncer.log" >&2 2>/dev/null; exit 1; }
  echo "$dir" > "$state/datadir"
  echo "$started" > "$state/port"
  echo "postgresql://pgcoro:$pw@127.0.0.1:$started/postgres" > "$state/url"
  echo "postgresql://pgcoro_app:$app_pw@127.0.0.1:$started/pgcoro_app" > "$state/app_url"
  echo "$pg_bin" > "$state/pg_bin"
  chmod 600 "$state/url" "$state/app_url"
  cat "$state/url"
  ;;
promote)
  dir=$(cat "$state/datadir")
  as_owner "$pg_bin/pg_ctl" -D "$dir/data" -w -t 60 promote >/dev/null
  ;;
crash)
  dir=$(cat "$state/datadir")
  as_owner "$pg_bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
  ;;
*)
  echo "$usage" >&2; exit 2 ;;
esac

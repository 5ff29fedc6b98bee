#!/usr/bin/env bash
# pgcoro-migrate diff against the test cluster (CTest migrate_diff):
#   run_cases.sh TOOL STATE_DIR WORK_DIR SOURCE_DIR
# Each case is a pair of schemas. The tool drafts the migration from one to the other (and
# back); the draft is applied with pgcoro-migrate up and the database compared with one
# the target schema file made, by their normalised `pg_dump --schema-only`; the down file
# is applied and compared with the first schema the same way; --check passes afterwards.
set -euo pipefail
tool=$1 state=$2 work=$3 src=$4
url=$(cat "$state/url")
base=${url%/*}
bin=${PGCORO_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)}
export PGCORO_DIFF_DATABASE_URL=$url
unset PGCORO_DATABASE_URL DATABASE_URL
rm -rf "$work"
mkdir -p "$work"
prefix="pgcoro_diff_case_$$"
count=0

cleanup() {
  "$bin/psql" -qXAt "$url" -c "select datname from pg_database where datname like '${prefix}_%'" 2>/dev/null |
    while read -r d; do "$bin/psql" -qX "$url" -c "drop database if exists \"$d\" with (force)" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

fail() { echo "FAILED: $*" >&2; exit 1; }
new_db() { # new_db VAR: an empty database, its name in VAR
  count=$((count + 1))
  local d="${prefix}_$count"
  "$bin/psql" -qX "$url" -c "create database \"$d\" template template0" >/dev/null
  printf -v "$1" '%s' "$d"
}
run_sql() { "$bin/psql" -qX -v ON_ERROR_STOP=1 "$base/$1" -f "$2" >/dev/null; }
# The schema as pg_dump prints it, without what differs between equal schemas: comments,
# settings, pg_dump's \restrict lines, blank lines, pgcoro's history tables.
dump() {
  "$bin/pg_dump" --schema-only --no-owner --no-privileges --exclude-table='*.pgcoro_migrations' \
    --exclude-table='*.pgcoro_seeds' "$base/$1" |
    grep -v -E '^(--|SET |SELECT pg_catalog.set_config|\\restrict|\\unrestrict|$)' || true
}
same_schema() { # same_schema DB1 DB2 WHAT
  if ! diff -u <(dump "$1") <(dump "$2") > "$work/last.diff"; then
    cat "$work/last.diff" >&2
    fail "$3: the schemas differ"
  fi
}

# round_trip NAME FROM_SQL TO_SQL [exact]: draft FROM -> TO, apply it, compare, roll back,
# compare. "exact" = 0 when the draft is expected to leave differences (an enum losing a
# value): then only the REVIEW and --check's exit 1 are checked; 2 when the up file is
# exact but its down file cannot be (it would remove enum values): the tool must say so.
round_trip() {
  local name=$1 from=$2 to=$3 exact=${4:-1}
  local dir="$work/$name"
  mkdir -p "$dir/migrations"
  printf '%s\n' "$from" > "$dir/from.sql"
  printf '%s\n' "$to" > "$dir/schema.sql"
  [ -n "$from" ] && cp "$dir/from.sql" "$dir/migrations/1_from.up.sql"
  # The two differ: --check says so.
  set +e
  "$tool" -q --dir "$dir/migrations" diff --to "$dir/schema.sql" --check > "$dir/check-before.out" 2>&1
  local rc=$?
  set -e
  [ $rc -eq 1 ] || { cat "$dir/check-before.out"; fail "$name: --check before the draft exited $rc, expected 1"; }
  "$tool" -q --dir "$dir/migrations" diff --to "$dir/schema.sql" --name draft --allow-destructive > "$dir/diff.out" 2>&1 ||
    { cat "$dir/diff.out"; fail "$name: diff failed"; }
  local up down
  up=$(ls "$dir"/migrations/*_draft.up.sql)
  down=${up%.up.sql}.down.sql
  if [ "$exact" = 0 ]; then
    grep -q "REVIEW" "$up" || fail "$name: expected a REVIEW in $up"
    grep -q "^warning: after the up file, these differences remain" "$dir/diff.out" ||
      { cat "$dir/diff.out"; fail "$name: expected the tool to say what the draft leaves"; }
    echo "ok: $name (a REVIEW, nothing drafted)"
    return 0
  fi
  if [ "$exact" = 2 ]; then
    grep -q "^warning: the down file does not return to the migrations' schema" "$dir/diff.out" ||
      { cat "$dir/diff.out"; fail "$name: expected the tool to say the down file cannot return"; }
    [ "$(grep -c "^warning" "$dir/diff.out")" = 1 ] || { cat "$dir/diff.out"; fail "$name: other warnings"; }
  elif grep -q "^warning" "$dir/diff.out"; then
    cat "$dir/diff.out" "$up" "$down"
    fail "$name: the tool's own try failed"
  fi
  local applied target before
  new_db applied; new_db target; new_db before
  "$tool" -q --database-url "$base/$applied" --dir "$dir/migrations" up > "$dir/up.out" 2>&1 ||
    { cat "$dir/up.out" "$up"; fail "$name: the draft does not apply"; }
  run_sql "$target" "$dir/schema.sql"
  same_schema "$applied" "$target" "$name (up)"
  "$tool" -q --dir "$dir/migrations" diff --to "$dir/schema.sql" --check > "$dir/check-after.out" 2>&1 ||
    { cat "$dir/check-after.out"; fail "$name: --check after the draft"; }
  if [ "$exact" = 2 ]; then echo "ok: $name (up)"; return 0; fi
  "$tool" -q --database-url "$base/$applied" --dir "$dir/migrations" down > "$dir/down.out" 2>&1 ||
    { cat "$dir/down.out" "$down"; fail "$name: the down file does not apply"; }
  run_sql "$before" "$dir/from.sql"
  same_schema "$applied" "$before" "$name (down)"
  echo "ok: $name"
}

# both NAME A B: A -> B and B -> A (so every kind is added, changed and dropped).
both() { round_trip "$1" "$2" "$3"; round_trip "$1-back" "$3" "$2"; }

both schemas "create schema app; create schema old_stuff; comment on schema app is 'a';" \
  "create schema app; create schema fresh; comment on schema app is 'b';"

both columns "create table t (id bigint primary key, a integer, b text not null default 'x', c varchar(10), d integer,
  e int, g integer generated always as (a * 2) stored);
create table gone (x int);" \
  "create table t (id bigint primary key, a bigint not null, b text, c varchar(20) collate \"C\" default 'c',
  d integer generated by default as identity (start with 10), e int, g integer generated always as (a * 3) stored, f text default 'f');
create unlogged table fresh (y int) with (fillfactor = 70);"

both constraints "create table p (id int primary key, code text unique, n int check (n > 0));
create table c (id int primary key, p_id int references p (id));" \
  "create table p (id int primary key, code text, n int check (n >= 0), constraint p_code_key unique (code, n));
create table c (id int primary key, p_id int references p (id) on delete cascade, p_n int check (p_n is not null),
  constraint c_excl exclude using btree (id with =));"

both indexes "create table t (a int, b text); create index t_a on t (a); create index t_lower on t (lower(b));
create index t_old on t (b);" \
  "create table t (a int, b text); create index t_a on t (a) where a > 0; create index t_lower on t (lower(b));
create unique index t_new on t (b, a); comment on index t_new is 'unique pairs';"

round_trip enums "create type mood as enum ('sad', 'ok'); create type gone as enum ('x'); create table m (m mood);" \
  "create type mood as enum ('sad', 'meh', 'ok', 'happy'); create type fresh as enum ('y');
create table m (m mood default 'ok', f fresh);" 2
# Back: mood loses values, which PostgreSQL cannot do in place: a REVIEW, nothing drafted.
round_trip enums-back "create type mood as enum ('sad', 'meh', 'ok', 'happy'); create table m (m mood);" \
  "create type mood as enum ('sad', 'ok'); create table m (m mood);" 0

both sequences "create sequence s1 increment by 2; create sequence old_seq; create table q (id serial);" \
  "create sequence s1 increment by 5 start 100 cache 10; create sequence s2 as integer maxvalue 1000;
create table q (id serial, n bigserial);"

both views "create table t (a int, b int); create view v as select a from t; create view old_v as select b from t;
create materialized view mv as select a from t;" \
  "create table t (a int, b int); create view v as select a, b from t;
create view new_v with (security_barrier) as select a + b as s from t;
create view on_v as select a from v; create materialized view mv as select b from t; create index mv_b on mv (b);"

both functions "create function f(x int) returns int language sql as 'select x + 1';
create function old_f() returns int language sql as 'select 1';
create function g(a int) returns int language sql as 'select a';
create function h(a int) returns int language sql as 'select a';" \
  "create function f(x int) returns int language sql as 'select x + 2';
create function g(a int) returns bigint language sql as 'select a::bigint';
create function h(renamed int) returns int language sql as 'select renamed';
create function new_f(t text) returns text language plpgsql as \$\$ begin return t; end \$\$;
create table items (id int); create function all_items() returns setof items language sql as 'select * from items';
create procedure p() language sql as 'select 1'; comment on function f(int) is 'adds';"

both triggers "create function trg() returns trigger language plpgsql as \$\$ begin return new; end \$\$;
create table t (a int);
create trigger t1 before insert on t for each row execute function trg();
create trigger t_old after update on t for each row execute function trg();" \
  "create function trg() returns trigger language plpgsql as \$\$ begin return new; end \$\$;
create table t (a int);
create trigger t1 before insert or update on t for each row execute function trg();
create trigger t_new before delete on t for each row execute function trg();
alter table t disable trigger t_new;"

both rls "create table r (tenant int); alter table r enable row level security;
create policy p1 on r using (tenant = 1); create policy gone on r for select using (true);" \
  "create function cur() returns int language sql stable as 'select 1';
create table r (tenant int); alter table r enable row level security; alter table r force row level security;
create policy p1 on r using (tenant = cur()) with check (tenant = cur());
create policy p2 on r as restrictive for insert with check (tenant > 0);"

both comments "create table t (a int); comment on table t is 'old'; comment on column t.a is 'A';" \
  "create table t (a int, b int); comment on table t is 'it''s new'; comment on column t.b is 'B';"

both extensions "create table plain (a int);" \
  "create extension if not exists citext; create table plain (a int); create table e (name citext);"

# The reference schema: from nothing to schema.sql and back, and the committed migrations
# agree with it.
round_trip reference "" "$(cat "$src/schema.sql")"
"$tool" -q --dir "$src/migrations" diff --to "$src/schema.sql" --check > "$work/reference-check.out" 2>&1 ||
  { cat "$work/reference-check.out"; fail "the migrations and schema.sql disagree"; }
echo "ok: the reference migrations build schema.sql's schema"

# A rename looks like a drop and an add: REVIEW, and the drop commented out by default.
mkdir -p "$work/rename/migrations"
echo "create table people (id int primary key, full_name text);" > "$work/rename/migrations/1_people.up.sql"
echo "create table people (id int primary key, display_name text);" > "$work/rename/schema.sql"
"$tool" -q --dir "$work/rename/migrations" diff --to "$work/rename/schema.sql" --name rename > "$work/rename/out" 2>&1 ||
  { cat "$work/rename/out"; fail "rename: diff failed"; }
draft=$(ls "$work"/rename/migrations/*_rename.up.sql)
# (REVIEW comments wrap: joined again to be searched)
flat=$(sed -z 's/\n--   / /g' "$draft")
grep -q "^-- REVIEW: drops column public.people.full_name and its data. It looks like a rename to display_name" <<< "$flat" ||
  { cat "$draft"; fail "rename: no REVIEW naming the rename"; }
grep -q "RENAME COLUMN full_name TO display_name" <<< "$flat" || fail "rename: no RENAME suggestion"
grep -q "^-- ALTER TABLE public.people DROP COLUMN full_name;" "$draft" || fail "rename: the drop is not commented out"
grep -q "^ALTER TABLE public.people ADD COLUMN display_name text;" "$draft" || fail "rename: no ADD COLUMN"
grep -q "1 destructive step(s) commented out" "$work/rename/out" || { cat "$work/rename/out"; fail "rename: summary"; }
echo "ok: a rename gets a REVIEW, the drop commented out"

# --check fails, printing the difference, when the schema file moves on.
cp "$src/schema.sql" "$work/changed.sql"
echo "alter table tenants add column plan text not null default 'free';" >> "$work/changed.sql"
set +e
"$tool" -q --dir "$src/migrations" diff --to "$work/changed.sql" --check > "$work/changed.out" 2>&1
rc=$?
set -e
[ $rc -eq 1 ] || { cat "$work/changed.out"; fail "--check on a changed schema file exited $rc"; }
grep -q "ALTER TABLE public.tenants ADD COLUMN plan text DEFAULT 'free'::text NOT NULL;" "$work/changed.out" ||
  { cat "$work/changed.out"; fail "--check does not print the difference"; }
echo "ok: --check fails and prints the difference"

# Errors: the schema file's own, at file:line:col; kinds diff does not compare, by name.
printf 'create table ok (a int);\ncreate table bad (a int,,);\n' > "$work/bad.sql"
mkdir -p "$work/empty"
set +e
"$tool" -q --dir "$work/empty" diff --to "$work/bad.sql" > "$work/bad.out" 2>&1
rc=$?
set -e
[ $rc -eq 3 ] || { cat "$work/bad.out"; fail "a broken schema file exited $rc"; }
grep -q "bad.sql:2:25: error: syntax error at or near \",\" (SQLSTATE 42601)" "$work/bad.out" ||
  { cat "$work/bad.out"; fail "no file:line:col for a broken schema file"; }
printf 'create domain email as text check (value like %s);\n' "'%@%'" > "$work/domain.sql"
set +e
"$tool" -q --dir "$work/empty" diff --to "$work/domain.sql" > "$work/domain.out" 2>&1
rc=$?
set -e
[ $rc -eq 3 ] || { cat "$work/domain.out"; fail "an unsupported kind exited $rc"; }
grep -q "does not compare yet:" "$work/domain.out" && grep -q "domain public.email" "$work/domain.out" ||
  { cat "$work/domain.out"; fail "the unsupported kind is not named"; }
[ -z "$(ls "$work/empty")" ] || fail "a failed diff wrote files"
echo "ok: errors name the file's line and the unsupported kinds"

# The tool's own cluster when no server is named (as a user without a test server runs it).
env -u PGCORO_DIFF_DATABASE_URL "$tool" -q --dir "$src/migrations" diff --to "$src/schema.sql" --check \
  > "$work/own.out" 2>&1 || { cat "$work/own.out"; fail "--check on the tool's own cluster"; }
echo "ok: --check on a throwaway cluster of the tool's own"
echo "all diff cases passed"

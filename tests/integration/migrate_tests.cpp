// The migrator against a real server, each test in a database of its own: history,
// failures, drift, the lock, down, no-transaction files, seeds, the reference schema with
// its row-level security, and the pgcoro-migrate CLI (concurrent deploys, exit codes).
#include "support.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <memory>
#include <set>

using namespace pgtest;
using namespace boost::asio::experimental::awaitable_operators;
using pgcoro::errc;
using std::int64_t;

namespace {

/// Runs fn(db) with a fresh database, dropped afterwards whatever happens.
template <class F>
asio::awaitable<void> with_database(std::string prefix, F fn) {
    auto db = co_await scratch_database::create(prefix);
    std::exception_ptr failure;
    try {
        co_await fn(db);
    } catch (...) {
        failure = std::current_exception();
    }
    co_await db.drop();
    if (failure) std::rethrow_exception(failure);
}

asio::awaitable<int64_t> count(pgcoro::connection& c, std::string sql) {
    co_return co_await c.query_one<int64_t>(sql);
}

/// Advisory locks held in the scratch database by anyone.
asio::awaitable<int64_t> advisory_locks(pgcoro::connection& c) {
    co_return co_await c.query_one<int64_t>(
        "select count(*) from pg_locks where locktype = 'advisory' and "
        "database = (select oid from pg_database where datname = current_database())");
}

// (file name, content) pairs, without braces: g++ 12 miscompiles braced lists of string
// literals in coroutines.
template <class... S>
std::vector<pgcoro::sql_file> files_of(const S&... s) {
    std::vector<std::string> flat;
    (flat.emplace_back(s), ...);
    std::vector<pgcoro::sql_file> out;
    for (std::size_t i = 0; i + 1 < flat.size(); i += 2) out.push_back(pgcoro::sql_file{flat[i], flat[i + 1]});
    return out;
}
template <class... S>
pgcoro::migration_set set_of(const S&... s) {
    return pgcoro::migration_set::from_files(files_of(s...));
}
template <class... S>
pgcoro::seed_set seeds_of(const S&... s) {
    return pgcoro::seed_set::from_files(files_of(s...));
}

#define THREE_TABLES                                                                                          \
    "1_a.up.sql", "create table a (id int primary key);", "1_a.down.sql", "drop table a;", "2_b.up.sql",       \
        "create table b (id int primary key);\ninsert into b values (1);", "2_b.down.sql", "drop table b;",    \
        "3_c.up.sql", "create table c (id int);", "3_c.down.sql", "drop table c;"

pgcoro::migration_set three_tables() { return set_of(THREE_TABLES); }

std::string reference_dir() { return PGCORO_SOURCE_DIR "/migrations"; }
std::string reference_seeds_dir() { return PGCORO_SOURCE_DIR "/migrations/seeds"; }

#ifdef PGCORO_MIGRATE_CLI
std::string cli() { return PGCORO_MIGRATE_CLI; }

/// pg_dump of the test cluster's own version (the fixture records its bin directory).
std::string pg_dump() {
    std::string bin = read_first_line(std::string(PGCORO_TEST_STATE_DIR) + "/pg_bin");
    return bin.empty() ? std::string("pg_dump") : bin + "/pg_dump";
}

std::vector<std::string> cli_args(const std::string& url, const std::string& dir, std::vector<std::string> rest) {
    std::vector<std::string> a = {cli(), "--database-url", url, "--dir", dir};
    a.insert(a.end(), rest.begin(), rest.end());
    return a;
}

void copy_dir(const std::filesystem::path& from, const std::filesystem::path& to) {
    for (const auto& e : std::filesystem::directory_iterator(from))
        if (e.is_regular_file()) std::filesystem::copy_file(e.path(), to / e.path().filename());
}
#endif

}  // namespace

TEST_CASE("migrate applies each migration once, in order, with its history row", "[migrate]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        co_await with_database("mig_basic", [](const scratch_database& db) -> asio::awaitable<void> {
            auto c = co_await connect(db.url);
            auto set = three_tables();
            std::vector<std::string> events;
            pgcoro::migrate_options opt;
            opt.on_event = [&](const pgcoro::migration_event& e) {
                if (e.kind == pgcoro::migration_event::applied) events.push_back(e.file);
            };
            auto r = co_await pgcoro::migrate(c, set, opt);
            REQUIRE(r.applied.size() == 3);
            CHECK(r.applied[0].file == "1_a.up.sql");
            CHECK(r.applied[2].version == 3);
            CHECK(r.version == 3);
            CHECK(events.size() == 3);
            auto rows = co_await c.query<std::tuple<int64_t, std::string, std::string, int64_t>>(
                "select version, name, checksum, duration_ms from pgcoro_migrations order by version");
            REQUIRE(rows.size() == 3);
            CHECK(std::get<1>(rows[1]) == "b");
            CHECK(std::get<2>(rows[1]) == set.items()[1].up.checksum);
            CHECK(std::get<3>(rows[1]) >= 0);
            // Again: nothing to do. The session's settings are back, the lock released.
            auto again = co_await pgcoro::migrate(c, set);
            CHECK(again.applied.empty());
            CHECK(again.version == 3);
            CHECK(co_await advisory_locks(c) == 0);
            CHECK(co_await c.query_one<std::string>("select current_setting('statement_timeout')") == "0");
            co_await c.execute("set statement_timeout = '7s'");
            co_await pgcoro::migrate(c, set);
            CHECK(co_await c.query_one<std::string>("select current_setting('statement_timeout')") == "7s");
            // Through a pool too: one connection of its own, reset when it goes back.
            auto ex = co_await asio::this_coro::executor;
            pgcoro::pool p(ex, pgcoro::pool_config::from_url(db.url));
            auto target = set_of(THREE_TABLES, "4_d.up.sql", "create table d (id int);");
            auto viapool = co_await pgcoro::migrate(p, target);
            CHECK(viapool.applied.size() == 1);
            p.close();
        });
    });
}

TEST_CASE("a failing migration leaves no row, no partial DDL and no lock; fixed, it applies", "[migrate]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        co_await with_database("mig_fail", [](const scratch_database& db) -> asio::awaitable<void> {
            auto c = co_await connect(db.url);
            auto broken = set_of("1_a.up.sql", "create table a (id int);",
                 "2_b.up.sql", "create table b (id int);\ncreate table b2 (id int);\nselec 1 from b;\n",
                 "3_c.up.sql", "create table c (id int);");
            auto e = co_await expect_error(pgcoro::migrate(c, broken));
            CHECK(e.sqlstate() == "42601");
            std::string what = e.what();
            CHECK(what.find("2_b.up.sql line 3, column") != std::string::npos);
            CHECK(what.find("rolled back") != std::string::npos);
            CHECK(co_await count(c, "select count(*) from pgcoro_migrations") == 1);
            CHECK(co_await count(c, "select count(*) from pg_class where relname in ('b', 'b2', 'c')") == 0);
            CHECK(co_await advisory_locks(c) == 0);
            CHECK(c.transaction_status() == PQTRANS_IDLE);
            auto fixed = set_of("1_a.up.sql", "create table a (id int);",
                 "2_b.up.sql", "create table b (id int);\ncreate table b2 (id int);\nselect 1 from b;\n",
                 "3_c.up.sql", "create table c (id int);");
            auto r = co_await pgcoro::migrate(c, fixed);
            CHECK(r.applied.size() == 2);
            CHECK(co_await count(c, "select count(*) from pg_class where relname in ('b', 'b2', 'c')") == 3);
        });
    });
}

TEST_CASE("an edited applied migration is refused; CRLF and a BOM are not an edit", "[migrate]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        co_await with_database("mig_drift", [](const scratch_database& db) -> asio::awaitable<void> {
            auto c = co_await connect(db.url);
            auto v1 = set_of("1_a.up.sql", "create table a (id int);\nselect 1;\n");
            co_await pgcoro::migrate(c, v1);
            auto crlf = set_of("1_a.up.sql", "\xEF\xBB\xBF" "create table a (id int);\r\nselect 1;\r\n",
                 "2_b.up.sql", "create table b (id int);");
            auto r = co_await pgcoro::migrate(c, crlf);
            CHECK(r.applied.size() == 1);
            auto edited = set_of("1_a.up.sql", "create table a (id bigint);\nselect 1;\n",
                 "2_b.up.sql", "create table b (id int);",
                 "3_c.up.sql", "create table c (id int);");
            auto e = co_await expect_error(pgcoro::migrate(c, edited));
            CHECK(e.code() == errc::migration_checksum_mismatch);
            std::string what = e.what();
            CHECK(what.find("1_a.up.sql") != std::string::npos);
            CHECK(what.find(v1.items()[0].up.checksum) != std::string::npos);
            CHECK(what.find(edited.items()[0].up.checksum) != std::string::npos);
            CHECK(co_await count(c, "select count(*) from pg_class where relname = 'c'") == 0);  // nothing ran
            CHECK(co_await advisory_locks(c) == 0);
        });
    });
}

TEST_CASE("unknown and out-of-order versions are refused unless allowed", "[migrate]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        co_await with_database("mig_order", [](const scratch_database& db) -> asio::awaitable<void> {
            auto c = co_await connect(db.url);
            auto newer = set_of("1_a.up.sql", "create table a (id int);", "3_c.up.sql", "create table c (id int);");
            co_await pgcoro::migrate(c, newer);
            // An older binary: it does not know version 3.
            auto older = set_of("1_a.up.sql", "create table a (id int);");
            auto e = co_await expect_error(pgcoro::migrate(c, older));
            CHECK(e.code() == errc::migration_unknown_version);
            CHECK(std::string(e.what()).find("3_c") != std::string::npos);
            pgcoro::migrate_options tolerant;
            tolerant.ignore_missing = true;
            auto out1 = co_await pgcoro::migrate(c, older, tolerant);
            CHECK(out1.applied.empty());
            // A branch merged late: version 2 after 3 was applied.
            auto late = set_of("1_a.up.sql", "create table a (id int);",
                                                           "2_b.up.sql", "create table b (id int);",
                                                           "3_c.up.sql", "create table c (id int);");
            e = co_await expect_error(pgcoro::migrate(c, late));
            CHECK(e.code() == errc::migration_out_of_order);
            CHECK(std::string(e.what()).find("2_b.up.sql") != std::string::npos);
            CHECK(co_await count(c, "select count(*) from pg_class where relname = 'b'") == 0);
            pgcoro::migrate_options lenient;
            lenient.allow_out_of_order = true;
            auto r = co_await pgcoro::migrate(c, late, lenient);
            REQUIRE(r.applied.size() == 1);
            CHECK(r.applied[0].version == 2);
            CHECK(r.version == 3);
        });
    });
}

TEST_CASE("the migration lock: a typed timeout naming the holder; released on cancellation", "[migrate]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        co_await with_database("mig_lock", [](const scratch_database& db) -> asio::awaitable<void> {
            auto holder = co_await connect(db.url);
            auto c = co_await connect(db.url);
            auto set = three_tables();
            int64_t key = pgcoro::detail::migration_lock_key("pgcoro_migrations");
            co_await holder.execute("select pg_advisory_lock($1)", key);
            pgcoro::migrate_options opt;
            opt.lock_timeout = std::chrono::milliseconds(400);
            int waits = 0;
            opt.on_event = [&](const pgcoro::migration_event& e) {
                if (e.kind == pgcoro::migration_event::waiting_for_lock) ++waits;
            };
            auto started = std::chrono::steady_clock::now();
            auto e = co_await expect_error(pgcoro::migrate(c, set, opt));
            auto took = std::chrono::steady_clock::now() - started;
            CHECK(e.code() == errc::migration_lock_timeout);
            CHECK(std::string(e.what()).find("backend pid " + std::to_string(holder.backend_pid())) != std::string::npos);
            CHECK(took >= std::chrono::milliseconds(400));
            CHECK(waits == 1);
            CHECK(co_await count(c, "select count(*) from pg_class where relname = 'pgcoro_migrations'") == 0);
            // The holder lets go while we wait: we go on.
            opt.lock_timeout = std::chrono::seconds(30);
            asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(300));
            co_await t.async_wait(asio::use_awaitable);
            auto release = [&]() -> asio::awaitable<void> {
                asio::steady_timer t2(co_await asio::this_coro::executor, std::chrono::milliseconds(300));
                co_await t2.async_wait(asio::use_awaitable);
                co_await holder.execute("select pg_advisory_unlock($1)", key);
            };
            auto report = co_await (pgcoro::migrate(c, set, opt) && release());
            CHECK(report.applied.size() == 3);
            CHECK(report.lock_wait >= std::chrono::milliseconds(200));
            // Cancelled in the middle of a long migration: rolled back, lock released.
            auto slow = set_of(THREE_TABLES, "4_slow.up.sql", "create table slow (id int);\nselect pg_sleep(30);");
            asio::steady_timer deadline(co_await asio::this_coro::executor, std::chrono::milliseconds(500));
            auto winner = co_await (pgcoro::migrate(c, slow) || deadline.async_wait(asio::use_awaitable));
            CHECK(winner.index() == 1);  // the timer: the migration was cancelled
            CHECK(co_await count(holder, "select count(*) from pgcoro_migrations") == 3);
            CHECK(co_await count(holder, "select count(*) from pg_class where relname = 'slow'") == 0);
            CHECK(co_await advisory_locks(holder) == 0);
        });
    });
}

TEST_CASE("down rolls back by steps or to a version; a missing down file stops it first", "[migrate]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        co_await with_database("mig_down", [](const scratch_database& db) -> asio::awaitable<void> {
            auto c = co_await connect(db.url);
            auto set = three_tables();
            co_await pgcoro::migrate(c, set);
            auto one = co_await pgcoro::migrate_down(c, set, 1);
            REQUIRE(one.reverted.size() == 1);
            CHECK(one.reverted[0].file == "3_c.down.sql");
            CHECK(one.version == 2);
            CHECK(co_await count(c, "select count(*) from pg_class where relname = 'c'") == 0);
            auto to = co_await pgcoro::migrate_down_to(c, set, 0);
            CHECK(to.reverted.size() == 2);
            CHECK(!to.version);
            CHECK(co_await count(c, "select count(*) from pgcoro_migrations") == 0);
            co_await pgcoro::migrate(c, set);
            // Version 2 has no down file now: nothing is reverted, not even 3.
            auto no_down = set_of("1_a.up.sql", set.items()[0].up.sql,
                                  "2_b.up.sql", set.items()[1].up.sql,
                                  "3_c.up.sql", set.items()[2].up.sql,
                                  "3_c.down.sql", "drop table c;");
            auto e = co_await expect_error(pgcoro::migrate_down(c, no_down, static_cast<std::size_t>(-1)));
            CHECK(e.code() == errc::migration_missing_down);
            CHECK(std::string(e.what()).find("2_b.up.sql") != std::string::npos);
            CHECK(co_await count(c, "select count(*) from pgcoro_migrations") == 3);
            CHECK(co_await count(c, "select count(*) from pg_class where relname = 'c'") == 1);
            CHECK(co_await advisory_locks(c) == 0);
        });
    });
}

TEST_CASE("no-transaction migrations run statement by statement (CREATE INDEX CONCURRENTLY)", "[migrate]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        co_await with_database("mig_notx", [](const scratch_database& db) -> asio::awaitable<void> {
            auto c = co_await connect(db.url);
            auto set = set_of("1_t.up.sql", "create table t (id int, v text);\ninsert into t select g, 'v' || g from generate_series(1, 20000) g;",
                 "2_idx.up.sql", "-- pgcoro:no-transaction\ncreate index concurrently t_v on t (v);\n"
                                  "create index concurrently t_id on t (id);\n",
                 "2_idx.down.sql", "-- pgcoro:no-transaction\ndrop index concurrently t_v;\ndrop index concurrently t_id;\n");
            auto r = co_await pgcoro::migrate(c, set);
            CHECK(r.applied.size() == 2);
            CHECK(co_await count(c, "select count(*) from pg_index i join pg_class x on x.oid = i.indexrelid "
                                    "where x.relname in ('t_v', 't_id') and i.indisvalid") == 2);
            co_await pgcoro::migrate_down(c, set, 1);
            CHECK(co_await count(c, "select count(*) from pg_class where relname in ('t_v', 't_id')") == 0);
            // The second statement fails: the first stays, the version is not recorded.
            auto bad = set_of("1_t.up.sql", set.items()[0].up.sql,
                 "2_idx.up.sql", "-- pgcoro:no-transaction\ncreate index concurrently if not exists t_v on t (v);\n\n"
                                  "create index concurrently t_id on t (nope);\n");
            auto e = co_await expect_error(pgcoro::migrate(c, bad));
            CHECK(e.sqlstate() == "42703");
            std::string what = e.what();
            INFO(what);
            CHECK(what.find("2_idx.up.sql (statement at line 4): column \"nope\" does not exist") != std::string::npos);
            CHECK(what.find("1 statement(s) before it ran and stay") != std::string::npos);
            CHECK(co_await count(c, "select count(*) from pgcoro_migrations where version = 2") == 0);
            CHECK(co_await advisory_locks(c) == 0);
            auto fixed = set_of("1_t.up.sql", set.items()[0].up.sql,
                 "2_idx.up.sql", "-- pgcoro:no-transaction\ncreate index concurrently if not exists t_v on t (v);\n\n"
                                  "create index concurrently t_id on t (id);\n");
            auto out2 = co_await pgcoro::migrate(c, fixed);
            CHECK(out2.applied.size() == 1);
        });
    });
}

TEST_CASE("seeds run after the migrations, and again only when they change", "[migrate]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        co_await with_database("mig_seed", [](const scratch_database& db) -> asio::awaitable<void> {
            auto c = co_await connect(db.url);
            auto set = set_of("1_kv.up.sql", "create table kv (k text primary key, v int);");
            pgcoro::migrate_options opt;
            opt.seeds = seeds_of("01_a.sql", "insert into kv values ('a', 1) on conflict (k) do update set v = excluded.v;",
                 "02_b.sql", "insert into kv values ('b', 2) on conflict do nothing;");
            auto r = co_await pgcoro::migrate(c, set, opt);
            CHECK(r.applied.size() == 1);
            CHECK(r.seeded.size() == 2);
            auto out3 = co_await pgcoro::migrate(c, set, opt);
            CHECK(out3.seeded.empty());
            opt.seeds = seeds_of("01_a.sql", "insert into kv values ('a', 10) on conflict (k) do update set v = excluded.v;",
                 "02_b.sql", "insert into kv values ('b', 2) on conflict do nothing;");
            auto changed = co_await pgcoro::migrate(c, set, opt);
            REQUIRE(changed.seeded.size() == 1);
            CHECK(changed.seeded[0].file == "01_a.sql");
            CHECK(co_await count(c, "select v::int8 from kv where k = 'a'") == 10);
            CHECK(co_await count(c, "select count(*) from kv") == 2);
            // A failing seed keeps its old checksum: it is tried again next time, not skipped.
            auto failing = seeds_of("01_a.sql", "insert into kv values ('a', 'x');");
            auto e = co_await expect_error(pgcoro::run_seeds(c, failing));
            CHECK(e.sqlstate() == "22P02");
            CHECK(std::string(e.what()).find("01_a.sql") != std::string::npos);
            e = co_await expect_error(pgcoro::run_seeds(c, failing));
            CHECK(e.sqlstate() == "22P02");
            auto out4 = co_await pgcoro::run_seeds(c, opt.seeds);
            CHECK(out4.seeded.empty());
            CHECK(co_await count(c, "select v::int8 from kv where k = 'a'") == 10);
        });
    });
}

TEST_CASE("status and dry runs change nothing", "[migrate]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        co_await with_database("mig_dry", [](const scratch_database& db) -> asio::awaitable<void> {
            auto c = co_await connect(db.url);
            auto set = three_tables();
            auto snapshot = [&]() -> asio::awaitable<std::string> {
                co_return co_await c.query_one<std::string>(
                    "select coalesce(string_agg(relname, ',' order by relname), '') from pg_class "
                    "where relnamespace = 'public'::regnamespace");
            };
            std::string before = co_await snapshot();
            pgcoro::migrate_options dry;
            dry.dry_run = true;
            auto plan = co_await pgcoro::migrate(c, set, dry);
            CHECK(plan.planned.size() == 3);
            CHECK(plan.applied.empty());
            auto st = co_await pgcoro::get_migration_status(c, set);
            REQUIRE(st.size() == 3);
            CHECK(st[0].state == pgcoro::migration_status::pending);
            CHECK(co_await snapshot() == before);  // not even the history table
            pgcoro::migrate_options to1;
            to1.target = 1;
            co_await pgcoro::migrate(c, set, to1);
            auto history = [&]() -> asio::awaitable<std::string> {
                co_return co_await c.query_one<std::string>(
                    "select string_agg(version || name || checksum || applied_at, ',') from pgcoro_migrations");
            };
            std::string h = co_await history();
            std::string after1 = co_await snapshot();
            plan = co_await pgcoro::migrate(c, set, dry);
            CHECK(plan.planned.size() == 2);
            CHECK(plan.version == 1);
            st = co_await pgcoro::get_migration_status(c, set);
            CHECK(st[0].state == pgcoro::migration_status::applied);
            CHECK(st[0].applied_at);
            CHECK(st[1].state == pgcoro::migration_status::pending);
            CHECK(co_await history() == h);
            CHECK(co_await snapshot() == after1);

            // Dry runs of down and of seeds: what would run, nothing run.
            co_await pgcoro::migrate(c, set);
            std::string all = co_await snapshot();
            std::string h3 = co_await history();
            auto down_plan = co_await pgcoro::migrate_down(c, set, 2, dry);
            REQUIRE(down_plan.planned.size() == 2);
            CHECK(down_plan.planned[0].version == 3);
            CHECK(down_plan.planned[0].file == "3_c.down.sql");
            CHECK(down_plan.planned[1].version == 2);
            CHECK(down_plan.applied.empty());
            CHECK(down_plan.version == 3);
            auto to_plan = co_await pgcoro::migrate_down_to(c, set, 0, dry);
            CHECK(to_plan.planned.size() == 3);
            std::vector<pgcoro::sql_file> seed_files(1);  // (no nested braced list: g++ 12)
            seed_files[0].name = "s.sql";
            seed_files[0].content = "insert into c values (1);";
            pgcoro::seed_set seeds = pgcoro::seed_set::from_files(seed_files);
            auto seed_plan = co_await pgcoro::run_seeds(c, seeds, dry);
            REQUIRE(seed_plan.planned.size() == 1);
            CHECK(seed_plan.planned[0].file == "s.sql");
            std::string all_after = co_await snapshot();
            std::string h3_after = co_await history();
            CHECK(all_after == all);
            CHECK(h3_after == h3);
            auto rows = co_await c.query_one<std::int64_t>("select count(*) from c");
            CHECK(rows == 0);
        });
    });
}

TEST_CASE("the reference schema: row-level security keeps tenants apart for a non-superuser", "[migrate]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        co_await with_database("mig_rls", [](const scratch_database& db) -> asio::awaitable<void> {
            auto app = co_await connect(db.app_url);
            REQUIRE_FALSE(co_await app.query_one<bool>("select rolsuper or rolbypassrls from pg_roles where rolname = current_user"));
            pgcoro::migrate_options opt;
            opt.seeds = pgcoro::seed_set::from_directory(reference_seeds_dir());
            auto set = pgcoro::migration_set::from_directory(reference_dir());
            auto r = co_await pgcoro::migrate(app, set, opt);
            CHECK(r.applied.size() == set.size());
            CHECK(r.seeded.size() == opt.seeds.size());
            co_await pgcoro::run_seeds(app, opt.seeds);  // unchanged: runs nothing, and would be idempotent
            CHECK(co_await count(app, "select count(*) from tenants where slug = 'system'") == 1);
            auto a = co_await app.query_one<std::string>("insert into tenants (slug, name) values ('a', 'A') returning id::text");
            auto b = co_await app.query_one<std::string>("insert into tenants (slug, name) values ('b', 'B') returning id::text");
            auto add_user = [&](const std::string& tenant, const std::string& email) -> asio::awaitable<void> {
                co_await app.execute("begin");
                co_await app.execute("select set_config('app.tenant_id', $1, true)", tenant);
                co_await app.execute("insert into users (tenant_id, email) values ($1::uuid, $2)", tenant, email);
                co_await app.execute(
                    "insert into audit_logs (tenant_id, action, resource_type, changes, ip_address) "
                    "values ($1::uuid, 'create', 'user', '{\"email\": true}', '10.0.0.1')",
                    tenant);
                co_await app.execute("commit");
            };
            co_await add_user(a, "x@a.test");
            co_await add_user(b, "y@b.test");
            // No tenant in scope: nothing is visible.
            CHECK(co_await count(app, "select count(*) from users") == 0);
            CHECK(co_await count(app, "select count(*) from audit_logs") == 0);
            co_await app.execute("begin");
            co_await app.execute("select set_config('app.tenant_id', $1, true)", a);
            auto emails = co_await app.query<std::string>("select email from users");
            REQUIRE(emails.size() == 1);
            CHECK(emails[0] == "x@a.test");
            CHECK(co_await count(app, "select count(*) from audit_logs") == 1);
            // Writing into another tenant is refused.
            auto e = co_await expect_error(
                app.execute("insert into users (tenant_id, email) values ($1::uuid, 'z@b.test')", b));
            CHECK(e.sqlstate() == "42501");
            co_await app.execute("rollback");
            // The superuser sees both (so the rows are there).
            auto admin = co_await connect(db.url);
            CHECK(co_await count(admin, "select count(*) from users") == 2);
            // UUIDv7 keys: version 7, in time order.
            auto v = co_await admin.query_one<std::string>("select substr(uuidv7()::text, 15, 1)");
            CHECK(v == "7");
        });
    });
}

#ifdef PGCORO_MIGRATE_CLI

TEST_CASE("CLI: 10 concurrent `up` processes apply every version exactly once", "[migrate][cli]") {
    for (bool concurrent_index : {false, true}) {
        INFO((concurrent_index ? "with CREATE INDEX CONCURRENTLY" : "reference schema"));
        {
            temp_dir dir("pgcoro_mig_cli");
            copy_dir(reference_dir(), dir.path());
            if (concurrent_index) {
                dir.write("20261121000006_fill.up.sql",
                          "insert into tenants (slug, name) values ('big', 'Big');\n"
                          "insert into audit_logs (tenant_id, action, resource_type) "
                          "select (select id from tenants where slug = 'big'), 'a' || (g % 100), 'r' "
                          "from generate_series(1, 50000) g;\n");
                dir.write("20261121000007_audit_action_idx.up.sql",
                          "-- pgcoro:no-transaction\n"
                          "create index concurrently if not exists audit_logs_action_idx on audit_logs (action);\n");
            }
            auto files = pgcoro::migration_set::from_directory(dir.path());
            scratch_database db;
            run([&](asio::io_context&) -> asio::awaitable<void> { db = co_await scratch_database::create("mig_cli"); });
            std::vector<std::unique_ptr<child_process>> procs;
            for (int i = 0; i < 10; ++i) {
                std::vector<std::string> rest = {"--seeds", reference_seeds_dir(), "up"};
                procs.push_back(std::make_unique<child_process>(cli_args(db.url, dir.path().string(), rest)));
            }
            int applied_lines = 0;
            for (auto& p : procs) {
                auto r = p->wait();
                INFO(r.output);
                CHECK(r.code == 0);
                for (std::size_t pos = 0; (pos = r.output.find("applying ", pos)) != std::string::npos; ++pos) ++applied_lines;
            }
            CHECK(applied_lines == static_cast<int>(files.size()));
            run([&](asio::io_context&) -> asio::awaitable<void> {
                auto c = co_await connect(db.url);
                CHECK(co_await count(c, "select count(*) from pgcoro_migrations") == static_cast<int64_t>(files.size()));
                CHECK(co_await count(c, "select count(*) from pgcoro_seeds") == 1);
                CHECK(co_await count(c, "select count(*) from tenants where slug = 'system'") == 1);
                if (concurrent_index)
                    CHECK(co_await count(c, "select count(*) from pg_index i join pg_class x on x.oid = i.indexrelid "
                                            "where x.relname = 'audit_logs_action_idx' and i.indisvalid") == 1);
                CHECK(co_await advisory_locks(c) == 0);
                co_await db.drop();
            });
        }
    }
}

TEST_CASE("CLI: up, down --all, up leaves the schema pg_dump saw the first time", "[migrate][cli]") {
    scratch_database db;
    run([&](asio::io_context&) -> asio::awaitable<void> { db = co_await scratch_database::create("mig_dump"); });
    temp_dir out("pgcoro_mig_dump");
    auto dump = [&](const std::string& name) {
        std::string file = (out.path() / name).string();
        auto r = run_process({pg_dump(), "--schema-only", "--no-password", "--file=" + file, "--dbname=" + db.url});
        INFO(r.output);
        REQUIRE(r.code == 0);
        // Without pg_dump's \restrict / \unrestrict lines: they carry a random key.
        std::ifstream in(file);
        std::string s, line;
        while (std::getline(in, line))
            if (!line.starts_with("\\restrict") && !line.starts_with("\\unrestrict")) s += line + "\n";
        return s;
    };
    auto up = run_process(cli_args(db.url, reference_dir(), {"up"}));
    INFO(up.output);
    REQUIRE(up.code == 0);
    std::string first = dump("first.sql");
    CHECK(first.find("CREATE TABLE public.audit_logs") != std::string::npos);
    CHECK(first.find("CREATE POLICY tenant_isolation ON public.users") != std::string::npos);
    // A dry run of down says what it would revert, newest first, and reverts nothing.
    auto dry_down = run_process(cli_args(db.url, reference_dir(), {"down", "--all", "--dry-run"}));
    INFO(dry_down.output);
    CHECK(dry_down.code == 0);
    CHECK(dry_down.output.find("would revert 20261121000005_audit_logs.down.sql\n"
                               "would revert 20261121000004_action_logs.down.sql") != std::string::npos);
    CHECK(dump("after_dry.sql") == first);
    auto down = run_process(cli_args(db.url, reference_dir(), {"down", "--all"}));
    INFO(down.output);
    REQUIRE(down.code == 0);
    CHECK(down.output.find("reverted 5 migration(s)") != std::string::npos);
    std::string empty = dump("empty.sql");
    CHECK(empty.find("CREATE TABLE public.tenants") == std::string::npos);
    CHECK(empty.find("uuidv7") == std::string::npos);
    REQUIRE(run_process(cli_args(db.url, reference_dir(), {"up"})).code == 0);
    CHECK(dump("second.sql") == first);
    auto redo = run_process(cli_args(db.url, reference_dir(), {"redo"}));
    CHECK(redo.code == 0);
    CHECK(dump("third.sql") == first);
    run([&](asio::io_context&) -> asio::awaitable<void> { co_await db.drop(); });
}

TEST_CASE("CLI: status, verify, new, lock timeout and errors give scriptable exit codes", "[migrate][cli]") {
    scratch_database db;
    run([&](asio::io_context&) -> asio::awaitable<void> { db = co_await scratch_database::create("mig_codes"); });
    temp_dir dir("pgcoro_mig_codes");
    copy_dir(reference_dir(), dir.path());
    std::string d = dir.path().string();

    auto status = run_process(cli_args(db.url, d, {"status", "--exit-code"}));
    CHECK(status.code == 1);
    CHECK(status.output.find("5 pending") != std::string::npos);
    auto dry = run_process(cli_args(db.url, d, {"up", "--dry-run"}));
    CHECK(dry.code == 0);
    CHECK(dry.output.find("would apply 20261121000001_tenants.up.sql") != std::string::npos);
    CHECK(run_process(cli_args(db.url, d, {"status", "--exit-code"})).code == 1);  // still pending
    temp_dir backups("pgcoro_mig_backup");
    auto up = run_process(cli_args(db.url, d, {"up", "--backup-dir", backups.path().string(), "--pg-dump", pg_dump()}));
    INFO(up.output);
    CHECK(up.code == 0);
    CHECK(std::distance(std::filesystem::directory_iterator(backups.path()), std::filesystem::directory_iterator{}) == 1);
    status = run_process(cli_args(db.url, d, {"status", "--exit-code"}));
    CHECK(status.code == 0);
    CHECK(status.output.find("0 pending, 0 drifted") != std::string::npos);
    CHECK(run_process(cli_args(db.url, d, {"verify"})).code == 0);

    // new: a timestamped pair, newer than everything there.
    auto made = run_process(cli_args(db.url, d, {"new", "add_invoices"}));
    CHECK(made.code == 0);
    auto set = pgcoro::migration_set::from_directory(dir.path());
    CHECK(set.size() == 6);
    CHECK(set.items().back().name == "add_invoices");
    CHECK(set.items().back().down);
    CHECK(run_process(cli_args(db.url, d, {"status", "--exit-code"})).code == 1);
    CHECK(run_process(cli_args(db.url, d, {"new", "bad name"})).code == 2);

    // Drift: an applied file edited.
    dir.write("20261121000002_users.down.sql", "drop table users cascade;\n");  // down files may change
    CHECK(run_process(cli_args(db.url, d, {"verify"})).code == 0);
    {
        std::ofstream(dir.path() / "20261121000005_audit_logs.up.sql", std::ios::app) << "-- edited\n";
    }
    auto verify = run_process(cli_args(db.url, d, {"verify"}));
    CHECK(verify.code == 1);
    CHECK(verify.output.find("drift: 20261121000005_audit_logs changed") != std::string::npos);
    auto refused = run_process(cli_args(db.url, d, {"up"}));
    CHECK(refused.code == 3);
    CHECK(refused.output.find("error: refusing to migrate: 20261121000005_audit_logs.up.sql") != std::string::npos);
    CHECK(refused.output.find("terminate") == std::string::npos);

    // Lock held elsewhere: exit 5 after --lock-timeout.
    run([&](asio::io_context&) -> asio::awaitable<void> {
        auto holder = co_await connect(db.url);
        int64_t key = pgcoro::detail::migration_lock_key("pgcoro_migrations");
        co_await holder.execute("select pg_advisory_lock($1)", key);
        auto r = run_process(cli_args(db.url, d, {"--lock-timeout", "0.3", "down"}));
        CHECK(r.code == 5);
        CHECK(r.output.find("held by backend pid") != std::string::npos);
        co_await holder.execute("select pg_advisory_unlock($1)", key);
    });

    // Usage and connection errors; the password never shows.
    CHECK(run_process({cli(), "--dir", d, "status"}, {"DATABASE_URL="}).code == 2);
    CHECK(run_process({cli(), "frobnicate"}).code == 2);
    CHECK(run_process(cli_args(db.url, "/nonexistent/dir", {"status"})).code == 2);
    std::string bad = "postgresql://pgcoro:s3cret-pw@127.0.0.1:1/x";
    auto unreachable = run_process(cli_args(bad, d, {"status"}));
    CHECK(unreachable.code == 4);
    CHECK(unreachable.output.find("s3cret-pw") == std::string::npos);
    CHECK(unreachable.output.find("error: ") != std::string::npos);

    // schema-doc: Markdown from the catalog.
    auto doc = run_process(cli_args(db.url, d, {"schema-doc"}));
    CHECK(doc.code == 0);
    CHECK(doc.output.find("### `users`") != std::string::npos);
    CHECK(doc.output.find("Row-level security: enabled, forced.") != std::string::npos);
    CHECK(doc.output.find("`tenant_isolation` (ALL) using") != std::string::npos);
    CHECK(doc.output.find("FOREIGN KEY (tenant_id) REFERENCES tenants(id)") != std::string::npos);
    CHECK(doc.output.find("`users_tenant_email_key`") != std::string::npos);
    CHECK(doc.output.find("| `action_type` | 'crm', 'helpdesk'") != std::string::npos);
    run([&](asio::io_context&) -> asio::awaitable<void> { co_await db.drop(); });
}

#endif  // PGCORO_MIGRATE_CLI

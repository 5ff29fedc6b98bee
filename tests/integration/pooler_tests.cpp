// Through a real PgBouncer (Debian's pgbouncer, started by scripts/pg-cluster.sh) in
// front of the fixture's cluster: transaction pooling with pool_config::pooler_safe, and
// what needs a session.
#include "support.hpp"

using namespace pgtest;
using pgcoro::errc;
using namespace std::chrono_literals;

namespace {

own_cluster& transaction_bouncer() {
    static own_cluster b(bouncer_for, PGCORO_TEST_STATE_DIR, "transaction");
    return b;
}

own_cluster& session_bouncer() {
    static own_cluster b(bouncer_for, PGCORO_TEST_STATE_DIR, "session");
    return b;
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

}  // namespace

TEST_CASE("transaction pooling: pipelined statements, transactions and tenant settings stay right (pooler_safe)",
          "[pgbouncer]") {
    own_cluster& b = transaction_bouncer();
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto cfg = pgcoro::pool_config::from_url(b.url);
        cfg.pooler_safe = true;
        cfg.min_size = 4;
        cfg.max_size = 4;  // four client connections over PgBouncer's two server connections
        pgcoro::pool db(io.get_executor(), cfg);
        co_await db.wait_ready(10s);

        // Pipelined load: 128 callers share four connections; PgBouncer moves each one's
        // statements between server connections as they come.
        long wrong = 0, failed = 0, done = 0;
        int left = 128;
        std::string first_error;
        for (int w = 0; w < 128; ++w)
            asio::co_spawn(io, [&, w]() -> asio::awaitable<void> {
                for (int i = 0; i < 40; ++i) {
                    std::int64_t v = w * 1000 + i;
                    try {
                        // Two statement texts, parameters, a text result: unnamed statements only.
                        auto got = co_await db.query_one<std::int64_t>(i % 2 ? "select $1::int8 + 1" : "select $1::int8 + 1 as x", v);
                        auto txt = co_await db.query_one<std::string>("select $1::text", std::to_string(v));
                        wrong += got != v + 1 || txt != std::to_string(v);
                        ++done;
                    } catch (const pgcoro::error& e) {
                        if (first_error.empty()) first_error = e.what();
                        ++failed;
                    }
                }
            }, [&](std::exception_ptr) { --left; });
        while (left > 0) co_await pause(10ms);
        INFO("first error: " << first_error);
        CHECK(failed == 0);
        CHECK(wrong == 0);
        CHECK(done == 128 * 40);

        // Concurrent tenant transactions: each sees its own transaction-scoped setting,
        // and none leaks into what runs after.
        int tx_left = 16, mismatched = 0;
        for (int t = 0; t < 16; ++t)
            asio::co_spawn(io, [&, t]() -> asio::awaitable<void> {
                pgcoro::transaction_options o;
                o.settings.emplace_back("app.tenant", "tenant-" + std::to_string(t));
                std::string seen = co_await db.transaction([&](pgcoro::transaction& tx) -> asio::awaitable<std::string> {
                    co_await tx.execute("select pg_sleep(0.01)");
                    co_return co_await tx.query_one<std::string>("select current_setting('app.tenant')");
                }, o);
                mismatched += seen != "tenant-" + std::to_string(t);
            }, [&](std::exception_ptr e) {
                if (e) ++mismatched;
                --tx_left;
            });
        while (tx_left > 0) co_await pause(10ms);
        CHECK(mismatched == 0);
        for (int i = 0; i < 8; ++i) {
            auto leaked = co_await db.query_one<std::optional<std::string>>("select nullif(current_setting('app.tenant', true), '')");
            CHECK_FALSE(leaked);
        }

        // An error inside a transaction rolls it back; the connection goes on.
        auto e = co_await expect_error(db.transaction([&](pgcoro::transaction& tx) -> asio::awaitable<void> {
            co_await tx.execute("select 1/0");
        }));
        CHECK(pgcoro::sqlstate_of(e.code()) == "22012");
        auto one = co_await db.query_one<std::int32_t>("select 1");
        CHECK(one == 1);
        db.close();
    }, 120s);
}

TEST_CASE("session pooling needs nothing special: prepared statements and session advisory locks work",
          "[pgbouncer]") {
    own_cluster& b = session_bouncer();
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto cfg = pgcoro::pool_config::from_url(b.url);
        cfg.min_size = 2;
        cfg.max_size = 2;
        pgcoro::pool db(io.get_executor(), cfg);
        for (int i = 0; i < 200; ++i) {
            auto v = co_await db.query_one<std::int64_t>("select $1::int8 * 2", std::int64_t{i});
            CHECK(v == 2 * i);
        }
        db.close();
        auto conn = co_await pgcoro::connection::connect(io.get_executor(), b.url);
        co_await conn.execute_script("select pg_advisory_lock(4242)");
        auto held = co_await conn.query_one<bool>(
            "select exists(select 1 from pg_locks where locktype = 'advisory' and objid = 4242 and pid = pg_backend_pid())");
        CHECK(held);
        co_await conn.execute_script("select pg_advisory_unlock(4242)");
    });
}

TEST_CASE("the migrator through transaction pooling stops with a clear error when its session moves",
          "[pgbouncer][migrate]") {
    own_cluster& b = transaction_bouncer();
    const std::string table = unique_name("bounced"), history = unique_name("bounced_history");
    // A second client of the same PgBouncer pool: right after the migrator took its lock, it
    // opens a transaction and so takes the server connection that holds the lock (PgBouncer
    // hands out the most recently used one first).
    PGconn* other = PQconnectdb(b.url.c_str());
    REQUIRE(PQstatus(other) == CONNECTION_OK);
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        pgcoro::connect_options co;
        co.pooler_safe = true;
        auto conn = co_await pgcoro::connection::connect(io.get_executor(), b.url, co);
        std::vector<pgcoro::sql_file> files;
        files.push_back(pgcoro::sql_file{"1_t.up.sql", "create table " + table + " (id int);"});
        auto set = pgcoro::migration_set::from_files(files);
        pgcoro::migrate_options opt;
        opt.history_table = history;
        opt.on_event = [&](const pgcoro::migration_event& e) {
            if (e.kind == pgcoro::migration_event::locked) PQclear(PQexec(other, "begin; select 1"));
        };
        auto e = co_await expect_error(pgcoro::migrate(conn, set, opt));
        CHECK(e.code() == pgcoro::make_error_code(errc::invalid_config));
        CHECK(std::string(e.what()).find("transaction-pooling proxy") != std::string::npos);
    });
    PQclear(PQexec(other, "rollback"));
    PQfinish(other);
    run([&](asio::io_context&) -> asio::awaitable<void> {
        auto direct = co_await connect();
        auto applied = co_await direct.query_one<bool>("select to_regclass($1) is not null", table);
        CHECK_FALSE(applied);  // nothing was applied
        // The lock was not left behind in PgBouncer's server connection: the migrator
        // ended that server session.
        auto left_locked = co_await direct.query_one<std::int64_t>(
            "select count(*) from pg_locks where locktype = 'advisory' and "
            "database = (select oid from pg_database where datname = current_database())");
        CHECK(left_locked == 0);
        co_await direct.execute_script("drop table if exists " + history + "; drop table if exists " + history +
                                       "_seeds");
    });
}

TEST_CASE("without pooler_safe, transaction pooling breaks named statements, and the error says what to set",
          "[pgbouncer]") {
    own_cluster& b = transaction_bouncer();
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto cfg = pgcoro::pool_config::from_url(b.url);
        cfg.min_size = 4;
        cfg.max_size = 4;
        pgcoro::pool db(io.get_executor(), cfg);
        co_await db.wait_ready(10s);
        long failed = 0, hinted = 0;
        int left = 64;
        for (int w = 0; w < 64; ++w)
            asio::co_spawn(io, [&, w]() -> asio::awaitable<void> {
                for (int i = 0; i < 20; ++i) {
                    try {
                        // Statements of different texts get the same names on different
                        // client connections: PgBouncer mixes them on its server connections.
                        if ((w + i) % 2) (void)co_await db.query_one<std::int64_t>("select $1::int8 + 2", std::int64_t{i});
                        else (void)co_await db.query_one<std::string>("select $1::text || 'x'", std::to_string(i));
                    } catch (const pgcoro::error& e) {
                        ++failed;
                        hinted += std::string(e.what()).find("pooler_safe") != std::string::npos;
                    }
                }
            }, [&](std::exception_ptr) { --left; });
        while (left > 0) co_await pause(10ms);
        INFO(failed << " failed, " << hinted << " of them naming pooler_safe");
        CHECK(failed > 0);
        CHECK(hinted > 0);
        db.close();
    }, 120s);
}

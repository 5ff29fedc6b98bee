// The engine against a real server: every Asio completion style, diagnostics without
// exceptions, and cancellation storms that must never fail a statement nobody cancelled.
#include "support.hpp"

#include <boost/asio/experimental/promise.hpp>
#include <boost/asio/experimental/use_promise.hpp>

#include <future>
#include <random>
#include <thread>

using namespace pgtest;
using pgcoro::statement;
using pgcoro::errc;

namespace {

/// One connection made on `io` (blocking the test thread, not the io_context).
pgcoro::connection connect_blocking(asio::io_context& io) {
    std::optional<pgcoro::connection> c;
    std::exception_ptr failure;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { c.emplace(co_await connect()); },
                   [&](std::exception_ptr e) { failure = e; });
    io.run();
    io.restart();
    if (failure) std::rethrow_exception(failure);
    return std::move(*c);
}

}  // namespace

TEST_CASE("completion styles: callbacks, with results and with diagnostics", "[tokens]") {
    asio::io_context io;
    auto conn = connect_blocking(io);
    int value = 0;
    boost::system::error_code got_ec;
    pgcoro::diagnostics diag;
    std::vector<int> rows;
    conn.async_query_one<int>(statement("select $1::int + 1", 41), [&](boost::system::error_code ec, int v) {
        got_ec = ec;
        value = v;
    });
    conn.async_query<int>(statement("select generate_series(1, $1::int)", 3),
                          [&](boost::system::error_code, std::vector<int> v) { rows = std::move(v); });
    boost::system::error_code err;
    conn.async_execute(statement("select * from no_such_table_here"), diag,
                       [&](boost::system::error_code ec, std::uint64_t) { err = ec; });
    io.run();
    CHECK(!got_ec);
    CHECK(value == 42);
    CHECK(rows == std::vector<int>{1, 2, 3});
    CHECK(err == pgcoro::make_sqlstate_error("42P01"));
    CHECK(diag.sqlstate == "42P01");
    CHECK(diag.message.find("no_such_table_here") != std::string::npos);
    REQUIRE(diag.position);
    CHECK(*diag.position == 15);
}

TEST_CASE("completion styles: use_future from another thread", "[tokens]") {
    asio::io_context io;
    auto conn = connect_blocking(io);
    auto work = asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    std::future<std::string> f = conn.async_query_one<std::string>(statement("select $1::text", "hello"), asio::use_future);
    CHECK(f.get() == "hello");
    auto bad = conn.async_query_one<int>(statement("select 1/0"), asio::use_future);
    try {
        bad.get();
        FAIL("expected division_by_zero");
    } catch (const boost::system::system_error& e) {
        CHECK(e.code() == pgcoro::make_sqlstate_error("22012"));
    }
    std::future<std::optional<int>> none = conn.async_query_opt<int>(statement("select 1 where false"), asio::use_future);
    CHECK(!none.get());
    auto closed = conn.async_close(asio::use_future);
    closed.get();
    work.reset();
    runner.join();
    CHECK(!conn.is_open());
}

TEST_CASE("completion styles: deferred, as_tuple, redirect_error, detached, use_promise", "[tokens]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto conn = co_await connect();
        std::string table = unique_name("tokens");
        co_await conn.execute("create temp table " + table + " (x int)");

        // deferred: nothing runs until the deferred operation is awaited.
        auto op = conn.async_execute(statement("insert into " + table + " values ($1)", 1), asio::deferred);
        CHECK(co_await conn.query_one<std::int64_t>("select count(*) from " + table) == 0);
        std::uint64_t n = co_await std::move(op)(asio::use_awaitable);
        CHECK(n == 1);

        // as_tuple with diagnostics: no exception, the server's fields all there.
        pgcoro::diagnostics d;
        auto [ec, v] = co_await conn.async_query_one<int>(
            statement("insert into " + table + " values ($1) returning x", std::optional<int>()), d,
            asio::as_tuple(asio::use_awaitable));
        CHECK(ec == pgcoro::make_error_code(errc::unexpected_null));  // decoding errors are error_codes too
        CHECK(v == 0);
        CHECK(!d.message.empty());
        auto [ec2, v2] = co_await conn.async_query_one<std::int64_t>(
            statement("select count(*) from " + table + " where x = $1", 1), d, asio::as_tuple(asio::use_awaitable));
        CHECK(!ec2);
        CHECK(v2 == 1);
        CHECK(d.message.empty());  // cleared on success
        auto [ec3, v3] = co_await conn.async_query_one<int>(statement("select 1 from " + table + " where x = 'a'"), d,
                                                            asio::as_tuple(asio::use_awaitable));
        CHECK(ec3 == pgcoro::make_sqlstate_error("22P02"));
        CHECK(d.sqlstate == "22P02");
        CHECK(d.severity == "ERROR");
        CHECK(d.position.has_value());
        (void)v3;

        // redirect_error
        boost::system::error_code rec;
        co_await conn.async_query_one<int>(statement("select 1 where false"), asio::redirect_error(asio::use_awaitable, rec));
        CHECK(rec == pgcoro::make_error_code(errc::no_rows));

        // detached: fire and forget; a later statement on the same connection sees it.
        conn.async_execute(statement("insert into " + table + " values (7)"), asio::detached);
        CHECK(co_await conn.query_one<std::int64_t>("select count(*) from " + table + " where x = 7") == 1);

        // experimental::use_promise: started at once, awaited later.
        auto p = conn.async_query_one<int>(statement("select 12345"), asio::experimental::use_promise);
        auto ps = conn.async_query_one<std::string>(statement("select 'promised'"), asio::experimental::use_promise);
        auto [pec, pv] = co_await p(asio::as_tuple(asio::use_awaitable));
        CHECK(!pec);
        CHECK(pv == 12345);
        // Boost 1.81's promise hands a waiter that attached before completion moved-from
        // values (README): await a string-valued promise once it is done. The pipeline
        // keeps order, so after the next statement it is.
        co_await conn.query_one<int>("select 1");
        std::string sv = co_await ps(asio::use_awaitable);
        CHECK(sv == "promised");

        // Scripts, batches, results.
        auto [sec, srows] = co_await conn.async_execute_script("insert into " + table + " values (8); insert into " +
                                                                   table + " values (9)",
                                                               asio::as_tuple(asio::use_awaitable));
        CHECK(!sec);
        CHECK(srows == 1);
        pgcoro::diagnostics bd;
        std::vector<std::string> batch{"select 1", "select nope", "select 2"};  // a local: see README, g++ 12
        auto [bec] = co_await conn.async_execute_batch(std::move(batch), bd,
                                                       asio::as_tuple(asio::use_awaitable));
        CHECK(bec == pgcoro::make_sqlstate_error("42703"));
        CHECK(bd.sqlstate == "42703");
        auto [rec2, res] = co_await conn.async_query_result(statement("select x from " + table + " order by x"),
                                                            asio::as_tuple(asio::use_awaitable));
        CHECK(!rec2);
        CHECK(res.rows() == 5);

        // A statement is used once.
        statement s("select 1");
        co_await conn.async_execute(std::move(s), asio::use_awaitable);
        auto [uec, un] = co_await conn.async_execute(std::move(s), asio::as_tuple(asio::use_awaitable));
        CHECK(uec == pgcoro::make_error_code(errc::encode_error));
        (void)un;
    });
}

TEST_CASE("async_connect: any token, errors with diagnostics, no password", "[tokens][connect]") {
    asio::io_context io;
    std::optional<pgcoro::connection> got;
    boost::system::error_code ok_ec;
    pgcoro::connection::async_connect(io.get_executor(), url(), pgcoro::connect_options(),
                                      [&](boost::system::error_code ec, pgcoro::connection c) {
                                          ok_ec = ec;
                                          got.emplace(std::move(c));
                                      });
    pgcoro::diagnostics d;
    boost::system::error_code bad_ec;
    pgcoro::connection::async_connect(io.get_executor(), "host=127.0.0.1 port=1 password=hunter2 connect_timeout=5",
                                      pgcoro::connect_options(), d,
                                      [&](boost::system::error_code ec, pgcoro::connection c) {
                                          bad_ec = ec;
                                          CHECK(!c.is_open());
                                      });
    io.run();
    CHECK(!ok_ec);
    REQUIRE(got);
    CHECK(got->is_open());
    CHECK(bad_ec == pgcoro::make_error_code(errc::connect_failed));
    CHECK(!d.message.empty());
    CHECK(d.message.find("hunter2") == std::string::npos);
}

TEST_CASE("pool and transaction take the same token forms", "[tokens][pool]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        pgcoro::pool_config cfg;
        cfg.conninfo = url();
        cfg.max_size = 2;
        pgcoro::pool db(io.get_executor(), cfg);
        auto [ec, v] = co_await db.async_query_one<int>(statement("select $1::int * 2", 21), asio::as_tuple(asio::use_awaitable));
        CHECK(!ec);
        CHECK(v == 42);
        pgcoro::diagnostics d;
        auto [ec2, rows] = co_await db.async_query<int>(statement("select nope"), d, asio::as_tuple(asio::use_awaitable));
        CHECK(ec2 == pgcoro::make_sqlstate_error("42703"));
        CHECK(d.message.find("nope") != std::string::npos);
        CHECK(rows.empty());
        bool called = false, done = false;
        db.async_execute(statement("select 1"), [&](boost::system::error_code e, std::uint64_t) {
            called = !e;
            done = true;
        });
        co_await db.transaction([&](pgcoro::transaction& tx) -> asio::awaitable<void> {
            auto [tec, tv] = co_await tx.async_query_one<std::string>(statement("select coalesce(current_setting('app.x', true), '')"),
                                                                      asio::as_tuple(asio::use_awaitable));
            CHECK(!tec);
            CHECK(tv == "");
            auto r = co_await tx.async_query_result(statement("select 1"), asio::use_awaitable);
            CHECK(r.rows() == 1);
        });
        // The callback's statement may still run on the other connection (the transaction
        // need not wait for it); it refers to this frame, so wait for it.
        asio::steady_timer timer(io);
        while (!done) {
            timer.expires_after(std::chrono::milliseconds(5));
            co_await timer.async_wait(asio::use_awaitable);
        }
        CHECK(called);
        db.close();
    });
}

TEST_CASE("pool: acquire and helpers in every completion style, from another thread", "[tokens][pool]") {
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread runner([&] { io.run(); });
    struct joiner {  // a failed REQUIRE must not leave the thread joinable
        asio::io_context& io;
        std::thread& t;
        ~joiner() {
            if (t.joinable()) io.stop(), t.join();
        }
    } join_runner{io, runner};
    pgcoro::pool_config cfg;
    cfg.conninfo = url();
    cfg.max_size = 2;
    pgcoro::pool db(io.get_executor(), cfg);
    // use_future, waited on here (not an io_context thread).
    CHECK(db.async_query_one<int>(statement("select $1::int", 5), asio::use_future).get() == 5);
    {
        pgcoro::pooled_connection c = db.async_acquire(asio::use_future).get();
        REQUIRE(c);
        CHECK(c->async_query_one<int>(statement("select 6"), asio::use_future).get() == 6);
        c.return_without_reset();
        CHECK_FALSE(c);
    }
    // deferred, launched later with another token.
    auto op = db.async_query_one<std::string>(statement("select 'later'"), asio::deferred);
    CHECK(std::move(op)(asio::use_future).get() == "later");
    // A plain callback holding the connection it was given.
    std::promise<int> got;
    db.async_acquire([&](boost::system::error_code ec, pgcoro::pooled_connection c) {
        if (ec) return got.set_value(-1);
        auto* conn = &*c;
        conn->async_query_one<int>(statement("select 7"), [&, c = std::move(c)](boost::system::error_code e, int v) mutable {
            c.release();
            got.set_value(e ? -2 : v);
        });
    });
    CHECK(got.get_future().get() == 7);
    // Errors without exceptions: a timeout says who waited.
    cfg.max_size = 1;
    cfg.min_size = 0;
    cfg.acquire_timeout = std::chrono::milliseconds(200);
    pgcoro::pool small(io.get_executor(), cfg);
    auto held = small.async_acquire(asio::use_future).get();
    pgcoro::diagnostics d;
    std::promise<boost::system::error_code> timed_out;
    small.async_acquire(d, [&](boost::system::error_code ec, pgcoro::pooled_connection) { timed_out.set_value(ec); });
    CHECK(timed_out.get_future().get() == pgcoro::make_error_code(pgcoro::errc::pool_timeout));
    CHECK(d.message.find("waiting for a connection") != std::string::npos);
    held.release();
    small.close();
    db.close();
    work.reset();
    runner.join();
}

namespace {

struct storm_counts {
    int cancelled = 0;        ///< completed with operation_aborted after we cancelled
    int finished = 0;         ///< completed before the deadline
    int wrong = 0;            ///< any error reaching a caller that did not cancel
    std::string first_wrong;
};

/// A caller's deadline: the timer's handler shares it. (A named type: g++ 12 crashes on a
/// local struct inside a coroutine.)
struct deadline_state {
    asio::cancellation_signal signal;
    bool emitted = false;
};

/// One caller: a statement with a random deadline (0-40 ms; some statements sleep), then
/// one without a deadline that must succeed. `run_one(stmt, token)` starts a statement.
template <class RunOne>
asio::awaitable<void> storm_caller(RunOne run_one, int iterations, unsigned seed, storm_counts& counts) {
    std::mt19937 rng(seed);
    auto ex = co_await asio::this_coro::executor;
    for (int i = 0; i < iterations; ++i) {
        int deadline_ms = std::uniform_int_distribution<int>(0, 40)(rng);
        bool slow = std::uniform_int_distribution<int>(0, 9)(rng) == 0;
        // The timer's handler may run after this iteration: it owns what it touches.
        auto st = std::make_shared<deadline_state>();
        asio::steady_timer timer(ex);
        timer.expires_after(std::chrono::milliseconds(deadline_ms));
        timer.async_wait([st](boost::system::error_code ec) {
            if (ec) return;
            st->emitted = true;
            st->signal.emit(asio::cancellation_type::terminal);
        });
        statement s = slow ? statement("select pg_sleep(0.02)::text || $1::text", i) : statement("select $1::text", i);
        auto [ec, v] = co_await run_one(std::move(s), asio::bind_cancellation_slot(st->signal.slot(), asio::as_tuple(asio::use_awaitable)));
        timer.cancel();
        if (ec == asio::error::operation_aborted && st->emitted) {
            ++counts.cancelled;
        } else if (ec) {
            if (counts.wrong++ == 0) counts.first_wrong = ec.message();
        } else {
            ++counts.finished;
            if (!slow && v != std::to_string(i) && counts.wrong++ == 0) counts.first_wrong = "wrong value " + v;
        }
        auto [ec2, v2] = co_await run_one(statement("select $1::text", -i), asio::as_tuple(asio::use_awaitable));
        if ((ec2 || v2 != std::to_string(-i)) && counts.wrong++ == 0) counts.first_wrong = "follow-up: " + ec2.message();
    }
}

/// Statements still running on the server that a storm started.
asio::awaitable<std::int64_t> leftover_sleeps(pgcoro::connection& observer) {
    // Cancel requests are asynchronous: give them a moment to land.
    auto ex = co_await asio::this_coro::executor;
    for (int tries = 0; tries < 50; ++tries) {
        auto n = co_await observer.query_one<std::int64_t>(
            "select count(*) from pg_stat_activity where state = 'active' and query like 'select pg_sleep(0.02)%'");
        if (n == 0) co_return 0;
        asio::steady_timer t(ex);
        t.expires_after(20ms);
        co_await t.async_wait(asio::use_awaitable);
    }
    co_return -1;
}

}  // namespace

/// `callers` storm callers at once through run_one; checks that nobody who did not
/// cancel saw an error, and that no cancelled statement still runs on the server.
template <class RunOne>
asio::awaitable<storm_counts> storm(RunOne run_one, unsigned seed_base) {
    constexpr int callers = 40, iterations = 50;
    auto ex = co_await asio::this_coro::executor;
    auto watcher = co_await connect();
    storm_counts counts;
    int done = 0;
    for (int c = 0; c < callers; ++c)
        asio::co_spawn(ex, storm_caller(run_one, iterations, seed_base + c, counts), [&](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
            ++done;
        });
    asio::steady_timer t(ex);
    while (done < callers) {
        t.expires_after(10ms);
        co_await t.async_wait(asio::use_awaitable);
    }
    INFO("first wrong outcome: " << counts.first_wrong);
    CHECK(counts.wrong == 0);
    CHECK(counts.cancelled + counts.finished == callers * iterations);
    CHECK(co_await leftover_sleeps(watcher) == 0);
    co_return counts;
}

TEST_CASE("cancellation storm on one connection never fails a statement nobody cancelled", "[cancel][storm]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto conn = co_await connect();
        auto run_one = [&](statement s, auto token) { return conn.async_query_one<std::string>(std::move(s), token); };
        storm_counts counts = co_await storm(run_one, 1000u);
        CHECK(counts.cancelled > 0);
        UNSCOPED_INFO("one connection: " << counts.cancelled << " cancelled, " << counts.finished << " finished, "
                                         << conn.cancel_resends() << " sent again after a stray cancel");
        CHECK(co_await conn.query_one<int>("select 1") == 1);
        CHECK(conn.in_flight() == 0);
    }, 300s);
}

/// The storm through a pool of 3 connections at `depth` (0: the default, shared).
asio::awaitable<void> pool_storm(std::size_t depth) {
    pgcoro::pool_config cfg;
    cfg.conninfo = url();
    cfg.max_size = 3;
    if (depth) cfg.pipeline_depth = depth;
    pgcoro::pool db(co_await asio::this_coro::executor, cfg);
    auto run_one = [&](statement s, auto token) { return db.async_query_one<std::string>(std::move(s), token); };
    co_await storm(run_one, 2000u);
    CHECK(co_await db.query_one<int>("select 1") == 1);
    db.close();
}

TEST_CASE("cancellation storm through a pool never fails a statement nobody cancelled", "[cancel][storm][pool]") {
    // Each statement on a connection of its own.
    run([](asio::io_context&) -> asio::awaitable<void> { co_await pool_storm(1); }, 300s);
}

// Statements of many callers share each connection: a cancel meant for one lands on
// another's statement far more often than on a connection of its own.
TEST_CASE("cancellation storm through a pool sharing connections", "[cancel][storm][pool]") {
    run([](asio::io_context&) -> asio::awaitable<void> { co_await pool_storm(0); }, 300s);
}

TEST_CASE("a cancelled batch and a cancelled close", "[cancel][tokens]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        auto conn = co_await connect();
        asio::cancellation_signal sig;
        asio::steady_timer t(io);
        t.expires_after(50ms);
        t.async_wait([&](boost::system::error_code) { sig.emit(asio::cancellation_type::terminal); });
        std::vector<std::string> sleeps{"select pg_sleep(5)", "select pg_sleep(5)"};
        auto [ec] = co_await conn.async_execute_batch(std::move(sleeps),
                                                      asio::bind_cancellation_slot(sig.slot(), asio::as_tuple(asio::use_awaitable)));
        CHECK(ec == asio::error::operation_aborted);
        CHECK(co_await conn.query_one<int>("select 7") == 7);  // still usable

        // close() waits for what is in flight; cancelling the wait closes at once.
        boost::system::error_code pending_ec;
        bool pending_done = false;
        conn.async_query_one<int>(statement("select 1 from pg_sleep(5)"), [&](boost::system::error_code e, int) {
            pending_ec = e;
            pending_done = true;
        });
        asio::cancellation_signal csig;
        t.expires_after(50ms);
        t.async_wait([&](boost::system::error_code) { csig.emit(asio::cancellation_type::terminal); });
        auto [cec] = co_await conn.async_close(asio::bind_cancellation_slot(csig.slot(), asio::as_tuple(asio::use_awaitable)));
        CHECK(cec == asio::error::operation_aborted);
        CHECK(!conn.is_open());
        t.expires_after(10ms);
        co_await t.async_wait(asio::use_awaitable);
        CHECK(pending_done);
        CHECK(pending_ec == pgcoro::make_error_code(errc::connection_closed));
    });
}

TEST_CASE("a service file's host name is resolved without blocking, within the timeout", "[connect]") {
    // The test cluster's URL: postgresql://user:password@127.0.0.1:port/db
    std::string u = url();
    std::string rest = u.substr(u.find("://") + 3);
    std::string userinfo = rest.substr(0, rest.rfind('@'));
    std::string hostport = rest.substr(rest.rfind('@') + 1);
    std::string db = hostport.substr(hostport.find('/') + 1);
    hostport = hostport.substr(0, hostport.find('/'));
    std::string port = hostport.substr(hostport.find(':') + 1);
    temp_dir dir("pgcoro_service");
    dir.write("pg_service.conf", "# test\n[pgcoro_test]\nhost=localhost\nport=" + port + "\nuser=" +
                                     userinfo.substr(0, userinfo.find(':')) + "\npassword=" +
                                     userinfo.substr(userinfo.find(':') + 1) + "\ndbname=" + db + "\n");
    std::string file = (dir.path() / "pg_service.conf").string();
    ::setenv("PGSERVICEFILE", file.c_str(), 1);
    try {
        run([](asio::io_context&) -> asio::awaitable<void> {
            auto c = co_await connect("service=pgcoro_test");
            CHECK(co_await c.query_one<int>("select 5") == 5);
            // A name that never resolves in time: the connect timeout covers resolution.
            pgcoro::connect_options o;
            o.connect_timeout = std::chrono::milliseconds(1);
            auto ex = co_await asio::this_coro::executor;
            auto e = co_await expect_error(pgcoro::connection::connect(ex, "service=pgcoro_test host=localhost", o));
            bool timed_out_or_failed = e.code() == pgcoro::make_error_code(errc::connect_timeout) ||
                                       e.code() == pgcoro::make_error_code(errc::connect_failed);
            CHECK(timed_out_or_failed);
        });
    } catch (...) {
        ::unsetenv("PGSERVICEFILE");
        throw;
    }
    ::unsetenv("PGSERVICEFILE");
}

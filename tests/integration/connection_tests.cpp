// The connection against a real server: connect, types, errors, pipelining, cancellation,
// threads, notices, close.
#include "support.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <cmath>
#include <limits>
#include <thread>

using namespace pgtest;
using namespace boost::asio::experimental::awaitable_operators;
using pgcoro::errc;
using std::int16_t;
using std::int32_t;
using std::int64_t;

namespace {

std::string with_password(const std::string& u, const std::string& pw) {
    // postgresql://user:PASS@host... -> replace PASS
    auto start = u.find(':', u.find("://") + 3) + 1;
    auto end = u.find('@', start);
    return u.substr(0, start) + pw + u.substr(end);
}

std::string port_of(const std::string& u) {
    auto at = u.find('@');
    auto colon = u.find(':', at);
    return u.substr(colon + 1, u.find('/', colon) - colon - 1);
}

}  // namespace

TEST_CASE("connect with a URL and with key=value", "[connect]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        CHECK(c.is_open());
        CHECK(c.backend_pid() > 0);
        CHECK(c.server_version() >= 140000);
        std::string u = url();
        // key=value form, same server, password from the URL.
        auto user_start = u.find("://") + 3;
        auto user = u.substr(user_start, u.find(':', user_start) - user_start);
        auto pw_start = u.find(':', user_start) + 1;
        auto pw = u.substr(pw_start, u.find('@') - pw_start);
        std::string kv = "host=127.0.0.1 port=" + port_of(u) + " user=" + user + " password='" + pw +
                         "' dbname=postgres application_name=pgcoro_test";
        auto ex = co_await asio::this_coro::executor;
        auto c2 = co_await pgcoro::connection::connect(ex, kv);
        auto name = co_await c2.query_one<std::string>("select current_setting('application_name')");
        CHECK(name == "pgcoro_test");
        // A host name goes through Asio's resolver, not libpq's blocking lookup.
        std::string by_name = u;
        by_name.replace(by_name.find("127.0.0.1"), 9, "localhost");
        auto c3 = co_await pgcoro::connection::connect(ex, by_name);
        auto one = co_await c3.query_one<int32_t>("select 1");
        CHECK(one == 1);
    });
}

TEST_CASE("a wrong password fails with libpq's message and never shows the password", "[connect]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        std::string secret = "Sup3rSecretPw";
        auto e = co_await expect_error(connect(with_password(url(), secret)));
        CHECK(e.code() == pgcoro::make_error_code(errc::connect_failed));
        std::string what = e.what();
        CHECK(what.find("password authentication failed") != std::string::npos);
        CHECK(what.find(secret) == std::string::npos);
        // A malformed URL that carries a password is reported without it.
        auto e2 = co_await expect_error(connect("postgresql://u:" + secret + "%zz@127.0.0.1:1/db"));
        CHECK(e2.code() == pgcoro::make_error_code(errc::invalid_conninfo));
        CHECK(std::string(e2.what()).find(secret) == std::string::npos);
    });
}

TEST_CASE("an unreachable server fails fast with connect_failed", "[connect]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        // A port nobody listens on: take a free one and close it again.
        unsigned short port;
        {
            asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
            port = a.local_endpoint().port();
        }
        auto t0 = std::chrono::steady_clock::now();
        auto e = co_await expect_error(
            connect("postgresql://nobody:pw@127.0.0.1:" + std::to_string(port) + "/x"));
        CHECK(e.code() == pgcoro::make_error_code(errc::connect_failed));
        CHECK(std::string(e.what()).find("127.0.0.1") != std::string::npos);
        CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    });
}

TEST_CASE("connect timeout: a server that accepts but never answers", "[connect]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        // A listening socket that is never accepted: TCP completes in the backlog, then
        // the startup packet gets no answer.
        asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
        std::string port = std::to_string(silent.local_endpoint().port());
        auto ex = co_await asio::this_coro::executor;
        pgcoro::connect_options opts;
        opts.connect_timeout = 300ms;
        auto t0 = std::chrono::steady_clock::now();
        auto e = co_await expect_error(
            pgcoro::connection::connect(ex, "postgresql://u:pw@127.0.0.1:" + port + "/x", opts));
        auto took = std::chrono::steady_clock::now() - t0;
        CHECK(e.code() == pgcoro::make_error_code(errc::connect_timeout));
        CHECK(took >= 290ms);
        CHECK(took < 1500ms);
        // libpq's own connect_timeout parameter (seconds, minimum 2) is honoured too.
        t0 = std::chrono::steady_clock::now();
        auto e2 = co_await expect_error(pgcoro::connection::connect(
            ex, "host=127.0.0.1 port=" + port + " user=u password=pw connect_timeout=2"));
        took = std::chrono::steady_clock::now() - t0;
        CHECK(e2.code() == pgcoro::make_error_code(errc::connect_timeout));
        CHECK(took >= 1900ms);
        CHECK(took < 3500ms);
        // Cancelled while the server says nothing: operation_aborted, at once.
        asio::cancellation_signal sig;
        asio::steady_timer later(io, 100ms);
        later.async_wait([&](boost::system::error_code) { sig.emit(asio::cancellation_type::terminal); });
        t0 = std::chrono::steady_clock::now();
        auto e3 = co_await expect_error(asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                auto c = co_await pgcoro::connection::connect(ex, "postgresql://u:pw@127.0.0.1:" + port + "/x");
            },
            asio::bind_cancellation_slot(sig.slot(), asio::use_awaitable)));
        took = std::chrono::steady_clock::now() - t0;
        CHECK(e3.code() == asio::error::operation_aborted);
        CHECK(took < 2s);
    });
}

TEST_CASE("basic types round-trip through the server, NULL included", "[types]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto b = co_await c.query_one<bool>("select $1::bool", true);
        CHECK(b == true);
        b = co_await c.query_one<bool>("select $1", false);
        CHECK(b == false);
        for (int16_t v : {std::numeric_limits<int16_t>::min(), int16_t{0}, std::numeric_limits<int16_t>::max()}) {
            auto r = co_await c.query_one<int16_t>("select $1", v);
            CHECK(r == v);
        }
        for (int32_t v : {std::numeric_limits<int32_t>::min(), -1, std::numeric_limits<int32_t>::max()}) {
            auto r = co_await c.query_one<int32_t>("select $1", v);
            CHECK(r == v);
        }
        for (int64_t v : {std::numeric_limits<int64_t>::min(), int64_t{1} << 40, std::numeric_limits<int64_t>::max()}) {
            auto r = co_await c.query_one<int64_t>("select $1", v);
            CHECK(r == v);
        }
        // Widening reads: int2 and int4 columns into int64.
        auto w = co_await c.query_one<std::tuple<int64_t, int64_t, int32_t>>("select 7::int2, 8::int4, 9::int2");
        CHECK(w == std::tuple<int64_t, int64_t, int32_t>{7, 8, 9});
        for (double v : {0.0, -1.5, 1e300, std::numeric_limits<double>::infinity(),
                         -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::denorm_min()}) {
            auto r = co_await c.query_one<double>("select $1", v);
            CHECK(r == v);
        }
        auto nan = co_await c.query_one<double>("select $1", std::numeric_limits<double>::quiet_NaN());
        CHECK(std::isnan(nan));
        auto f = co_await c.query_one<float>("select $1", 3.25f);
        CHECK(f == 3.25f);
        auto fnan = co_await c.query_one<float>("select 'NaN'::float4");
        CHECK(std::isnan(fnan));
        auto fd = co_await c.query_one<double>("select '-Infinity'::float4");
        CHECK(fd == -std::numeric_limits<double>::infinity());
        for (std::string s : {std::string(), std::string("hello"), std::string("Grüße, 世界 🐘"),
                              std::string(100000, 'x')}) {
            auto r = co_await c.query_one<std::string>("select $1", s);
            CHECK(r == s);
        }
        auto sv = co_await c.query_one<std::string>("select $1 || $2", std::string_view("ab"), "cd");
        CHECK(sv == "abcd");
        auto kinds = co_await c.query_one<std::tuple<std::string, std::string, std::string>>(
            "select 'v'::varchar(5), 'c'::char(3), 'n'::name");
        CHECK(kinds == std::tuple<std::string, std::string, std::string>{"v", "c  ", "n"});

        // NULL: std::optional both ways, std::nullopt and a null const char* too.
        auto n1 = co_await c.query_one<std::optional<int32_t>>("select $1", std::optional<int32_t>{});
        CHECK(!n1);
        auto n2 = co_await c.query_one<std::optional<int32_t>>("select $1", std::optional<int32_t>{5});
        CHECK(n2 == 5);
        auto n3 = co_await c.query_one<std::optional<std::string>>("select $1::text", std::nullopt);
        CHECK(!n3);
        const char* null_str = nullptr;
        auto n4 = co_await c.query_one<std::optional<std::string>>("select $1", null_str);
        CHECK(!n4);
        auto n5 = co_await c.query_one<std::tuple<std::optional<bool>, std::optional<double>, std::optional<int64_t>>>(
            "select null::bool, null::float8, null::int8");
        CHECK(n5 == std::tuple<std::optional<bool>, std::optional<double>, std::optional<int64_t>>{});
        // Parameter types are sent with the values: text is not silently an int.
        auto e = co_await expect_error(c.query_one<int32_t>("select 1 where 1 = $1", std::string("1")));
        CHECK(e.sqlstate() == "42883");
    });
}

struct person {
    int64_t id;
    std::string name;
    std::optional<std::string> email;
};

TEST_CASE("rows map onto structs and tuples; mismatches are clear errors", "[rows]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto people = co_await c.query<person>(
            "select g::int8, 'p' || g, case when g = 2 then null else 'p' || g || '@x' end "
            "from generate_series(1, 3) g order by g");
        REQUIRE(people.size() == 3);
        CHECK(people[1].id == 2);
        CHECK(people[1].name == "p2");
        CHECK(!people[1].email);
        CHECK(people[2].email == "p3@x");

        auto none = co_await c.query_opt<int32_t>("select 1 where false");
        CHECK(!none);
        auto some = co_await c.query_opt<int32_t>("select 4");
        CHECK(some == 4);
        auto empty = co_await c.query<int32_t>("select 1 where false");
        CHECK(empty.empty());

        auto e1 = co_await expect_error(c.query_one<int32_t>("select 1 where false"));
        CHECK(e1.code() == pgcoro::make_error_code(errc::no_rows));
        auto e2 = co_await expect_error(c.query_one<int32_t>("select * from generate_series(1, 2)"));
        CHECK(e2.code() == pgcoro::make_error_code(errc::too_many_rows));
        auto e3 = co_await expect_error(c.query_opt<int32_t>("select * from generate_series(1, 2)"));
        CHECK(e3.code() == pgcoro::make_error_code(errc::too_many_rows));

        auto e4 = co_await expect_error(c.query<person>("select 1::int8, 'x'"));
        CHECK(e4.code() == pgcoro::make_error_code(errc::column_count_mismatch));
        CHECK(std::string(e4.what()).find("2 column(s)") != std::string::npos);

        auto e5 = co_await expect_error(c.query<int32_t>("select 1::int8 as big"));
        CHECK(e5.code() == pgcoro::make_error_code(errc::type_mismatch));
        std::string w5 = e5.what();
        CHECK(w5.find("column 0 \"big\"") != std::string::npos);
        CHECK(w5.find("int8") != std::string::npos);
        CHECK(w5.find("std::int32_t") != std::string::npos);

        auto e6 = co_await expect_error(c.query<person>("select 1::int8, null::text, null::text"));
        CHECK(e6.code() == pgcoro::make_error_code(errc::unexpected_null));
        CHECK(std::string(e6.what()).find("column 1 \"text\"") != std::string::npos);

        // The raw result.
        auto r = co_await c.query_result("select 1::int4 as a, null::text as b");
        CHECK(r.rows() == 1);
        CHECK(r.columns() == 2);
        CHECK(r.column_name(1) == "b");
        CHECK(r.column_type(0) == pgcoro::oids::int4);
        CHECK(r.get<int32_t>(0, 0) == 1);
        CHECK(r.is_null(0, 1));
        CHECK_THROWS_AS(r.get<int32_t>(5, 0), pgcoro::error);
    });
}

TEST_CASE("execute returns affected rows; DDL and DML work", "[execute]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        std::string schema = unique_name("exec");
        co_await c.execute("create schema " + schema);
        co_await c.execute("create table " + schema + ".t (id int primary key, v text)");
        auto n = co_await c.execute("insert into " + schema + ".t select g, 'v' from generate_series(1, 5) g");
        CHECK(n == 5);
        n = co_await c.execute("update " + schema + ".t set v = $1 where id > $2", "w", 2);
        CHECK(n == 3);
        n = co_await c.execute("delete from " + schema + ".t where v = $1", std::string("w"));
        CHECK(n == 3);
        n = co_await c.execute("select * from " + schema + ".t");
        CHECK(n == 2);
        auto dup = co_await expect_error(c.execute("insert into " + schema + ".t values (1, 'x')"));
        CHECK(dup.sqlstate() == "23505");
        CHECK(dup.code() == pgcoro::make_sqlstate_error("23505"));
        CHECK(dup.diagnostics().constraint == "t_pkey");
        CHECK(dup.diagnostics().table == "t");
        CHECK(dup.diagnostics().schema == schema);
        CHECK(!dup.diagnostics().detail.empty());
        co_await c.execute("drop schema " + schema + " cascade");
    });
}

TEST_CASE("a server error carries SQLSTATE 42P01, message and position", "[errors]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto e = co_await expect_error(c.execute("select * from no_such_table_here"));
        CHECK(e.code().category() == pgcoro::server_category());
        CHECK(pgcoro::sqlstate_of(e.code()) == "42P01");
        CHECK(e.sqlstate() == "42P01");
        CHECK(e.diagnostics().severity == "ERROR");
        CHECK(e.diagnostics().message == "relation \"no_such_table_here\" does not exist");
        REQUIRE(e.diagnostics().position.has_value());
        CHECK(*e.diagnostics().position == 15);
        CHECK(e.code().message().find("undefined_table") != std::string::npos);
        CHECK(std::string(e.what()).find("does not exist") != std::string::npos);
        // The connection goes on.
        auto one = co_await c.query_one<int32_t>("select 1");
        CHECK(one == 1);
    });
}

TEST_CASE("1,000 concurrent queries on one connection each get their own result", "[pipeline]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        auto c = co_await connect();
        constexpr int n = 1000;
        std::vector<int64_t> got(n, -1);
        int done = 0;
        std::exception_ptr failure;
        for (int i = 0; i < n; ++i) {
            asio::co_spawn(
                io,
                [&c, &got, i]() -> asio::awaitable<void> {
                    // Two shapes of statement, to mix cached and fresh prepares.
                    if (i % 2)
                        got[static_cast<std::size_t>(i)] = co_await c.query_one<int64_t>("select $1::int8 * 2", int64_t{i});
                    else
                        got[static_cast<std::size_t>(i)] = co_await c.query_one<int64_t>("select $1::int8 + $1::int8", int64_t{i});
                },
                [&](std::exception_ptr e) {
                    if (e && !failure) failure = e;
                    ++done;
                });
        }
        asio::steady_timer t(io);
        while (done < n) {
            t.expires_after(5ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        if (failure) std::rethrow_exception(failure);
        for (int i = 0; i < n; ++i) REQUIRE(got[static_cast<std::size_t>(i)] == 2 * i);
    });
}

TEST_CASE("an error in the middle of a pipeline fails only its own query", "[pipeline]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        auto c = co_await connect();
        constexpr int n = 101;
        std::vector<std::string> outcome(n);
        int done = 0;
        for (int i = 0; i < n; ++i) {
            asio::co_spawn(
                io,
                [&c, &outcome, i]() -> asio::awaitable<void> {
                    try {
                        auto v = co_await c.query_one<int32_t>("select 100 / $1::int4", i == 50 ? 0 : 1);
                        outcome[static_cast<std::size_t>(i)] = std::to_string(v);
                    } catch (const pgcoro::error& e) {
                        outcome[static_cast<std::size_t>(i)] = e.sqlstate();
                    }
                },
                [&](std::exception_ptr) { ++done; });
        }
        asio::steady_timer t(io);
        while (done < n) {
            t.expires_after(5ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        for (int i = 0; i < n; ++i) {
            INFO("query " << i);
            CHECK(outcome[static_cast<std::size_t>(i)] == (i == 50 ? "22012" : "100"));
        }
    });
}

TEST_CASE("a cancelled pg_sleep stops on the server and the connection stays usable", "[cancel]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto observer = co_await connect();
        int pid = c.backend_pid();
        asio::steady_timer timer(io);
        timer.expires_after(100ms);
        auto t0 = std::chrono::steady_clock::now();
        // The timer wins the race; || cancels the query, whose own completion is then
        // operation_aborted (checked directly below).
        auto r = co_await (c.execute("select pg_sleep(10)") || timer.async_wait(asio::use_awaitable));
        CHECK(r.index() == 1);
        CHECK(std::chrono::steady_clock::now() - t0 < 1s);

        // Directly: a cancellation signal on the operation itself.
        asio::cancellation_signal sig;
        timer.expires_after(100ms);
        timer.async_wait([&](boost::system::error_code) { sig.emit(asio::cancellation_type::terminal); });
        t0 = std::chrono::steady_clock::now();
        auto e = co_await expect_error(asio::co_spawn(
            io, c.execute("select pg_sleep(10)"),
            asio::bind_cancellation_slot(sig.slot(), asio::use_awaitable)));
        auto took = std::chrono::steady_clock::now() - t0;
        CHECK(e.code() == asio::error::operation_aborted);
        CHECK(took < 1s);

        // The next statement on the same connection works (its results come after the
        // cancelled ones, so by then pg_sleep has ended on the server).
        auto one = co_await c.query_one<int32_t>("select 1");
        CHECK(one == 1);
        auto sleeping = co_await observer.query_one<int64_t>(
            "select count(*) from pg_stat_activity where pid = $1 and query like '%pg_sleep%' and state = 'active'",
            pid);
        CHECK(sleeping == 0);
        CHECK(std::chrono::steady_clock::now() - t0 < 3s);
    });
}

TEST_CASE("notices reach the handler", "[notices]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        std::vector<pgcoro::notice> seen;
        c.set_notice_handler([&](const pgcoro::notice& n) { seen.push_back(n); });
        co_await c.execute("do $$ begin raise notice 'hello %', 42 using hint = 'a hint'; end $$");
        REQUIRE(seen.size() == 1);
        CHECK(seen[0].message == "hello 42");
        CHECK(seen[0].severity == "NOTICE");
        CHECK(seen[0].sqlstate == "00000");
        CHECK(seen[0].hint == "a hint");
    });
}

TEST_CASE("prepared statements are cached and survive DEALLOCATE ALL", "[cache]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        for (int i = 0; i < 3; ++i) {
            auto v = co_await c.query_one<int32_t>("select $1::int4", i);
            CHECK(v == i);
        }
        auto prepared = co_await c.query_one<int64_t>(
            "select count(*) from pg_prepared_statements where statement = 'select $1::int4'");
        CHECK(prepared == 1);
        co_await c.execute("deallocate all");
        auto v = co_await c.query_one<int32_t>("select $1::int4", 7);
        CHECK(v == 7);
        // A failing statement is not left in the cache.
        auto e = co_await expect_error(c.execute("selec 1"));
        CHECK(e.sqlstate() == "42601");
        auto e2 = co_await expect_error(c.execute("selec 1"));
        CHECK(e2.sqlstate() == "42601");
        // Without a cache every statement is parsed anew.
        auto ex = co_await asio::this_coro::executor;
        pgcoro::connect_options no_cache;
        no_cache.statement_cache_size = 0;
        auto c2 = co_await pgcoro::connection::connect(ex, url(), no_cache);
        auto w = co_await c2.query_one<int32_t>("select $1::int4", 9);
        CHECK(w == 9);
        auto none = co_await c2.query_one<int64_t>("select count(*) from pg_prepared_statements");
        CHECK(none == 0);
        // A tiny cache evicts (and deallocates) the least recently used statement.
        pgcoro::connect_options tiny;
        tiny.statement_cache_size = 2;
        auto c3 = co_await pgcoro::connection::connect(ex, url(), tiny);
        for (int i = 0; i < 10; ++i) {
            auto x = co_await c3.query_one<int32_t>("select " + std::to_string(i) + " + $1::int4", 1);
            CHECK(x == i + 1);
        }
        auto kept = co_await c3.query_one<int64_t>("select count(*) from pg_prepared_statements");
        CHECK(kept <= 2);
    });
}

TEST_CASE("close waits for statements in flight; later ones fail", "[close]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        auto c = co_await connect();
        std::optional<int32_t> slow;
        bool finished = false;
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            slow = co_await c.query_one<int32_t>("select 5 from pg_sleep(0.2)");
        }, [&](std::exception_ptr) { finished = true; });
        asio::steady_timer t(io);
        t.expires_after(20ms);
        co_await t.async_wait(asio::use_awaitable);
        co_await c.close();
        CHECK(finished);
        CHECK(slow == 5);
        CHECK(!c.is_open());
        auto e = co_await expect_error(c.execute("select 1"));
        CHECK(e.code() == pgcoro::make_error_code(errc::connection_closed));
    });
}

TEST_CASE("destroying a connection never blocks and stops its statement", "[close]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        auto observer = co_await connect();
        int pid = 0;
        boost::system::error_code pending_result;
        bool pending_done = false;
        {
            auto c = co_await connect();
            pid = c.backend_pid();
            asio::co_spawn(io, c.execute("select pg_sleep(10)"), [&](std::exception_ptr e, std::uint64_t) {
                pending_done = true;
                try { if (e) std::rethrow_exception(e); } catch (const pgcoro::error& x) { pending_result = x.code(); }
            });
            asio::steady_timer t(io);
            t.expires_after(100ms);
            co_await t.async_wait(asio::use_awaitable);
        }  // c is destroyed here, with pg_sleep running
        asio::steady_timer t(io);
        for (int i = 0; i < 100 && !pending_done; ++i) {
            t.expires_after(10ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        CHECK(pending_done);
        CHECK(pending_result == pgcoro::make_error_code(errc::connection_closed));
        // The backend goes away soon (the statement was cancelled, then Terminate).
        int64_t alive = 1;
        for (int i = 0; i < 100 && alive; ++i) {
            alive = co_await observer.query_one<int64_t>("select count(*) from pg_stat_activity where pid = $1", pid);
            if (alive) {
                t.expires_after(20ms);
                co_await t.async_wait(asio::use_awaitable);
            }
        }
        CHECK(alive == 0);
    });
}

TEST_CASE("a terminated backend fails its connection's statements cleanly", "[broken]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto killer = co_await connect();
        int pid = c.backend_pid();
        bool killed = co_await killer.query_one<bool>("select pg_terminate_backend($1)", pid);
        CHECK(killed);
        asio::steady_timer t(io);
        t.expires_after(100ms);
        co_await t.async_wait(asio::use_awaitable);
        auto e = co_await expect_error(c.execute("select 1"));
        bool expected = e.code() == pgcoro::make_error_code(errc::connection_broken) || e.sqlstate() == "57P01";
        CHECK(expected);
        CHECK(!c.is_open());
        auto e2 = co_await expect_error(c.execute("select 1"));
        CHECK(e2.code() == pgcoro::make_error_code(errc::connection_broken));
    });
}

TEST_CASE("execute_script runs several statements in order with the pipeline around it", "[script]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        auto c = co_await connect();
        std::string s = unique_name("script");
        co_await c.execute("create schema " + s);
        // Statements before and after the script, sent without waiting: order is kept.
        std::vector<std::string> order;
        int done = 0;
        // co_spawn keeps each lambda (and so its captures) alive while it runs.
        auto spawn = [&](auto fn) {
            asio::co_spawn(io, std::move(fn), [&](std::exception_ptr e) {
                if (e) order.push_back("error");
                ++done;
            });
        };
        spawn([&]() -> asio::awaitable<void> {
            co_await c.query_one<int32_t>("select 1 from pg_sleep(0.05)");
            order.push_back("before");
        });
        spawn([&]() -> asio::awaitable<void> {
            auto rows = co_await c.execute_script("create table " + s + ".t (id int primary key, v text);\n"
                                                  "-- a comment\n"
                                                  "insert into " + s + ".t values (1, 'a'), (2, 'b');");
            CHECK(rows == 2);
            order.push_back("script");
        });
        spawn([&]() -> asio::awaitable<void> {
            auto n = co_await c.query_one<int64_t>("select count(*) from " + s + ".t");
            CHECK(n == 2);
            order.push_back("after");
        });
        while (done < 3) co_await asio::steady_timer(io, 5ms).async_wait(asio::use_awaitable);
        CHECK(order == std::vector<std::string>{"before", "script", "after"});

        // An error stops the script; without BEGIN/COMMIT it is one implicit transaction.
        auto e = co_await expect_error(c.execute_script("insert into " + s + ".t values (3, 'c');\n"
                                                        "insert into " + s + ".t values (1, 'dup');\n"
                                                        "insert into " + s + ".t values (4, 'd');"));
        CHECK(e.sqlstate() == "23505");
        auto n = co_await c.query_one<int64_t>("select count(*) from " + s + ".t");
        CHECK(n == 2);
        // Explicit transaction control inside a script, and DO blocks, work.
        co_await c.execute_script("begin; insert into " + s + ".t values (5, 'e'); commit;\n"
                                  "do $$ begin perform 1; end $$;");
        n = co_await c.query_one<int64_t>("select count(*) from " + s + ".t");
        CHECK(n == 3);
        // The pipeline is back: concurrent statements and the prepared statement cache.
        auto [a, b] = co_await (c.query_one<int32_t>("select $1::int4", 7) && c.query_one<int32_t>("select $1::int4", 8));
        CHECK(a + b == 15);
        co_await c.execute_script("drop schema " + s + " cascade");
    });
}

// Row streams and COPY against the real server: batches, back-pressure, early exits,
// errors that leave the connection usable and nothing half-loaded, other callers held.
#include "support.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

using namespace pgtest;
using namespace boost::asio::experimental::awaitable_operators;
using pgcoro::errc;

namespace {

struct wide_row {
    std::int32_t a;
    std::int64_t b;
    std::string c;
    double d;
    pgcoro::timestamptz e;
    std::optional<bool> f;
};

struct item {
    std::int64_t id;
    std::string name;
    std::optional<pgcoro::timestamptz> at;
    std::optional<double> price;
};

/// The state of this connection's backend as the server sees it, from another session.
asio::awaitable<std::string> backend_state(int pid) {
    auto other = co_await connect();
    co_return co_await other.query_one<std::string>("select coalesce(state, '') from pg_stat_activity where pid = $1", pid);
}

asio::awaitable<std::string> make_items_table(pgcoro::connection& c) {
    std::string t = unique_name("items");
    co_await c.execute_script("create table " + t +
                              " (id int8 primary key, name text not null, at timestamptz, price float8)");
    co_return t;
}

}  // namespace

TEST_CASE("a stream delivers every row in bounded batches, NULLs as optionals", "[stream]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto s = c.stream<wide_row>(
            "select i, i::int8 * 1000000000, 'row ' || i, i / 4.0::float8, 'epoch'::timestamptz + i * interval '1 second', "
            "case when i % 3 = 0 then null else i % 2 = 0 end from generate_series(1, $1::int) i",
            100'000);
        s.set_batch_size(700);
        std::vector<wide_row> batch;
        std::int64_t expect = 1, nulls = 0;
        bool ok = true;
        std::size_t biggest = 0;
        while (std::size_t n = co_await s.read(batch)) {
            CHECK(n == batch.size());
            biggest = std::max(biggest, n);
            for (auto& r : batch) {
                if (r.a != expect || r.b != expect * 1'000'000'000 || r.c != "row " + std::to_string(expect) ||
                    r.d != static_cast<double>(expect) / 4.0 ||
                    r.e != pgcoro::timestamptz(std::chrono::seconds(expect)) ||
                    (expect % 3 == 0) != !r.f.has_value())
                    ok = false;
                nulls += !r.f;
                ++expect;
            }
        }
        CHECK(ok);
        CHECK(expect == 100'001);
        CHECK(nulls == 33'333);
        CHECK(biggest <= 700);
        auto v1 = co_await s.read(batch);  // after the end: 0 again
        CHECK(v1 == 0);
        auto v2 = co_await c.query_one<int>("select 1");
        CHECK(v2 == 1);
    });
}

TEST_CASE("other callers' statements wait for a stream and then run in order", "[stream]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto s = c.stream<std::int32_t>("select i from generate_series(1, 20000) i");
        std::vector<std::int32_t> batch;
        std::size_t total = co_await s.read(batch);  // the stream runs now
        std::vector<int> order;
        for (int i = 0; i < 3; ++i)
            c.async_query_one<int>(pgcoro::statement("select $1::int", i), [&order](boost::system::error_code ec, int v) {
                if (!ec) order.push_back(v);
            });
        while (std::size_t n = co_await s.read(batch)) total += n;
        CHECK(total == 20000);
        auto v3 = co_await c.query_one<int>("select 3");
        CHECK(v3 == 3);
        CHECK(order == std::vector<int>{0, 1, 2});
    });
}

TEST_CASE("leaving a stream early cancels the query and the connection goes on", "[stream]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        {
            auto s = c.stream<std::int64_t>("select i from generate_series(1, 100000000) i");
            std::vector<std::int64_t> batch;
            auto v4 = co_await s.read(batch);
            CHECK(v4 > 0);
        }  // destroyed: cancel request, rest drained
        auto v5 = co_await c.query_one<int>("select 5");
        CHECK(v5 == 5);
        auto v6 = co_await backend_state(c.backend_pid());
        CHECK(v6 == "idle");
        CHECK(c.transaction_status() == PQTRANS_IDLE);

        // Cancelling a read (here: a timer wins) does the same.
        auto s = c.stream<int>("select pg_sleep(30)::text::int");
        std::vector<int> batch;
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(200));
        auto r = co_await (s.async_read(batch, asio::as_tuple(asio::use_awaitable)) || t.async_wait(asio::use_awaitable));
        REQUIRE(r.index() == 1);
        auto [ec, n] = co_await s.async_read(batch, asio::as_tuple(asio::use_awaitable));
        CHECK(!ec);  // the stream was given up: it is at its end
        CHECK(n == 0);
        auto v7 = co_await c.query_one<int>("select 6");
        CHECK(v7 == 6);
    });
}

TEST_CASE("stream errors: the server's after the rows before it, a type mismatch before any", "[stream]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto s = c.stream<int>("select 10 / (5000 - i) from generate_series(1, 10000) i");
        std::vector<int> batch;
        std::size_t total = 0;
        boost::system::error_code ec;
        pgcoro::diagnostics diag;
        for (;;) {
            auto [e, n] = co_await s.async_read(batch, diag, asio::as_tuple(asio::use_awaitable));
            if (e || n == 0) {
                ec = e;
                break;
            }
            total += n;
        }
        CHECK(ec == pgcoro::make_sqlstate_error("22012"));
        CHECK(diag.sqlstate == "22012");
        CHECK(total <= 4999);
        auto v8 = co_await s.read(batch);  // after an error: the end
        CHECK(v8 == 0);

        auto wrong = c.stream<std::string>("select i from generate_series(1, 3) i");
        std::vector<std::string> texts;
        auto e = co_await expect_error(wrong.read(texts));
        CHECK(e.code() == errc::type_mismatch);
        auto v9 = co_await c.query_one<int>("select 7");
        CHECK(v9 == 7);
    });
}

TEST_CASE("copy_in loads typed rows; copy_out reads them back", "[copy]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        std::string t = co_await make_items_table(c);
        std::vector<item> rows;
        for (int i = 0; i < 20'000; ++i)
            rows.push_back({i, "name " + std::to_string(i),
                            i % 5 == 0 ? std::nullopt : std::optional(pgcoro::timestamptz(std::chrono::microseconds(i))),
                            i % 7 == 0 ? std::nullopt : std::optional(i * 0.25)});
        auto v10 = co_await c.copy_in(t + " (id, name, at, price)", rows);
        CHECK(v10 == 20'000);
        auto v11 = co_await c.query_one<std::int64_t>("select count(*) from " + t + " where at is null");
        CHECK(v11 == 4000);

        auto r = co_await c.copy_out<item>(t + " (id, name, at, price)");
        std::vector<item> got, all;
        while (co_await r.read(got)) all.insert(all.end(), got.begin(), got.end());
        REQUIRE(all.size() == rows.size());
        std::sort(all.begin(), all.end(), [](const item& a, const item& b) { return a.id < b.id; });
        bool same = true;
        for (std::size_t i = 0; i < rows.size(); ++i)
            if (all[i].id != rows[i].id || all[i].name != rows[i].name || all[i].at != rows[i].at ||
                all[i].price != rows[i].price)
                same = false;
        CHECK(same);

        // A query as the source.
        auto q = co_await c.copy_out<std::tuple<std::int64_t, std::string>>("(select id, name from " + t +
                                                                            " where id < 3 order by id)");
        std::vector<std::tuple<std::int64_t, std::string>> few;
        auto v12 = co_await q.read(few);
        CHECK(v12 == 3);
        CHECK(std::get<1>(few[2]) == "name 2");
        auto v13 = co_await q.read(few);
        CHECK(v13 == 0);
    });
}

TEST_CASE("copy_in checks the row type against the columns before sending anything", "[copy]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        std::string t = co_await make_items_table(c);
        std::vector<std::tuple<std::int32_t, std::string>> narrow{{1, "a"}};
        auto e = co_await expect_error(c.copy_in(t + " (id, name)", narrow));
        CHECK(e.code() == errc::type_mismatch);
        CHECK(std::string(e.what()).find("int8") != std::string::npos);
        std::vector<std::tuple<std::int64_t, std::int64_t>> wrong{{1, 2}};
        e = co_await expect_error(c.copy_in(t + " (id, at)", wrong));  // an int8 into a timestamptz
        CHECK(e.code() == errc::type_mismatch);
        std::vector<std::int64_t> ids{1};
        e = co_await expect_error(c.copy_in(t + " (id, name)", ids));
        CHECK(e.code() == errc::column_count_mismatch);
        e = co_await expect_error(c.copy_in(t + " (id, nosuch)", ids));
        CHECK(e.diagnostics().sqlstate == "42703");
        auto v14 = co_await c.query_one<std::int64_t>("select count(*) from " + t);
        CHECK(v14 == 0);
    });
}

TEST_CASE("a failing COPY loads nothing, names the line, and the connection goes on", "[copy]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        std::string t = co_await make_items_table(c);
        std::vector<item> rows;
        for (int i = 0; i < 5000; ++i) rows.push_back({i == 4321 ? 7 : i, "n", std::nullopt, std::nullopt});
        auto e = co_await expect_error(c.copy_in(t + " (id, name, at, price)", rows));
        CHECK(e.diagnostics().sqlstate == "23505");
        CHECK(e.diagnostics().context.find("line 4322") != std::string::npos);
        auto v15 = co_await c.query_one<std::int64_t>("select count(*) from " + t);
        CHECK(v15 == 0);

        // Raw CSV with a malformed line.
        auto in = c.copy_in_raw("COPY " + t + " (id, name) FROM STDIN (FORMAT csv)");
        co_await in.write("1,a\n2,b\nnot-a-number,c\n");
        e = co_await expect_error(in.finish());
        CHECK(e.diagnostics().sqlstate == "22P02");
        CHECK(e.diagnostics().context.find("line 3") != std::string::npos);

        // A writer given up on before finish(): aborted on the server.
        {
            auto w = co_await c.copy_in_writer<item>(t + " (id, name, at, price)");
            co_await w.write(rows);
        }
        auto v16 = co_await c.query_one<std::int64_t>("select count(*) from " + t);
        CHECK(v16 == 0);
        auto v17 = co_await backend_state(c.backend_pid());
        CHECK(v17 == "idle");

        // Inside the caller's own transaction: PostgreSQL's rules (rolled back with it).
        co_await c.execute("begin");
        std::vector<item> two{{1, "a", std::nullopt, 1.0}, {2, "b", std::nullopt, 2.0}};
        auto v18 = co_await c.copy_in(t, two);
        CHECK(v18 == 2);
        CHECK(c.transaction_status() == PQTRANS_INTRANS);
        co_await c.execute("rollback");
        auto v19 = co_await c.query_one<std::int64_t>("select count(*) from " + t);
        CHECK(v19 == 0);

        auto missing = c.copy_in_raw("COPY nosuch_table FROM STDIN");
        e = co_await expect_error(missing.write("x"));
        CHECK(e.diagnostics().sqlstate == "42P01");
        auto v20 = co_await c.query_one<int>("select 8");
        CHECK(v20 == 8);
    });
}

TEST_CASE("raw COPY both ways, chunks cut anywhere; an early stop; others held meanwhile", "[copy]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        std::string t = co_await make_items_table(c);
        auto in = c.copy_in_raw("COPY " + t + " (id, name) FROM STDIN (FORMAT csv)");
        std::string csv;
        for (int i = 0; i < 1000; ++i) csv += std::to_string(i) + ",\"name, " + std::to_string(i) + "\"\n";
        int held = -1;
        for (std::size_t at = 0; at < csv.size(); at += 777) {
            co_await in.write(std::string_view(csv).substr(at, 777));
            if (at == 0)  // started while the COPY runs: held until it ends
                c.async_query_one<int>(pgcoro::statement("select count(*)::int from " + t),
                                       [&held](boost::system::error_code ec, int n) { held = ec ? -2 : n; });
        }
        auto v21 = co_await in.finish();
        CHECK(v21 == 1000);
        auto v22 = co_await c.query_one<int>("select 1");
        CHECK(v22 == 1);
        CHECK(held == 1000);  // it ran after the COPY, and saw all of it

        auto out = c.copy_out_raw("COPY (select id, name from " + t + " order by id) TO STDOUT (FORMAT csv)");
        std::string back, chunk;
        while (co_await out.read(chunk, 1000)) back += chunk;
        CHECK(back == csv);

        {
            auto big = c.copy_out_raw("COPY (select i from generate_series(1, 50000000) i) TO STDOUT");
            auto v23 = co_await big.read(chunk);
            CHECK(v23 > 0);
        }
        auto v24 = co_await c.query_one<int>("select 9");
        CHECK(v24 == 9);
        auto v25 = co_await backend_state(c.backend_pid());
        CHECK(v25 == "idle");
    });
}

TEST_CASE("COPY with the client through execute, a script or a stream fails alone; the connection goes on",
          "[copy]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        std::string t = co_await make_items_table(c);
        // Another caller's statement in flight on the same connection is not disturbed.
        std::int64_t seven = 0;
        bool other_done = false;
        c.async_query_one<std::int64_t>(pgcoro::statement("select 7::int8 from pg_sleep(0.05)"),
                                        [&](boost::system::error_code ec, std::int64_t v) {
                                            CHECK(!ec);
                                            seven = v;
                                            other_done = true;
                                        });
        auto e = co_await expect_error(c.execute("copy " + t + " (id, name) from stdin"));
        CHECK(e.code() == errc::invalid_argument);
        CHECK(std::string(e.what()).find("copy_in_raw()") != std::string::npos);
        e = co_await expect_error(c.execute_script("select 1; COPY " + t + " TO STDOUT"));
        CHECK(e.code() == errc::invalid_argument);
        asio::steady_timer timer(co_await asio::this_coro::executor);
        while (!other_done) {
            timer.expires_after(std::chrono::milliseconds(5));
            co_await timer.async_wait(asio::use_awaitable);
        }
        CHECK(seven == 7);
        auto n = co_await c.query_one<std::int64_t>("select count(*) from " + t);
        CHECK(n == 0);
        // Nor through a row stream: refused before it is sent, the connection goes on.
        auto st = c.stream<std::string>("copy " + t + " to stdout");
        std::vector<std::string> lines;
        e = co_await expect_error(st.read(lines));
        CHECK(e.code() == errc::invalid_argument);
        CHECK(std::string(e.what()).find("copy_out()") != std::string::npos);
        auto in = c.copy_in_raw("copy " + t + " (id, name) from stdin");  // the way that works
        co_await in.write(std::string("1\tone\n"));
        auto loaded = co_await in.finish();
        CHECK(loaded == 1);
    });
}

TEST_CASE("a second read while one is pending is refused; the first goes on", "[stream]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto s = c.stream<int>("select i from generate_series(1, 10) i");
        std::vector<int> a, b;
        boost::system::error_code first_ec, second_ec;
        std::size_t first_n = 0;
        int done = 0;
        s.async_read(a, [&](boost::system::error_code ec, std::size_t n) { first_ec = ec; first_n = n; ++done; });
        s.async_read(b, [&](boost::system::error_code ec, std::size_t) { second_ec = ec; ++done; });
        asio::steady_timer t(co_await asio::this_coro::executor);
        while (done < 2) {
            t.expires_after(std::chrono::milliseconds(5));
            co_await t.async_wait(asio::use_awaitable);
        }
        CHECK(second_ec == errc::invalid_argument);
        CHECK(!first_ec);
        CHECK(first_n > 0);
        std::size_t rest = first_n;
        while (std::size_t n = co_await s.read(a)) rest += n;
        CHECK(rest == 10);
    });
}

TEST_CASE("a deferred read follows its stream when it moves, and fails once the stream is given up", "[stream]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        std::vector<int> batch;
        // Made, the stream moved, then started: it reads the query the stream now holds.
        auto s = c.stream<int>("select i from generate_series(1, 10) i");
        s.set_batch_size(3);
        auto later = s.async_read(batch, asio::deferred);
        auto moved = std::move(s);
        std::size_t total = co_await std::move(later)(asio::use_awaitable);
        CHECK(total > 0);
        CHECK(total <= 3);
        while (std::size_t n = co_await moved.read(batch)) total += n;
        CHECK(total == 10);

        // Made, the stream destroyed before it starts: connection_closed, nothing sent.
        auto s2 = c.stream<int>("select pg_sleep(30)::text::int");
        auto orphan = s2.async_read(batch, asio::deferred);
        { auto gone = std::move(s2); }
        auto [ec, n] = co_await std::move(orphan)(asio::as_tuple(asio::use_awaitable));
        CHECK(ec == errc::connection_closed);
        CHECK(n == 0);
        // Had the 30 s query gone out, this would wait behind it (the timer would win).
        asio::steady_timer limit(co_await asio::this_coro::executor, std::chrono::seconds(10));
        auto next = co_await (c.query_one<int>("select 7") || limit.async_wait(asio::use_awaitable));
        REQUIRE(next.index() == 0);
        CHECK(std::get<0>(next) == 7);
        auto state = co_await backend_state(c.backend_pid());
        CHECK(state == "idle");
    });
}

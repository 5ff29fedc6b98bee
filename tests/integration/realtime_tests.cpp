// LISTEN/NOTIFY against the real server: order, payload limits, names, cancellation,
// overflow, and a server restart under a listener.
#include "support.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <cctype>
#include <future>
#include <thread>

using namespace pgtest;
using namespace boost::asio::experimental::awaitable_operators;
using pgcoro::errc;

namespace {

asio::awaitable<void> pause(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

/// The listener's next item: (error, notification), never throwing.
asio::awaitable<std::tuple<boost::system::error_code, pgcoro::notification>> next(pgcoro::listener& l) {
    co_return co_await l.async_receive(asio::as_tuple(asio::use_awaitable));
}

pgcoro::listener_options fast_reconnect() {
    pgcoro::listener_options o;
    o.reconnect_backoff_initial = std::chrono::milliseconds(20);
    o.reconnect_backoff_max = std::chrono::milliseconds(200);
    return o;
}

}  // namespace

TEST_CASE("10,000 notifications arrive complete and in order", "[notify]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        auto l = co_await pgcoro::listener::connect(io.get_executor(), url());
        std::string channel = unique_name("orders");
        co_await l.listen(channel);
        auto sender = co_await connect();
        constexpr int n = 10'000;
        int received = 0;
        bool in_order = true;
        auto receiver = [&]() -> asio::awaitable<void> {
            for (int i = 0; i < n; ++i) {
                auto m = co_await l.receive();
                if (m.channel != channel || m.payload != std::to_string(i)) in_order = false;
                ++received;
            }
        };
        bool receiver_done = false;
        asio::co_spawn(io, receiver(), [&](std::exception_ptr e) {
            receiver_done = true;
            if (e) std::rethrow_exception(e);
        });
        // Pipelined on one connection: each its own transaction, committed in this order.
        int sent = 0;
        for (int i = 0; i < n; ++i)
            sender.async_notify(channel, std::to_string(i), [&](boost::system::error_code ec, std::uint64_t) {
                if (!ec) ++sent;
            });
        while (!receiver_done) co_await pause(10ms);
        CHECK(sent == n);
        CHECK(received == n);
        CHECK(in_order);
        CHECK(l.queued() == 0);
    }, 120s);
}

TEST_CASE("payloads up to the server's limit, names with quotes and capitals, notify through a pool", "[notify]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        auto l = co_await pgcoro::listener::connect(io.get_executor(), url());
        std::string odd = "Mixed \"Quoted\" Name; drop table x --" + unique_name("");
        std::string lower = unique_name("plain");
        co_await l.listen(odd);
        co_await l.listen(lower);
        auto conn = co_await connect();
        std::string big(7999, 'x');
        big[0] = '\'';
        big[7998] = '"';
        co_await conn.notify(odd, big);
        auto m = co_await l.receive();
        CHECK(m.channel == odd);
        CHECK(m.payload == big);
        CHECK(m.backend_pid == conn.backend_pid());
        // One byte more: the server's error, clearly, and nothing sent.
        auto e = co_await expect_error(conn.notify(odd, std::string(8000, 'y')));
        CHECK(e.code() == pgcoro::make_sqlstate_error("22023"));
        // The token form with diagnostics: the server's fields, no exception.
        pgcoro::diagnostics diag;
        auto [nec, count] = co_await conn.async_notify(odd, std::string(8000, 'y'), diag,
                                                       asio::as_tuple(asio::use_awaitable));
        CHECK(nec == pgcoro::make_sqlstate_error("22023"));
        CHECK(diag.sqlstate == "22023");
        CHECK(!diag.message.empty());
        CHECK(count == 0);
        // The same name in other case is another channel (quoted, never folded).
        std::string upper = lower;
        std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
        co_await conn.notify(upper, "not for us");
        pgcoro::pool db(io.get_executor(), [] {
            pgcoro::pool_config c;
            c.conninfo = url();
            c.max_size = 2;
            return c;
        }());
        co_await db.notify(lower, "from the pool");
        m = co_await l.receive();
        CHECK(m.channel == lower);
        CHECK(m.payload == "from the pool");
        // Empty payload.
        std::uint64_t n = co_await conn.execute("notify " + pgcoro::detail::quote_identifier(lower));
        CHECK(n == 0);
        m = co_await l.receive();
        CHECK(m.payload.empty());
        // unlisten: nothing more arrives on that channel.
        co_await l.unlisten(lower);
        co_await conn.notify(lower, "gone");
        co_await conn.notify(odd, "still here");
        m = co_await l.receive();
        CHECK(m.channel == odd);
        CHECK(m.payload == "still here");
        // A NUL byte cannot name a channel.
        auto nul = co_await expect_error(l.listen(std::string("a\0b", 3)));
        CHECK(nul.code() == pgcoro::make_error_code(errc::encode_error));
        db.close();
    });
}

TEST_CASE("a cancelled receive completes at once and loses nothing; token forms", "[notify][cancel]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        auto l = co_await pgcoro::listener::connect(io.get_executor(), url());
        std::string channel = unique_name("cancel");
        // async_listen with a callback.
        bool listened = false;
        l.async_listen(channel, [&](boost::system::error_code ec) { listened = !ec; });
        while (!listened) co_await pause(5ms);
        asio::steady_timer t(io, 30ms);
        auto r = co_await (l.async_receive(asio::as_tuple(asio::use_awaitable)) ||
                           t.async_wait(asio::use_awaitable));
        REQUIRE(r.index() == 1);  // the timer won: the receive was cancelled
        auto conn = co_await connect();
        co_await conn.notify(channel, "after the cancel");
        auto [ec, m] = co_await next(l);
        CHECK(!ec);
        CHECK(m.payload == "after the cancel");
        // Partial cancellation through a bound slot.
        asio::cancellation_signal sig;
        boost::system::error_code got;
        bool done = false;
        l.async_receive(asio::bind_cancellation_slot(sig.slot(), [&](boost::system::error_code e, pgcoro::notification) {
            got = e;
            done = true;
        }));
        co_await pause(10ms);
        sig.emit(asio::cancellation_type::partial);
        while (!done) co_await pause(5ms);
        CHECK(got == asio::error::operation_aborted);
        // From another thread, with use_future.
        co_await conn.notify(channel, "future");
        std::string payload;
        std::thread th([&] { payload = l.async_receive(asio::use_future).get().payload; });
        while (payload.empty()) co_await pause(5ms);
        th.join();
        CHECK(payload == "future");
        // Closed: waiting receives end with connection_closed.
        bool closed_done = false;
        l.async_receive([&](boost::system::error_code e, pgcoro::notification) {
            got = e;
            closed_done = true;
        });
        co_await pause(10ms);
        l.close();
        while (!closed_done) co_await pause(5ms);
        CHECK(got == pgcoro::make_error_code(errc::connection_closed));
        auto [ec2, m2] = co_await next(l);
        CHECK(ec2 == pgcoro::make_error_code(errc::connection_closed));
    });
}

TEST_CASE("a full queue drops the newest and says so after the ones kept", "[notify]") {
    run([](asio::io_context& io) -> asio::awaitable<void> {
        pgcoro::listener_options o;
        o.queue_limit = 5;
        auto l = co_await pgcoro::listener::connect(io.get_executor(), url(), o);
        std::string channel = unique_name("full");
        co_await l.listen(channel);
        auto conn = co_await connect();
        co_await conn.execute_script("begin; " + [&] {
            std::string s;
            for (int i = 0; i < 10; ++i) s += "select pg_notify('" + channel + "', '" + std::to_string(i) + "'); ";
            return s;
        }() + "commit");
        while (l.queued() < 5) co_await pause(5ms);
        co_await pause(50ms);  // the rest of the batch (dropped) has surely been read
        for (int i = 0; i < 5; ++i) {
            auto [ec, m] = co_await next(l);
            CHECK(!ec);
            CHECK(m.payload == std::to_string(i));
        }
        auto [ec, m] = co_await next(l);
        CHECK(ec == pgcoro::make_error_code(errc::notifications_missed));
        co_await conn.notify(channel, "live");
        auto [ec2, m2] = co_await next(l);
        CHECK(!ec2);
        CHECK(m2.payload == "live");
    });
}

TEST_CASE("a listener survives its connection's loss: reconnects, listens again, says what may be missed", "[notify][restart]") {
    own_cluster cluster;
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto l = co_await pgcoro::listener::connect(io.get_executor(), cluster.url, fast_reconnect());
        co_await l.listen("Jobs");
        co_await l.listen("other");
        {
            auto conn = co_await connect(cluster.url);
            co_await conn.notify("Jobs", "before");
            auto m = co_await l.receive();
            CHECK(m.payload == "before");
            // The backend killed: reconnect at once.
            auto pid = co_await conn.query_one<int>("select pid from pg_stat_activity where query like 'LISTEN%' or query like 'UNLISTEN%'");
            co_await conn.execute("select pg_terminate_backend($1)", pid);
        }
        auto [ec, m] = co_await next(l);
        CHECK(ec == pgcoro::make_error_code(errc::notifications_missed));
        CHECK(l.reconnects() == 1);
        CHECK(l.is_connected());
        {
            auto conn = co_await connect(cluster.url);
            co_await conn.notify("Jobs", "after kill");
            co_await conn.notify("other", "other too");
        }
        auto m1 = co_await l.receive();
        CHECK(m1.payload == "after kill");
        auto m2 = co_await l.receive();
        CHECK(m2.channel == "other");

        // A server restart mid-stream (pg_ctl blocks: on another thread).
        std::atomic<bool> restarted{false};
        std::jthread t([&] {
            cluster.halt();
            std::this_thread::sleep_for(300ms);
            cluster.resume();
            restarted = true;
        });
        while (l.is_connected()) co_await pause(5ms);
        co_await l.listen("added while down");  // taken now, LISTENed by the reconnect
        auto [ec2, m3] = co_await next(l);
        CHECK(ec2 == pgcoro::make_error_code(errc::notifications_missed));
        CHECK(restarted.load());
        CHECK(l.reconnects() == 2);
        {
            auto conn = co_await connect(cluster.url);
            co_await conn.notify("added while down", "live again");
            co_await conn.notify("Jobs", "live too");
        }
        auto m4 = co_await l.receive();
        CHECK(m4.payload == "live again");
        auto m5 = co_await l.receive();
        CHECK(m5.payload == "live too");
        l.close();
    }, 120s);
}

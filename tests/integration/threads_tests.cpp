// One connection (and one pool) used from two threads at once. Also built alone with
// ThreadSanitizer (PGCORO_TSAN, see tests/CMakeLists.txt).
#include "support.hpp"

#include <future>
#include <thread>

using namespace pgtest;

TEST_CASE("a connection shared by coroutines on a 2-thread io_context", "[threads]") {
    asio::io_context io(2);
    std::optional<pgcoro::connection> conn;
    std::exception_ptr failure;
    std::atomic<int> ok{0};
    // Connect first.
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { conn.emplace(co_await connect()); },
                   [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    io.restart();
    // Through a strand (the user's own), and straight from the pool of threads.
    auto strand = asio::make_strand(io);
    constexpr int per = 200;
    for (int i = 0; i < per; ++i) {
        asio::co_spawn(strand, [&, i]() -> asio::awaitable<void> {
            auto v = co_await conn->query_one<int32_t>("select $1::int4 + 1", i);
            if (v == i + 1) ++ok;
        }, [&](std::exception_ptr e) { if (e) failure = e; });
        asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
            auto v = co_await conn->query_one<std::string>("select $1::text", std::to_string(i));
            if (v == std::to_string(i)) ++ok;
        }, [&](std::exception_ptr e) { if (e) failure = e; });
    }
    std::thread t1([&] { io.run(); });
    std::thread t2([&] { io.run(); });
    t1.join();
    t2.join();
    if (failure) std::rethrow_exception(failure);
    CHECK(ok == 2 * per);
}

TEST_CASE("statements and cancellations from two threads on one connection", "[threads][cancel]") {
    asio::io_context io(2);
    std::optional<pgcoro::connection> conn;
    std::exception_ptr failure;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> { conn.emplace(co_await connect()); },
                   [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    io.restart();
    std::atomic<int> ok{0}, cancelled{0}, wrong{0};
    constexpr int per = 100;
    for (int i = 0; i < per; ++i) {
        // Each on its own strand: completions land on either thread.
        asio::co_spawn(asio::make_strand(io), [&, i]() -> asio::awaitable<void> {
            asio::cancellation_signal sig;
            asio::steady_timer t(co_await asio::this_coro::executor);
            t.expires_after(std::chrono::milliseconds(i % 7));
            t.async_wait([&](boost::system::error_code ec) {
                if (!ec) sig.emit(asio::cancellation_type::terminal);
            });
            auto [ec, v] = co_await conn->async_query_one<std::string>(
                pgcoro::statement("select $1::text from pg_sleep(0.001)", std::to_string(i)),
                asio::bind_cancellation_slot(sig.slot(), asio::as_tuple(asio::use_awaitable)));
            t.cancel();
            if (ec == asio::error::operation_aborted) ++cancelled;
            else if (ec || v != std::to_string(i)) ++wrong;
            else ++ok;
            // A plain callback too, completing on the connection's strand.
            std::promise<int> p;
            conn->async_query_one<int>(pgcoro::statement("select $1::int", i),
                                       [&p](boost::system::error_code e, int x) { p.set_value(e ? -1 : x); });
            auto f = p.get_future();
            while (f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
                asio::steady_timer w(co_await asio::this_coro::executor);
                w.expires_after(1ms);
                co_await w.async_wait(asio::use_awaitable);
            }
            if (f.get() != i) ++wrong;
        }, [&](std::exception_ptr e) { if (e) failure = e; });
    }
    std::thread t1([&] { io.run(); });
    std::thread t2([&] { io.run(); });
    t1.join();
    t2.join();
    if (failure) std::rethrow_exception(failure);
    CHECK(wrong == 0);
    CHECK(ok + cancelled == per);
}

TEST_CASE("a pool shared by two threads", "[threads][pool]") {
    asio::io_context io(2);
    pgcoro::pool_config cfg;
    cfg.conninfo = url();
    cfg.max_size = 3;
    pgcoro::pool db(io.get_executor(), cfg);
    std::atomic<int> ok{0};
    std::exception_ptr failure;
    std::atomic<int> left{200};
    for (int i = 0; i < 200; ++i) {
        asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
            auto v = co_await db.query_one<int>("select $1::int", i);
            if (v == i) ++ok;
            if (--left == 0) db.close();
        }, [&](std::exception_ptr e) { if (e) failure = e; });
    }
    std::thread t1([&] { io.run(); });
    std::thread t2([&] { io.run(); });
    t1.join();
    t2.join();
    if (failure) std::rethrow_exception(failure);
    CHECK(ok == 200);
}

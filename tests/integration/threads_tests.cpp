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

TEST_CASE("a pool on a 2-thread io_context used from another io_context: helpers, acquire, "
          "transactions, cancellations", "[threads][pool][stress]") {
    using namespace std::chrono_literals;
    using namespace boost::asio::experimental::awaitable_operators;
    asio::io_context pool_io(2), user_io(1);
    pgcoro::pool_config cfg;
    cfg.conninfo = url();
    cfg.max_size = 4;
    cfg.min_size = 2;
    auto db = std::make_unique<pgcoro::pool>(pool_io.get_executor(), cfg);
    auto work = asio::make_work_guard(pool_io);
    std::atomic<int> ok{0}, cancelled{0}, bad{0}, left{0};
    constexpr int workers = 48, rounds = 12;
    auto worker = [&](int w) -> asio::awaitable<void> {
        for (int r = 0; r < rounds; ++r) {
            int i = w * 1000 + r;
            try {
                switch ((w + r) % 6) {
                case 0:
                case 1: {  // shared helper
                    auto v = co_await db->query_one<int>("select $1::int", i);
                    (v == i ? ok : bad)++;
                    break;
                }
                case 2: {  // a helper that changes the session: alone, then reset
                    co_await db->execute("set application_name = 'stress'");
                    auto name = co_await db->query_one<std::string>("show application_name");
                    (name != "stress" ? ok : bad)++;
                    break;
                }
                case 3: {  // acquire, returned without reset
                    auto c = co_await db->acquire();
                    auto v = co_await c->query_one<int>("select $1::int + 1", i);
                    c.return_without_reset();
                    (v == i + 1 ? ok : bad)++;
                    break;
                }
                case 4: {  // a transaction
                    auto v = co_await db->transaction([i](pgcoro::transaction& tx) -> asio::awaitable<int> {
                        co_return co_await tx.query_one<int>("select $1::int", i);
                    });
                    (v == i ? ok : bad)++;
                    break;
                }
                case 5: {  // cancelled by a timer, sometimes
                    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::microseconds(50 * (r % 4)));
                    auto res = co_await (db->query_one<int>("select $1::int from pg_sleep(0.002)", i) ||
                                         t.async_wait(asio::use_awaitable));
                    if (res.index() == 0) (std::get<0>(res) == i ? ok : bad)++;
                    else ++cancelled;
                    break;
                }
                }
            } catch (const pgcoro::error& e) {
                if (e.code() == asio::error::operation_aborted) ++cancelled;
                else ++bad;
            }
        }
        if (--left == 0) {
            db->close();
            work.reset();
        }
    };
    left = 2 * workers;
    for (int w = 0; w < workers; ++w) {
        asio::co_spawn(pool_io, worker(w), asio::detached);
        asio::co_spawn(user_io, worker(workers + w), asio::detached);
    }
    std::thread t1([&] { pool_io.run(); });
    std::thread t2([&] { pool_io.run(); });
    std::thread t3([&] { user_io.run(); });
    t1.join();
    t2.join();
    t3.join();
    CHECK(bad == 0);
    CHECK(ok + cancelled == 2 * workers * rounds);
    CHECK(ok > workers * rounds);
    auto s = db->stats();
    CHECK(s.waiting == 0);
}

TEST_CASE("a listener on a 2-thread io_context: receives, cancels and notifies from both threads", "[threads][notify]") {
    asio::io_context io(2);
    std::optional<pgcoro::listener> l;
    std::exception_ptr failure;
    std::string channel = unique_name("threads");
    // A listener keeps run() busy: the threads run from the start.
    auto work = asio::make_work_guard(io);
    std::thread t1([&] { io.run(); });
    std::thread t2([&] { io.run(); });
    std::promise<void> ready;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        l.emplace(co_await pgcoro::listener::connect(io.get_executor(), url()));
        co_await l->listen(channel);
    }, [&](std::exception_ptr e) {
        if (e) ready.set_exception(e);
        else ready.set_value();
    });
    try {
        ready.get_future().get();
    } catch (...) {
        work.reset();
        io.stop();
        t1.join();
        t2.join();
        throw;
    }
    // Receivers on their own strands (either thread), some cancelled by a timer at once.
    constexpr int n = 200;
    std::atomic<int> got{0}, cancelled{0}, wrong{0};
    std::atomic<int> pending{n + 20};
    for (int i = 0; i < 20; ++i) {
        asio::co_spawn(asio::make_strand(io), [&]() -> asio::awaitable<void> {
            asio::cancellation_signal sig;
            asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
            t.async_wait([&](boost::system::error_code ec) {
                if (!ec) sig.emit(asio::cancellation_type::terminal);
            });
            auto [ec, m] = co_await l->async_receive(asio::bind_cancellation_slot(sig.slot(), asio::as_tuple(asio::use_awaitable)));
            if (ec == asio::error::operation_aborted) ++cancelled;
            else if (!ec) ++got;  // a cancel that came too late: it took one
            else ++wrong;
        }, [&](std::exception_ptr e) { if (e) failure = e; --pending; });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    pgcoro::pool db(io.get_executor(), [] {
        pgcoro::pool_config c;
        c.conninfo = url();
        c.max_size = 2;
        return c;
    }());
    for (int i = 0; i < n; ++i) {
        asio::co_spawn(asio::make_strand(io), [&, i]() -> asio::awaitable<void> {
            co_await db.notify(channel, std::to_string(i));
        }, [&](std::exception_ptr e) { if (e) failure = e; });
    }
    std::atomic<int> received_here{0};
    for (int i = 0; i < n; ++i) {
        asio::co_spawn(asio::make_strand(io), [&]() -> asio::awaitable<void> {
            auto m = co_await l->receive();
            if (m.channel == channel) ++received_here;
        }, [&](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const pgcoro::error& err) {
                    if (err.code() != pgcoro::make_error_code(pgcoro::errc::connection_closed)) failure = e;
                }
            }
            --pending;
        });
    }
    // Every notification is received once; then close from this thread ends the rest.
    while (received_here.load() + got.load() < n && !failure) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    l->close();
    db.close();
    while (pending.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    work.reset();
    t1.join();
    t2.join();
    if (failure) std::rethrow_exception(failure);
    CHECK(wrong == 0);
    CHECK(received_here + got == n);
    CHECK(cancelled + got == 20);
}

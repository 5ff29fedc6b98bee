// Beyond one server: TLS, several hosts, and a network that fails (through the fault
// proxy). Every server here is real, started by scripts/pg-cluster.sh.
#include "network_support.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <filesystem>
#include <thread>

using namespace pgtest;
using pgcoro::errc;
using clk = std::chrono::steady_clock;

// ---- TLS and authentication ------------------------------------------------------------

TEST_CASE("TLS: verify-full connects with the CA, and refuses a wrong host name or an unknown CA", "[network][tls]") {
    own_cluster& c = tls_cluster();
    run([&](asio::io_context&) -> asio::awaitable<void> {
        auto db = co_await connect_with(c.params("sslmode=verify-full sslrootcert=" + c.tls_file("ca.crt")));
        auto got1 = co_await db.query_one<bool>("select ssl from pg_stat_ssl where pid = pg_backend_pid()");
        CHECK(got1);

        // The certificate names localhost and 127.0.0.1: any other name is refused.
        auto wrong_host = co_await expect_error(connect_with(
            "host=db.wrong.example hostaddr=127.0.0.1 port=" + c.port() + " user=pgcoro dbname=postgres password=" +
            c.password() + " sslmode=verify-full sslrootcert=" + c.tls_file("ca.crt")));
        CHECK(wrong_host.code() == pgcoro::make_error_code(errc::connect_failed));
        CHECK(contains(wrong_host.what(), "db.wrong.example"));
        CHECK(contains(wrong_host.what(), "does not match host name"));

        auto unknown_ca = co_await expect_error(
            connect_with(c.params("sslmode=verify-full sslrootcert=" + c.tls_file("other_ca.crt"))));
        CHECK(unknown_ca.code() == pgcoro::make_error_code(errc::connect_failed));
        CHECK(contains(unknown_ca.what(), "certificate verify failed"));
    });
}

TEST_CASE("TLS: a client certificate logs in with cert authentication", "[network][tls]") {
    own_cluster& c = tls_cluster();
    run([&](asio::io_context&) -> asio::awaitable<void> {
        std::string base = "host=localhost hostaddr=127.0.0.1 port=" + c.port() +
                           " user=pgcoro_cert dbname=postgres sslmode=verify-full sslrootcert=" + c.tls_file("ca.crt");
        auto db = co_await connect_with(base + " sslcert=" + c.tls_file("client.crt") +
                                        " sslkey=" + c.tls_file("client.key"));
        auto got2 = co_await db.query_one<std::string>("select current_user::text");
        CHECK(got2 == "pgcoro_cert");
        // No certificate: the cert line refuses (no password to fall back on).
        auto refused = co_await expect_error(connect_with(base + " sslcert=/nonexistent sslkey=/nonexistent"));
        CHECK(refused.code() == pgcoro::make_error_code(errc::connect_failed));
    });
}

TEST_CASE("SCRAM-SHA-256 with channel_binding=require: works over TLS, refused without", "[network][tls]") {
    own_cluster& c = tls_cluster();
    run([&](asio::io_context&) -> asio::awaitable<void> {
        auto db = co_await connect_with(c.params("sslmode=require channel_binding=require"));
        auto got3 = co_await db.query_one<int32_t>("select 1");
        CHECK(got3 == 1);
        auto plain = co_await expect_error(connect_with(c.params("sslmode=disable channel_binding=require")));
        CHECK(plain.code() == pgcoro::make_error_code(errc::connect_failed));
        CHECK(contains(plain.what(), "channel binding"));
    });
}

TEST_CASE("a wrong password is refused and appears nowhere", "[network][tls]") {
    own_cluster& c = tls_cluster();
    const std::string secret = "Wr0ng-" + unique_name("pw");
    struct recorder : pgcoro::observer {
        std::mutex m;
        std::vector<std::string> messages;
        void on_pool_event(const pgcoro::pool_event& e) override {
            std::lock_guard l(m);
            messages.push_back(e.message);
        }
    };
    auto rec = std::make_shared<recorder>();
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        std::string conninfo = "postgresql://pgcoro:" + secret + "@127.0.0.1:" + c.port() + "/postgres?sslmode=require";
        auto e = co_await expect_error(connect_with(conninfo));
        CHECK(e.code() == pgcoro::make_error_code(errc::connect_failed));
        CHECK(contains(e.what(), "password authentication failed"));
        CHECK_FALSE(contains(e.what(), secret));

        auto cfg = pgcoro::pool_config::from_url(conninfo);
        cfg.min_size = 0;
        cfg.acquire_timeout = 1s;
        cfg.observer = rec;
        pgcoro::pool db(io.get_executor(), cfg);
        auto pe = co_await expect_error(db.query_one<int32_t>("select 1"));
        CHECK_FALSE(contains(pe.what(), secret));
        db.close();
    });
    std::lock_guard l(rec->m);
    CHECK_FALSE(rec->messages.empty());
    for (auto& m : rec->messages) CHECK_FALSE(contains(m, secret));
    // The server's log names the user, never the password.
    std::ifstream log(read_first_line(c.state + "/datadir") + "/server.log");
    std::string all((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    CHECK_FALSE(contains(all, secret));
}

TEST_CASE("a TLS handshake that stalls never blocks the io_context", "[network][tls]") {
    own_cluster& c = tls_cluster();
    fault_proxy proxy(static_cast<unsigned short>(std::stoi(c.port())));
    run([&](asio::io_context&) -> asio::awaitable<void> {
        proxy.stall();  // the server's answer to SSLRequest never arrives
        std::atomic<bool> connecting{true}, ticker_done{false};
        clk::duration worst_gap{};
        int ticks = 0;
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
            auto last = clk::now();
            while (connecting) {
                co_await nap(10ms);
                auto now = clk::now();
                worst_gap = std::max(worst_gap, now - last);
                last = now;
                ++ticks;
            }
            ticker_done = true;
        }, asio::detached);
        pgcoro::connect_options o;
        o.connect_timeout = 1500ms;
        auto t0 = clk::now();
        auto e = co_await expect_error(connect_with(
            "host=127.0.0.1 port=" + std::to_string(proxy.port()) + " user=pgcoro dbname=postgres sslmode=require", o));
        connecting = false;
        while (!ticker_done) co_await nap(5ms);  // it uses this frame's variables
        CHECK(e.code() == pgcoro::make_error_code(errc::connect_timeout));
        CHECK(clk::now() - t0 >= 1400ms);
        INFO("ticks " << ticks << ", worst gap " << std::chrono::duration_cast<std::chrono::milliseconds>(worst_gap).count()
                      << " ms");
        // A blocking handshake would freeze the timer for the whole 1.5 s.
        CHECK(ticks >= 20);
        CHECK(worst_gap < 750ms);
    });
}

// ---- Several hosts, standbys ----------------------------------------------------------------

TEST_CASE("several hosts: a black-holed first host is passed over after its own timeout", "[network][hosts]") {
    own_cluster& c = tls_cluster();  // any running server will do
    fault_proxy hole(static_cast<unsigned short>(std::stoi(c.port())));
    hole.stall();
    run([&](asio::io_context&) -> asio::awaitable<void> {
        pgcoro::connect_options o;
        o.connect_timeout = 30s;
        o.network.host_timeout = 700ms;
        auto t0 = clk::now();
        auto db = co_await connect_with(
            hosts_params(std::to_string(hole.port()) + "," + c.port(), c.password(), "sslmode=disable"), o);
        auto took = clk::now() - t0;
        auto got4 = co_await db.query_one<int32_t>("select inet_server_port()");
        CHECK(got4 == std::stoi(c.port()));
        CHECK(took >= 650ms);  // it did wait for the first host
        CHECK(took < 15s);     // and not for the whole connect timeout
        CHECK(hole.connections() == 1);

        // Without a host_timeout of its own, each of the two hosts gets half the budget.
        pgcoro::connect_options shared;
        shared.connect_timeout = 2s;
        auto t1 = clk::now();
        auto db2 = co_await connect_with(
            hosts_params(std::to_string(hole.port()) + "," + c.port(), c.password(), "sslmode=disable"), shared);
        CHECK(clk::now() - t1 >= 950ms);
        auto got5 = co_await db2.query_one<int32_t>("select 1");
        CHECK(got5 == 1);

        // Every host black-holed: connect_timeout, naming each host.
        pgcoro::connect_options both;
        both.network.host_timeout = 300ms;
        std::string hp = std::to_string(hole.port());
        auto e = co_await expect_error(connect_with(hosts_params(hp + "," + hp, c.password(), "sslmode=disable"), both));
        CHECK(e.code() == pgcoro::make_error_code(errc::connect_timeout));
        CHECK(contains(e.what(), "127.0.0.1:" + hp + ": timed out"));
    });
}

// ---- A network that fails ------------------------------------------------------------------

TEST_CASE("a statement on a black-holed connection fails at read_timeout", "[network][faults]") {
    fault_proxy proxy(fixture_port());
    run([&](asio::io_context&) -> asio::awaitable<void> {
        pgcoro::connect_options o;
        o.network.read_timeout = 600ms;
        auto db = co_await connect_with(via_port(proxy.port()), o);
        // An idle connection never times out: the bound is on a server that owes an answer.
        auto got6 = co_await db.query_one<int32_t>("select 1");
        CHECK(got6 == 1);
        co_await nap(900ms);
        auto got7 = co_await db.query_one<int32_t>("select 2");
        CHECK(got7 == 2);

        proxy.stall();
        auto t0 = clk::now();
        auto e = co_await expect_error(db.query_one<int32_t>("select 3"));
        auto took = clk::now() - t0;
        CHECK(e.code() == pgcoro::make_error_code(errc::connection_broken));
        CHECK(contains(e.what(), "read_timeout"));
        CHECK(took >= 550ms);
        CHECK(took < 10s);
        CHECK_FALSE(db.is_open());
    });
}

TEST_CASE("acquire against a black-holed server ends at acquire_timeout", "[network][faults][pool]") {
    fault_proxy hole(fixture_port());
    hole.stall();
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto cfg = pgcoro::pool_config::from_url(via_port(hole.port()));
        cfg.min_size = 0;
        cfg.max_size = 2;
        cfg.acquire_timeout = 500ms;
        cfg.connect_timeout = 20s;
        pgcoro::pool db(io.get_executor(), cfg);
        auto t0 = clk::now();
        auto e = co_await expect_error(db.acquire());
        auto took = clk::now() - t0;
        CHECK(e.code() == pgcoro::make_error_code(errc::pool_timeout));
        CHECK(took >= 450ms);
        CHECK(took < 10s);
        db.close();
    });
}

TEST_CASE("a pool through a black hole, a cut and a heal: statements fail within read_timeout, then it recovers",
          "[network][faults][pool]") {
    fault_proxy proxy(fixture_port());
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto cfg = pgcoro::pool_config::from_url(via_port(proxy.port()));
        cfg.min_size = 2;
        cfg.max_size = 4;
        cfg.acquire_timeout = 2s;
        cfg.connect_timeout = 2s;
        cfg.reconnect_backoff_initial = 50ms;
        cfg.reconnect_backoff_max = 300ms;
        cfg.network.read_timeout = 500ms;
        pgcoro::pool db(io.get_executor(), cfg);
        co_await db.wait_ready(10s);
        auto got8 = co_await db.query_one<int32_t>("select 1");
        CHECK(got8 == 1);

        // Black hole: what is in flight fails at read_timeout (not at acquire_timeout,
        // and never hangs).
        proxy.stall();
        auto t0 = clk::now();
        auto e = co_await expect_error(db.query_one<int32_t>("select 2"));
        CHECK((e.code() == pgcoro::make_error_code(errc::connection_broken) ||
               e.code() == pgcoro::make_error_code(errc::pool_timeout)));
        CHECK(clk::now() - t0 < 10s);

        // Healed: the pool serves again without a restart.
        proxy.heal();
        int ok = co_await successes_within(db, 50, 20s);
        CHECK(ok == 50);

        // Cut: the connections die at once; what was in flight fails, the next calls work.
        std::vector<std::optional<int32_t>> got(8);
        int finished = 0;
        for (int i = 0; i < 8; ++i)
            asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
                try {
                    got[i] = co_await db.query_one<int32_t>("select 1 from pg_sleep(0.3)");
                } catch (const pgcoro::error&) {
                }
                ++finished;
            }, asio::detached);
        co_await nap(100ms);
        proxy.cut();
        while (finished < 8) co_await nap(10ms);
        int lost = 0;
        for (auto& g : got) lost += !g;
        CHECK(lost > 0);
        ok = co_await successes_within(db, 20, 20s);
        CHECK(ok == 20);
        db.close();
    });
}

TEST_CASE("50 ms each way: the pool keeps every pipeline full", "[network][faults][pool]") {
    fault_proxy proxy(fixture_port());
    proxy.set_latency(50ms);
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto cfg = pgcoro::pool_config::from_url(via_port(proxy.port()));
        cfg.min_size = 4;
        cfg.max_size = 4;
        cfg.pipeline_depth = 32;
        cfg.pipeline_stall_after = 1s;  // every statement waits 100 ms: not a stall here
        cfg.acquire_timeout = 10s;
        pgcoro::pool db(io.get_executor(), cfg);
        co_await db.wait_ready(20s);
        // Warm the statement caches.
        for (int i = 0; i < 8; ++i) (void)co_await db.query_one<int32_t>("select $1::int4", i);
        std::atomic<bool> stop{false};
        long done = 0;
        int workers_left = 128;
        auto t0 = clk::now();
        for (int w = 0; w < 128; ++w)
            asio::co_spawn(io, [&]() -> asio::awaitable<void> {
                while (!stop) {
                    (void)co_await db.query_one<int32_t>("select $1::int4", 7);
                    ++done;
                }
            }, [&](std::exception_ptr) { --workers_left; });
        co_await nap(3s);
        stop = true;
        auto secs = std::chrono::duration<double>(clk::now() - t0).count();
        while (workers_left > 0) co_await nap(20ms);
        double rate = static_cast<double>(done) / secs;
        // 4 connections x 32 in flight / 100 ms round trip = 1280 statements a second.
        std::printf("with 50 ms each way: %.0f statements/s (the bound: 1280)\n", rate);
        CHECK(rate > 0.25 * 1280);
        db.close();
    }, 90s);
}

TEST_CASE("keepalive and tcp_user_timeout settings reach the socket", "[network][faults]") {
    // (The fault proxy's kernel answers keepalive probes itself, and tc netem is not
    // available here: what can be checked is that the kernel got the settings.)
    const int port = fixture_port();
    run([&](asio::io_context&) -> asio::awaitable<void> {
        pgcoro::connect_options o;
        o.network.keepalives_idle = 7s;
        o.network.keepalives_interval = 3s;
        o.network.keepalives_count = 4;
        o.network.tcp_user_timeout = 9000ms;
        auto db = co_await connect_with(url(), o);
        auto pid = co_await db.query_one<std::int32_t>("select pg_backend_pid()");
        CHECK(pid == db.backend_pid());
        int found = 0;
        for (auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
            int fd = std::stoi(entry.path().filename().string());
            sockaddr_in peer{};
            socklen_t len = sizeof peer;
            if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 || peer.sin_family != AF_INET ||
                ntohs(peer.sin_port) != port)
                continue;
            int idle = 0, interval = 0, count = 0, keepalive = 0;
            unsigned user_timeout = 0;
            socklen_t l = sizeof(int);
            ::getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &keepalive, &l);
            ::getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &l);
            ::getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, &l);
            ::getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, &l);
            socklen_t ul = sizeof user_timeout;
            ::getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, &ul);
            if (keepalive == 1 && idle == 7 && interval == 3 && count == 4 && user_timeout == 9000) ++found;
        }
        CHECK(found == 1);
    });
}

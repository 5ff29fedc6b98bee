// Beyond one server: TLS, several hosts and standbys, and a network that fails (through
// the fault proxy). Every server here is real, started by scripts/pg-cluster.sh.
#include "fault_proxy.hpp"
#include "support.hpp"

#include <thread>

using namespace pgtest;
using pgcoro::errc;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {

/// The fixture cluster's URL with its port replaced by `port` (a proxy in front of it).
std::string via_port(unsigned short port) {
    std::string u = url();
    std::size_t colon = u.rfind(':', u.find('/', u.find("@")));
    return u.substr(0, colon + 1) + std::to_string(port) + u.substr(u.find('/', colon));
}

unsigned short fixture_port() {
    return static_cast<unsigned short>(std::stoi(read_first_line(std::string(PGCORO_TEST_STATE_DIR) + "/port")));
}

asio::awaitable<void> nap(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

asio::awaitable<pgcoro::connection> connect_with(std::string conninfo, pgcoro::connect_options o = {}) {
    auto ex = co_await asio::this_coro::executor;
    co_return co_await pgcoro::connection::connect(ex, std::move(conninfo), std::move(o));
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// One TLS cluster for the TLS cases (started on first use, stopped at exit).
own_cluster& tls_cluster() {
    static own_cluster c("tls");
    return c;
}

/// One primary with one streaming standby.
struct replica_pair {
    own_cluster primary;
    own_cluster standby{standby_of, primary};
};
replica_pair& replicas() {
    static replica_pair p;
    return p;
}

/// 127.0.0.1 once per port of `ports` ("p1,p2"). (A string, not a braced list: g++ 12
/// miscompiles a braced temporary inside a co_await expression.)
std::string hosts_params(const std::string& ports, const std::string& password, const std::string& extra = "") {
    std::string hosts = "127.0.0.1";
    for (char ch : ports)
        if (ch == ',') hosts += ",127.0.0.1";
    return "host=" + hosts + " port=" + ports + " user=pgcoro dbname=postgres password=" + password + " " + extra;
}

}  // namespace

// ---- TLS and authentication ------------------------------------------------------------

TEST_CASE("TLS: verify-full connects with the CA, and refuses a wrong host name or an unknown CA", "[network][tls]") {
    own_cluster& c = tls_cluster();
    run([&](asio::io_context&) -> asio::awaitable<void> {
        auto db = co_await connect_with(c.params("sslmode=verify-full sslrootcert=" + c.tls_file("ca.crt")));
        CHECK(co_await db.query_one<bool>("select ssl from pg_stat_ssl where pid = pg_backend_pid()"));

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
        CHECK(co_await db.query_one<std::string>("select current_user::text") == "pgcoro_cert");
        // No certificate: the cert line refuses (no password to fall back on).
        auto refused = co_await expect_error(connect_with(base + " sslcert=/nonexistent sslkey=/nonexistent"));
        CHECK(refused.code() == pgcoro::make_error_code(errc::connect_failed));
    });
}

TEST_CASE("SCRAM-SHA-256 with channel_binding=require: works over TLS, refused without", "[network][tls]") {
    own_cluster& c = tls_cluster();
    run([&](asio::io_context&) -> asio::awaitable<void> {
        auto db = co_await connect_with(c.params("sslmode=require channel_binding=require"));
        CHECK(co_await db.query_one<int32_t>("select 1") == 1);
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
        std::atomic<bool> connecting{true};
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
        }, asio::detached);
        pgcoro::connect_options o;
        o.connect_timeout = 1500ms;
        auto t0 = clk::now();
        auto e = co_await expect_error(connect_with(
            "host=127.0.0.1 port=" + std::to_string(proxy.port()) + " user=pgcoro dbname=postgres sslmode=require", o));
        connecting = false;
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
        CHECK(co_await db.query_one<int32_t>("select inet_server_port()") == std::stoi(c.port()));
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
        CHECK(co_await db2.query_one<int32_t>("select 1") == 1);

        // Every host black-holed: connect_timeout, naming each host.
        pgcoro::connect_options both;
        both.network.host_timeout = 300ms;
        std::string hp = std::to_string(hole.port());
        auto e = co_await expect_error(connect_with(hosts_params(hp + "," + hp, c.password(), "sslmode=disable"), both));
        CHECK(e.code() == pgcoro::make_error_code(errc::connect_timeout));
        CHECK(contains(e.what(), "127.0.0.1:" + hp + ": timed out"));
    });
}

TEST_CASE("target_session_attrs picks the primary or the standby, host by host", "[network][hosts][replica]") {
    replica_pair& r = replicas();
    const std::string p = r.primary.port(), s = r.standby.port(), pw = r.primary.password();
    run([&](asio::io_context&) -> asio::awaitable<void> {
        auto in_recovery = [](pgcoro::connection& db) { return db.query_one<bool>("select pg_is_in_recovery()"); };
        auto rw = co_await connect_with(hosts_params(s + "," + p, pw, "target_session_attrs=read-write"));
        CHECK_FALSE(co_await in_recovery(rw));
        auto primary = co_await connect_with(hosts_params(s + "," + p, pw, "target_session_attrs=primary"));
        CHECK_FALSE(co_await in_recovery(primary));
        auto ro = co_await connect_with(hosts_params(p + "," + s, pw, "target_session_attrs=read-only"));
        CHECK(co_await in_recovery(ro));
        auto standby = co_await connect_with(hosts_params(p + "," + s, pw, "target_session_attrs=standby"));
        CHECK(co_await in_recovery(standby));
        auto prefer = co_await connect_with(hosts_params(p + "," + s, pw, "target_session_attrs=prefer-standby"));
        CHECK(co_await in_recovery(prefer));
        // prefer-standby with no standby listed: the second pass takes the primary.
        auto fallback = co_await connect_with(hosts_params(p, pw, "target_session_attrs=prefer-standby"));
        CHECK_FALSE(co_await in_recovery(fallback));
        // A URL works the same way.
        auto via_url = co_await connect_with("postgresql://pgcoro:" + pw + "@127.0.0.1:" + s + ",127.0.0.1:" + p +
                                             "/postgres?target_session_attrs=read-write");
        CHECK_FALSE(co_await in_recovery(via_url));

        auto none = co_await expect_error(connect_with(hosts_params(s, pw, "target_session_attrs=read-write")));
        CHECK(none.code() == pgcoro::make_error_code(errc::connect_failed));
        CHECK(contains(none.what(), "127.0.0.1:" + s + ": session is read-only"));
        auto bad = co_await expect_error(connect_with(hosts_params(p, pw, "target_session_attrs=primary-ish")));
        CHECK(bad.code() == pgcoro::make_error_code(errc::invalid_conninfo));
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
        CHECK(co_await db.query_one<int32_t>("select 1") == 1);
        co_await nap(900ms);
        CHECK(co_await db.query_one<int32_t>("select 2") == 2);

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
        CHECK(co_await db.query_one<int32_t>("select 1") == 1);

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
        auto healed = clk::now();
        int ok = 0;
        while (ok < 50 && clk::now() - healed < 20s) {
            bool failed = false;
            try {
                ok += co_await db.query_one<int32_t>("select 1");
            } catch (const pgcoro::error&) {
                failed = true;
            }
            if (failed) co_await nap(50ms);
        }
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
        auto after_cut = clk::now();
        ok = 0;
        while (ok < 20 && clk::now() - after_cut < 20s) {
            bool failed = false;
            try {
                ok += co_await db.query_one<int32_t>("select 1");
            } catch (const pgcoro::error&) {
                failed = true;
            }
            if (failed) co_await nap(50ms);
        }
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

// ---- Read routing and failover -----------------------------------------------------------

TEST_CASE("a cluster sends reads to the standby, falls back to the primary, and reports replica lag",
          "[network][replica][cluster]") {
    replica_pair& r = replicas();
    const std::string table = unique_name("routed");
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        pgcoro::cluster_config cfg;
        cfg.primary = pgcoro::pool_config::from_url(r.primary.url);
        cfg.replicas = pgcoro::pool_config::from_url(r.standby.url);
        cfg.replicas.acquire_timeout = 1s;
        cfg.check_every = 100ms;
        pgcoro::cluster db(io.get_executor(), cfg);
        for (int i = 0; i < 100 && !db.replica().usable; ++i) co_await nap(100ms);
        auto st = db.replica();
        REQUIRE(st.usable);
        REQUIRE(st.lag);
        CHECK(st.checks > 0);
        CHECK_FALSE(st.is_primary);
        CHECK(&db.reader() == &db.replicas());

        co_await db.primary().execute("create table " + table + " (id int primary key)");
        co_await db.primary().execute("insert into " + table + " values (1), (2)");
        // Replication is asynchronous: the standby catches up shortly.
        std::int64_t seen = 0;
        for (int i = 0; i < 100 && seen != 2; ++i) {
            bool missing = false;
            try {
                seen = co_await db.reader().query_one<std::int64_t>("select count(*) from " + table);
            } catch (const pgcoro::error&) {
                missing = true;  // the table itself has not arrived yet
            }
            if (missing || seen != 2) co_await nap(50ms);
        }
        CHECK(seen == 2);

        bool on_standby = co_await db.read_transaction([&](pgcoro::transaction& tx) -> asio::awaitable<bool> {
            co_return co_await tx.query_one<bool>("select pg_is_in_recovery()");
        });
        CHECK(on_standby);
        auto write = co_await expect_error(db.read_transaction([&](pgcoro::transaction& tx) -> asio::awaitable<void> {
            co_await tx.execute("select 1");
            co_await tx.execute("insert into " + table + " values (3)");
        }));
        CHECK(pgcoro::sqlstate_of(write.code()) == "25006");  // read-only transaction
        co_await db.primary().execute("drop table " + table);
        db.close();
    });

    // No standby reachable: reads and read-only transactions go to the primary.
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        pgcoro::cluster_config cfg;
        cfg.primary = pgcoro::pool_config::from_url(r.primary.url);
        cfg.replicas = pgcoro::pool_config::from_url("host=127.0.0.1 port=1 user=nobody dbname=none connect_timeout=2");
        cfg.replicas.min_size = 0;
        cfg.replicas.acquire_timeout = 300ms;
        cfg.check_every = 100ms;
        pgcoro::cluster db(io.get_executor(), cfg);
        for (int i = 0; i < 100 && db.replica().failures == 0; ++i) co_await nap(50ms);
        auto st = db.replica();
        CHECK_FALSE(st.usable);
        CHECK_FALSE(st.last_error.empty());
        CHECK(&db.reader() == &db.primary());
        bool on_standby = co_await db.read_transaction([&](pgcoro::transaction& tx) -> asio::awaitable<bool> {
            co_return co_await tx.query_one<bool>("select pg_is_in_recovery()");
        });
        CHECK_FALSE(on_standby);
        db.close();
    });
}

namespace {

/// Writes under load, the primary crashes (pg_ctl stop -m immediate), the standby is
/// promoted; the pool, listing both hosts with target_session_attrs=read-write, finds
/// it. `synchronous`: the standby is synchronous (synchronous_standby_names), so no
/// acknowledged write may be lost; else replication is asynchronous and the writes
/// acknowledged just before the crash that had not reached the standby are lost (counted).
void failover_scenario(bool synchronous) {
    own_cluster primary;
    own_cluster standby(standby_of, primary);
    const std::string pw = primary.password();
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        auto cfg = pgcoro::pool_config::from_url(
            hosts_params(primary.port() + "," + standby.port(), pw, "target_session_attrs=read-write"));
        cfg.min_size = 4;
        cfg.max_size = 4;
        cfg.connect_timeout = 3s;
        cfg.network.host_timeout = 1s;
        cfg.acquire_timeout = 1s;
        cfg.reconnect_backoff_initial = 50ms;
        cfg.reconnect_backoff_max = 500ms;
        pgcoro::pool db(io.get_executor(), cfg);
        co_await db.wait_ready(10s);
        // The throwaway clusters run with synchronous_commit=off; a real primary does not.
        co_await db.execute(synchronous ? "alter system set synchronous_standby_names = '*'"
                                        : "alter system set synchronous_standby_names = ''");
        co_await db.execute("alter system set synchronous_commit = on");
        co_await db.execute("select pg_reload_conf()");
        co_await db.execute("create table failover_log (id bigint primary key)");

        std::atomic<clk::rep> crashed_at{0}, promoted_at{0};
        std::int64_t next_id = 0;
        std::vector<std::int64_t> acked_before, acked_after;
        clk::time_point first_after{};
        bool stop = false;
        int workers = 8;
        for (int w = 0; w < 8; ++w)
            asio::co_spawn(io, [&]() -> asio::awaitable<void> {
                while (!stop) {
                    std::int64_t id = ++next_id;
                    bool failed = false;
                    try {
                        co_await db.execute("insert into failover_log values ($1)", id);
                        if (promoted_at.load() == 0) {
                            acked_before.push_back(id);
                        } else {
                            acked_after.push_back(id);
                            if (first_after == clk::time_point{}) first_after = clk::now();
                        }
                    } catch (const pgcoro::error&) {
                        failed = true;
                    }
                    if (failed) co_await nap(20ms);
                }
            }, [&](std::exception_ptr) { --workers; });
        co_await nap(1s);
        std::jthread admin([&] {
            primary.crash();  // pg_ctl stop -m immediate
            crashed_at = clk::now().time_since_epoch().count();
            standby.promote();  // returns once the standby is out of recovery
            promoted_at = clk::now().time_since_epoch().count();
        });
        while (promoted_at.load() == 0 || (acked_after.size() < 200 && clk::now() - clk::time_point(clk::duration(promoted_at.load())) < 20s))
            co_await nap(20ms);
        stop = true;
        while (workers > 0) co_await nap(10ms);
        admin.join();

        REQUIRE(first_after != clk::time_point{});
        auto ms_since = [&](clk::rep t) {
            return static_cast<long long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(first_after - clk::time_point(clk::duration(t)))
                    .count());
        };
        long long resumed_ms = ms_since(promoted_at.load()), since_crash = ms_since(crashed_at.load());
        // Every write acknowledged after the promotion is on the new primary; some
        // acknowledged just before the crash may be lost (asynchronous replication).
        auto fresh = co_await pgcoro::connection::connect(io.get_executor(), standby.url);
        CHECK_FALSE(co_await fresh.query_one<bool>("select pg_is_in_recovery()"));
        auto stored = co_await fresh.query<std::int64_t>("select id from failover_log");
        std::sort(stored.begin(), stored.end());
        auto has = [&](std::int64_t id) { return std::binary_search(stored.begin(), stored.end(), id); };
        std::size_t missing_after = 0, lost_before = 0;
        for (auto id : acked_after) missing_after += !has(id);
        for (auto id : acked_before) lost_before += !has(id);
        std::printf("failover (%s standby): writes resumed %lld ms after the crash, %lld ms after pg_ctl promote "
                    "returned; %zu acknowledged before, %zu of them lost; %zu after, all kept: %s\n",
                    synchronous ? "synchronous" : "asynchronous", since_crash, resumed_ms, acked_before.size(),
                    lost_before, acked_after.size(), missing_after == 0 ? "yes" : "NO");
        CHECK(acked_before.size() > 0);
        CHECK(acked_after.size() >= 200);
        CHECK(missing_after == 0);
        CHECK(resumed_ms < 10000);
        if (synchronous) CHECK(lost_before == 0);
        db.close();
    }, 90s);
}

}  // namespace

TEST_CASE("failover: the primary crashes, the standby is promoted, writes resume on it", "[network][replica][failover]") {
    SECTION("asynchronous standby: acknowledged writes may be lost, and are counted") { failover_scenario(false); }
    SECTION("synchronous standby: no acknowledged write is lost") { failover_scenario(true); }
}

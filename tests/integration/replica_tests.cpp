// Standbys: target_session_attrs, reads routed to replicas (pgcoro::cluster), and a
// failover under load. Every server here is real, started by scripts/pg-cluster.sh.
#include "network_support.hpp"

#include <algorithm>
#include <thread>

using namespace pgtest;
using pgcoro::errc;
using clk = std::chrono::steady_clock;

TEST_CASE("target_session_attrs picks the primary or the standby, host by host", "[network][hosts][replica]") {
    replica_pair& r = replicas();
    const std::string p = r.primary.port(), s = r.standby.port(), pw = r.primary.password();
    run([&](asio::io_context&) -> asio::awaitable<void> {
        auto in_recovery = [](pgcoro::connection& db) { return db.query_one<bool>("select pg_is_in_recovery()"); };
        auto rw = co_await connect_with(hosts_params(s + "," + p, pw, "target_session_attrs=read-write"));
        auto got1 = co_await in_recovery(rw);
        CHECK_FALSE(got1);
        auto primary = co_await connect_with(hosts_params(s + "," + p, pw, "target_session_attrs=primary"));
        auto got2 = co_await in_recovery(primary);
        CHECK_FALSE(got2);
        auto ro = co_await connect_with(hosts_params(p + "," + s, pw, "target_session_attrs=read-only"));
        auto got3 = co_await in_recovery(ro);
        CHECK(got3);
        auto standby = co_await connect_with(hosts_params(p + "," + s, pw, "target_session_attrs=standby"));
        auto got4 = co_await in_recovery(standby);
        CHECK(got4);
        auto prefer = co_await connect_with(hosts_params(p + "," + s, pw, "target_session_attrs=prefer-standby"));
        auto got5 = co_await in_recovery(prefer);
        CHECK(got5);
        // prefer-standby with no standby listed: the second pass takes the primary.
        auto fallback = co_await connect_with(hosts_params(p, pw, "target_session_attrs=prefer-standby"));
        auto got6 = co_await in_recovery(fallback);
        CHECK_FALSE(got6);
        // A URL works the same way.
        auto via_url = co_await connect_with("postgresql://pgcoro:" + pw + "@127.0.0.1:" + s + ",127.0.0.1:" + p +
                                             "/postgres?target_session_attrs=read-write");
        auto got7 = co_await in_recovery(via_url);
        CHECK_FALSE(got7);

        auto none = co_await expect_error(connect_with(hosts_params(s, pw, "target_session_attrs=read-write")));
        CHECK(none.code() == pgcoro::make_error_code(errc::connect_failed));
        CHECK(contains(none.what(), "127.0.0.1:" + s + ": session is read-only"));
        auto bad = co_await expect_error(connect_with(hosts_params(p, pw, "target_session_attrs=primary-ish")));
        CHECK(bad.code() == pgcoro::make_error_code(errc::invalid_conninfo));
    });
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

    // A primary among the replicas (listed by mistake, or a standby promoted on its own):
    // not in recovery, so reads stay on the primary pool, whose hosts decide which
    // primary is current (a split-off promoted standby is on a timeline of its own).
    run([&](asio::io_context& io) -> asio::awaitable<void> {
        pgcoro::cluster_config cfg;
        cfg.primary = pgcoro::pool_config::from_url(r.primary.url);
        cfg.replicas = pgcoro::pool_config::from_url(r.primary.url);
        cfg.check_every = 100ms;
        pgcoro::cluster db(io.get_executor(), cfg);
        for (int i = 0; i < 100 && db.replica().checks == 0; ++i) co_await nap(50ms);
        auto st = db.replica();
        REQUIRE(st.checks > 0);
        CHECK(st.last_error.empty());
        CHECK(st.is_primary);
        CHECK_FALSE(st.usable);
        CHECK(&db.reader() == &db.primary());
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
        // pg_ctl blocks: on a thread, which only runs commands (Catch2's assertions are
        // not thread-safe); their results are checked here.
        std::atomic<int> crash_rc{-1}, promote_rc{-1};
        std::atomic<bool> admin_done{false};
        std::jthread admin([&] {
            crash_rc = std::system((script() + " crash " + primary.state).c_str());  // pg_ctl stop -m immediate
            crashed_at = clk::now().time_since_epoch().count();
            // Returns once the standby is out of recovery.
            promote_rc = crash_rc == 0 ? std::system((script() + " promote " + standby.state).c_str()) : -1;
            promoted_at = clk::now().time_since_epoch().count();
            admin_done = true;
        });
        auto started = clk::now();
        while (!admin_done && clk::now() - started < 60s) co_await nap(20ms);
        while (admin_done && acked_after.size() < 200 &&
               clk::now() - clk::time_point(clk::duration(promoted_at.load())) < 20s)
            co_await nap(20ms);
        stop = true;
        while (workers > 0) co_await nap(10ms);
        admin.join();
        REQUIRE(crash_rc == 0);
        REQUIRE(promote_rc == 0);

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
        auto got8 = co_await fresh.query_one<bool>("select pg_is_in_recovery()");
        CHECK_FALSE(got8);
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

// Pool throughput: pgcoro's pool at its default configuration next to raw libpq loops
// written here, pgbench and postgres.js, in one run, against the same server, all running
// `select $1::int` (prepared) in closed loops.
//
//   DATABASE_URL=postgresql://... ./pgcoro_bench_pool [--seconds 1] [--runs 5]
//       [--connections 4,16] [--callers 4,64,256,10000] [--json out.json]
//       [--postgresjs DIR] [--pgbench PATH] [--quick] [--depth D] [--threads T]
//       [--only-pgcoro | --only-raw]  (profiling: one side, exactly the callers listed,
//                                      no two-thread or head-of-line part)
//
// For each connection count N and caller count C:
//  - pgcoro: C coroutines on one io_context thread, each looping on pool.query_one;
//  - raw pipelined: N libpq connections in pipeline mode, C statements in flight in all
//    (C/N each), a Sync after every statement (errors isolated as pgcoro's are), a new
//    statement sent as each result comes in, one poll() loop;
//  - postgres.js (when --postgresjs names a directory holding node_modules/postgres):
//    C async callers, `max: N`;
// and for C = N: a raw one-in-flight poll loop (no pipeline mode) and pgbench -M prepared
// -c N, -j 1 and -j 2. Then: pgcoro with two io_context threads against one, and the cost
// of head-of-line blocking (1 % of statements sleep 20 ms: p50 / p99 latency of the fast
// ones, at the default pipeline_depth and at 1). Every ratio is the median of --runs
// interleaved runs; client CPU is user + system time per statement.
#include "pool_bench_support.hpp"

#include <pgcoro/pool.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <thread>

namespace asio = boost::asio;

struct pgcoro_options {
    int threads = 1;
    std::size_t depth = 0;   // 0: the default
    bool sleepers = false;   // 1 % of statements sleep 20 ms; latencies recorded
};

static measurement run_pgcoro(const std::string& url, int n, int c, double seconds, pgcoro_options o,
                              std::vector<double>* fast_latencies_us = nullptr) {
    asio::io_context io(o.threads);
    auto cfg = pgcoro::pool_config::from_url(url);
    cfg.max_size = cfg.min_size = static_cast<std::size_t>(n);
    if (o.depth) cfg.pipeline_depth = o.depth;
    auto db = std::make_unique<pgcoro::pool>(io.get_executor(), cfg);
    std::atomic<long> queries{0}, errors{0};
    std::atomic<int> done{0};
    clk::time_point t0, t1, until;
    double cpu0 = 0, cpu1 = 0;
    std::vector<std::vector<double>> lat(static_cast<std::size_t>(c));
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        co_await db->wait_ready(std::chrono::seconds(10));
        // Warm every connection (and its prepared statements) before timing.
        for (int i = 0; i < 4 * n; ++i) co_await db->query_one<std::int32_t>("select $1::int", i);
        if (o.sleepers) co_await db->execute("select pg_sleep(0)");
        t0 = clk::now();
        cpu0 = cpu_seconds();
        until = t0 + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(seconds));
        for (int w = 0; w < c; ++w) {
            asio::co_spawn(io, [&, w]() -> asio::awaitable<void> {
                std::int32_t i = w;
                auto& mine = lat[static_cast<std::size_t>(w)];
                while (clk::now() < until) {
                    if (o.sleepers && (i % 100) == 0) {
                        co_await db->execute("select pg_sleep(0.02)");
                    } else {
                        auto s = clk::now();
                        auto v = co_await db->query_one<std::int32_t>("select $1::int", i);
                        if (o.sleepers) mine.push_back(std::chrono::duration<double, std::micro>(clk::now() - s).count());
                        if (v != i) ++errors;
                    }
                    queries.fetch_add(1, std::memory_order_relaxed);
                    ++i;
                }
            }, [&](std::exception_ptr e) {
                if (e) ++errors;
                if (++done == c) {
                    t1 = clk::now();
                    cpu1 = cpu_seconds();
                    db->close();
                }
            });
        }
    }, [&](std::exception_ptr e) {
        if (!e) return;
        try { std::rethrow_exception(e); } catch (const std::exception& x) { std::fprintf(stderr, "error: %s\n", x.what()); }
        db->close();
        ++errors;
    });
    std::vector<std::thread> extra;
    for (int t = 1; t < o.threads; ++t) extra.emplace_back([&] { io.run(); });
    io.run();
    for (auto& t : extra) t.join();
    if (fast_latencies_us)
        for (auto& v : lat) fast_latencies_us->insert(fast_latencies_us->end(), v.begin(), v.end());
    return measurement::of(queries.load(), std::chrono::duration<double>(t1 - t0).count(), cpu1 - cpu0, errors.load());
}

int main(int argc, char** argv) {
    bench_args a = bench_args::parse(argc, argv);
    const char* url_env = std::getenv("DATABASE_URL");
    if (!url_env) {
        std::fprintf(stderr, "set DATABASE_URL\n");
        return 2;
    }
    std::string url = url_env;
    bool have_node = !a.postgresjs.empty();
    report rep;
    long errors = 0;

    std::printf("pool throughput, %d interleaved runs of %.1f s, select $1::int, one client thread unless said\n",
                a.runs, a.seconds);
    // Warm-up, not counted: the server's caches, the first backends' start-up.
    run_pgcoro(url, a.connections.front(), a.callers.back(), std::min(a.seconds, 0.5), {1, a.depth, false});
    if (!a.only_pgcoro) run_raw(url, a.connections.front(), a.callers.back(), std::min(a.seconds, 0.5), true);
    for (int n : a.connections) {
        // callers = connections (nothing to pipeline) always, unless profiling one side
        std::vector<int> callers;
        if (!a.only_pgcoro && !a.only_raw) callers.push_back(n);
        for (int c : a.callers)
            if (c > n || (c == n && callers.empty())) callers.push_back(c);
        for (int c : callers) {
            series& pg = rep.get("pgcoro", n, c);
            series& raw = rep.get("raw libpq pipelined", n, c);
            series* js = have_node ? &rep.get("postgres.js", n, c) : nullptr;
            series* one = c == n ? &rep.get("raw libpq one-in-flight", n, c) : nullptr;
            series* pb1 = c == n && !a.only_pgcoro ? &rep.get("pgbench -j 1", n, c) : nullptr;
            series* pb2 = c == n && !a.only_pgcoro ? &rep.get("pgbench -j 2", n, c) : nullptr;
            for (int r = 0; r < a.runs; ++r) {
                if (a.only_raw) {
                    raw.add(run_raw(url, n, c, a.seconds, true));
                    continue;
                }
                pg.add(run_pgcoro(url, n, c, a.seconds, {a.threads, a.depth, false}));
                if (a.only_pgcoro) continue;
                raw.add(run_raw(url, n, c, a.seconds, true));
                if (one) one->add(run_raw(url, n, n, a.seconds, false));
                if (pb1) pb1->add(run_pgbench(a.pgbench, url, n, 1, a.seconds));
                if (pb2) pb2->add(run_pgbench(a.pgbench, url, n, 2, a.seconds));
                if (js) js->add(run_postgresjs(a.postgresjs, url, n, c, a.seconds));
            }
            errors += pg.errors() + raw.errors();
            rep.print_shape(n, c);
        }
    }

    // Two io_context threads against one (same shape, interleaved). --only-* (profiling one
    // side) skips this and the head-of-line part.
    bool extras = !a.only_raw && !a.only_pgcoro;
    if (extras) {
        int n = a.connections.front(), c = std::min(256, a.callers.back());
        series& one = rep.get("pgcoro, 1 thread", n, c);
        series& two = rep.get("pgcoro, 2 threads", n, c);
        for (int r = 0; r < a.runs; ++r) {
            one.add(run_pgcoro(url, n, c, a.seconds, {1, a.depth, false}));
            two.add(run_pgcoro(url, n, c, a.seconds, {2, a.depth, false}));
        }
        errors += one.errors() + two.errors();
        std::printf("\n%d connections, %d callers: 2 io_context threads / 1 thread: %.2fx (q/s %s vs %s)\n", n, c,
                    median_ratio(two, one), two.qps_range().c_str(), one.qps_range().c_str());
        rep.extra("two_threads_ratio", median_ratio(two, one));
    }

    // Head-of-line blocking: 1 % of statements sleep 20 ms.
    if (extras) {
        int n = a.connections.front(), c = std::min(64, a.callers.back());
        std::vector<double> p50_default, p99_default, p50_one, p99_one;
        for (int r = 0; r < a.runs; ++r) {
            std::vector<double> l_def, l_one;
            errors += run_pgcoro(url, n, c, a.seconds, {1, a.depth, true}, &l_def).errors;
            errors += run_pgcoro(url, n, c, a.seconds, {1, 1, true}, &l_one).errors;
            p50_default.push_back(percentile(l_def, 0.50));
            p99_default.push_back(percentile(l_def, 0.99));
            p50_one.push_back(percentile(l_one, 0.50));
            p99_one.push_back(percentile(l_one, 0.99));
        }
        double ratio = median(p99_default) / median(p99_one);
        std::printf("\nhead-of-line blocking, %d connections, %d callers, 1 %% of statements sleep 20 ms; fast ones:\n"
                    "  pipeline_depth %zu:         p50 %.0f us, p99 %.0f us\n"
                    "  pipeline_depth 1:          p50 %.0f us, p99 %.0f us\n"
                    "  p99 default / depth 1: %.2fx (target <= 1.5x)\n",
                    n, c, a.depth ? a.depth : pgcoro::pool_config{}.pipeline_depth, median(p50_default), median(p99_default), median(p50_one),
                    median(p99_one), ratio);
        rep.extra("hol_p50_default_us", median(p50_default));
        rep.extra("hol_p99_default_us", median(p99_default));
        rep.extra("hol_p50_depth1_us", median(p50_one));
        rep.extra("hol_p99_depth1_us", median(p99_one));
        rep.extra("hol_p99_ratio", ratio);
    }

    if (!a.json.empty()) {
        rep.write_json(a.json);
        rep.write_tsv(a.json + ".tsv");
    }
    if (errors) std::printf("errors: %ld\n", errors);
    return errors ? 1 : 0;
}

// Pool throughput: C coroutines over a pool of N connections on one io_context thread,
// each running `select $1::int` in a loop; then pgbench with the same N connections (one
// thread, prepared statements, the same statement) against the same server; prints both
// rates, pgcoro's client CPU per query, and the ratio.
//
//   DATABASE_URL=postgresql://... ./pgcoro_bench_pool [--connections 4] [--concurrency 64]
//                                   [--seconds 5] [--depth 16] [--pgbench PATH]
// Three pgcoro runs: C = N (like pgbench), C coroutines with pipeline_depth 1 (each call
// has a connection to itself), and C coroutines with pipeline_depth D (calls share
// connections, pipelined).
#include <pgcoro/pgcoro.hpp>

#include <boost/asio.hpp>

#include <sys/resource.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>

namespace asio = boost::asio;
using clk = std::chrono::steady_clock;

static double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct run_result {
    double qps = 0, cpu_us_per_query = 0;
    long errors = 0;
};

static run_result run_pgcoro(const std::string& url, int n, int c, double seconds, int depth = 1) {
    asio::io_context io(1);
    auto cfg = pgcoro::pool_config::from_url(url);
    cfg.max_size = cfg.min_size = static_cast<std::size_t>(n);
    cfg.pipeline_depth = static_cast<std::size_t>(depth);
    auto db = std::make_unique<pgcoro::pool>(io.get_executor(), cfg);
    long queries = 0, errors = 0;
    int done = 0;
    clk::time_point t0, t1, until;  // here, not in the spawning coroutine: it returns at once
    double cpu0 = 0, cpu1 = 0;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        co_await db->wait_ready(std::chrono::seconds(10));
        // Warm every connection (and its prepared statement) before timing.
        for (int i = 0; i < 4 * n; ++i) co_await db->query_one<std::int32_t>("select $1::int", i);
        t0 = clk::now();
        cpu0 = cpu_seconds();
        until = t0 + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(seconds));
        for (int w = 0; w < c; ++w) {
            asio::co_spawn(io, [&, w]() -> asio::awaitable<void> {
                std::int32_t i = w;
                while (clk::now() < until) {
                    auto v = co_await db->query_one<std::int32_t>("select $1::int", i);
                    if (v == i) ++queries;
                    else ++errors;
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
    io.run();
    run_result r;
    double secs = std::chrono::duration<double>(t1 - t0).count();
    r.qps = secs > 0 ? static_cast<double>(queries) / secs : 0;
    r.cpu_us_per_query = queries ? (cpu1 - cpu0) * 1e6 / static_cast<double>(queries) : 0;
    r.errors = errors;
    return r;
}

static double run_pgbench(const std::string& pgbench, const std::string& url, int n, int seconds) {
    char path[] = "/tmp/pgcoro-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    std::string script = "\\set x random(1, 1000000)\nselect :x::int;\n";
    if (write(fd, script.data(), script.size()) != static_cast<ssize_t>(script.size())) return 0;
    close(fd);
    std::string cmd = pgbench + " -n -M prepared -j 1 -c " + std::to_string(n) + " -T " + std::to_string(seconds) +
                      " -f " + path + " '" + url + "' 2>&1";
    double tps = 0;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        std::array<char, 512> line{};
        while (fgets(line.data(), static_cast<int>(line.size()), p)) {
            std::string l = line.data();
            if (l.rfind("tps = ", 0) == 0) tps = std::atof(l.c_str() + 6);
        }
        pclose(p);
    }
    unlink(path);
    return tps;
}

int main(int argc, char** argv) {
    int n = 4, c = 64, seconds = 5, depth = 16;
    std::string pgbench = "/usr/lib/postgresql/15/bin/pgbench";
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view a = argv[i];
        if (a == "--connections") n = std::atoi(argv[i + 1]);
        else if (a == "--concurrency") c = std::atoi(argv[i + 1]);
        else if (a == "--seconds") seconds = std::atoi(argv[i + 1]);
        else if (a == "--pgbench") pgbench = argv[i + 1];
        else if (a == "--depth") depth = std::atoi(argv[i + 1]);
    }
    const char* url = std::getenv("DATABASE_URL");
    if (!url) { std::fprintf(stderr, "set DATABASE_URL\n"); return 2; }
    if (access(pgbench.c_str(), X_OK) != 0) pgbench = "pgbench";

    auto same = run_pgcoro(url, n, n, seconds);
    auto many = run_pgcoro(url, n, c, seconds);
    auto piped = run_pgcoro(url, n, c, seconds, depth);
    double tps = run_pgbench(pgbench, url, n, seconds);
    std::printf("connections %d, %d s each, one client thread\n", n, seconds);
    std::printf("pgbench -M prepared -c %d -j 1     %10.0f queries/s\n", n, tps);
    std::printf("pgcoro pool, %4d coroutines      %10.0f queries/s  %6.1f us CPU/query  ratio %.2f\n", n, same.qps,
                same.cpu_us_per_query, tps > 0 ? same.qps / tps : 0);
    std::printf("pgcoro pool, %4d coroutines      %10.0f queries/s  %6.1f us CPU/query  ratio %.2f\n", c, many.qps,
                many.cpu_us_per_query, tps > 0 ? many.qps / tps : 0);
    std::printf("pgcoro pool, %4d coroutines, pipeline_depth %d  %10.0f queries/s  %6.1f us CPU/query  ratio %.2f\n", c,
                depth, piped.qps, piped.cpu_us_per_query, tps > 0 ? piped.qps / tps : 0);
    long errors = same.errors + many.errors + piped.errors;
    if (errors) std::printf("errors: %ld\n", errors);
    return (errors || tps <= 0) ? 1 : 0;
}

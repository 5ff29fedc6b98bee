// The engine next to raw libpq, in one run, on the same server: `select $1::int`.
//
//   DATABASE_URL=postgresql://... ./pgcoro_bench_engine [--runs 5] [--seconds 1]
//                                   [--concurrency 10000] [--quick]
//
// Shapes (each pgcoro figure is paired with a raw libpq loop written here; the pairs are
// interleaved, and each ratio is the median of --runs pairs):
//  1. one connection, sequential: query_one vs PQsendQueryPrepared + poll + PQgetResult;
//  2. one connection, C concurrent coroutines per round vs raw pipeline mode with a Sync
//     after every statement (and, printed alongside, a Sync per 64);
//  3. four connections, C concurrent coroutines spread over them vs the same raw loop
//     over four sockets;
//  4. 256 coroutines looping on one connection: heap allocations (operator new) per
//     statement in steady state, for use_awaitable and for a plain callback.
// Client CPU per query is this process's user+system time over the statements.
#include "bench_common.hpp"

#include <pgcoro/pgcoro.hpp>

#include <boost/asio.hpp>

#include <poll.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <vector>

// ---- allocation counting (operator new only: libpq's mallocs for results do not count) --
static std::atomic<long> g_allocations{0};
void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace asio = boost::asio;
using clk = std::chrono::steady_clock;

namespace {

struct figure {
    double qps = 0;
    double cpu_us = 0;  // client CPU per query
};

/// Runs `round()` (which returns the statements it ran) until `seconds` have passed.
figure measure(double seconds, const std::function<long()>& round) {
    round();  // warm up
    long n = 0;
    double c0 = cpu_seconds();
    auto t0 = clk::now();
    auto until = t0 + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(seconds));
    while (clk::now() < until) n += round();
    double wall = std::chrono::duration<double>(clk::now() - t0).count();
    double cpu = cpu_seconds() - c0;
    return {static_cast<double>(n) / wall, cpu * 1e6 / static_cast<double>(n)};
}

// ---- raw libpq ------------------------------------------------------------------------

struct raw_conn {
    PGconn* c;
    explicit raw_conn(const std::string& url, bool pipeline) : c(PQconnectdb(url.c_str())) {
        if (PQstatus(c) != CONNECTION_OK) die("connect", c);
        PGresult* r = PQprepare(c, "s", "select $1::int", 1, nullptr);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) die("prepare", c);
        PQclear(r);
        if (pipeline && (PQsetnonblocking(c, 1) != 0 || PQenterPipelineMode(c) != 1)) die("pipeline", c);
    }
    ~raw_conn() { PQfinish(c); }
    raw_conn(const raw_conn&) = delete;
    raw_conn& operator=(const raw_conn&) = delete;
};

struct int_param {
    std::uint32_t be;
    const char* values[1];
    int lengths[1] = {4};
    int formats[1] = {1};
    explicit int_param(std::uint32_t v) : be(htonl(v)) { values[0] = reinterpret_cast<const char*>(&be); }
};

/// One statement at a time: send, wait for the socket, read the result.
long raw_sequential(raw_conn& rc, int n) {
    for (int i = 0; i < n; ++i) {
        int_param p(static_cast<std::uint32_t>(i));
        if (!PQsendQueryPrepared(rc.c, "s", 1, p.values, p.lengths, p.formats, 1)) die("send", rc.c);
        while (true) {
            while (PQisBusy(rc.c)) {
                pollfd f{PQsocket(rc.c), POLLIN, 0};
                ::poll(&f, 1, -1);
                if (!PQconsumeInput(rc.c)) die("consume", rc.c);
            }
            PGresult* r = PQgetResult(rc.c);
            if (!r) break;
            if (PQresultStatus(r) != PGRES_TUPLES_OK) die("result", rc.c);
            PQclear(r);
        }
    }
    return n;
}

/// Pipeline mode: `per_conn` statements on each connection, a Sync after every `sync_every`.
long raw_pipelined(std::vector<std::unique_ptr<raw_conn>>& conns, int per_conn, int sync_every) {
    std::size_t k = conns.size();
    std::vector<int> got(k, 0);
    for (auto& rc : conns) {
        for (int i = 0; i < per_conn; ++i) {
            int_param p(static_cast<std::uint32_t>(i));
            if (!PQsendQueryPrepared(rc->c, "s", 1, p.values, p.lengths, p.formats, 1)) die("send", rc->c);
            if ((i + 1) % sync_every == 0 || i + 1 == per_conn)
                if (!PQpipelineSync(rc->c)) die("sync", rc->c);
        }
    }
    std::vector<pollfd> fds(k);
    std::size_t finished = 0;
    while (finished < k) {
        for (std::size_t j = 0; j < k; ++j) {
            int fl = PQflush(conns[j]->c);
            fds[j] = {PQsocket(conns[j]->c), static_cast<short>(got[j] < per_conn ? POLLIN | (fl == 1 ? POLLOUT : 0) : 0), 0};
        }
        ::poll(fds.data(), k, -1);
        for (std::size_t j = 0; j < k; ++j) {
            if (!(fds[j].revents & POLLIN)) continue;
            PGconn* c = conns[j]->c;
            if (!PQconsumeInput(c)) die("consume", c);
            while (got[j] < per_conn && !PQisBusy(c)) {
                PGresult* r = PQgetResult(c);
                if (!r) continue;
                ExecStatusType st = PQresultStatus(r);
                if (st == PGRES_TUPLES_OK) {
                    if (++got[j] == per_conn) ++finished;
                } else if (st != PGRES_PIPELINE_SYNC) {
                    die("result", c);
                }
                PQclear(r);
            }
        }
    }
    // The last Sync of each connection.
    for (auto& rc : conns) {
        while (true) {
            while (PQisBusy(rc->c)) {
                pollfd f{PQsocket(rc->c), POLLIN, 0};
                ::poll(&f, 1, -1);
                PQconsumeInput(rc->c);
            }
            PGresult* r = PQgetResult(rc->c);
            if (!r) continue;
            bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
            PQclear(r);
            if (sync) break;
        }
    }
    return static_cast<long>(per_conn) * static_cast<long>(k);
}

// ---- pgcoro -------------------------------------------------------------------------------

struct pgcoro_side {
    asio::io_context io{1};
    std::vector<pgcoro::connection> conns;

    pgcoro_side(const std::string& url, int n) {
        for (int i = 0; i < n; ++i) {
            asio::co_spawn(io, pgcoro::connection::connect(io.get_executor(), url),
                           [this](std::exception_ptr e, pgcoro::connection c) {
                               if (e) std::rethrow_exception(e);
                               conns.push_back(std::move(c));
                           });
        }
        io.run();
        io.restart();
    }

    long sequential(int n) {
        asio::co_spawn(io, [this, n]() -> asio::awaitable<void> {
            for (int i = 0; i < n; ++i) (void)co_await conns[0].query_one<std::int32_t>("select $1::int", i);
        }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
        io.run();
        io.restart();
        return n;
    }

    /// c coroutines, each one statement, spread over the connections.
    long concurrent(int c) {
        for (int i = 0; i < c; ++i) {
            asio::co_spawn(io, [this, i]() -> asio::awaitable<void> {
                auto& conn = conns[static_cast<std::size_t>(i) % conns.size()];
                (void)co_await conn.query_one<std::int32_t>("select $1::int", i);
            }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
        }
        io.run();
        io.restart();
        return c;
    }

    /// 256 looping coroutines (or callback chains) on connection 0 for `per` statements
    /// each; returns the operator new calls per statement after the warm-up.
    double allocations(int per, bool callbacks) {
        constexpr int loops = 256;
        auto run_loops = [&](int n) {
            for (int w = 0; w < loops; ++w) {
                if (callbacks) {
                    start_callback_loop(std::make_shared<int>(n));
                } else {
                    asio::co_spawn(io, [this, n]() -> asio::awaitable<void> {
                        for (int i = 0; i < n; ++i) (void)co_await conns[0].query_one<std::int32_t>("select $1::int", i);
                    }, asio::detached);
                }
            }
            io.run();
            io.restart();
        };
        run_loops(per / 4);  // warm up: caches, free lists, buffers
        long a0 = g_allocations.load();
        run_loops(per);
        long a1 = g_allocations.load();
        return static_cast<double>(a1 - a0) / (static_cast<double>(loops) * per);
    }

    void start_callback_loop(std::shared_ptr<int> left) {
        if ((*left)-- <= 0) return;
        conns[0].async_query_one<std::int32_t>(pgcoro::statement("select $1::int", *left),
                                               [this, left](boost::system::error_code ec, std::int32_t) {
                                                   if (ec) throw pgcoro::error(ec, "callback loop");
                                                   start_callback_loop(left);
                                               });
    }
};

int arg_int(int argc, char** argv, const char* name, int def) {
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return std::atoi(argv[i + 1]);
    return def;
}
bool has_flag(int argc, char** argv, const char* name) {
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return true;
    return false;
}

void print_pair(const char* shape, const std::vector<figure>& ours, const std::vector<figure>& raw, const char* raw_name) {
    std::vector<double> ratios, cpu_ratios, q1, q2, c1, c2;
    for (std::size_t i = 0; i < ours.size(); ++i) {
        ratios.push_back(ours[i].qps / raw[i].qps);
        cpu_ratios.push_back(ours[i].cpu_us / raw[i].cpu_us);
        q1.push_back(ours[i].qps);
        q2.push_back(raw[i].qps);
        c1.push_back(ours[i].cpu_us);
        c2.push_back(raw[i].cpu_us);
    }
    std::printf("| %s | %.0f | %.2f | %s | %.0f | %.2f | %.2fx | %.2fx |\n", shape, median(q1), median(c1), raw_name,
                median(q2), median(c2), median(ratios), median(cpu_ratios));
}

}  // namespace

int main(int argc, char** argv) {
    const char* url_env = std::getenv("DATABASE_URL");
    if (!url_env || !*url_env) {
        std::fprintf(stderr, "set DATABASE_URL\n");
        return 2;
    }
    std::string url = url_env;
    bool quick = has_flag(argc, argv, "--quick");
    int runs = arg_int(argc, argv, "--runs", quick ? 1 : 5);
    double seconds = quick ? 0.2 : arg_int(argc, argv, "--seconds", 1);
    int conc = arg_int(argc, argv, "--concurrency", quick ? 1000 : 10000);

    pgcoro_side one(url, 1), four(url, 4);
    raw_conn raw_seq(url, false);
    std::vector<std::unique_ptr<raw_conn>> raw1, raw4;
    raw1.push_back(std::make_unique<raw_conn>(url, true));
    for (int i = 0; i < 4; ++i) raw4.push_back(std::make_unique<raw_conn>(url, true));

    // --profile seq|c1|c4|alloc: only pgcoro's side of one shape, for perf.
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::strcmp(argv[i], "--profile") != 0) continue;
        std::string what = argv[i + 1];
        figure f;
        if (what == "seq") f = measure(seconds, [&] { return one.sequential(500); });
        if (what == "c1") f = measure(seconds, [&] { return one.concurrent(conc); });
        if (what == "c4") f = measure(seconds, [&] { return four.concurrent(conc); });
        if (what == "alloc") f.qps = one.allocations(2000, false);
        if (what == "alloc_cb") f.qps = one.allocations(2000, true);
        std::printf("%s: %.2f q/s (allocations per statement for alloc*), %.2f us CPU per query\n", what.c_str(), f.qps, f.cpu_us);
        return 0;
    }

    std::vector<figure> seq_ours, seq_raw, c1_ours, c1_raw, c1_raw64, c4_ours, c4_raw, c4_raw64;
    for (int r = 0; r < runs; ++r) {
        seq_ours.push_back(measure(seconds, [&] { return one.sequential(500); }));
        seq_raw.push_back(measure(seconds, [&] { return raw_sequential(raw_seq, 500); }));
        c1_ours.push_back(measure(seconds, [&] { return one.concurrent(conc); }));
        c1_raw.push_back(measure(seconds, [&] { return raw_pipelined(raw1, conc, 1); }));
        c1_raw64.push_back(measure(seconds, [&] { return raw_pipelined(raw1, conc, 64); }));
        c4_ours.push_back(measure(seconds, [&] { return four.concurrent(conc); }));
        c4_raw.push_back(measure(seconds, [&] { return raw_pipelined(raw4, conc / 4, 1); }));
        c4_raw64.push_back(measure(seconds, [&] { return raw_pipelined(raw4, conc / 4, 64); }));
    }
    std::printf("pgcoro engine vs raw libpq, `select $1::int`, median of %d interleaved runs of %.1f s\n\n", runs, seconds);
    std::printf("| shape | pgcoro q/s | pgcoro CPU µs/q | raw libpq loop | raw q/s | raw CPU µs/q | q/s ratio | CPU ratio |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    print_pair("1 connection, sequential query_one", seq_ours, seq_raw, "sequential");
    print_pair("1 connection, concurrent coroutines", c1_ours, c1_raw, "pipeline, Sync per statement");
    print_pair("1 connection, concurrent coroutines", c1_ours, c1_raw64, "pipeline, Sync per 64");
    print_pair("4 connections, concurrent coroutines", c4_ours, c4_raw, "pipeline, Sync per statement");
    print_pair("4 connections, concurrent coroutines", c4_ours, c4_raw64, "pipeline, Sync per 64");
    std::printf("\n(concurrent: %d coroutines per round, each one statement)\n", conc);
    int per = quick ? 20 : 200;
    std::printf("heap allocations per statement, 256 looping callers on one connection: use_awaitable %.2f, callback %.2f\n",
                one.allocations(per, false), one.allocations(per, true));
    return 0;
}

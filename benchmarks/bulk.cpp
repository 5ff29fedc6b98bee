// Bulk benchmark, same server, same run, interleaved, medians of --runs:
//
//  1. Streaming N rows of (int4, int8, text, float8, timestamptz, bool) into structs:
//     pgcoro's row_stream against a hand-written libpq loop in binary single-row mode
//     (the same checks on every field, rows decoded into a reused batch), and query<T>
//     (one PGresult) for reference. Then the client's peak memory streaming N and 10 N
//     rows: it must not grow with the row count.
//  2. Loading N rows of (int8, text, timestamptz, float8): pgcoro's binary copy_in
//     against `psql \copy` of the same data (a text file), multi-row INSERT ... VALUES
//     (1,000 rows per statement, binary parameters, pipelined, one transaction, raw
//     libpq) and INSERT ... SELECT unnest($1, $2, $3, $4) (10,000-row arrays, pgcoro,
//     pipelined, one transaction).
//
//   DATABASE_URL=postgresql://... ./pgcoro_bench_bulk [--rows 1000000] [--runs 5] [--quick]
#include "bench_common.hpp"

#include <pgcoro/pgcoro.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace asio = boost::asio;
using clk = std::chrono::steady_clock;

namespace {

using row = wide_row;

struct item {
    std::int64_t id;
    std::string name;
    pgcoro::timestamptz at;
    double price;
};

std::string stream_sql(long rows) { return wide_rows_sql(rows); }

/// Peak resident memory since the last reset (Linux: clear_refs "5" resets VmHWM).
void reset_peak_memory() { std::ofstream("/proc/self/clear_refs") << "5"; }
long peak_memory_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}
long current_memory_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

struct timing {
    double seconds = 0;
    double cpu = 0;
};

template <class Fn>
timing timed(Fn&& fn) {
    double c0 = cpu_seconds();
    auto t0 = clk::now();
    fn();
    return {std::chrono::duration<double>(clk::now() - t0).count(), cpu_seconds() - c0};
}

// ---- streaming ------------------------------------------------------------------------

/// The raw baseline: binary single-row mode, every field checked as pgcoro checks it.
long raw_single_row(PGconn* c, long rows, std::vector<row>& batch) {
    auto be32 = [](const char* p) { std::uint32_t v; std::memcpy(&v, p, 4); return ntohl(v); };
    auto be64 = [&](const char* p) { return (std::uint64_t(be32(p)) << 32) | be32(p + 4); };
    std::string sql = stream_sql(rows);
    if (!PQsendQueryParams(c, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1) || !PQsetSingleRowMode(c))
        die("send", c);
    long n = 0;
    batch.clear();
    while (PGresult* r = PQgetResult(c)) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE) {
            auto field = [&](int col, int want) {
                int len = PQgetlength(r, 0, col);
                if ((len == 0 && PQgetisnull(r, 0, col)) || (want >= 0 && len != want)) throw std::runtime_error("bad field");
                return std::string_view(PQgetvalue(r, 0, col), static_cast<std::size_t>(len));
            };
            if (batch.size() == 1000) batch.clear();
            row& x = batch.emplace_back();
            x.id = static_cast<std::int32_t>(be32(field(0, 4).data()));
            x.amount = static_cast<std::int64_t>(be64(field(1, 8).data()));
            x.name = field(2, -1);
            std::uint64_t d = be64(field(3, 8).data());
            std::memcpy(&x.score, &d, 8);
            x.at = pgcoro::timestamptz(
                std::chrono::microseconds(static_cast<std::int64_t>(be64(field(4, 8).data())) + 946684800000000LL));
            x.flag = field(5, 1)[0] != 0;
            ++n;
        } else if (st != PGRES_TUPLES_OK) {
            die("result", c);
        }
        PQclear(r);
    }
    return n;
}

long pgcoro_stream(asio::io_context& io, pgcoro::connection& c, long rows, std::vector<row>& batch) {
    long n = 0;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        auto s = c.stream<row>(stream_sql(rows));
        while (std::size_t k = co_await s.read(batch)) n += static_cast<long>(k);
    }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
    io.restart();
    io.run();
    return n;
}

long pgcoro_query(asio::io_context& io, pgcoro::connection& c, long rows) {
    long n = 0;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        auto all = co_await c.query<row>(stream_sql(rows));
        n = static_cast<long>(all.size());
    }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
    io.restart();
    io.run();
    return n;
}

// ---- loading --------------------------------------------------------------------------

template <class Fn>
void run_co(asio::io_context& io, Fn fn) {
    asio::co_spawn(io, fn(), [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
    io.restart();
    io.run();
}

void exec_raw(PGconn* c, const char* sql) {
    PGresult* r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) die(sql, c);
    PQclear(r);
}

/// INSERT ... VALUES of 1,000 rows per statement, binary parameters, all statements
/// pipelined in one transaction (raw libpq).
void raw_values(PGconn* c, const std::vector<item>& items) {
    constexpr std::size_t per = 1000;
    std::string sql = "insert into bench_copy (id, name, at, price) values ";
    for (std::size_t i = 0; i < per; ++i) {
        std::size_t b = i * 4;
        sql += (i ? ",(" : "(") + ("$" + std::to_string(b + 1)) + ",$" + std::to_string(b + 2) + ",$" +
               std::to_string(b + 3) + ",$" + std::to_string(b + 4) + ")";
    }
    std::vector<Oid> types;
    for (std::size_t i = 0; i < per; ++i) types.insert(types.end(), {20, 25, 1184, 701});
    std::vector<int> formats(per * 4, 1);
    if (PQenterPipelineMode(c) != 1) die("pipeline", c);
    auto send = [&](const char* s) { if (!PQsendQueryParams(c, s, 0, nullptr, nullptr, nullptr, nullptr, 1)) die("send", c); };
    send("begin");
    std::string buf;
    std::vector<std::size_t> offsets;
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::size_t statements = 0;
    for (std::size_t at = 0; at < items.size(); at += per) {
        std::size_t n = std::min(per, items.size() - at);
        buf.clear();
        offsets.clear();
        lengths.clear();
        for (std::size_t i = at; i < at + n; ++i) {
            auto put = [&](auto v) {
                std::size_t o = buf.size();
                pgcoro::type_traits<decltype(v)>::encode(v, buf);
                offsets.push_back(o);
                lengths.push_back(static_cast<int>(buf.size() - o));
            };
            put(items[i].id);
            put(items[i].name);
            put(items[i].at);
            put(items[i].price);
        }
        values.resize(offsets.size());
        for (std::size_t k = 0; k < offsets.size(); ++k) values[k] = buf.data() + offsets[k];
        if (n != per) die("rows must be a multiple of 1000", nullptr);
        if (!PQsendQueryParams(c, sql.c_str(), static_cast<int>(n * 4), types.data(), values.data(), lengths.data(),
                               formats.data(), 1))
            die("send values", c);
        ++statements;
    }
    send("commit");
    if (PQpipelineSync(c) != 1) die("sync", c);
    std::size_t results = 0;
    for (;;) {
        PGresult* r = PQgetResult(c);
        if (!r) continue;
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        if (st == PGRES_PIPELINE_SYNC) break;
        if (st != PGRES_COMMAND_OK) die("values", c);
        ++results;
    }
    if (results != statements + 2) die("values results", c);
    PQexitPipelineMode(c);
}

/// INSERT ... SELECT unnest of 10,000-row arrays, pipelined in one transaction (pgcoro).
asio::awaitable<void> pgcoro_unnest(pgcoro::connection& c, const std::vector<item>& items) {
    constexpr std::size_t per = 10'000;
    co_await c.execute("begin");
    std::size_t outstanding = 0;
    std::exception_ptr failure;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer done(ex, clk::time_point::max());
    for (std::size_t at = 0; at < items.size(); at += per) {
        std::size_t n = std::min(per, items.size() - at);
        std::vector<std::int64_t> ids;
        std::vector<std::string> names;
        std::vector<pgcoro::timestamptz> ats;
        std::vector<double> prices;
        for (std::size_t i = at; i < at + n; ++i) {
            ids.push_back(items[i].id);
            names.push_back(items[i].name);
            ats.push_back(items[i].at);
            prices.push_back(items[i].price);
        }
        ++outstanding;
        c.async_execute(pgcoro::statement("insert into bench_copy (id, name, at, price) select * from unnest($1, $2, $3, $4)",
                                          ids, names, ats, prices),
                        [&](boost::system::error_code ec, std::uint64_t) {
                            if (ec && !failure) failure = std::make_exception_ptr(pgcoro::error(ec));
                            if (--outstanding == 0) done.cancel();
                        });
    }
    if (outstanding) co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
    if (failure) std::rethrow_exception(failure);
    co_await c.execute("commit");
}

/// `psql -c "\copy bench_copy from 'file'"`: wall time of the whole process.
double psql_copy(const std::string& url, const std::string& file) {
    auto t0 = clk::now();
    pid_t pid = fork();
    if (pid == 0) {
        std::string cmd = "\\copy bench_copy (id, name, at, price) from '" + file + "'";
        execlp("psql", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url.c_str(), "-c", cmd.c_str(), (char*)nullptr);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("psql \\copy failed", nullptr);
    return std::chrono::duration<double>(clk::now() - t0).count();
}

int arg_long(int argc, char** argv, const char* name, long def) {
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return std::atoi(argv[i + 1]);
    return static_cast<int>(def);
}
bool has_flag(int argc, char** argv, const char* name) {
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return true;
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    const char* url_env = std::getenv("DATABASE_URL");
    if (!url_env) {
        std::fprintf(stderr, "set DATABASE_URL\n");
        return 2;
    }
    std::string url = url_env;
    bool quick = has_flag(argc, argv, "--quick");
    long rows = arg_long(argc, argv, "--rows", quick ? 20'000 : 1'000'000);
    int runs = arg_long(argc, argv, "--runs", quick ? 1 : 5);
    rows = std::max(1000L, rows / 1000 * 1000);

    asio::io_context io;
    pgcoro::connection conn;
    run_co(io, [&]() -> asio::awaitable<void> { conn = co_await pgcoro::connection::connect(io.get_executor(), url); });
    PGconn* raw = PQconnectdb(url.c_str());
    if (PQstatus(raw) != CONNECTION_OK) die("connect", raw);

    // ---- 1. streaming ----
    std::printf("## Streaming %ld rows of (int4, int8, text, float8, timestamptz, bool) into structs\n\n", rows);
    std::printf("median of %d interleaved runs; rows/s, client CPU per row\n\n", runs);
    std::vector<double> s_rate, s_cpu, r_rate, r_cpu, q_rate, ratio, cpu_ratio;
    std::vector<row> batch, raw_batch;
    for (int i = 0; i < runs; ++i) {
        long n1 = 0, n2 = 0, n3 = 0;
        timing a = timed([&] { n1 = pgcoro_stream(io, conn, rows, batch); });
        timing b = timed([&] { n2 = raw_single_row(raw, rows, raw_batch); });
        timing q = timed([&] { n3 = pgcoro_query(io, conn, rows); });
        if (n1 != rows || n2 != rows || n3 != rows) die("row count", nullptr);
        s_rate.push_back(rows / a.seconds);
        s_cpu.push_back(a.cpu / rows * 1e9);
        r_rate.push_back(rows / b.seconds);
        r_cpu.push_back(b.cpu / rows * 1e9);
        q_rate.push_back(rows / q.seconds);
        ratio.push_back(b.seconds / a.seconds);
        cpu_ratio.push_back(a.cpu / b.cpu);
    }
    std::printf("| path | rows/s | client CPU ns/row |\n|---|---|---|\n");
    std::printf("| pgcoro stream<T> | %.0f | %.0f |\n", median(s_rate), median(s_cpu));
    std::printf("| raw libpq, binary single-row mode | %.0f | %.0f |\n", median(r_rate), median(r_cpu));
    std::printf("| pgcoro query<T> (one PGresult) | %.0f | |\n\n", median(q_rate));
    std::printf("stream vs raw single-row: %.2fx throughput (median of per-run ratios), CPU %.2fx\n\n", median(ratio),
                median(cpu_ratio));

    long base = current_memory_kib();
    for (long n : {rows, rows * 10}) {
        reset_peak_memory();
        long before = current_memory_kib();
        timing t = timed([&] { pgcoro_stream(io, conn, n, batch); });
        std::printf("stream of %ld rows: peak client memory %+ld KiB over the %ld KiB before (process %ld KiB at start), %.0f rows/s\n",
                    n, peak_memory_kib() - before, before, base, n / t.seconds);
    }

    // ---- 2. loading ----
    std::printf("\n## Loading %ld rows of (int8, text, timestamptz, float8)\n\n", rows);
    std::vector<item> items;
    items.reserve(static_cast<std::size_t>(rows));
    for (long i = 0; i < rows; ++i)
        items.push_back({i, "name-" + std::to_string(i),
                         pgcoro::timestamptz(std::chrono::microseconds(1'767'225'600'000'000LL + i * 1'000'000)), i * 0.5});
    std::string file = "/tmp/pgcoro_bench_copy_" + std::to_string(getpid()) + ".tsv";
    {
        std::ofstream f(file);
        for (auto& it : items) {
            std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(it.at.time_since_epoch()).count();
            char ts[64];
            std::strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S+00", std::gmtime(&secs));
            f << it.id << '\t' << it.name << '\t' << ts << '\t' << it.price << '\n';
        }
    }
    exec_raw(raw, "drop table if exists bench_copy");
    exec_raw(raw, "create table bench_copy (id int8, name text, at timestamptz, price float8)");
    auto truncate = [&] { exec_raw(raw, "truncate bench_copy"); };
    auto count_ok = [&] {
        PGresult* r = PQexec(raw, "select count(*) from bench_copy");
        long n = std::atol(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (n != rows) die("loaded row count", nullptr);
    };
    std::vector<double> t_copy, t_psql, t_values, t_unnest, c_copy, r_psql, r_values;
    long copy_peak = 0;
    for (int i = 0; i < runs; ++i) {
        truncate();
        reset_peak_memory();
        long before = current_memory_kib();
        timing a = timed([&] {
            run_co(io, [&]() -> asio::awaitable<void> { co_await conn.copy_in("bench_copy (id, name, at, price)", items); });
        });
        copy_peak = std::max(copy_peak, peak_memory_kib() - before);
        count_ok();
        truncate();
        double p = psql_copy(url, file);
        count_ok();
        truncate();
        timing v = timed([&] { raw_values(raw, items); });
        count_ok();
        truncate();
        timing u = timed([&] { run_co(io, [&] { return pgcoro_unnest(conn, items); }); });
        count_ok();
        t_copy.push_back(a.seconds);
        c_copy.push_back(a.cpu / rows * 1e9);
        t_psql.push_back(p);
        t_values.push_back(v.seconds);
        t_unnest.push_back(u.seconds);
        r_psql.push_back(p / a.seconds);
        r_values.push_back(v.seconds / a.seconds);
    }
    std::remove(file.c_str());
    exec_raw(raw, "drop table bench_copy");
    std::printf("median of %d interleaved runs\n\n| path | seconds | rows/s |\n|---|---|---|\n", runs);
    std::printf("| pgcoro copy_in (binary COPY) | %.3f | %.0f |\n", median(t_copy), rows / median(t_copy));
    std::printf("| psql \\copy (text file, whole process) | %.3f | %.0f |\n", median(t_psql), rows / median(t_psql));
    std::printf("| INSERT ... VALUES, 1,000 rows/statement, pipelined, one transaction | %.3f | %.0f |\n",
                median(t_values), rows / median(t_values));
    std::printf("| INSERT ... SELECT unnest, 10,000-row arrays, pipelined, one transaction | %.3f | %.0f |\n\n",
                median(t_unnest), rows / median(t_unnest));
    std::printf("copy_in vs psql \\copy: %.2fx; vs multi-row VALUES: %.2fx; vs unnest: %.2fx; "
                "client CPU %.0f ns/row; peak client memory during copy_in %+ld KiB (the rows themselves excluded)\n",
                median(r_psql), median(r_values), median(t_unnest) / median(t_copy), median(c_copy), copy_peak);

    PQfinish(raw);
    run_co(io, [&]() -> asio::awaitable<void> { co_await conn.close(); });
    return 0;
}

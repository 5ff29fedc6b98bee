// Decode benchmark: N rows of (int4, int8, text, float8, timestamptz, bool) into a struct,
// pgcoro's row mapping against a hand-written libpq binary-decode loop over the very same
// PGresult, in the same run; then end to end (query + decode) against blocking libpq.
//
//   DATABASE_URL=postgresql://... ./pgcoro_bench_decode [--rows 1000000] [--runs 5]
#include "bench_common.hpp"

#include <pgcoro/pgcoro.hpp>

#include <boost/asio.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace asio = boost::asio;
using clk = std::chrono::steady_clock;

using row = wide_row;

static std::string query_sql(long rows) { return wide_rows_sql(rows); }

// The baseline: what a careful programmer writes by hand against libpq.
[[gnu::noinline]] static std::vector<row> raw_decode(const PGresult* r) {
    auto be32 = [](const char* p) { std::uint32_t v; std::memcpy(&v, p, 4); return ntohl(v); };
    auto be64 = [&](const char* p) { return (std::uint64_t(be32(p)) << 32) | be32(p + 4); };
    int n = PQntuples(r);
    std::vector<row> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        row x;
        x.id = static_cast<std::int32_t>(be32(PQgetvalue(r, i, 0)));
        x.amount = static_cast<std::int64_t>(be64(PQgetvalue(r, i, 1)));
        x.name.assign(PQgetvalue(r, i, 2), static_cast<std::size_t>(PQgetlength(r, i, 2)));
        std::uint64_t d = be64(PQgetvalue(r, i, 3));
        std::memcpy(&x.score, &d, 8);
        x.at = pgcoro::timestamptz(std::chrono::microseconds(static_cast<std::int64_t>(be64(PQgetvalue(r, i, 4))) +
                                                             946684800000000LL));
        x.flag = PQgetvalue(r, i, 5)[0] != 0;
        out.push_back(std::move(x));
    }
    return out;
}

// The same loop with the checks pgcoro makes on every field (length, and NULL where the
// length is 0): what hand-written code must do to be safe against any server input.
[[gnu::noinline]] static std::vector<row> raw_decode_checked(const PGresult* r) {
    auto be32 = [](const char* p) { std::uint32_t v; std::memcpy(&v, p, 4); return ntohl(v); };
    auto be64 = [&](const char* p) { return (std::uint64_t(be32(p)) << 32) | be32(p + 4); };
    auto field = [&](int i, int c, int want) {
        int len = PQgetlength(r, i, c);
        if ((len == 0 && PQgetisnull(r, i, c)) || (want >= 0 && len != want)) throw std::runtime_error("bad field");
        return std::string_view(PQgetvalue(r, i, c), static_cast<std::size_t>(len));
    };
    int n = PQntuples(r);
    std::vector<row> out;
    out.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        row& x = out.emplace_back();
        x.id = static_cast<std::int32_t>(be32(field(i, 0, 4).data()));
        x.amount = static_cast<std::int64_t>(be64(field(i, 1, 8).data()));
        x.name = field(i, 2, -1);
        std::uint64_t d = be64(field(i, 3, 8).data());
        std::memcpy(&x.score, &d, 8);
        x.at = pgcoro::timestamptz(std::chrono::microseconds(static_cast<std::int64_t>(be64(field(i, 4, 8).data())) +
                                                             946684800000000LL));
        x.flag = field(i, 5, 1)[0] != 0;
    }
    return out;
}

template <class F>
static double best_seconds(int runs, F&& f) {
    double best = 1e300;
    for (int i = 0; i < runs; ++i) {
        auto t0 = clk::now();
        f();
        best = std::min(best, std::chrono::duration<double>(clk::now() - t0).count());
    }
    return best;
}

int main(int argc, char** argv) {
    long rows = 1000000;
    int runs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view a = argv[i];
        if (a == "--rows") rows = std::atol(argv[i + 1]);
        else if (a == "--runs") runs = std::atoi(argv[i + 1]);
    }
    const char* url = std::getenv("DATABASE_URL");
    if (!url) { std::fprintf(stderr, "set DATABASE_URL\n"); return 2; }
    const std::string sql = query_sql(rows);

    asio::io_context io;
    std::optional<pgcoro::connection> conn;
    auto run = [&](auto make) {
        std::exception_ptr err;
        asio::co_spawn(io, make(), [&](std::exception_ptr e) { err = e; });
        io.restart();
        io.run();
        if (err) std::rethrow_exception(err);
    };
    run([&]() -> asio::awaitable<void> { conn.emplace(co_await pgcoro::connection::connect(io.get_executor(), url)); });

    // 1. Decode only: the same binary PGresult, two decoders.
    pgcoro::result res;
    run([&]() -> asio::awaitable<void> { res = co_await conn->query_result(sql); });
    std::size_t check = 0;
    double t_raw = best_seconds(runs, [&] { check += raw_decode(res.native_handle()).size(); });
    double t_raw_checked = best_seconds(runs, [&] { check += raw_decode_checked(res.native_handle()).size(); });
    double t_pg = best_seconds(runs, [&] { check += res.as<row>().size(); });
    auto a = raw_decode(res.native_handle());
    auto b = res.as<row>();
    bool same = a.size() == b.size() && a.back().name == b.back().name && a.back().at == b.back().at &&
                a.back().score == b.back().score && a.back().flag == b.back().flag;

    // 2. End to end: pgcoro query<row> vs blocking libpq PQexecParams (binary) + raw decode.
    PGconn* raw = PQconnectdb(url);
    if (PQstatus(raw) != CONNECTION_OK) { std::fprintf(stderr, "libpq: %s", PQerrorMessage(raw)); return 1; }
    double t_raw_e2e = best_seconds(runs, [&] {
        PGresult* r = PQexecParams(raw, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1);
        check += raw_decode(r).size();
        PQclear(r);
    });
    double t_pg_e2e = best_seconds(runs, [&] {
        run([&]() -> asio::awaitable<void> { check += (co_await conn->query<row>(sql)).size(); });
    });
    PQfinish(raw);

    std::printf("rows: %ld, best of %d runs (check %zu, results %s)\n", rows, runs, check, same ? "identical" : "DIFFER");
    std::printf("decode only   raw libpq, unchecked %12.0f rows/s   pgcoro %12.0f rows/s   ratio %.2f\n",
                rows / t_raw, rows / t_pg, t_raw / t_pg);
    std::printf("decode only   raw libpq, checked   %12.0f rows/s   pgcoro %12.0f rows/s   ratio %.2f\n",
                rows / t_raw_checked, rows / t_pg, t_raw_checked / t_pg);
    std::printf("end to end    raw libpq, unchecked %12.0f rows/s   pgcoro %12.0f rows/s   ratio %.2f\n", rows / t_raw_e2e,
                rows / t_pg_e2e, t_raw_e2e / t_pg_e2e);
    return same ? 0 : 1;
}

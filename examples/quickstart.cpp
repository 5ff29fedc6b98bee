// The README's quickstart: connect, run statements concurrently on one connection, map
// rows onto a struct, handle a server error.
//
//   DATABASE_URL=postgresql://user:pass@127.0.0.1:5432/db ./pgcoro_quickstart
#include <pgcoro/pgcoro.hpp>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <cstdio>
#include <cstdlib>

namespace asio = boost::asio;
namespace pg = pgcoro;
using namespace boost::asio::experimental::awaitable_operators;

struct series_row {
    std::int32_t n;
    std::string label;
    std::optional<double> half;  // NULL for odd n
};

asio::awaitable<void> demo(std::string url) {
    auto ex = co_await asio::this_coro::executor;
    pg::connection conn = co_await pg::connection::connect(ex, url);
    std::printf("connected: server %d, backend pid %d\n", conn.server_version(), conn.backend_pid());

    // Parameters are typed and sent in binary; rows map onto the struct by position.
    auto rows = co_await conn.query<series_row>(
        "select n, 'row ' || n, case when n % 2 = 0 then n / 2.0 end::float8 "
        "from generate_series(1, $1::int4) n",
        4);
    for (const auto& r : rows)
        std::printf("%d %s %s\n", r.n, r.label.c_str(), r.half ? std::to_string(*r.half).c_str() : "NULL");

    // Two statements at once on the same connection: both go out in one pipeline.
    auto [a, b] = co_await (conn.query_one<std::int64_t>("select count(*) from pg_class") &&
                            conn.query_one<std::string>("select current_user"));
    std::printf("%lld relations, user %s\n", static_cast<long long>(a), b.c_str());

    // Server errors carry SQLSTATE and diagnostics.
    try {
        co_await conn.execute("select * from missing_table");
    } catch (const pg::error& e) {
        std::printf("expected error: SQLSTATE %s: %s\n", e.sqlstate().c_str(), e.diagnostics().message.c_str());
    }
    co_await conn.close();
}

int main() {
    const char* url = std::getenv("DATABASE_URL");
    if (!url) {
        std::fprintf(stderr, "set DATABASE_URL\n");
        return 2;
    }
    asio::io_context io;
    int rc = 0;
    asio::co_spawn(io, demo(url), [&](std::exception_ptr e) {
        if (!e) return;
        try { std::rethrow_exception(e); } catch (const std::exception& x) { std::fprintf(stderr, "error: %s\n", x.what()); }
        rc = 1;
    });
    io.run();
    return rc;
}

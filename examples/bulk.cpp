// Bulk work on one pooled connection: load 100,000 orders with a binary COPY (checked
// against the table's columns first), export them as CSV with COPY out, and walk a large
// result with a stream in bounded memory. A failing load leaves nothing behind.
//
//   DATABASE_URL=postgresql://user:pass@127.0.0.1:5432/db ./pgcoro_bulk
#include <pgcoro/pgcoro.hpp>

#include <boost/asio.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace pg = pgcoro;

struct order {
    std::int64_t id;
    std::string tenant;
    pg::timestamptz placed_at;
    std::optional<double> total;  // NULL allowed
};

asio::awaitable<void> demo(std::string url) {
    auto ex = co_await asio::this_coro::executor;
    pg::pool db(ex, pg::pool_config::from_url(url));
    co_await db.execute("create table if not exists pgcoro_demo_orders (id int8 primary key, tenant text not null, "
                        "placed_at timestamptz not null, total float8)");
    co_await db.execute("truncate pgcoro_demo_orders");

    auto conn = co_await db.acquire();  // COPY and streams run on one connection

    // 1. Load.
    std::vector<order> orders;
    for (int i = 0; i < 100'000; ++i)
        orders.push_back({i, i % 2 ? "acme" : "globex",
                          pg::timestamptz(std::chrono::seconds(1'767'225'600 + i)),
                          i % 10 ? std::optional(i * 1.5) : std::nullopt});
    std::uint64_t loaded = co_await conn->copy_in("pgcoro_demo_orders (id, tenant, placed_at, total)", orders);
    std::printf("loaded %llu orders\n", static_cast<unsigned long long>(loaded));

    // 2. A bad load: a duplicate id in the middle. Nothing of it stays.
    std::vector<order> more{{100'000, "acme", pg::timestamptz(), 1.0}, {5, "acme", pg::timestamptz(), 2.0}};
    try {
        co_await conn->copy_in("pgcoro_demo_orders (id, tenant, placed_at, total)", more);
    } catch (const pg::error& e) {
        std::printf("refused: %s (%s)\n", e.diagnostics().message.c_str(), e.diagnostics().context.c_str());
    }
    auto count = co_await conn->query_one<std::int64_t>("select count(*) from pgcoro_demo_orders");
    std::printf("still %lld orders\n", static_cast<long long>(count));

    // 3. Export as CSV, chunk by chunk.
    auto out = conn->copy_out_raw("COPY (select id, tenant, total from pgcoro_demo_orders where id < 3 order by id) "
                                  "TO STDOUT (FORMAT csv, HEADER)");
    std::string chunk, csv;
    while (co_await out.read(chunk)) csv += chunk;
    std::printf("csv:\n%s", csv.c_str());

    // 4. Stream every order, 1,000 at a time at most, summing per tenant.
    auto rows = conn->stream<order>("select id, tenant, placed_at, total from pgcoro_demo_orders");
    std::vector<order> batch;
    double acme = 0, globex = 0;
    std::size_t seen = 0;
    while (std::size_t n = co_await rows.read(batch)) {
        seen += n;
        for (auto& o : batch) (o.tenant == "acme" ? acme : globex) += o.total.value_or(0);
    }
    std::printf("streamed %zu orders: acme %.1f, globex %.1f\n", seen, acme, globex);
    if (seen != loaded) throw std::runtime_error("the stream missed rows");

    co_await db.execute("drop table pgcoro_demo_orders");
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
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::fprintf(stderr, "error: %s\n", x.what());
            rc = 1;
        }
    });
    io.run();
    return rc;
}

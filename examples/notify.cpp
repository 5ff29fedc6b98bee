// LISTEN/NOTIFY for cache invalidation: a listener keeps a per-tenant cache fresh while
// a pool writes and notifies in the same transaction. A lost connection (server restart)
// is repaired by the listener, which then says notifications may have been missed: the
// cache is reloaded whole at that point.
//
//   DATABASE_URL=postgresql://user:pass@127.0.0.1:5432/db ./pgcoro_notify
#include <pgcoro/pgcoro.hpp>

#include <boost/asio.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace asio = boost::asio;
namespace pg = pgcoro;

/// The cache: tenant name -> plan, as the database has it.
using plan_cache = std::map<std::string, std::string>;

asio::awaitable<void> reload(pg::pool& db, plan_cache& cache) {
    cache.clear();
    for (auto& [name, plan] : co_await db.query<std::tuple<std::string, std::string>>("select name, plan from pgcoro_demo_plans"))
        cache[name] = plan;
    std::printf("cache reloaded: %zu tenants\n", cache.size());
}

asio::awaitable<void> demo(std::string url) {
    auto ex = co_await asio::this_coro::executor;
    pg::pool db(ex, pg::pool_config::from_url(url));
    co_await db.execute("create table if not exists pgcoro_demo_plans (name text primary key, plan text not null)");
    co_await db.execute("truncate pgcoro_demo_plans");

    // The listener: a connection of its own, with the pool's settings.
    auto listener = co_await pg::listener::connect(ex, pg::pool_config::from_url(url));
    co_await listener.listen("Plan changes");  // any name: quoted, never spliced
    plan_cache cache;
    co_await reload(db, cache);

    // Each write and its notification commit together (pg_notify is transactional).
    std::vector<std::pair<std::string, std::string>> changes{{"acme", "pro"}, {"globex", "free"}, {"acme", "enterprise"}};
    for (const auto& [name, plan] : changes) {
        co_await db.transaction([&](pg::transaction& tx) -> asio::awaitable<void> {
            co_await tx.execute(
                "insert into pgcoro_demo_plans values ($1, $2) on conflict (name) do update set plan = excluded.plan",
                name, plan);
            co_await tx.execute("select pg_notify($1, $2)", std::string("Plan changes"), name);
        });
    }
    for (int seen = 0; seen < 3;) {
        auto [ec, n] = co_await listener.async_receive(asio::as_tuple(asio::use_awaitable));
        if (ec == pg::errc::notifications_missed) {
            co_await reload(db, cache);  // reconnected (or the queue overflowed): resynchronise
            continue;
        }
        if (ec) throw pg::error(ec);
        auto plan = co_await db.query_opt<std::string>("select plan from pgcoro_demo_plans where name = $1", n.payload);
        if (plan) cache[n.payload] = *plan;
        else cache.erase(n.payload);
        std::printf("notification from backend %d on \"%s\": %s\n", n.backend_pid, n.channel.c_str(), n.payload.c_str());
        ++seen;
    }
    std::printf("cache: acme=%s globex=%s\n", cache["acme"].c_str(), cache["globex"].c_str());
    co_await db.execute("drop table pgcoro_demo_plans");
    listener.close();  // a listener watches its socket until closed
    db.close();
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
        }
        rc = 1;
    });
    io.run();
    return rc;
}

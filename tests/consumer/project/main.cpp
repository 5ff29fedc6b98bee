// A project outside pgcoro's tree, built against an install prefix (with find_package, and
// with pkg-config alone: tests/package/run.cmake).
#include <pgcoro/migrator.hpp>
#include <pgcoro/pgcoro.hpp>

#include "embedded_migrations.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    boost::asio::io_context io;
    int rc = 1;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            auto conn = co_await pgcoro::connection::connect(io.get_executor(), argv[1]);
            int answer = co_await conn.query_one<std::int32_t>("select $1::int4 * 2", 21);
            // A dry run changes nothing: the migration is planned, not applied.
            pgcoro::migrate_options opt;
            opt.dry_run = true;
            opt.history_table = "pgcoro_consumer_migrations";
            auto report = co_await pgcoro::migrate(conn, embedded_migrations::migrations(), opt);
            std::printf("answer=%d planned=%zu\n", answer, report.planned.size());
            rc = answer == 42 && report.planned.size() == 1 ? 0 : 1;
        },
        [](std::exception_ptr e) {
            if (!e) return;
            try { std::rethrow_exception(e); } catch (const std::exception& x) { std::printf("error: %s\n", x.what()); }
        });
    io.run();
    return rc;
}

// Compiles pgcoro's libpq >= 17 branches (PQsendPipelineSync, PQcancelStart) against
// libpq17_shim.h. Built as an object library only: libpq 17 cannot be installed here,
// so these branches are compile-checked, not run (README says so).
#ifndef LIBPQ_HAS_ASYNC_CANCEL
#error "libpq17_shim.h was not force-included"
#endif

#include <pgcoro/pgcoro.hpp>

struct two_fields {
    int a;
    std::string b;
};

boost::asio::awaitable<void> uses_everything(pgcoro::connection& c, pgcoro::pool& p) {
    (void)co_await c.query<two_fields>("select 1, 'x'");
    (void)co_await p.query_one<int>("select $1::int", 1);
    co_await c.close();
}

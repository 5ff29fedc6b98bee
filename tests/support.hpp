// Shared helpers for pgcoro's tests.
#pragma once

#include "catch.hpp"

#include <pgcoro/pgcoro.hpp>

#include <boost/asio.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

namespace pgtest {

namespace asio = boost::asio;
using namespace std::chrono_literals;

inline std::string read_first_line(const std::string& path) {
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);
    return line;
}

/// The superuser URL: PGCORO_TEST_DATABASE_URL, else the CTest fixture's cluster.
inline std::string url() {
    if (const char* u = std::getenv("PGCORO_TEST_DATABASE_URL"); u && *u) return u;
    std::string u = read_first_line(std::string(PGCORO_TEST_STATE_DIR) + "/url");
    if (u.empty())
        FAIL("no test database: set PGCORO_TEST_DATABASE_URL or run through ctest (the "
             "cluster_start fixture writes " PGCORO_TEST_STATE_DIR "/url)");
    return u;
}

/// The non-superuser role's URL (PGCORO_TEST_APP_DATABASE_URL or the fixture's).
inline std::string app_url() {
    if (const char* u = std::getenv("PGCORO_TEST_APP_DATABASE_URL"); u && *u) return u;
    return read_first_line(std::string(PGCORO_TEST_STATE_DIR) + "/app_url");
}

/// Runs the coroutine made by make(io) on a fresh io_context (this thread) and rethrows
/// whatever it threw; fails when it has not finished within `limit`.
template <class Make>
void run(Make&& make, std::chrono::steady_clock::duration limit = 60s) {
    asio::io_context io;
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(io, make(io), [&](std::exception_ptr e) {
        error = e;
        done = true;
    });
    io.run_for(limit);
    if (!done) FAIL("the test coroutine did not finish in time");
    if (error) std::rethrow_exception(error);
}

/// A name unique to this process and call, for schemas and tables.
inline std::string unique_name(const std::string& prefix) {
    static std::atomic<int> counter{0};
    return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
}

inline asio::awaitable<pgcoro::connection> connect(std::string u = url()) {
    auto ex = co_await asio::this_coro::executor;
    co_return co_await pgcoro::connection::connect(ex, std::move(u));
}

/// The error a coroutine threw, or a failed test when it threw none.
template <class Awaitable>
asio::awaitable<pgcoro::error> expect_error(Awaitable a) {
    try {
        co_await std::move(a);
    } catch (const pgcoro::error& e) {
        co_return e;
    }
    FAIL("expected a pgcoro::error, got none");
    throw std::logic_error("unreachable");
}

}  // namespace pgtest

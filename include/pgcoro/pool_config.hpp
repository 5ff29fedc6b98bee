// pgcoro/pool_config.hpp — a pool's settings, from code, a URL or the environment.
#pragma once

#include <pgcoro/error.hpp>
#include <pgcoro/network_options.hpp>
#include <pgcoro/observer.hpp>

#include <chrono>
#include <charconv>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace pgcoro {

/// Everything a pool needs. A plain struct: set what you need, the rest has defaults.
struct pool_config {
    /// libpq connection string: `postgresql://` URL or `key=value`.
    std::string conninfo;
    std::size_t max_size = 10;   ///< connections at most
    std::size_t min_size = 2;    ///< connections kept open even when idle
    /// How long acquire() waits for a connection before errc::pool_timeout.
    std::chrono::milliseconds acquire_timeout = std::chrono::seconds(5);
    /// Bounds each new connection's connect (DNS, TCP, TLS, authentication).
    std::chrono::milliseconds connect_timeout = std::chrono::seconds(10);
    /// A connection is closed after this long (checked when it comes back or idles),
    /// minus a random part of up to max_lifetime * lifetime_jitter, so that connections
    /// made together do not all expire together. 0: no limit.
    std::chrono::milliseconds max_lifetime = std::chrono::minutes(30);
    double lifetime_jitter = 0.1;
    /// Idle connections beyond min_size are closed after this long. 0: never.
    std::chrono::milliseconds idle_timeout = std::chrono::minutes(10);
    /// A connection idle longer than this is pinged (SELECT 1) before it is handed out.
    /// A connection idle for 1 ms or more is also probed for a closed socket first (no
    /// round trip, one poll() system call), so one the server closed is replaced silently.
    std::chrono::milliseconds health_check_after = std::chrono::seconds(1);
    /// Failed connects are retried after initial, doubling up to max.
    std::chrono::milliseconds reconnect_backoff_initial = std::chrono::milliseconds(100);
    std::chrono::milliseconds reconnect_backoff_max = std::chrono::seconds(5);
    /// How many one-statement helper calls (query, execute, ...) may share one connection
    /// at a time, their statements pipelined, each still in its own implicit transaction
    /// (one failing statement fails only its caller). Sharing starts only when no
    /// connection is idle, and only for statements that cannot change the session (their
    /// leading keyword is SELECT, INSERT, UPDATE, DELETE, WITH, VALUES, TABLE, MERGE,
    /// SHOW); anything else (SET, LISTEN, CREATE TEMP, PREPARE, BEGIN, DO, CALL, EXPLAIN,
    /// ...) runs on a connection of its own, reset afterwards when it changed the
    /// session. 1: every helper call has a connection to itself. acquire() and
    /// transactions always get a connection of their own. The default comes from the pool
    /// benchmark (README, "Pool throughput").
    std::size_t pipeline_depth = 32;
    /// A shared connection with no result for this long is not joined by more helper
    /// calls (a long statement at the head of its pipeline would hold them back); they
    /// go to another connection or wait for one. The cost of head-of-line blocking.
    std::chrono::milliseconds pipeline_stall_after = std::chrono::milliseconds(2);
    /// Per connection (see connect_options).
    std::size_t statement_cache_size = 256;
    /// The pool's connections go through a transaction-pooling proxy (PgBouncer with
    /// pool_mode=transaction or statement), which gives each transaction whichever server
    /// connection is free: nothing may outlive a transaction on the server. Then every
    /// statement is unnamed (no statement cache, whatever statement_cache_size says), and
    /// a connection given back is only rolled back, not reset (RESET ALL, UNLISTEN,
    /// advisory unlocks would hit some other server connection). Pipelining, transactions
    /// and transaction-scoped settings (tenant transactions) work; session state (SET,
    /// LISTEN, session advisory locks, temporary tables, PREPARE) does not: README,
    /// "PgBouncer". Not needed with session pooling.
    bool pooler_safe = false;
    /// Per-host connect deadlines, TCP keepalives and read_timeout for every connection
    /// (pgcoro/network_options.hpp).
    network_options network;
    /// Statement and pool hooks (pgcoro/observer.hpp); none by default.
    std::shared_ptr<pgcoro::observer> observer;

    /// Defaults with this connection string.
    static pool_config from_url(std::string url) {
        pool_config c;
        c.conninfo = std::move(url);
        return c;
    }

    /// From the environment: DATABASE_URL (or PGCORO_DATABASE_URL, which wins),
    /// PGCORO_DB_MAX_CONNECTIONS, PGCORO_DB_MIN_CONNECTIONS, PGCORO_DB_ACQUIRE_TIMEOUT_MS,
    /// PGCORO_DB_CONNECT_TIMEOUT_MS. A missing URL or a bad value is a pgcoro::error
    /// (errc::invalid_config) naming the variable; the URL itself is never printed.
    static pool_config from_env() {
        pool_config c;
        if (const char* u = std::getenv("PGCORO_DATABASE_URL"); u && *u) c.conninfo = u;
        else if (const char* d = std::getenv("DATABASE_URL"); d && *d) c.conninfo = d;
        else throw pgcoro::error(make_error_code(errc::invalid_config), "set DATABASE_URL (or PGCORO_DATABASE_URL)");
        c.max_size = env_number("PGCORO_DB_MAX_CONNECTIONS", c.max_size, 1, 10000);
        c.min_size = env_number("PGCORO_DB_MIN_CONNECTIONS", c.min_size, 0, 10000);
        c.acquire_timeout = std::chrono::milliseconds(
            env_number("PGCORO_DB_ACQUIRE_TIMEOUT_MS", static_cast<std::size_t>(c.acquire_timeout.count()), 1, 86400000));
        c.connect_timeout = std::chrono::milliseconds(
            env_number("PGCORO_DB_CONNECT_TIMEOUT_MS", static_cast<std::size_t>(c.connect_timeout.count()), 1, 86400000));
        if (std::getenv("PGCORO_DB_MIN_CONNECTIONS") == nullptr && c.min_size > c.max_size) c.min_size = c.max_size;
        c.validate();
        return c;
    }

    /// Throws errc::invalid_config when the settings contradict each other.
    void validate() const {
        auto bad = [](const std::string& m) { throw pgcoro::error(make_error_code(errc::invalid_config), m); };
        if (conninfo.empty()) bad("pool_config: conninfo is empty");
        if (max_size == 0) bad("pool_config: max_size must be at least 1");
        if (min_size > max_size)
            bad("pool_config: min_size (" + std::to_string(min_size) + ") is above max_size (" +
                std::to_string(max_size) + ")");
        if (acquire_timeout.count() <= 0) bad("pool_config: acquire_timeout must be positive");
        if (connect_timeout.count() <= 0) bad("pool_config: connect_timeout must be positive");
        if (pipeline_depth == 0) bad("pool_config: pipeline_depth must be at least 1");
        if (pipeline_stall_after.count() < 0) bad("pool_config: pipeline_stall_after must not be negative");
        if (lifetime_jitter < 0 || lifetime_jitter > 1) bad("pool_config: lifetime_jitter must be within 0..1");
        if (reconnect_backoff_initial.count() <= 0 || reconnect_backoff_max < reconnect_backoff_initial)
            bad("pool_config: reconnect backoff must be positive, initial <= max");
        network.validate("pool_config");
    }

private:
    static std::size_t env_number(const char* name, std::size_t fallback, std::size_t lo, std::size_t hi) {
        const char* v = std::getenv(name);
        if (!v) return fallback;
        std::string_view s(v);
        std::size_t out = 0;
        auto r = std::from_chars(s.data(), s.data() + s.size(), out);
        if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || out < lo || out > hi)
            throw pgcoro::error(make_error_code(errc::invalid_config),
                                std::string(name) + ": expected a whole number from " + std::to_string(lo) + " to " +
                                    std::to_string(hi) + ", got \"" + std::string(s.substr(0, 40)) + "\"");
        return out;
    }
};

}  // namespace pgcoro

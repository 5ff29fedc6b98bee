// pgcoro/transaction.hpp — a transaction on a pooled connection.
#pragma once

#include <pgcoro/pooled_connection.hpp>

#include <boost/asio/this_coro.hpp>

#include <exception>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace pgcoro {

enum class isolation_level { server_default, read_committed, repeatable_read, serializable };

/// How a transaction starts. `settings` are applied with set_config(name, value, true)
/// right after BEGIN, so they last exactly as long as the transaction: the way to scope
/// row-level security to a tenant (`current_setting('app.tenant_id')` in a policy).
struct transaction_options {
    // Not an aggregate, on purpose: g++ 12 destroys a braced aggregate temporary inside
    // a co_await expression twice (`co_await f(T{})`, or a `T options = {}` default).
    // With a user-declared constructor `T{}` is value-initialised, which it gets right.
    transaction_options() = default;

    isolation_level isolation = isolation_level::server_default;
    bool read_only = false;
    bool deferrable = false;
    std::vector<std::pair<std::string, std::string>> settings;

    transaction_options& set(std::string name, std::string value) {
        settings.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    /// Options carrying `app.tenant_id` (or another setting name) for RLS policies.
    static transaction_options for_tenant(std::string tenant_id, std::string setting = "app.tenant_id") {
        transaction_options o;
        o.set(std::move(setting), std::move(tenant_id));
        return o;
    }

    std::string begin_sql() const {
        std::string s = "BEGIN";
        switch (isolation) {
        case isolation_level::server_default: break;
        case isolation_level::read_committed: s += " ISOLATION LEVEL READ COMMITTED"; break;
        case isolation_level::repeatable_read: s += " ISOLATION LEVEL REPEATABLE READ"; break;
        case isolation_level::serializable: s += " ISOLATION LEVEL SERIALIZABLE"; break;
        }
        if (read_only) s += " READ ONLY";
        if (deferrable) s += " DEFERRABLE";
        return s;
    }
};

/// An open transaction holding a pooled connection. commit() or rollback() ends it; when
/// neither was called, destroying it returns the connection, and the pool rolls the
/// transaction back before anyone else gets the connection.
class transaction {
public:
    transaction(pooled_connection conn) noexcept : conn_(std::move(conn)) {}
    transaction(transaction&&) noexcept = default;
    transaction& operator=(transaction&&) noexcept = default;

    pgcoro::connection& connection() noexcept { return *conn_; }
    bool active() const noexcept { return active_; }

    template <class... Args>
    boost::asio::awaitable<std::uint64_t> execute(std::string_view sql, const Args&... args) {
        return conn_->execute(sql, args...);
    }
    template <class T, class... Args>
    boost::asio::awaitable<std::vector<T>> query(std::string_view sql, const Args&... args) {
        return conn_->template query<T>(sql, args...);
    }
    template <class T, class... Args>
    boost::asio::awaitable<T> query_one(std::string_view sql, const Args&... args) {
        return conn_->template query_one<T>(sql, args...);
    }
    template <class T, class... Args>
    boost::asio::awaitable<std::optional<T>> query_opt(std::string_view sql, const Args&... args) {
        return conn_->template query_opt<T>(sql, args...);
    }

    template <class... Args>
    boost::asio::awaitable<result> query_result(std::string_view sql, const Args&... args) {
        return conn_->query_result(sql, args...);
    }

    // The token-taking forms, exactly as connection's (see connection.hpp): a statement,
    // an optional diagnostics&, then any completion token.
    template <class... A>
    auto async_execute(A&&... a) {
        return conn_->async_execute(std::forward<A>(a)...);
    }
    template <class T, class... A>
    auto async_query(A&&... a) {
        return conn_->template async_query<T>(std::forward<A>(a)...);
    }
    template <class T, class... A>
    auto async_query_one(A&&... a) {
        return conn_->template async_query_one<T>(std::forward<A>(a)...);
    }
    template <class T, class... A>
    auto async_query_opt(A&&... a) {
        return conn_->template async_query_opt<T>(std::forward<A>(a)...);
    }
    template <class... A>
    auto async_query_result(A&&... a) {
        return conn_->async_query_result(std::forward<A>(a)...);
    }

    /// COMMIT. When the transaction had failed, PostgreSQL rolls it back instead: that is
    /// errc::transaction_aborted here, never a silent success.
    boost::asio::awaitable<void> commit() {
        active_ = false;
        auto r = co_await conn_->query_result("COMMIT");
        if (r.command_tag() != "COMMIT")
            throw pgcoro::error(make_error_code(errc::transaction_aborted),
                                "COMMIT rolled back: an earlier statement in the transaction failed");
        conn_.release();
    }

    boost::asio::awaitable<void> rollback() {
        active_ = false;
        co_await conn_->execute("ROLLBACK");
        conn_.release();
    }

    /// Runs fn(*this) inside SAVEPOINT ... RELEASE; on an exception rolls back to the
    /// savepoint and rethrows. Returns fn's value.
    template <class F>
    auto savepoint(F fn) -> std::invoke_result_t<F, transaction&> {
        using R = typename std::invoke_result_t<F, transaction&>::value_type;
        std::string name = "pgcoro_sp_" + std::to_string(++savepoints_);
        co_await conn_->execute("SAVEPOINT " + name);
        std::exception_ptr failure;
        if constexpr (std::is_void_v<R>) {
            try {
                co_await fn(*this);
            } catch (...) {
                failure = std::current_exception();
            }
            co_await finish_savepoint(name, failure);
        } else {
            std::optional<R> value;
            try {
                value.emplace(co_await fn(*this));
            } catch (...) {
                failure = std::current_exception();
            }
            co_await finish_savepoint(name, failure);
            co_return std::move(*value);
        }
    }

private:
    boost::asio::awaitable<void> finish_savepoint(const std::string& name, std::exception_ptr failure) {
        if (!failure) {
            co_await conn_->execute("RELEASE SAVEPOINT " + name);
            co_return;
        }
        // The caller may have been cancelled: let the rollback through.
        co_await boost::asio::this_coro::reset_cancellation_state();
        co_await boost::asio::this_coro::throw_if_cancelled(false);
        try {
            co_await conn_->execute("ROLLBACK TO SAVEPOINT " + name);
        } catch (...) {
            // The transaction itself is gone; the original error says why.
        }
        std::rethrow_exception(failure);
    }

    pooled_connection conn_;
    bool active_ = true;
    int savepoints_ = 0;
};

}  // namespace pgcoro

// pgcoro/transaction.hpp — a transaction on a pooled connection.
#pragma once

#include <pgcoro/detail/undo.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/pooled_connection.hpp>
#include <pgcoro/query_surface.hpp>

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
class transaction : public query_surface<transaction> {
public:
    /// Wraps a pooled connection on which BEGIN has already run (pool::begin() makes one);
    /// it sends nothing itself.
    explicit transaction(pooled_connection conn) noexcept : conn_(std::move(conn)) {}
    transaction(transaction&&) noexcept = default;
    transaction& operator=(transaction&&) noexcept = default;

    /// The transaction's connection. Throws pgcoro::error (errc::connection_closed) once
    /// commit() or rollback() has returned it to the pool, or after a move.
    pgcoro::connection& connection() {
        if (!conn_)
            throw pgcoro::error(make_error_code(errc::connection_closed),
                                "the transaction has ended: its connection went back to the pool");
        return *conn_;
    }
    bool active() const noexcept { return active_; }

    // Statements (execute, query, query_one, query_opt, query_result, execute_script,
    // notify and their async_* forms): query_surface's, on the transaction's connection.
    // After commit() or rollback() they fail with errc::connection_closed.

    /// Sends every statement at once (one round trip), waits for all, throws the first
    /// error; as connection::execute_batch.
    boost::asio::awaitable<void> execute_batch(std::vector<std::string> statements) {
        return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr)>(
            detail::batch_initiation<detail::exception_style>{}, boost::asio::use_awaitable, impl(),
            std::move(statements), detail::exception_style{});
    }
    /// execute_batch(). Signature void(error_code), with the first error; as
    /// connection::async_execute_batch.
    template <class Token>
    auto async_execute_batch(std::vector<std::string> statements, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            detail::batch_initiation<detail::error_code_style>{}, token, impl(), std::move(statements),
            detail::error_code_style{});
    }
    template <class Token>
    auto async_execute_batch(std::vector<std::string> statements, diagnostics& diag, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            detail::batch_initiation<detail::error_code_style>{}, token, impl(), std::move(statements),
            detail::error_code_style{&diag});
    }

    /// COMMIT. When the transaction had failed, PostgreSQL rolls it back instead: that is
    /// errc::transaction_aborted here, never a silent success.
    boost::asio::awaitable<void> commit() {
        active_ = false;
        auto r = co_await query_result("COMMIT");
        if (r.command_tag() != "COMMIT")
            throw pgcoro::error(make_error_code(errc::transaction_aborted),
                                "COMMIT rolled back: an earlier statement in the transaction failed");
        conn_.release();
    }

    boost::asio::awaitable<void> rollback() {
        active_ = false;
        co_await execute("ROLLBACK");
        conn_.release();
    }

    /// Runs fn(*this) inside SAVEPOINT ... RELEASE; on an exception rolls back to the
    /// savepoint and rethrows. Returns fn's value.
    template <class F>
    auto savepoint(F fn) -> std::invoke_result_t<F, transaction&> {
        using R = typename std::invoke_result_t<F, transaction&>::value_type;
        std::string name = "pgcoro_sp_" + std::to_string(++savepoints_);
        co_await execute("SAVEPOINT " + name);
        // RELEASE is part of the body: a cancellation before it still rolls back.
        auto body = [&]() -> std::invoke_result_t<F, transaction&> {
            if constexpr (std::is_void_v<R>) {
                co_await fn(*this);
                co_await execute("RELEASE SAVEPOINT " + name);
            } else {
                R value = co_await fn(*this);
                co_await execute("RELEASE SAVEPOINT " + name);
                co_return value;
            }
        };
        // (When even that fails, the transaction itself is gone; the error says why.)
        auto roll_back = [&] { return execute("ROLLBACK TO SAVEPOINT " + name); };
        co_return co_await detail::run_or_undo(body, roll_back);
    }

private:
    friend class query_surface<transaction>;
    template <class Decode, class Style, class Token>
    auto start_op(std::shared_ptr<detail::exec_op> op, Style style, Token&& token) {
        return detail::async_exec<Decode>(impl(), std::move(op), style, std::forward<Token>(token));
    }
    /// The connection's engine; none once the transaction ended (errc::connection_closed).
    std::shared_ptr<detail::connection_impl> impl() const {
        return conn_ ? detail::connection_access::impl(*conn_) : nullptr;
    }

    pooled_connection conn_;
    bool active_ = true;
    int savepoints_ = 0;
};

namespace detail {

/// `fn(tx)`, then COMMIT; ROLLBACK when fn throws or is cancelled, then rethrows (see
/// run_or_undo). Returns fn's value. What pool::transaction and
/// cluster::read_transaction run once they have begun.
template <class F>
auto commit_or_roll_back(pgcoro::transaction& tx, F& fn) -> std::invoke_result_t<F, pgcoro::transaction&> {
    using R = typename std::invoke_result_t<F, pgcoro::transaction&>::value_type;
    auto body = [&] { return fn(tx); };
    // Even when cancelled. If the ROLLBACK cannot be sent, the pool rolls back when the
    // connection comes back.
    auto roll_back = [&] { return tx.rollback(); };
    if constexpr (std::is_void_v<R>) {
        co_await run_or_undo(body, roll_back);
        co_await tx.commit();
    } else {
        R value = co_await run_or_undo(body, roll_back);
        co_await tx.commit();
        co_return value;
    }
}

}  // namespace detail
}  // namespace pgcoro

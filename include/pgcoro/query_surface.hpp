// pgcoro/query_surface.hpp — the statement operations every handle has: connection,
// pool and transaction all derive from query_surface, so each operation is written (and
// documented) once, here.
#pragma once

#include <pgcoro/detail/operations.hpp>
#include <pgcoro/detail/row_reader.hpp>
#include <pgcoro/diagnostics.hpp>
#include <pgcoro/result.hpp>
#include <pgcoro/statement.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgcoro {

/// The statement operations of a handle (`Derived`: connection, pool or transaction), in
/// two forms:
///  - concise coroutines, `co_await db.query<T>(sql, args...)`, throwing pgcoro::error
///    (which carries the server's diagnostics);
///  - asynchronous operations taking any Asio completion token, named `async_*`: the
///    statement and its parameters bundled in a pgcoro::statement, an optional
///    `diagnostics&` (the server's diagnostics, or the client's message, written there
///    before completion and cleared on success), then the token:
///    `db.async_query<T>(pgcoro::statement(sql, args...), token)`. They complete with
///    `(error_code, R)`, R as the concise form returns. Callbacks, use_awaitable,
///    use_future, deferred, as_tuple, redirect_error, detached and
///    experimental::use_promise all work. The statement is taken over by the call.
///
/// Parameters ($1, $2, ...) are sent in binary with their types; std::nullopt or an empty
/// std::optional is NULL. Rows map onto T: a scalar (one column), a std::tuple or an
/// aggregate struct (by position), std::optional<U> wherever NULL may appear; the columns
/// are checked against T before any row is read (errc::type_mismatch,
/// errc::column_count_mismatch).
///
/// Executor, cancellation and the errors of waiting for a connection are the handle's
/// (see connection, pool, transaction): every operation supports terminal, partial and
/// total cancellation, and completes on the handler's associated executor.
///
/// `Derived` provides, and befriends this class for,
/// `template <class Decode, class Style, class Token> auto start_op(op, Style, Token&&)`:
/// the operation that runs one statement and completes with
/// `Style::signature<Decode::type>`.
template <class Derived>
class query_surface {
public:
    // ---- concise coroutine forms ---------------------------------------------------------

    /// Runs a statement; returns the rows it affected (or returned, for SELECT).
    template <parameter... Args>
    boost::asio::awaitable<std::uint64_t> execute(std::string_view sql, const Args&... args) {
        return run<detail::to_affected_rows>(detail::make_op(sql, args...));
    }

    /// Runs a query and maps each row onto T.
    template <class T, parameter... Args>
    boost::asio::awaitable<std::vector<T>> query(std::string_view sql, const Args&... args) {
        return run<detail::to_rows<T>>(detail::make_op(sql, args...));
    }

    /// Like query, for exactly one row: errc::no_rows or errc::too_many_rows otherwise.
    template <class T, parameter... Args>
    boost::asio::awaitable<T> query_one(std::string_view sql, const Args&... args) {
        return run<detail::to_row<T, true>>(detail::make_op(sql, args...));
    }

    /// Like query, for zero or one row: errc::too_many_rows for more.
    template <class T, parameter... Args>
    boost::asio::awaitable<std::optional<T>> query_opt(std::string_view sql, const Args&... args) {
        return run<detail::to_row<T, false>>(detail::make_op(sql, args...));
    }

    /// Runs a statement and returns its raw result (see pgcoro::result).
    template <parameter... Args>
    boost::asio::awaitable<result> query_result(std::string_view sql, const Args&... args) {
        return run<detail::to_result>(detail::make_op(sql, args...));
    }

    /// Runs a string of several statements (a migration file, a schema) with the simple
    /// query protocol: the statements in flight on its connection finish first, and
    /// statements called afterwards wait for it, in order (a pool runs it on a connection
    /// alone). Stops at the first error, which it throws; without an explicit
    /// BEGIN/COMMIT in the text, the whole string is one implicit transaction (so an error
    /// undoes all of it). No parameters. Returns the rows the last statement affected
    /// (rows come back in text format in this protocol, so none are returned: query them
    /// afterwards).
    boost::asio::awaitable<std::uint64_t> execute_script(std::string sql) {
        return run<detail::to_affected_rows>(detail::make_script_op(std::move(sql)));
    }

    /// Sends a notification: `co_await db.notify("jobs", payload)`; see async_notify().
    boost::asio::awaitable<void> notify(std::string channel, std::string payload) {
        co_await execute("select pg_notify($1, $2)", channel, payload);
    }

    // ---- asynchronous operations (any completion token) ---------------------------------

    /// Signature void(error_code, std::uint64_t): rows affected or returned.
    template <class Token>
    auto async_execute(statement s, Token&& token) {
        return start<detail::to_affected_rows>(std::move(s).take(), nullptr, std::forward<Token>(token));
    }
    template <class Token>
    auto async_execute(statement s, diagnostics& diag, Token&& token) {
        return start<detail::to_affected_rows>(std::move(s).take(), &diag, std::forward<Token>(token));
    }

    /// Signature void(error_code, std::vector<T>).
    template <class T, class Token>
    auto async_query(statement s, Token&& token) {
        return start<detail::to_rows<T>>(std::move(s).take(), nullptr, std::forward<Token>(token));
    }
    template <class T, class Token>
    auto async_query(statement s, diagnostics& diag, Token&& token) {
        return start<detail::to_rows<T>>(std::move(s).take(), &diag, std::forward<Token>(token));
    }

    /// Signature void(error_code, T); errc::no_rows / errc::too_many_rows.
    template <class T, class Token>
    auto async_query_one(statement s, Token&& token) {
        return start<detail::to_row<T, true>>(std::move(s).take(), nullptr, std::forward<Token>(token));
    }
    template <class T, class Token>
    auto async_query_one(statement s, diagnostics& diag, Token&& token) {
        return start<detail::to_row<T, true>>(std::move(s).take(), &diag, std::forward<Token>(token));
    }

    /// Signature void(error_code, std::optional<T>); errc::too_many_rows.
    template <class T, class Token>
    auto async_query_opt(statement s, Token&& token) {
        return start<detail::to_row<T, false>>(std::move(s).take(), nullptr, std::forward<Token>(token));
    }
    template <class T, class Token>
    auto async_query_opt(statement s, diagnostics& diag, Token&& token) {
        return start<detail::to_row<T, false>>(std::move(s).take(), &diag, std::forward<Token>(token));
    }

    /// Signature void(error_code, pgcoro::result).
    template <class Token>
    auto async_query_result(statement s, Token&& token) {
        return start<detail::to_result>(std::move(s).take(), nullptr, std::forward<Token>(token));
    }
    template <class Token>
    auto async_query_result(statement s, diagnostics& diag, Token&& token) {
        return start<detail::to_result>(std::move(s).take(), &diag, std::forward<Token>(token));
    }

    /// execute_script(). Signature void(error_code, std::uint64_t).
    template <class Token>
    auto async_execute_script(std::string sql, Token&& token) {
        return start<detail::to_affected_rows>(detail::make_script_op(std::move(sql)), nullptr,
                                               std::forward<Token>(token));
    }
    template <class Token>
    auto async_execute_script(std::string sql, diagnostics& diag, Token&& token) {
        return start<detail::to_affected_rows>(detail::make_script_op(std::move(sql)), &diag,
                                               std::forward<Token>(token));
    }

    /// Sends a notification to the sessions listening on `channel` (see pgcoro::listener):
    /// `select pg_notify($1, $2)` with both bound as parameters, never spliced into SQL.
    /// Inside a transaction block it is delivered when the transaction commits; at most
    /// 7,999 bytes of payload (the server's limit: errors beyond it). Signature and
    /// behaviour as async_execute (the count is 1). The concise form is notify().
    template <class Token>
    auto async_notify(std::string channel, std::string payload, Token&& token) {
        return async_execute(statement("select pg_notify($1, $2)", std::move(channel), std::move(payload)),
                             std::forward<Token>(token));
    }
    template <class Token>
    auto async_notify(std::string channel, std::string payload, diagnostics& diag, Token&& token) {
        return async_execute(statement("select pg_notify($1, $2)", std::move(channel), std::move(payload)), diag,
                             std::forward<Token>(token));
    }

protected:
    query_surface() = default;

private:
    Derived& self() noexcept { return static_cast<Derived&>(*this); }

    template <class Decode>
    boost::asio::awaitable<typename Decode::type> run(std::shared_ptr<detail::exec_op> op) {
        return self().template start_op<Decode>(std::move(op), detail::exception_style{}, boost::asio::use_awaitable);
    }
    template <class Decode, class Token>
    auto start(std::shared_ptr<detail::exec_op> op, diagnostics* diag, Token&& token) {
        return self().template start_op<Decode>(std::move(op), detail::error_code_style{diag},
                                                std::forward<Token>(token));
    }
};

}  // namespace pgcoro

// pgcoro/pool.hpp — a pool of connections, integrated with Asio.
#pragma once

#include <pgcoro/detail/pool_impl.hpp>
#include <pgcoro/detail/spawn_completion.hpp>
#include <pgcoro/pool_config.hpp>
#include <pgcoro/pool_stats.hpp>
#include <pgcoro/pooled_connection.hpp>
#include <pgcoro/query_surface.hpp>
#include <pgcoro/row_stream.hpp>
#include <pgcoro/statement.hpp>
#include <pgcoro/transaction.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>

namespace pgcoro {

/// What ping() measured.
struct ping_result {
    std::chrono::microseconds latency{};  ///< one SELECT 1 round trip
    int server_version = 0;               ///< e.g. 150018
};

/// A pool of connections (HikariCP / pgxpool style) on any executor, thread-safe: its
/// member functions may be called from any thread; its state, and its connections, live
/// on one strand of its own. It opens min_size connections at once, up to max_size on
/// demand, serves requests strictly in order, replaces broken connections, retires old
/// and idle ones, and reconnects with backoff. It keeps its executor busy (an upkeep
/// timer) until close(). Its logic is a state machine (detail/pool_state.hpp).
///
/// One-statement helpers (query, execute, ...) are pipelined by default: when no
/// connection is idle, a helper statement joins a connection other helper statements
/// are using (up to pool_config::pipeline_depth, the least loaded one, never one whose
/// pipeline has been stuck longer than pipeline_stall_after), each statement still in
/// its own implicit transaction. Only statements that cannot change the session share
/// (leading keyword SELECT, INSERT, UPDATE, DELETE, WITH, VALUES, TABLE, MERGE, SHOW);
/// any other runs on a connection alone. acquire(), transactions, stream() and
/// copy_in() always get a connection alone.
///
/// What comes back is cleaned before anyone else gets it. A connection handed out by
/// acquire() or used for a transaction (unless returned with return_without_reset()),
/// or that ran a statement changing session state (its command tag is SET, RESET,
/// LISTEN, PREPARE, DECLARE, CREATE, BEGIN, ...), or that is inside a transaction or
/// still has statements in flight or a cancel request that may still land, gets one
/// script (one round trip, started only once what is in flight is done and every
/// cancel request is settled): ROLLBACK, RESET ALL, SET SESSION AUTHORIZATION DEFAULT,
/// UNLISTEN *, pg_advisory_unlock_all(), DISCARD TEMP, DISCARD SEQUENCES, CLOSE ALL. If
/// that fails, the connection is discarded. Not
/// detectable, and so neither routed alone nor reset after a helper: session state
/// changed from inside a SELECT, such as `select set_config(name, value, false)` or
/// `select pg_advisory_lock(n)`, and `SELECT ... INTO TEMP`; do such work through
/// acquire() or a transaction.
///
/// Errors: errc::pool_timeout (says how many were waiting and the last connect error),
/// errc::pool_closed, and whatever the statement fails with.
class pool : public query_surface<pool> {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Validates cfg (errc::invalid_config) and starts opening min_size connections.
    pool(executor_type ex, pool_config cfg) : impl_(std::make_shared<detail::pool_impl>(std::move(ex), std::move(cfg))) {
        impl_->start();
    }
    pool(const pool&) = delete;
    pool& operator=(const pool&) = delete;
    /// close(), without waiting.
    ~pool() { impl_->close(); }

    /// A connection for as long as you hold it, to yourself (never shared), reset when it
    /// comes back (see pooled_connection::return_without_reset). Waits up to
    /// acquire_timeout, in order with every other request; throws pgcoro::error
    /// (errc::pool_timeout, errc::pool_closed); cancellable (any type) while waiting.
    boost::asio::awaitable<pooled_connection> acquire() { return acquire_impl(impl_, detail::request_kind::session); }

    /// acquire() as an asynchronous operation. Signature: void(error_code,
    /// pooled_connection) (empty on error). Completes on the token's associated executor
    /// (the pool's strand when it has none), never inside this call. Cancellation:
    /// terminal, partial and total, while waiting (operation_aborted). Errors:
    /// errc::pool_timeout (`diag.message` says how many were waiting and the last connect
    /// error), errc::pool_closed.
    template <class Token>
    auto async_acquire(Token&& token) {
        return async_acquire_impl(nullptr, std::forward<Token>(token));
    }
    template <class Token>
    auto async_acquire(diagnostics& diag, Token&& token) {
        return async_acquire_impl(&diag, std::forward<Token>(token));
    }

    // One-statement helpers (execute, query, query_one, query_opt, query_result,
    // execute_script, notify and their async_* forms: query_surface's): a pooled
    // connection (shared, pipelined, when it may be; a script always alone) for one
    // statement, back to the pool as soon as the result is in, before the caller resumes.
    // Waiting for a connection is part of the operation (errc::pool_timeout /
    // errc::pool_closed included, the message in `diag`). Executor: the handler's
    // associated executor (the pool's strand when it has none), resumed directly when that
    // executor runs on the completing thread. Cancellation: terminal, partial and total,
    // covering the wait and the statement (as for a connection).

    /// Sends every statement at once (one round trip) on a connection alone, waits for
    /// all, and throws the first error; as connection::execute_batch. The connection goes
    /// back without the reset round trip unless it needs one (the session changed, a
    /// transaction is open, statements are in flight or a cancel request may still
    /// land). Waiting for the connection is part of it (errc::pool_timeout).
    boost::asio::awaitable<void> execute_batch(std::vector<std::string> statements) {
        return batch_impl(impl_, std::move(statements));
    }

    /// execute_batch(). Signature void(error_code), with the first error (`diag`: its
    /// diagnostics). Completes on the token's associated executor (the pool's strand when
    /// it has none). Cancellation: terminal, partial and total, while waiting for the
    /// connection and then for the statements.
    template <class Token>
    auto async_execute_batch(std::vector<std::string> statements, Token&& token) {
        return async_batch_impl(std::move(statements), nullptr, std::forward<Token>(token));
    }
    template <class Token>
    auto async_execute_batch(std::vector<std::string> statements, diagnostics& diag, Token&& token) {
        return async_batch_impl(std::move(statements), &diag, std::forward<Token>(token));
    }

    /// The rows of a query in batches, in bounded memory (see pgcoro::row_stream), on a
    /// connection of the pool's alone: the stream holds it until the stream is
    /// destroyed, then it goes back and is reset (as acquire()'s are) before anyone else
    /// gets it.
    /// The parameters are encoded at the call (an encoding error comes with the first
    /// read, errc::encode_error); the query starts with the first read. Throws as
    /// acquire() (errc::pool_timeout, errc::pool_closed).
    template <class T, parameter... Args>
    boost::asio::awaitable<row_stream<T>> stream(std::string_view sql, const Args&... args) {
        return stream_impl<T>(impl_, detail::make_op(sql, args...));
    }

    /// stream() as an asynchronous operation. Signature: void(error_code, row_stream<T>).
    /// Executor: the token's associated one (the pool's strand when it has none).
    /// Cancellation: terminal, partial and total, while waiting for the connection
    /// (operation_aborted). Errors as stream(); `diag` gets the message.
    template <class T, class Token>
    auto async_stream(statement st, Token&& token) {
        return async_spawned<row_stream<T>>(stream_impl<T>(impl_, std::move(st).take()), nullptr,
                                            std::forward<Token>(token));
    }
    template <class T, class Token>
    auto async_stream(statement st, diagnostics& diag, Token&& token) {
        return async_spawned<row_stream<T>>(stream_impl<T>(impl_, std::move(st).take()), &diag,
                                            std::forward<Token>(token));
    }

    /// Loads a range of rows with a binary COPY on a connection of the pool's alone (see
    /// connection::copy_in: T is checked against the columns first; all or nothing);
    /// returns the rows loaded. An rvalue range is moved in and kept; an lvalue one is
    /// referred to and must stay valid until completion. Throws as acquire() and as
    /// connection::copy_in.
    template <std::ranges::viewable_range Range>
        requires std::ranges::input_range<Range>
    boost::asio::awaitable<std::uint64_t> copy_in(std::string target, Range&& rows) {
        return copy_in_impl(impl_, std::move(target), std::views::all(std::forward<Range>(rows)));
    }

    /// copy_in() as an asynchronous operation. Signature: void(error_code, std::uint64_t).
    /// Executor: the token's associated one (the pool's strand when it has none).
    /// Cancellation: terminal, partial and total, while waiting for the connection and
    /// during the COPY, which is then given up: nothing is loaded, unless all the data was
    /// sent already (then the server's outcome). Errors as copy_in(); `diag` gets the
    /// server's diagnostics.
    template <std::ranges::viewable_range Range, class Token>
        requires std::ranges::input_range<Range>
    auto async_copy_in(std::string target, Range&& rows, Token&& token) {
        return async_spawned<std::uint64_t>(
            copy_in_impl(impl_, std::move(target), std::views::all(std::forward<Range>(rows))), nullptr,
            std::forward<Token>(token));
    }
    template <std::ranges::viewable_range Range, class Token>
        requires std::ranges::input_range<Range>
    auto async_copy_in(std::string target, Range&& rows, diagnostics& diag, Token&& token) {
        return async_spawned<std::uint64_t>(
            copy_in_impl(impl_, std::move(target), std::views::all(std::forward<Range>(rows))), &diag,
            std::forward<Token>(token));
    }

    /// BEGIN (with options) on a pooled connection; see transaction.
    boost::asio::awaitable<pgcoro::transaction> begin(transaction_options options = {}) {
        return begin_impl(impl_, std::move(options));
    }

    /// Runs fn(transaction&) -> awaitable<R> in a transaction: COMMIT when it returns,
    /// ROLLBACK when it throws or is cancelled (then rethrows). Returns fn's value.
    template <class F>
    auto transaction(F fn, transaction_options options = {}) -> std::invoke_result_t<F, pgcoro::transaction&> {
        pgcoro::transaction tx = co_await begin_impl(impl_, std::move(options));
        co_return co_await detail::commit_or_roll_back(tx, fn);
    }

    /// Retries (SELECT 1 through the pool) with exponential backoff until the database
    /// answers or `timeout` passes; then throws errc::pool_timeout with the last error.
    /// Each attempt is bounded by what is left of `timeout` and by acquire_timeout; a
    /// failed attempt (refused, acquire timed out) is retried, errc::pool_closed is not.
    boost::asio::awaitable<void> wait_ready(std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        auto delay = std::chrono::milliseconds(50);
        std::string last;
        auto ex = co_await boost::asio::this_coro::executor;
        boost::asio::steady_timer timer(ex);
        while (true) {
            boost::asio::steady_timer limit(ex);
            limit.expires_at(deadline);
            using namespace boost::asio::experimental::awaitable_operators;
            // `||` completes on the first *success* and otherwise waits for the other
            // side, so the attempt reports its failure as a value: were it to throw, the
            // loop would sit out the whole deadline instead of retrying.
            auto r = co_await (ping_attempt() || limit.async_wait(boost::asio::use_awaitable));
            if (r.index() == 0) {
                std::exception_ptr failure = std::get<0>(r);
                if (!failure) co_return;
                try {
                    std::rethrow_exception(failure);
                } catch (const pgcoro::error& e) {
                    if (e.code() == make_error_code(errc::pool_closed)) throw;
                    last = e.what();
                }
            } else if (last.empty()) {
                last = "no answer yet";
            }
            auto now = std::chrono::steady_clock::now();
            if (now >= deadline)
                throw pgcoro::error(make_error_code(errc::pool_timeout),
                                    "the database did not answer within " + std::to_string(timeout.count()) +
                                        " ms; last error: " + last);
            timer.expires_at(std::min(deadline, now + delay));
            co_await timer.async_wait(boost::asio::use_awaitable);
            delay = std::min(delay * 2, std::chrono::milliseconds(2000));
        }
    }

    /// One round trip, for health endpoints.
    boost::asio::awaitable<ping_result> ping() {
        auto c = co_await acquire_impl(impl_, detail::request_kind::alone);
        auto t0 = std::chrono::steady_clock::now();
        co_await c->query_one<std::int32_t>("select 1");
        ping_result r;
        r.latency = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
        r.server_version = c->server_version();
        co_return r;
    }

    pool_stats stats() const { return impl_->stats(); }
    const pool_config& config() const noexcept { return impl_->config(); }

    /// Wakes every waiter with errc::pool_closed, closes idle connections now and the
    /// others as they come back. Later calls fail with errc::pool_closed.
    void close() { impl_->close(); }

private:
    static boost::asio::awaitable<pooled_connection> acquire_impl(std::shared_ptr<detail::pool_impl> impl,
                                                                  detail::request_kind kind) {
        auto token = boost::asio::as_tuple(boost::asio::use_awaitable);
        auto [ec, lease, message] = co_await boost::asio::async_initiate<decltype(token), detail::acquire_signature>(
            [](auto h, std::shared_ptr<detail::pool_impl> impl, detail::request_kind kind) {
                impl->acquire(kind, std::move(h));
            },
            token, std::move(impl), kind);
        if (ec) throw pgcoro::error(ec, message.empty() ? ec.message() : message);
        co_return pooled_connection(std::move(lease));
    }

    template <class T>
    static boost::asio::awaitable<row_stream<T>> stream_impl(std::shared_ptr<detail::pool_impl> impl,
                                                             std::shared_ptr<detail::exec_op> op) {
        // session: a stream's command tag is not followed, so the connection is reset.
        auto c = co_await acquire_impl(std::move(impl), detail::request_kind::session);
        auto conn = detail::connection_access::impl(*c);
        co_return row_stream<T>(std::move(conn), std::move(op), 1024, std::make_shared<pooled_connection>(std::move(c)));
    }

    /// `rows` a view (views::all of the caller's range), held by the coroutine's frame.
    template <class View>
    static boost::asio::awaitable<std::uint64_t> copy_in_impl(std::shared_ptr<detail::pool_impl> impl,
                                                              std::string target, View rows) {
        auto c = co_await acquire_impl(std::move(impl), detail::request_kind::alone);
        co_return co_await c->copy_in(std::move(target), rows);
    }

    /// A coroutine as an asynchronous operation on the pool's strand, completing with
    /// (error_code, R) (see spawn_completion); total cancellation reaches it.
    template <class R>
    static boost::asio::awaitable<R> with_total_cancellation(boost::asio::awaitable<R> work) {
        co_await boost::asio::this_coro::reset_cancellation_state(boost::asio::enable_total_cancellation());
        co_return co_await std::move(work);
    }
    template <class R, class Token>
    auto async_spawned(boost::asio::awaitable<R> work, diagnostics* diag, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, R)>(
            [](auto handler, detail::connection_strand strand, boost::asio::awaitable<R> work,
               diagnostics* diag) {
                boost::asio::co_spawn(strand, with_total_cancellation(std::move(work)),
                                      detail::spawn_completion<decltype(handler), R>{std::move(handler), diag});
            },
            token, impl_->strand(), std::move(work), diag);
    }

    template <class Token>
    auto async_acquire_impl(diagnostics* diag, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, pooled_connection)>(
            [](auto h, std::shared_ptr<detail::pool_impl> impl, diagnostics* diag) {
                impl->acquire(detail::request_kind::session,
                              detail::acquire_completion<std::decay_t<decltype(h)>>{std::move(h), diag});
            },
            token, impl_, diag);
    }

    friend class query_surface<pool>;
    template <class Decode, class Style, class Token>
    auto start_op(std::shared_ptr<detail::exec_op> op, Style style, Token&& token) {
        using sig = typename Style::template signature<typename Decode::type>;
        return boost::asio::async_initiate<Token, sig>(detail::pool_exec_initiation<Decode, Style>{}, token, impl_,
                                                       std::move(op), style);
    }

    static boost::asio::awaitable<void> batch_impl(std::shared_ptr<detail::pool_impl> impl,
                                                   std::vector<std::string> statements) {
        auto c = co_await acquire_impl(std::move(impl), detail::request_kind::alone);
        co_await c->execute_batch(std::move(statements));
        c.return_without_reset();
    }

    /// batch_impl as its own coroutine: co_spawn's state passes terminal cancellation only.
    static boost::asio::awaitable<void> batch_spawned(std::shared_ptr<detail::pool_impl> impl,
                                                      std::vector<std::string> statements) {
        co_await boost::asio::this_coro::reset_cancellation_state(boost::asio::enable_total_cancellation());
        co_await batch_impl(std::move(impl), std::move(statements));
    }

    template <class Token>
    auto async_batch_impl(std::vector<std::string> statements, diagnostics* diag, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            [](auto handler, std::shared_ptr<detail::pool_impl> impl, std::vector<std::string> statements,
               diagnostics* diag) {
                auto strand = impl->strand();
                boost::asio::co_spawn(strand, batch_spawned(std::move(impl), std::move(statements)),
                                      detail::spawn_completion<decltype(handler), void>{std::move(handler), diag});
            },
            token, impl_, std::move(statements), diag);
    }

    static boost::asio::awaitable<pgcoro::transaction> begin_impl(std::shared_ptr<detail::pool_impl> impl,
                                                                  transaction_options options) {
        auto c = co_await acquire_impl(std::move(impl), detail::request_kind::session);
        co_await c->execute(options.begin_sql());
        for (auto& [name, value] : options.settings)
            co_await c->query_one<std::string>("select set_config($1, $2, true)", name, value);
        co_return pgcoro::transaction(std::move(c));
    }

    /// ping() with its failure as a value (null when the database answered).
    boost::asio::awaitable<std::exception_ptr> ping_attempt() {
        try {
            co_await ping();
        } catch (...) {
            co_return std::current_exception();
        }
        co_return nullptr;
    }

    std::shared_ptr<detail::pool_impl> impl_;
};

}  // namespace pgcoro

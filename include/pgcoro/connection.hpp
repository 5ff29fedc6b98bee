// pgcoro/connection.hpp — one asynchronous, pipelined PostgreSQL connection.
#pragma once

#include <pgcoro/detail/connect.hpp>
#include <pgcoro/detail/connection_impl.hpp>
#include <pgcoro/detail/params.hpp>
#include <pgcoro/detail/row_reader.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/observer.hpp>
#include <pgcoro/result.hpp>
#include <pgcoro/types.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgcoro {

/// Options for connection::connect beyond what the connection string says.
struct connect_options {
    // Not an aggregate, on purpose: g++ 12 destroys a braced aggregate temporary inside
    // a co_await expression twice (`co_await f(T{})`, or a `T options = {}` default).
    // With a user-declared constructor `T{}` is value-initialised, which it gets right.
    connect_options() = default;

    /// Bounds the whole connect (DNS, TCP, TLS, authentication). When unset, libpq's
    /// `connect_timeout` parameter (or PGCONNECT_TIMEOUT) applies, in seconds per host.
    std::optional<std::chrono::milliseconds> connect_timeout;
    /// Prepared statements kept per connection, keyed by SQL text and parameter types
    /// (least recently used ones are deallocated). 0: every statement is parsed anew.
    std::size_t statement_cache_size = 256;
    /// Statement hooks (pgcoro/observer.hpp); none by default.
    std::shared_ptr<pgcoro::observer> observer;
};

namespace detail {

inline boost::asio::awaitable<pgresult_ptr> run_op(std::shared_ptr<connection_impl> impl,
                                                   std::shared_ptr<exec_op> op) {
    if (!impl)
        throw pgcoro::error(make_error_code(errc::connection_closed), "the connection was moved from");
    if (op->encode_failure) std::rethrow_exception(op->encode_failure);
    // Observed: the op (and so its SQL) stays alive in `keep` for the events.
    observer* obs = impl->get_observer().get();
    std::shared_ptr<exec_op> keep;
    std::chrono::steady_clock::time_point t0;
    if (obs) {
        keep = op;
        obs->on_statement_start(keep->sql, keep->params.count());
        t0 = std::chrono::steady_clock::now();
    }
    auto [ec, out] = co_await impl->async_exec(std::move(op), boost::asio::as_tuple(boost::asio::use_awaitable));
    if (obs) {
        statement_event ev;
        ev.sql = keep->sql;
        ev.parameter_count = keep->params.count();
        ev.duration = std::chrono::steady_clock::now() - t0;
        ev.error = ec;
        ev.diagnostics = out.diag && out.diag->from_server() ? out.diag.get() : nullptr;
        ev.backend_pid = impl->backend_pid();
        if (!ec) ev.rows = affected_rows_of(out.result.get());
        obs->on_statement_finish(ev);
    }
    if (ec) throw pgcoro::error(ec, out.take_diagnostics());
    co_return std::move(out.result);
}

inline boost::asio::awaitable<void> run_batch(std::shared_ptr<connection_impl> impl,
                                              std::vector<std::shared_ptr<exec_op>> ops) {
    if (!impl)
        throw pgcoro::error(make_error_code(errc::connection_closed), "the connection was moved from");
    auto [ec, diag] = co_await impl->async_exec_batch(std::move(ops), boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) throw pgcoro::error(ec, std::move(diag));
}

inline boost::asio::awaitable<std::uint64_t> run_execute(std::shared_ptr<connection_impl> impl,
                                                         std::shared_ptr<exec_op> op) {
    result r(co_await run_op(std::move(impl), std::move(op)));
    co_return r.affected_rows();
}

inline boost::asio::awaitable<result> run_result(std::shared_ptr<connection_impl> impl,
                                                 std::shared_ptr<exec_op> op) {
    co_return result(co_await run_op(std::move(impl), std::move(op)));
}

template <class T>
boost::asio::awaitable<std::vector<T>> run_query(std::shared_ptr<connection_impl> impl,
                                                 std::shared_ptr<exec_op> op) {
    result r(co_await run_op(std::move(impl), std::move(op)));
    co_return r.as<T>();
}

template <class T>
boost::asio::awaitable<std::optional<T>> run_query_opt(std::shared_ptr<connection_impl> impl,
                                                       std::shared_ptr<exec_op> op, bool exactly_one) {
    result r(co_await run_op(std::move(impl), std::move(op)));
    const PGresult* raw = r.native_handle();
    check_row_type<T>(raw);
    int n = r.rows();
    if (n > 1)
        throw pgcoro::error(make_error_code(errc::too_many_rows),
                            "expected " + std::string(exactly_one ? "exactly one row" : "at most one row") +
                                ", the query returned " + std::to_string(n));
    if (n == 0) {
        if (exactly_one)
            throw pgcoro::error(make_error_code(errc::no_rows), "expected exactly one row, the query returned none");
        co_return std::nullopt;
    }
    co_return read_row<T>(raw, 0);
}

/// Encodes the parameters now (the caller's objects may be gone when the statement is
/// sent); an encoding error is kept and thrown when the operation is awaited.
template <class T>
boost::asio::awaitable<T> run_query_one(std::shared_ptr<connection_impl> impl, std::shared_ptr<exec_op> op) {
    co_return *(co_await run_query_opt<T>(std::move(impl), std::move(op), true));
}

template <class... Args>
std::shared_ptr<exec_op> make_op(std::string_view sql, const Args&... args) {
    try {
        return std::make_shared<exec_op>(std::string(sql), encode_params(args...));
    } catch (const pgcoro::error&) {
        auto op = std::make_shared<exec_op>(std::string(sql), encoded_params{});
        op->encode_failure = std::current_exception();
        return op;
    }
}

}  // namespace detail

/// One connection to PostgreSQL. Every statement goes out through libpq's pipeline mode:
/// many coroutines may use one connection at once; their statements are sent as they
/// come and complete in order, each in its own implicit transaction (unless a BEGIN is in
/// force) so one failing statement fails only its own caller.
///
/// Executor and threads: the connection runs on its own strand of the executor given to
/// connect(); its member functions may be called from any thread, and each awaitable
/// resumes on the awaiting coroutine's executor.
///
/// Cancellation: every operation honours Asio per-operation cancellation (terminal,
/// partial and total), e.g. `co_await (conn.query<int>(...) || timer.async_wait(...))`.
/// (Asio's `||` completes on the first *success*: when the query fails, its error comes
/// only after the timer too has fired.)
/// The operation then completes at once with boost::asio::error::operation_aborted; if
/// the statement had reached the server, a cancel request is sent without blocking the
/// io_context (libpq < 17: PQcancel on a background thread; libpq >= 17: PQcancelStart),
/// its late results are drained and dropped, and the connection stays usable. As with
/// every PostgreSQL client, the server may finish the statement before the cancel
/// arrives; in a narrow race the cancel can hit the statement queued right behind it,
/// which then fails with SQLSTATE 57014.
///
/// Errors: the coroutines throw pgcoro::error: server errors carry their SQLSTATE
/// (server_category) and diagnostics; client errors use pgcoro::errc; a broken
/// connection fails every pending operation with errc::connection_broken.
class connection {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Connects to `conninfo`, a `postgresql://` URL or a `key=value` string; everything
    /// libpq accepts works, PG* environment variables included. Host names are resolved
    /// with Asio's resolver (never a blocking lookup on the io_context). Throws
    /// pgcoro::error: errc::invalid_conninfo, errc::connect_failed (libpq's message, with
    /// any password removed) or errc::connect_timeout. Cancellation (any type) abandons
    /// the attempt at once and throws pgcoro::error with boost::asio::error::operation_aborted.
    static boost::asio::awaitable<connection> connect(executor_type ex, std::string conninfo,
                                                      connect_options options = {}) {
        detail::pgconn_ptr c = co_await detail::connect_pq(ex, std::move(conninfo), options.connect_timeout);
        auto impl = std::make_shared<detail::connection_impl>(ex, std::move(c), options.statement_cache_size,
                                                              std::move(options.observer));
        co_return connection(std::move(impl));
    }

    connection(connection&&) noexcept = default;
    connection& operator=(connection&& other) noexcept {
        if (this != &other) {
            reset();
            impl_ = std::move(other.impl_);
        }
        return *this;
    }
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    /// Never blocks: fails pending operations with errc::connection_closed, asks the
    /// server to cancel a running statement, and closes the socket.
    ~connection() { reset(); }

    /// The connection's strand.
    executor_type get_executor() const { return impl_->strand(); }

    /// Runs a statement; returns the rows it affected (or returned, for SELECT).
    /// Parameters ($1, $2, ...) are sent in binary with their types; std::nullopt or an
    /// empty std::optional is NULL.
    template <class... Args>
    boost::asio::awaitable<std::uint64_t> execute(std::string_view sql, const Args&... args) {
        return detail::run_execute(impl_, detail::make_op(sql, args...));
    }

    /// Runs a query and maps each row onto T: a scalar (one column), a std::tuple or an
    /// aggregate struct (by position); std::optional<U> wherever NULL may appear. The
    /// columns are checked against T before any row is read.
    template <class T, class... Args>
    boost::asio::awaitable<std::vector<T>> query(std::string_view sql, const Args&... args) {
        return detail::run_query<T>(impl_, detail::make_op(sql, args...));
    }

    /// Like query, for exactly one row: errc::no_rows or errc::too_many_rows otherwise.
    template <class T, class... Args>
    boost::asio::awaitable<T> query_one(std::string_view sql, const Args&... args) {
        return detail::run_query_one<T>(impl_, detail::make_op(sql, args...));
    }

    /// Like query, for zero or one row: errc::too_many_rows for more.
    template <class T, class... Args>
    boost::asio::awaitable<std::optional<T>> query_opt(std::string_view sql, const Args&... args) {
        return detail::run_query_opt<T>(impl_, detail::make_op(sql, args...), false);
    }

    /// Runs a statement and returns its raw result (see pgcoro::result).
    template <class... Args>
    boost::asio::awaitable<result> query_result(std::string_view sql, const Args&... args) {
        return detail::run_result(impl_, detail::make_op(sql, args...));
    }

    /// Sends every statement at once (one round trip; the pipeline keeps their order),
    /// waits for all, and throws the first error. Each runs in its own implicit
    /// transaction unless a BEGIN is in force. Parameterless statements only.
    boost::asio::awaitable<void> execute_batch(std::vector<std::string> statements) {
        std::vector<std::shared_ptr<detail::exec_op>> ops;
        ops.reserve(statements.size());
        for (auto& s : statements) ops.push_back(std::make_shared<detail::exec_op>(std::move(s), detail::encoded_params{}));
        return detail::run_batch(impl_, std::move(ops));
    }

    /// Runs a string of several statements (a migration file, a schema) with the simple
    /// query protocol: the pipeline drains first, statements called afterwards wait for
    /// it, in order. Stops at the first error, which it throws; without an explicit
    /// BEGIN/COMMIT in the text, the whole string is one implicit transaction (so an
    /// error undoes all of it). No parameters. Returns the rows the last statement
    /// affected (rows come back in text format in this protocol, so none are returned:
    /// query them afterwards). Cancellable like the rest.
    boost::asio::awaitable<std::uint64_t> execute_script(std::string sql) {
        auto op = std::make_shared<detail::exec_op>(std::move(sql), detail::encoded_params{});
        op->script = true;
        return detail::run_execute(impl_, std::move(op));
    }

    /// Waits for the statements in flight, then closes the connection. Operations started
    /// afterwards fail with errc::connection_closed.
    boost::asio::awaitable<void> close() {
        if (!impl_) co_return;
        auto [ec] = co_await impl_->async_close(boost::asio::as_tuple(boost::asio::use_awaitable));
        if (ec) throw pgcoro::error(ec, "closing the connection");
    }

    /// Receives the server's notices and warnings (RAISE NOTICE, ...), on the
    /// connection's strand. By default they are dropped.
    void set_notice_handler(std::function<void(const notice&)> handler) {
        if (impl_) impl_->set_notice_handler(std::move(handler));
    }

    /// False once the connection was closed, moved from, or found broken.
    bool is_open() const noexcept { return impl_ && impl_->is_open(); }
    /// The server process serving this connection (for pg_stat_activity, pg_cancel_backend).
    int backend_pid() const noexcept { return impl_ ? impl_->backend_pid() : 0; }
    /// The server's version as an integer, e.g. 150018.
    int server_version() const noexcept { return impl_ ? impl_->server_version() : 0; }
    /// PQTRANS_IDLE, PQTRANS_INTRANS or PQTRANS_INERROR as of the last completed statement
    /// (PQTRANS_UNKNOWN when closed).
    PGTransactionStatusType transaction_status() const noexcept {
        return is_open() ? impl_->transaction_status() : PQTRANS_UNKNOWN;
    }
    /// Without a round trip: false when the server has closed this (idle) connection.
    boost::asio::awaitable<bool> probe() {
        if (!impl_) co_return false;
        co_return co_await impl_->async_probe(boost::asio::use_awaitable);
    }
    /// True once a statement changed session state (its command tag was SET, RESET,
    /// LISTEN, PREPARE, DECLARE, CREATE, BEGIN, ...) since clear_session_changed().
    bool session_changed() const noexcept { return impl_ && impl_->session_changed(); }
    void clear_session_changed() noexcept {
        if (impl_) impl_->clear_session_changed();
    }
    /// For pgcoro's pool: the shared state behind this connection.
    const std::shared_ptr<detail::connection_impl>& impl_for_pool() const noexcept { return impl_; }
    /// Statements sent whose results have not all arrived yet.
    std::size_t in_flight() const noexcept { return impl_ ? impl_->in_flight() : 0; }

private:
    explicit connection(std::shared_ptr<detail::connection_impl> impl) : impl_(std::move(impl)) {}

    void reset() noexcept {
        if (impl_) {
            impl_->shutdown();
            impl_.reset();
        }
    }

    std::shared_ptr<detail::connection_impl> impl_;
};

}  // namespace pgcoro

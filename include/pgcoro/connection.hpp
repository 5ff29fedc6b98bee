// pgcoro/connection.hpp — one asynchronous, pipelined PostgreSQL connection.
#pragma once

#include <pgcoro/detail/connect.hpp>
#include <pgcoro/detail/connection_impl.hpp>
#include <pgcoro/detail/operations.hpp>
#include <pgcoro/detail/params.hpp>
#include <pgcoro/detail/row_reader.hpp>
#include <pgcoro/detail/spawn_completion.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/network_options.hpp>
#include <pgcoro/observer.hpp>
#include <pgcoro/query_surface.hpp>
#include <pgcoro/copy.hpp>
#include <pgcoro/copy_rows.hpp>
#include <pgcoro/result.hpp>
#include <pgcoro/row_stream.hpp>
#include <pgcoro/statement.hpp>
#include <pgcoro/types.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
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
    /// Through a transaction-pooling proxy (PgBouncer pool_mode=transaction): every
    /// statement unnamed, whatever statement_cache_size says (see pool_config::pooler_safe).
    bool pooler_safe = false;
    /// Statement hooks (pgcoro/observer.hpp); none by default.
    std::shared_ptr<pgcoro::observer> observer;
    /// Per-host deadlines, TCP keepalives, read_timeout (pgcoro/network_options.hpp).
    network_options network;
};

class connection;

namespace detail {

/// The library's own way in (the pool): a connection from its engine, and back.
struct connection_access {
    static connection make(std::shared_ptr<connection_impl> impl);
    static const std::shared_ptr<connection_impl>& impl(const connection& c) noexcept;
};

}  // namespace detail

/// One connection to PostgreSQL. Every statement goes out through libpq's pipeline mode:
/// many callers may use one connection at once; their statements are sent as they come
/// and complete in order, each in its own implicit transaction (unless a BEGIN is in
/// force) so one failing statement fails only its own caller.
///
/// Two forms of every operation:
///  - concise coroutines, `co_await conn.query<T>(sql, args...)`: they throw
///    pgcoro::error, which carries the server's diagnostics;
///  - asynchronous operations taking any Asio completion token, named `async_*`, the
///    statement and its parameters bundled in a pgcoro::statement, the token last:
///    `conn.async_query<T>(pgcoro::statement(sql, args...), token)`. They complete with
///    `(error_code, value)`; pass a `diagnostics&` before the token to get the server's
///    diagnostics without exceptions. Callbacks, use_awaitable, use_future, deferred,
///    as_tuple, redirect_error, detached and experimental::use_promise all work. The same
///    rule holds for pool and transaction: the statement operations (execute, query,
///    query_one, query_opt, query_result, execute_script, notify) are query_surface's,
///    shared by all three.
///
/// Executor: the connection runs on its own strand of the executor given to connect();
/// its member functions may be called from any thread. A completion runs on the
/// handler's associated executor (the connection's strand for a handler without one):
/// resumed directly when that executor is running on the completing thread, posted to
/// it otherwise.
///
/// Cancellation: every operation supports terminal, partial and total cancellation
/// (per-operation cancellation slots, e.g. `co_await (conn.query<int>(...) ||
/// timer.async_wait(...))`). A cancelled statement completes at once with
/// boost::asio::error::operation_aborted; if it had reached the server, a cancel request
/// is sent without blocking the io_context (libpq < 17: PQcancel on a background thread;
/// libpq >= 17: PQcancelStart), its late results are read and dropped, and the
/// connection stays usable. PostgreSQL's cancel request stops whatever the backend runs
/// when it arrives, which in a pipeline may be the next caller's statement: outside a
/// transaction block pgcoro sends such a statement again (it was rolled back whole), so
/// a statement nobody cancelled never fails because of a cancel. Inside a transaction
/// block a cancel aborts the transaction, as PostgreSQL defines.
///
/// Errors: server errors carry their SQLSTATE (server_category) and diagnostics; client
/// errors use pgcoro::errc; a broken connection fails every pending operation with
/// errc::connection_broken, a closed one with errc::connection_closed.
class connection : public query_surface<connection> {
    using ec_style = detail::error_code_style;
    using ex_style = detail::exception_style;

public:
    using executor_type = boost::asio::any_io_executor;

    /// Not connected (what a failed async_connect completes with): is_open() is false and
    /// every operation fails with errc::connection_closed.
    connection() = default;

    // ---- connect ----------------------------------------------------------------------

    /// Connects to `conninfo`, a `postgresql://` URL or a `key=value` string; everything
    /// libpq accepts works, PG* environment variables and service files included. Host
    /// names are resolved with Asio's resolver within the connect timeout (never a
    /// blocking lookup on the io_context). Several hosts (`host=a,b port=p,q`) are tried
    /// in order, each within options.network.host_timeout, and target_session_attrs
    /// (read-write, read-only, primary, standby, prefer-standby) is checked by pgcoro with
    /// one query per host tried. Throws pgcoro::error: errc::invalid_conninfo,
    /// errc::connect_failed (libpq's message, any password removed) or
    /// errc::connect_timeout (every host timed out, or the whole connect did) or
    /// errc::invalid_config (options.network). With several hosts the message names each
    /// host and why it was passed over. Cancellation (any type) abandons the attempt at
    /// once with boost::asio::error::operation_aborted.
    static boost::asio::awaitable<connection> connect(executor_type ex, std::string conninfo,
                                                      connect_options options = {}) {
        options.network.validate("connect_options");
        detail::pgconn_ptr c =
            co_await detail::connect_pq(ex, std::move(conninfo), options.connect_timeout, options.network);
        auto impl = std::make_shared<detail::connection_impl>(
            ex, std::move(c), options.pooler_safe ? 0 : options.statement_cache_size, std::move(options.observer));
        if (options.network.read_timeout) impl->set_read_timeout(*options.network.read_timeout);
        co_return connection(std::move(impl));
    }

    /// connect() as an asynchronous operation. Signature: void(error_code, connection).
    /// Completes on the token's associated executor (`ex` when it has none). Cancellation:
    /// terminal, partial and total. Errors as connect(); `diag` gets the message.
    template <class Token>
    static auto async_connect(executor_type ex, std::string conninfo, connect_options options, Token&& token) {
        return async_connect_impl(std::move(ex), std::move(conninfo), std::move(options), nullptr, std::forward<Token>(token));
    }
    template <class Token>
    static auto async_connect(executor_type ex, std::string conninfo, connect_options options, diagnostics& diag,
                              Token&& token) {
        return async_connect_impl(std::move(ex), std::move(conninfo), std::move(options), &diag,
                                  std::forward<Token>(token));
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
    /// The connection's strand. Throws pgcoro::error (errc::connection_closed) on a
    /// connection that is not connected (default-constructed or moved from).
    executor_type get_executor() const {
        if (!impl_)
            throw pgcoro::error(make_error_code(errc::connection_closed),
                                "a connection that is not connected (default-constructed or moved from) has no executor");
        return impl_->strand();
    }

    // ---- statements -----------------------------------------------------------------------
    // execute, query, query_one, query_opt, query_result, execute_script, notify and their
    // async_* forms come from query_surface (pgcoro/query_surface.hpp).

    /// The rows of a query in batches, in bounded memory (see pgcoro::row_stream): the
    /// query starts with the first read. For results too large to hold at once.
    template <class T, parameter... Args>
    row_stream<T> stream(std::string_view sql, const Args&... args) {
        return row_stream<T>(impl_, detail::make_op(sql, args...), 1024);
    }

    // ---- COPY (pgcoro/copy.hpp, pgcoro/copy_rows.hpp) ------------------------------------
    // A typed COPY's `target` is SQL, spliced in as written (never pass untrusted text): a
    // table with an optional column list, `"items (id, name, price)"`, schema-qualified
    // and quoted names as in SQL; without a list, all of the table's columns in order.
    // (One string, not a braced list of names: g++ 12 cannot compile a braced list of
    // strings inside a co_await expression; see README.) The connection is the COPY's
    // until it ends: other callers' statements wait and run afterwards, in order.

    /// COPY ... FROM STDIN with bytes in the statement's format (text, CSV, binary).
    copy_in_stream copy_in_raw(std::string copy_sql) { return copy_in_stream(impl_, std::move(copy_sql)); }
    /// COPY ... TO STDOUT, its bytes in chunks of whole rows.
    copy_out_stream copy_out_raw(std::string copy_sql) { return copy_out_stream(impl_, std::move(copy_sql)); }

    /// A binary COPY of rows of T into `target`, after checking T against its columns
    /// (errc::type_mismatch / column_count_mismatch before any data is sent).
    template <class T>
    boost::asio::awaitable<copy_writer<T>> copy_in_writer(std::string target) {
        return detail::make_copy_writer<T>(impl_, std::move(target));
    }

    /// Loads a range of rows (structs, tuples or scalars) with a binary COPY; returns the
    /// rows loaded. All or nothing (outside a transaction block of the caller's own).
    /// `rows` must stay valid until completion.
    template <std::ranges::input_range Range>
    boost::asio::awaitable<std::uint64_t> copy_in(std::string target, const Range& rows) {
        using T = std::ranges::range_value_t<Range>;
        auto w = co_await detail::make_copy_writer<T>(impl_, std::move(target));
        co_await w.write(rows);
        co_return co_await w.finish();
    }

    /// Rows of T out of `target` (a table and columns, or a `(select ...)` in
    /// parentheses) with a binary COPY, in bounded memory; T is checked first.
    template <class T>
    boost::asio::awaitable<copy_reader<T>> copy_out(std::string target) {
        return detail::make_copy_reader<T>(impl_, std::move(target));
    }

    /// Sends every statement at once (one round trip; the pipeline keeps their order),
    /// waits for all, and throws the first error. Each runs in its own implicit
    /// transaction unless a BEGIN is in force. Parameterless statements only.
    boost::asio::awaitable<void> execute_batch(std::vector<std::string> statements) {
        return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr)>(
            detail::batch_initiation<ex_style>{}, boost::asio::use_awaitable, impl_, std::move(statements), ex_style{});
    }

    /// Waits for the statements in flight, then closes the connection. Operations started
    /// afterwards fail with errc::connection_closed. Cancelling it closes at once.
    boost::asio::awaitable<void> close() {
        return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr)>(
            detail::close_initiation<ex_style>{}, boost::asio::use_awaitable, impl_, ex_style{});
    }

    // ---- asynchronous operations (any completion token) ---------------------------------
    // Executor: the token's associated one (the connection's strand when it has none).
    // Cancellation: terminal, partial and total (see the class comment). Errors: reported
    // as the error_code; with a `diagnostics&` argument, the server's diagnostics (or the
    // client's message) are written there before completion, and cleared on success.

    /// execute_batch(). Signature void(error_code), with the first error. Cancelling it
    /// cancels every statement of the batch not yet done.
    template <class Token>
    auto async_execute_batch(std::vector<std::string> statements, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            detail::batch_initiation<ec_style>{}, token, impl_, std::move(statements), ec_style{});
    }
    template <class Token>
    auto async_execute_batch(std::vector<std::string> statements, diagnostics& diag, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            detail::batch_initiation<ec_style>{}, token, impl_, std::move(statements), ec_style{&diag});
    }

    /// close(). Signature void(error_code): errc::connection_broken when the connection
    /// broke meanwhile; operation_aborted when cancelled (the connection is then shut
    /// down at once, pending statements failing with errc::connection_closed).
    template <class Token>
    auto async_close(Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(detail::close_initiation<ec_style>{},
                                                                                  token, impl_, ec_style{});
    }

    // ---- state ------------------------------------------------------------------------

    /// Receives the server's notices and warnings (RAISE NOTICE, ...), on the
    /// connection's strand. By default they are dropped. On a pooled connection it lasts
    /// until the connection goes back to the pool, which removes it.
    void set_notice_handler(std::function<void(const notice&)> handler) {
        if (impl_) impl_->set_notice_handler(std::move(handler));
    }
    /// Whether a notice handler is set.
    bool has_notice_handler() const noexcept { return impl_ && impl_->has_notice_handler(); }

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
        co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(bool)>(
            [](auto h, std::shared_ptr<detail::connection_impl> impl) { impl->probe(std::move(h)); },
            boost::asio::use_awaitable, impl_);
    }
    /// True once a statement changed session state (its command tag was SET, RESET,
    /// LISTEN, PREPARE, DECLARE, CREATE, BEGIN, ...) since clear_session_changed().
    bool session_changed() const noexcept { return impl_ && impl_->session_changed(); }
    void clear_session_changed() noexcept {
        if (impl_) impl_->clear_session_changed();
    }
    /// Statements sent whose results have not all arrived yet.
    std::size_t in_flight() const noexcept { return impl_ ? impl_->in_flight() : 0; }
    /// Statements pgcoro sent again because a cancel meant for another statement hit
    /// them (see the class comment), since the connection opened.
    std::uint64_t cancel_resends() const noexcept { return impl_ ? impl_->resends() : 0; }
private:
    explicit connection(std::shared_ptr<detail::connection_impl> impl) : impl_(std::move(impl)) {}
    friend struct detail::connection_access;

    friend class query_surface<connection>;
    template <class Decode, class Style, class Token>
    auto start_op(std::shared_ptr<detail::exec_op> op, Style style, Token&& token) {
        return detail::async_exec<Decode>(impl_, std::move(op), style, std::forward<Token>(token));
    }

    template <class Token>
    static auto async_connect_impl(executor_type ex, std::string conninfo, connect_options options, diagnostics* diag,
                                   Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, connection)>(
            [](auto handler, executor_type ex, std::string conninfo, connect_options options, diagnostics* diag) {
                boost::asio::co_spawn(ex, connect(ex, std::move(conninfo), std::move(options)),
                                      detail::spawn_completion<decltype(handler), connection>{
                                          std::move(handler), diag, errc::connect_failed});
            },
            token, std::move(ex), std::move(conninfo), std::move(options), diag);
    }

    void reset() noexcept {
        if (impl_) {
            impl_->shutdown();
            impl_.reset();
        }
    }

    std::shared_ptr<detail::connection_impl> impl_;
};

namespace detail {

inline connection connection_access::make(std::shared_ptr<connection_impl> impl) { return connection(std::move(impl)); }
inline const std::shared_ptr<connection_impl>& connection_access::impl(const connection& c) noexcept { return c.impl_; }

}  // namespace detail
}  // namespace pgcoro


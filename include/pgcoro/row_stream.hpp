// pgcoro/row_stream.hpp — a query's rows in batches, in bounded memory.
#pragma once

#include <pgcoro/detail/connection_impl.hpp>
#include <pgcoro/detail/operations.hpp>
#include <pgcoro/detail/stream_task.hpp>
#include <pgcoro/detail/task_request.hpp>
#include <pgcoro/error.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace pgcoro {


/// The rows of one query, read in batches: `connection::stream<T>(sql, args...)`, or
/// `pool::stream<T>(sql, args...)` (a pooled connection held until the stream goes).
///
///     auto rows = conn.stream<order>("select ... from orders where tenant = $1", tenant);
///     std::vector<order> batch;
///     while (co_await rows.read(batch)) for (auto& o : batch) ...;
///
/// The query runs when the first read() is called, alone on the connection, in libpq's
/// single-row mode (libpq >= 17: chunked rows): rows are decoded into the caller's vector
/// as they arrive, and the socket is read only while a read is pending, so memory stays
/// bounded by one batch whatever the result's size. Columns are checked against T before
/// the first row is read, as query<T> does.
///
/// The connection is the stream's until the last row is read: statements other callers
/// start meanwhile wait, and run afterwards in order. Destroying the stream (or
/// cancelling a read) before the end cancels the query on the server and drops what is
/// left, then the connection goes on. Inside a transaction block the cancel aborts the
/// transaction, as PostgreSQL defines.
///
/// One reader at a time; the object may be destroyed on any thread.
template <class T>
class row_stream {
public:
    row_stream() = default;
    /// (Made by connection::stream and pool::stream.) `owner`, when given, is kept until
    /// the stream goes: pool::stream's pooled connection.
    row_stream(std::shared_ptr<detail::connection_impl> impl, std::shared_ptr<detail::exec_op> op, int chunk_rows,
               std::shared_ptr<void> owner = nullptr)
        : owner_(std::move(owner)),
          h_(impl, prepared(std::move(op)),
             impl ? std::make_shared<detail::stream_task<T>>(impl->strand(), chunk_rows) : nullptr) {}
    // Moving hands the query over; destroying it before the end cancels the query and
    // drops the rest (never blocks), then lets its owner go.
    row_stream(row_stream&&) noexcept = default;
    row_stream& operator=(row_stream&& o) noexcept {
        if (this != &o) {
            h_ = std::move(o.h_);  // gives up the query this one held first
            owner_ = std::move(o.owner_);
            batch_ = o.batch_;
        }
        return *this;
    }
    ~row_stream() { h_.abandon(); }  // before owner_ goes

    /// Rows per read at most (default 1,000; at least 1). A read completes as soon as it
    /// has rows and no more are buffered, so batches may be smaller.
    void set_batch_size(std::size_t rows) noexcept { batch_ = rows == 0 ? 1 : rows; }

    /// Reads the next rows into `rows` (its elements are reused: strings keep their
    /// capacity) and returns how many; 0 at the end. Throws pgcoro::error: the server's
    /// error (after the rows before it were returned), a column check or decode error
    /// (errc::type_mismatch, errc::unexpected_null, ..., naming the row), a lost
    /// connection. After the end or an error, reads return 0.
    boost::asio::awaitable<std::size_t> read(std::vector<T>& rows) {
        return async_read_impl(rows, detail::exception_style{}, boost::asio::use_awaitable);
    }

    /// read() as an asynchronous operation. Signature: void(error_code, std::size_t).
    /// `rows` must live until completion. Executor: the token's associated one (the
    /// connection's strand when it has none). Cancellation: terminal, partial and total;
    /// it abandons the whole stream (as the destructor does) and completes with
    /// operation_aborted. Errors as read(); `diag` gets the diagnostics.
    template <class Token>
    auto async_read(std::vector<T>& rows, Token&& token) {
        return async_read_impl(rows, detail::error_code_style{}, std::forward<Token>(token));
    }
    template <class Token>
    auto async_read(std::vector<T>& rows, diagnostics& diag, Token&& token) {
        return async_read_impl(rows, detail::error_code_style{&diag}, std::forward<Token>(token));
    }

    /// Stops now: cancels the query on the server and drops what is left.
    void cancel() { abandon(); }

private:
    template <class Style, class Token>
    auto async_read_impl(std::vector<T>& rows, Style style, Token&& token) {
        return h_.template request<std::size_t>(
            style, std::forward<Token>(token), "the stream is not open (moved from, default-constructed or cancelled)",
            "a read is already pending on this stream",
            [rows = &rows, limit = batch_](detail::stream_task<T>& t, auto c) { t.read(rows, limit, std::move(c)); });
    }

    void abandon() noexcept { h_.abandon(); }

    /// The query as a stream runs it: alone on the connection, staying in pipeline mode.
    static std::shared_ptr<detail::exec_op> prepared(std::shared_ptr<detail::exec_op> op) {
        if (op) {
            op->kind = detail::op_kind::exclusive;
            op->leaves_pipeline = false;
        }
        return op;
    }

    std::shared_ptr<void> owner_;  // declared first: destroyed after h_
    detail::task_handle<detail::stream_task<T>> h_;
    std::size_t batch_ = 1000;
};

}  // namespace pgcoro

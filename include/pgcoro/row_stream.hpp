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


/// The rows of one query, read in batches: `connection::stream<T>(sql, args...)`.
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
    row_stream(std::shared_ptr<detail::connection_impl> impl, std::shared_ptr<detail::exec_op> op, int chunk_rows)
        : impl_(std::move(impl)), op_(std::move(op)) {
        if (!impl_) return;
        task_ = std::make_shared<detail::stream_task<T>>(impl_->strand(), chunk_rows);
        op_->kind = detail::op_kind::exclusive;
        op_->leaves_pipeline = false;
        op_->task = task_;
    }
    row_stream(row_stream&& o) noexcept
        : impl_(std::move(o.impl_)), op_(std::move(o.op_)), task_(std::move(o.task_)),
          submitted_(std::exchange(o.submitted_, false)), batch_(o.batch_) {}
    row_stream& operator=(row_stream&& o) noexcept {
        if (this != &o) {
            abandon();
            impl_ = std::move(o.impl_);
            op_ = std::move(o.op_);
            task_ = std::move(o.task_);
            submitted_ = std::exchange(o.submitted_, false);
            batch_ = o.batch_;
        }
        return *this;
    }
    row_stream(const row_stream&) = delete;
    row_stream& operator=(const row_stream&) = delete;
    /// Before the end: cancels the query and drops the rest (never blocks).
    ~row_stream() { abandon(); }

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
        return boost::asio::async_initiate<Token, typename Style::template signature<std::size_t>>(
            [this](auto handler, std::vector<T>* rows, Style style) {
                detail::task_completion<std::size_t, decltype(handler), Style> c{std::move(handler), style};
                if (!impl_ || !task_) return detail::fail_detached(std::move(c), make_error_code(errc::connection_closed),
                                                                   "the stream is not open (moved from or default-constructed)");
                auto slot = boost::asio::get_associated_cancellation_slot(c.handler);
                if (slot.is_connected())
                    slot.template emplace<detail::task_cancel_handler<detail::stream_task<T>>>(
                        detail::task_cancel_handler<detail::stream_task<T>>{impl_, task_, op_});
                bool first = !std::exchange(submitted_, true);
                impl_->on_strand([task = task_, op = op_, rows, limit = batch_, first,
                                  c = std::move(c)](detail::connection_impl& impl) mutable {
                    if (task->reading()) {  // one read at a time: the pending one is kept
                        diagnostics d;
                        d.message = "a read is already pending on this stream";
                        return detail::complete_on_executor(std::move(c), impl.strand(),
                                                            make_error_code(errc::invalid_argument), std::size_t{0},
                                                            std::move(d));
                    }
                    task->read(rows, limit, std::move(c));
                    if (task->over()) return task->deliver();
                    if (first) impl.submit(op, false);
                });
            },
            token, &rows, style);
    }

    void abandon() noexcept {
        if (!impl_ || !submitted_) return;
        try {
            detail::abandon_task(impl_, task_, op_);
        } catch (...) {
            // Posting failed (out of memory): the connection's own end cleans up.
        }
        submitted_ = false;
        impl_.reset();
    }

    std::shared_ptr<detail::connection_impl> impl_;
    std::shared_ptr<detail::exec_op> op_;
    std::shared_ptr<detail::stream_task<T>> task_;
    bool submitted_ = false;
    std::size_t batch_ = 1000;
};

}  // namespace pgcoro

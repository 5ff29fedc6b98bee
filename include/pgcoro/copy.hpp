// pgcoro/copy.hpp — COPY in and out: raw bytes (text, CSV, binary) and typed rows.
//
// A COPY runs outside pipeline mode, the connection its own until the COPY ends:
// statements other callers start meanwhile wait and run afterwards, in order. Memory is
// bounded both ways: a write completes once its bytes have gone out to the socket, and
// COPY out reads the socket only while a read is pending.
//
// Failure leaves nothing half-loaded (outside the caller's own transaction block): a
// server error (a bad row, a constraint) fails the COPY whole, naming the line in the
// diagnostics' `context`; a writer destroyed, or a write cancelled, before finish() aborts
// the COPY on the server. A reader given up on cancels the statement and drops the
// rest. The connection stays usable in every case.
#pragma once

#include <pgcoro/detail/connection_impl.hpp>
#include <pgcoro/detail/copy_task.hpp>
#include <pgcoro/detail/operations.hpp>
#include <pgcoro/detail/task_request.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace pgcoro {

namespace detail {

/// What copy_in_stream and copy_out_stream share: the COPY statement, its task, requests
/// (each completing with the byte or row count: void(error_code, std::uint64_t)).
class copy_handle {
public:
    copy_handle() = default;
    copy_handle(std::shared_ptr<connection_impl> impl, std::string sql, copy_task::direction dir)
        : h_(impl, std::make_shared<exec_op>(std::move(sql), encoded_params{}, op_kind::exclusive),
             impl ? std::make_shared<copy_task>(impl->strand(), dir) : nullptr) {}

    /// Starts `fn(task, handler)` on the strand (the statement goes out with the first).
    template <class Style, class Token, class Fn>
    auto request(Style style, Token&& token, Fn fn) {
        return h_.template request<std::uint64_t>(
            style, std::forward<Token>(token), "the COPY is not open (moved from, default-constructed or abandoned)",
            "a request is already pending on this COPY", std::move(fn));
    }

    /// Gives up (see copy_task::abandon); never blocks.
    void abandon() noexcept { h_.abandon(); }

private:
    task_handle<copy_task> h_;
};

}  // namespace detail

/// COPY ... FROM STDIN: bytes in any format the statement names (text, CSV, binary),
/// from `connection::copy_in_raw(sql)`. The statement goes out with the first request.
///
///     auto in = conn.copy_in_raw("COPY items (id, name) FROM STDIN (FORMAT csv)");
///     co_await in.write("1,apple\n2,pear\n");
///     std::uint64_t rows = co_await in.finish();
///
/// Data may be cut anywhere (rows need not be whole). Destroying the stream (or
/// cancelling a write) before finish() aborts the COPY on the server: nothing of it is
/// kept. Once finish() has sent the end of the data, the outcome is the server's: a
/// cancelled finish() still completes with it (rows loaded, or the error).
class copy_in_stream {
    // (Defined first: the members below use their deduced return types.)
    template <class Style, class Token>
    auto async_write_impl(std::string_view data, Style style, Token&& token) {
        return h_.request(style, std::forward<Token>(token),
                          [data](detail::copy_task& t, auto c) { t.write(data, std::move(c)); });
    }
    template <class Style, class Token>
    auto async_finish_impl(Style style, Token&& token) {
        return h_.request(style, std::forward<Token>(token), [](detail::copy_task& t, auto c) { t.finish(std::move(c)); });
    }


public:
    copy_in_stream() = default;
    copy_in_stream(std::shared_ptr<detail::connection_impl> impl, std::string sql)
        : h_(std::move(impl), std::move(sql), detail::copy_task::direction::in) {}

    /// Sends `data`; returns its size once it has gone out (`data` must stay valid until
    /// then). Throws pgcoro::error: the server's (a failed COPY statement; a refused row
    /// is usually reported by finish()), errc::connection_broken.
    boost::asio::awaitable<std::uint64_t> write(std::string_view data) {
        return async_write_impl(data, detail::exception_style{}, boost::asio::use_awaitable);
    }
    /// Ends the data; returns the rows the server loaded. Throws pgcoro::error with the
    /// server's diagnostics (`context` names the line: "COPY items, line 3").
    boost::asio::awaitable<std::uint64_t> finish() {
        return async_finish_impl(detail::exception_style{}, boost::asio::use_awaitable);
    }

    /// write() as an asynchronous operation. Signature void(error_code, std::uint64_t).
    /// Executor: the token's (the connection's strand when it has none). Cancellation:
    /// terminal, partial and total; it aborts the COPY (operation_aborted).
    template <class Token>
    auto async_write(std::string_view data, Token&& token) {
        return async_write_impl(data, detail::error_code_style{}, std::forward<Token>(token));
    }
    template <class Token>
    auto async_write(std::string_view data, diagnostics& diag, Token&& token) {
        return async_write_impl(data, detail::error_code_style{&diag}, std::forward<Token>(token));
    }
    /// finish() as an asynchronous operation; as async_write.
    template <class Token>
    auto async_finish(Token&& token) {
        return async_finish_impl(detail::error_code_style{}, std::forward<Token>(token));
    }
    template <class Token>
    auto async_finish(diagnostics& diag, Token&& token) {
        return async_finish_impl(detail::error_code_style{&diag}, std::forward<Token>(token));
    }

    /// Aborts the COPY now (nothing of it is kept); never blocks.
    void abort() noexcept { h_.abandon(); }

    detail::copy_handle h_;
};

/// COPY ... TO STDOUT: the bytes of any COPY out (text, CSV, binary), in chunks of whole
/// rows, from `connection::copy_out_raw(sql)`.
///
///     auto out = conn.copy_out_raw("COPY items TO STDOUT (FORMAT csv)");
///     std::string chunk;
///     while (co_await out.read(chunk)) file << chunk;
///
/// Destroying the stream before the end cancels the statement and drops the rest.
class copy_out_stream {
    // (Defined first: the members below use their deduced return types.)
    template <class Style, class Token>
    auto async_read_impl(std::string& chunk, std::size_t max_bytes, Style style, Token&& token) {
        return h_.request(style, std::forward<Token>(token), [out = &chunk, max_bytes](detail::copy_task& t, auto c) {
            out->clear();
            t.read(out, max_bytes, std::move(c));
        });
    }


public:
    copy_out_stream() = default;
    copy_out_stream(std::shared_ptr<detail::connection_impl> impl, std::string sql)
        : h_(std::move(impl), std::move(sql), detail::copy_task::direction::out) {}

    /// Replaces `chunk` with the next rows (up to about `max_bytes`, or what is buffered);
    /// returns its size, 0 at the end. Throws pgcoro::error with the server's
    /// diagnostics. `chunk` must stay valid until completion.
    boost::asio::awaitable<std::uint64_t> read(std::string& chunk, std::size_t max_bytes = 64 * 1024) {
        return async_read_impl(chunk, max_bytes, detail::exception_style{}, boost::asio::use_awaitable);
    }
    /// read() as an asynchronous operation. Signature void(error_code, std::uint64_t).
    /// Executor: the token's (the connection's strand when it has none). Cancellation:
    /// terminal, partial and total; it abandons the COPY (operation_aborted).
    template <class Token>
    auto async_read(std::string& chunk, std::size_t max_bytes, Token&& token) {
        return async_read_impl(chunk, max_bytes, detail::error_code_style{}, std::forward<Token>(token));
    }
    template <class Token>
    auto async_read(std::string& chunk, std::size_t max_bytes, diagnostics& diag, Token&& token) {
        return async_read_impl(chunk, max_bytes, detail::error_code_style{&diag}, std::forward<Token>(token));
    }

    /// Stops now: cancels the statement, drops the rest; never blocks.
    void cancel() noexcept { h_.abandon(); }

    detail::copy_handle h_;
};

}  // namespace pgcoro

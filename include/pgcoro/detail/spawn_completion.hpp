// pgcoro/detail/spawn_completion.hpp — a coroutine run as an asynchronous operation:
// co_spawn completes with (exception_ptr[, T]); the token forms complete with
// (error_code[, T]) and, when asked, the diagnostics.
#pragma once

#include <pgcoro/detail/operations.hpp>
#include <pgcoro/diagnostics.hpp>
#include <pgcoro/error.hpp>

#include <boost/system/system_error.hpp>

#include <exception>
#include <utility>

namespace pgcoro::detail {

/// What an exception out of a coroutine says, as an error code (and into `diag`, when
/// given: cleared on success): pgcoro::error's code and diagnostics; another
/// system_error's code (operation_aborted when cancelled, say) and message; anything
/// else `fallback` and its message.
inline boost::system::error_code settle_exception(std::exception_ptr e, diagnostics* diag,
                                                  boost::system::error_code fallback) {
    if (diag) *diag = diagnostics();
    if (!e) return {};
    try {
        std::rethrow_exception(e);
    } catch (const pgcoro::error& err) {
        if (diag) *diag = err.diagnostics();
        return err.code();
    } catch (const boost::system::system_error& err) {
        if (diag) diag->message = err.what();
        return err.code();
    } catch (const std::exception& err) {
        if (diag) diag->message = err.what();
    } catch (...) {
    }
    return fallback;
}

/// co_spawn's completion for a token form: (exception_ptr, T) as (error_code, T).
template <class Handler, class T>
struct spawn_completion {
    Handler handler;
    diagnostics* diag = nullptr;
    errc fallback = errc::protocol_error;
    void operator()(std::exception_ptr e, T v) {
        auto ec = settle_exception(std::move(e), diag, make_error_code(fallback));
        std::move(handler)(ec, std::move(v));
    }
};

/// (exception_ptr) as (error_code).
template <class Handler>
struct spawn_completion<Handler, void> {
    Handler handler;
    diagnostics* diag = nullptr;
    errc fallback = errc::protocol_error;
    void operator()(std::exception_ptr e) {
        std::move(handler)(settle_exception(std::move(e), diag, make_error_code(fallback)));
    }
};

}  // namespace pgcoro::detail

PGCORO_FORWARD_ASSOCIATORS(class H PGCORO_COMMA class T, pgcoro::detail::spawn_completion<H PGCORO_COMMA T>)

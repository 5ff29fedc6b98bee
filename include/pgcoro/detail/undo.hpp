// pgcoro/detail/undo.hpp — one rule for undoing after a failure: ROLLBACK of a
// transaction, ROLLBACK TO SAVEPOINT, a migration's rollback and unlock.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace pgcoro::detail {

/// Awaits `body()`. When it throws (a failure, or the caller's cancellation), awaits
/// `undo()` all the same, then rethrows what `body()` threw; the undo's own failure is
/// ignored (the original error says why; a session left in a bad state is reset or closed
/// by its owner). Returns body()'s value.
///
/// The undo gets through a cancellation: awaiting does not throw on the cancellation
/// (throw_if_cancelled is off during the undo, then restored; the cancellation state, its
/// filter included, is left as the caller had it). It happens in this one coroutine
/// frame: co_await of another awaitable function throws operation_aborted at once while
/// the coroutine is cancelled, so a helper awaited after the cancellation never runs.
template <class Body, class Undo>
auto run_or_undo(Body body, Undo undo) -> std::invoke_result_t<Body> {
    using R = typename std::invoke_result_t<Body>::value_type;
    std::exception_ptr failure;
    if constexpr (std::is_void_v<R>) {
        try {
            co_await body();
            co_return;
        } catch (...) {
            failure = std::current_exception();
        }
    } else {
        try {
            co_return co_await body();
        } catch (...) {
            failure = std::current_exception();
        }
    }
    bool throwing = co_await boost::asio::this_coro::throw_if_cancelled();
    co_await boost::asio::this_coro::throw_if_cancelled(false);
    try {
        co_await undo();
    } catch (...) {
    }
    co_await boost::asio::this_coro::throw_if_cancelled(throwing);
    std::rethrow_exception(failure);
}

}  // namespace pgcoro::detail

// pgcoro/detail/completion.hpp — completing type-erased handlers on their own executors.
#pragma once

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace pgcoro::detail {

/// Whether a cancellation signal asks pgcoro's operations to stop: terminal, partial and
/// total cancellation all do (an operation abandoned at any level is not completed).
inline bool cancels(boost::asio::cancellation_type_t type) noexcept {
    return (type & (boost::asio::cancellation_type::terminal | boost::asio::cancellation_type::partial |
                    boost::asio::cancellation_type::total)) != boost::asio::cancellation_type::none;
}

// Explicitly move-only: Boost 1.81's any_completion_handler has a constructor template
// that also takes a non-const lvalue of itself, so a lambda capturing one looks copyable,
// and copying it wraps the handler in itself without end.
template <class Handler, class Fn>
struct deferred_call {
    Handler h;
    Fn fn;
    deferred_call(Handler hh, Fn f) : h(std::move(hh)), fn(std::move(f)) {}
    deferred_call(deferred_call&&) = default;
    deferred_call(const deferred_call&) = delete;
    deferred_call& operator=(const deferred_call&) = delete;
    void operator()() { fn(h); }
};

template <class Executor, class Call>
struct hop {
    Executor ex;
    Call call;
    hop(Executor e, Call c) : ex(std::move(e)), call(std::move(c)) {}
    hop(hop&&) = default;
    hop(const hop&) = delete;
    hop& operator=(const hop&) = delete;
    void operator()() { ex.execute(std::move(call)); }
};

/// Runs fn(handler) on the handler's associated executor (`strand` if it has none), never
/// inside the caller, keeping that executor's context alive until it ran.
///
/// Boost 1.81's any_completion_executor has no blocking property, so asking it for
/// blocking.never does nothing and execute() may run the handler inline, in the middle of
/// the caller's bookkeeping. So: post to the strand's inner executor first (a fresh
/// handler holding no lock), and hand over to the handler's executor from there.
template <class Handler, class Strand, class Fn>
void post_to_handler_executor(Handler h, const Strand& strand, Fn fn) {
    auto ex = boost::asio::prefer(boost::asio::get_associated_executor(h, strand),
                                  boost::asio::execution::outstanding_work.tracked);
    boost::asio::post(strand.get_inner_executor(),
                      hop<decltype(ex), deferred_call<Handler, Fn>>{ex, deferred_call<Handler, Fn>{std::move(h), std::move(fn)}});
}

/// Completes a type-erased handler with args on its associated executor (`fallback` when
/// it has none): inline when that executor is running on this thread, posted otherwise.
/// Only ever called from a fresh handler (a socket wait, a posted step), never from inside
/// an initiating function, so inline completion is safe; the caller's state must be
/// consistent before the call. The cancellation slot is cleared on that executor first.
template <class Handler, class Fallback, class... Args>
void complete_on_executor(Handler h, const Fallback& fallback, Args... args) {
    struct call {
        Handler h;
        std::tuple<Args...> args;
        call(Handler hh, std::tuple<Args...> a) : h(std::move(hh)), args(std::move(a)) {}
        call(call&&) = default;
        call(const call&) = delete;  // see deferred_call
        call& operator=(const call&) = delete;
        void operator()() {
            auto slot = boost::asio::get_associated_cancellation_slot(h);
            if (slot.is_connected()) slot.clear();
            std::apply([this](auto&&... a) { std::move(h)(std::move(a)...); }, std::move(args));
        }
    };
    auto ex = boost::asio::get_associated_executor(h, fallback);
    if constexpr (std::is_same_v<decltype(ex), Fallback>) {
        // No executor of its own: it completes on the fallback (the connection's strand),
        // which is running here. (Dispatching through the strand would query its inner
        // any_io_executor's properties, which allocates.)
        if (fallback.running_in_this_thread()) {
            call(std::move(h), std::tuple<Args...>(std::move(args)...))();
            return;
        }
    }
    boost::asio::dispatch(ex, call(std::move(h), std::tuple<Args...>(std::move(args)...)));
}

}  // namespace pgcoro::detail

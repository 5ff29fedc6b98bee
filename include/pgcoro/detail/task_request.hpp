// pgcoro/detail/task_request.hpp — what a row stream's and a COPY's consumer-side
// requests share: the completion adaptor, giving up, and cancellation.
#pragma once

#include <pgcoro/detail/completion.hpp>
#include <pgcoro/detail/connection_impl.hpp>
#include <pgcoro/detail/operations.hpp>

#include <memory>
#include <utility>

namespace pgcoro::detail {

/// A request's (error_code, R, diagnostics) as the caller's completion style.
template <class R, class Handler, class Style>
struct task_completion {
    using value_type = R;
    Handler handler;
    Style style;
    void operator()(boost::system::error_code ec, R n, diagnostics d) {
        if (ec) return style.template fail<R>(handler, ec, std::move(d));
        style.succeed(handler, n);
    }
};

/// The consumer gives up on `task` (a stream_task or copy_task): on the strand, unless it
/// is over already.
template <class Task>
void abandon_task(const std::shared_ptr<connection_impl>& impl, std::shared_ptr<Task> task, std::shared_ptr<exec_op> op) {
    impl->on_strand([task = std::move(task), op = std::move(op)](connection_impl& c) {
        if (task->ended()) return;
        task->abandon();
        c.abandon_exclusive(op);
    });
}

/// Cancelling a request (any type) gives the whole stream or COPY up.
template <class Task>
struct task_cancel_handler {
    std::weak_ptr<connection_impl> impl;
    std::weak_ptr<Task> task;
    std::weak_ptr<exec_op> op;
    void operator()(boost::asio::cancellation_type_t type) {
        if (!cancels(type)) return;
        auto i = impl.lock();
        auto t = task.lock();
        auto o = op.lock();
        if (i && t && o) abandon_task(i, std::move(t), std::move(o));
    }
};

}  // namespace pgcoro::detail

PGCORO_FORWARD_ASSOCIATORS(class R PGCORO_COMMA class H PGCORO_COMMA class S,
                           pgcoro::detail::task_completion<R PGCORO_COMMA H PGCORO_COMMA S>)

// pgcoro/detail/task_request.hpp — what a row stream's and a COPY's consumer-side
// requests share: the completion adaptor, giving up, cancellation, and the handle that
// owns the statement and its task (task_handle).
#pragma once

#include <pgcoro/detail/completion.hpp>
#include <pgcoro/detail/connection_impl.hpp>
#include <pgcoro/detail/operations.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>

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

/// The consumer's side of an exclusive op (a row stream, a COPY): the connection, the
/// statement and its task. The statement goes out with the first request; moving hands
/// all of it over; destroying (or abandon()) before the end gives the task up (see
/// abandon_task), never blocking. `Task` has busy() (a request is pending), over() and
/// ended() (nothing more will come: a request is answered at once) and deliver().
template <class Task>
class task_handle {
public:
    task_handle() = default;
    task_handle(std::shared_ptr<connection_impl> impl, std::shared_ptr<exec_op> op, std::shared_ptr<Task> task)
        : impl_(std::move(impl)), op_(std::move(op)), task_(std::move(task)) {
        if (impl_) op_->task = task_;
    }
    task_handle(task_handle&& o) noexcept
        : impl_(std::move(o.impl_)), op_(std::move(o.op_)), task_(std::move(o.task_)),
          submitted_(std::exchange(o.submitted_, false)) {}
    task_handle& operator=(task_handle&& o) noexcept {
        if (this != &o) {
            abandon();
            impl_ = std::move(o.impl_);
            op_ = std::move(o.op_);
            task_ = std::move(o.task_);
            submitted_ = std::exchange(o.submitted_, false);
        }
        return *this;
    }
    task_handle(const task_handle&) = delete;
    task_handle& operator=(const task_handle&) = delete;
    ~task_handle() { abandon(); }

    /// A request completing with `Style::signature<R>`: `fn(task, completion)` starts it on
    /// the strand. Fails with errc::connection_closed (`closed`) when there is nothing to
    /// ask (moved from, default-constructed, abandoned) and with errc::invalid_argument
    /// (`busy`) while another request is pending (that one is kept). Cancelling it (any
    /// type) gives the whole task up.
    template <class R, class Style, class Token, class Fn>
    auto request(Style style, Token&& token, const char* closed, const char* busy, Fn fn) {
        return boost::asio::async_initiate<Token, typename Style::template signature<R>>(
            [this, closed, busy](auto handler, Style style, Fn fn) {
                task_completion<R, decltype(handler), Style> c{std::move(handler), style};
                if (!impl_ || !task_) return fail_detached(std::move(c), make_error_code(errc::connection_closed), closed);
                auto slot = boost::asio::get_associated_cancellation_slot(c.handler);
                if (slot.is_connected())
                    slot.template emplace<task_cancel_handler<Task>>(task_cancel_handler<Task>{impl_, task_, op_});
                bool first = !std::exchange(submitted_, true);
                impl_->on_strand([task = task_, op = op_, first, busy, fn = std::move(fn),
                                  c = std::move(c)](connection_impl& impl) mutable {
                    if (task->busy()) {
                        diagnostics d;
                        d.message = busy;
                        return complete_on_executor(std::move(c), impl.strand(), make_error_code(errc::invalid_argument),
                                                    R{0}, std::move(d));
                    }
                    fn(*task, std::move(c));
                    if (task->over() || task->ended()) return task->deliver();
                    if (first) impl.submit(op, false);
                });
            },
            token, style, std::move(fn));
    }

    /// Gives up (see abandon_task); never blocks. Later requests fail (connection_closed).
    void abandon() noexcept {
        if (!impl_) return;
        if (submitted_) {
            try {
                abandon_task(impl_, task_, op_);
            } catch (...) {
                // Posting failed (out of memory): the connection's own end cleans up.
            }
        }
        submitted_ = false;
        impl_.reset();
    }

private:
    std::shared_ptr<connection_impl> impl_;
    std::shared_ptr<exec_op> op_;
    std::shared_ptr<Task> task_;
    bool submitted_ = false;
};

}  // namespace pgcoro::detail

PGCORO_FORWARD_ASSOCIATORS(class R PGCORO_COMMA class H PGCORO_COMMA class S,
                           pgcoro::detail::task_completion<R PGCORO_COMMA H PGCORO_COMMA S>)

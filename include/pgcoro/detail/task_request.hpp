// pgcoro/detail/task_request.hpp — what a row stream's and a COPY's consumer-side
// requests share: the completion adaptor, giving up, cancellation, and the handle that
// owns the statement and its task (task_handle).
#pragma once

#include <pgcoro/detail/completion.hpp>
#include <pgcoro/detail/connection_impl.hpp>
#include <pgcoro/detail/operations.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>

#include <atomic>
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
///
/// A request holds the shared state, not the handle: a deferred or lazily started
/// request (asio::deferred, a coroutine not yet awaited) still reaches the stream after
/// the handle moved, and fails with connection_closed once it was given up.
template <class Task>
class task_handle {
    enum phase : int { fresh, submitted, given_up };
    struct state {
        std::shared_ptr<connection_impl> impl;
        std::shared_ptr<exec_op> op;
        std::shared_ptr<Task> task;
        std::atomic<int> at{fresh};
    };

public:
    task_handle() = default;
    task_handle(std::shared_ptr<connection_impl> impl, std::shared_ptr<exec_op> op, std::shared_ptr<Task> task) {
        if (!impl || !op || !task) return;
        op->task = task;
        st_ = std::make_shared<state>();
        st_->impl = std::move(impl);
        st_->op = std::move(op);
        st_->task = std::move(task);
    }
    task_handle(task_handle&& o) noexcept : st_(std::move(o.st_)) {}
    task_handle& operator=(task_handle&& o) noexcept {
        if (this != &o) {
            abandon();
            st_ = std::move(o.st_);
        }
        return *this;
    }
    task_handle(const task_handle&) = delete;
    task_handle& operator=(const task_handle&) = delete;
    ~task_handle() { abandon(); }

    /// A request completing with `Style::signature<R>`: `fn(task, completion)` starts it on
    /// the strand. Fails with errc::connection_closed (`closed`) when there is nothing to
    /// ask (moved from, default-constructed, abandoned, also when that happened between
    /// making a deferred request and starting it) and with errc::invalid_argument (`busy`)
    /// while another request is pending (that one is kept). Cancelling it (any type) gives
    /// the whole task up.
    template <class R, class Style, class Token, class Fn>
    auto request(Style style, Token&& token, const char* closed, const char* busy, Fn fn) {
        return boost::asio::async_initiate<Token, typename Style::template signature<R>>(
            [st = st_, closed, busy](auto handler, Style style, Fn fn) {
                task_completion<R, decltype(handler), Style> c{std::move(handler), style};
                int was = fresh;
                bool first = st && st->at.compare_exchange_strong(was, submitted);
                if (!st || (!first && was == given_up))
                    return fail_detached(std::move(c), make_error_code(errc::connection_closed), closed);
                try {
                    auto slot = boost::asio::get_associated_cancellation_slot(c.handler);
                    if (slot.is_connected())
                        slot.template emplace<task_cancel_handler<Task>>(
                            task_cancel_handler<Task>{st->impl, st->task, st->op});
                    st->impl->on_strand([task = st->task, op = st->op, first, closed, busy, fn = std::move(fn),
                                         c = std::move(c)](connection_impl& impl) mutable {
                        auto refuse = [&](errc e, const char* why) {
                            diagnostics d;
                            d.message = why;
                            complete_on_executor(std::move(c), impl.strand(), make_error_code(e), R{0}, std::move(d));
                        };
                        // Given up from another thread between this request's start and now
                        // (the handle's abandon reached the strand first): nothing goes out.
                        if (first && task->abandoned()) return refuse(errc::connection_closed, closed);
                        if (task->busy()) return refuse(errc::invalid_argument, busy);
                        fn(*task, std::move(c));
                        if (task->over() || task->ended()) return task->deliver();
                        if (first) impl.submit(op, false);
                    });
                } catch (...) {
                    // Nothing went out (out of memory): the next request submits again.
                    int now = submitted;
                    if (first) st->at.compare_exchange_strong(now, fresh);
                    throw;
                }
            },
            token, style, std::move(fn));
    }

    /// Gives up (see abandon_task); never blocks. Later requests fail (connection_closed),
    /// deferred ones made earlier too.
    void abandon() noexcept {
        if (!st_) return;
        if (st_->at.exchange(given_up) == submitted) {
            try {
                abandon_task(st_->impl, st_->task, st_->op);
            } catch (...) {
                // Posting failed (out of memory): the connection's own end cleans up.
            }
        }
        st_.reset();
    }

private:
    std::shared_ptr<state> st_;
};

}  // namespace pgcoro::detail

PGCORO_FORWARD_ASSOCIATORS(class R PGCORO_COMMA class H PGCORO_COMMA class S,
                           pgcoro::detail::task_completion<R PGCORO_COMMA H PGCORO_COMMA S>)

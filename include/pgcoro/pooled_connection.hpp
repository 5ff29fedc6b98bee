// pgcoro/pooled_connection.hpp — a connection borrowed from a pool.
#pragma once

#include <pgcoro/detail/pool_impl.hpp>

#include <utility>

namespace pgcoro {

/// A connection on loan from a pool; it goes back when this object is destroyed (or
/// release() / return_without_reset() is called). Use it like a connection:
/// `conn->query<T>(...)`. Thread-safe to destroy on any thread.
///
/// What it leaves behind is cleaned before anyone else gets it: release() (and the
/// destructor) reset the session (ROLLBACK, RESET ALL, UNLISTEN *, advisory locks,
/// temporary tables... see pool). return_without_reset() skips that round trip when you
/// know the session is as you found it; the pool still resets a connection whose session
/// it saw change (a SET, LISTEN, CREATE, PREPARE... command tag, an open transaction,
/// statements in flight).
class pooled_connection {
public:
    pooled_connection() = default;
    explicit pooled_connection(detail::slot_lease lease) noexcept : lease_(std::move(lease)) {}
    pooled_connection(pooled_connection&&) noexcept = default;
    pooled_connection& operator=(pooled_connection&&) noexcept = default;

    connection& operator*() const noexcept { return lease_.get()->conn->c; }
    connection* operator->() const noexcept { return &lease_.get()->conn->c; }
    explicit operator bool() const noexcept { return lease_.get() != nullptr; }

    /// Gives the connection back now, to be reset before its next use.
    void release() noexcept { lease_.give_back(false); }

    /// Gives the connection back now without the reset round trip: for a session you did
    /// not change (no SET, set_config(..., false), LISTEN, temporary table, session
    /// advisory lock, cursor WITH HOLD...). What the pool can see still gets reset.
    void return_without_reset() noexcept { lease_.give_back(true); }

private:
    detail::slot_lease lease_;
};

namespace detail {

template <class Decode, class Style>
struct pool_exec_initiation {
    template <class Handler>
    void operator()(Handler&& h, std::shared_ptr<pool_impl> pool, std::shared_ptr<exec_op> op, Style style) const {
        using completion = exec_completion<std::decay_t<Handler>, Decode, Style>;
        pool->run_helper(std::move(op), completion{std::forward<Handler>(h), style});
    }
};

/// pool::async_acquire's completion: (error_code, slot_lease, message) as
/// (error_code, pooled_connection), the message into `diag` when given.
template <class Handler>
struct acquire_completion {
    Handler handler;
    diagnostics* diag = nullptr;
    void operator()(boost::system::error_code ec, slot_lease lease, std::string message) {
        if (diag) {
            *diag = diagnostics();
            if (ec) diag->message = message.empty() ? ec.message() : std::move(message);
        }
        std::move(handler)(ec, pooled_connection(std::move(lease)));
    }
};

}  // namespace detail
}  // namespace pgcoro

PGCORO_FORWARD_ASSOCIATORS(class C, pgcoro::detail::acquire_completion<C>)

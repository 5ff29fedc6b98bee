// pgcoro/pooled_connection.hpp — a connection borrowed from a pool.
#pragma once

#include <pgcoro/detail/pool_impl.hpp>

#include <memory>

namespace pgcoro {

/// A connection on loan from a pool; it goes back when this object is destroyed (or
/// release() is called). Use it like a connection: `conn->query<T>(...)`. What it leaves
/// behind is cleaned before anyone else gets it (see pool).
class pooled_connection {
public:
    pooled_connection() = default;
    pooled_connection(std::shared_ptr<detail::pool_impl> pool, std::shared_ptr<detail::pool_slot> slot) noexcept
        : pool_(std::move(pool)), slot_(std::move(slot)) {}
    pooled_connection(pooled_connection&&) noexcept = default;
    pooled_connection& operator=(pooled_connection&& other) noexcept {
        if (this != &other) {
            release();
            pool_ = std::move(other.pool_);
            slot_ = std::move(other.slot_);
        }
        return *this;
    }
    ~pooled_connection() { release(); }

    connection& operator*() const noexcept { return *slot_->conn; }
    connection* operator->() const noexcept { return &*slot_->conn; }
    explicit operator bool() const noexcept { return slot_ != nullptr; }

    /// Gives the connection back now.
    void release() noexcept {
        if (slot_ && pool_) pool_->release(std::move(slot_));
        slot_.reset();
        pool_.reset();
    }

private:
    std::shared_ptr<detail::pool_impl> pool_;
    std::shared_ptr<detail::pool_slot> slot_;
};

namespace detail {

/// The statement's completion holding the loan: the connection goes back to the pool as
/// soon as the result is in, before the caller resumes.
template <class Completion>
struct leased_completion {
    Completion handler;
    pooled_connection lease;
    void operator()(boost::system::error_code ec, exec_outcome out) {
        lease.release();
        handler(ec, std::move(out));
    }
};

/// Waits for a pooled connection, then runs the statement on it.
template <class Completion>
struct pool_exec_step {
    Completion handler;
    std::shared_ptr<pool_impl> pool;
    std::shared_ptr<exec_op> op;
    void operator()(boost::system::error_code ec, acquire_result r) {
        if (ec) {
            diagnostics d;
            d.message = r.message.empty() ? ec.message() : std::move(r.message);
            return handler.style.template fail<typename Completion::value_type>(handler.handler, ec, std::move(d));
        }
        pooled_connection lease(std::move(pool), std::move(r.slot));
        auto impl = lease->impl_for_pool();
        impl->exec(std::move(op), leased_completion<Completion>{std::move(handler), std::move(lease)});
    }
};

template <class Decode, class Style>
struct pool_exec_initiation {
    template <class Handler>
    void operator()(Handler&& h, std::shared_ptr<pool_impl> pool, std::shared_ptr<exec_op> op, Style style) const {
        using completion = exec_completion<std::decay_t<Handler>, Decode, Style>;
        auto p = pool;
        p->async_acquire(false, pool_exec_step<completion>{completion{std::forward<Handler>(h), style}, std::move(pool),
                                                           std::move(op)});
    }
};

}  // namespace detail
}  // namespace pgcoro

PGCORO_FORWARD_ASSOCIATORS(class C, pgcoro::detail::leased_completion<C>)
PGCORO_FORWARD_ASSOCIATORS(class C, pgcoro::detail::pool_exec_step<C>)

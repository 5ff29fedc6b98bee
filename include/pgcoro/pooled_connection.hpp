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

}  // namespace pgcoro

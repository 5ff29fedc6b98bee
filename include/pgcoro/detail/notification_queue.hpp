// pgcoro/detail/notification_queue.hpp — a listener's bounded queue of notifications
// with "may have missed some" marks (sans-io: no I/O, no executor).
#pragma once

#include <pgcoro/notification.hpp>

#include <cstddef>
#include <deque>
#include <optional>
#include <utility>

namespace pgcoro::detail {

/// Notifications waiting for a receiver, in arrival order, and gaps: places where some
/// may be missing (the queue was full, or the connection was lost and made again). At
/// most `limit` notifications are kept; one arriving at a full queue is dropped and a gap
/// is put after the ones kept. Consecutive gaps are one. A receiver takes the items in
/// order: what came before a gap is complete up to it; what comes after is live again.
class notification_queue {
public:
    /// One item: a notification, or (nullopt) a gap.
    using item = std::optional<notification>;

    explicit notification_queue(std::size_t limit) : limit_(limit ? limit : 1) {}

    void push(notification n) {
        if (kept_ >= limit_) return push_gap();
        items_.push_back(std::move(n));
        ++kept_;
    }

    /// Some notifications may be missing here.
    void push_gap() {
        if (!items_.empty() && !items_.back()) return;
        items_.emplace_back(std::nullopt);
    }

    bool empty() const noexcept { return items_.empty(); }
    /// Notifications waiting (gaps not counted).
    std::size_t size() const noexcept { return kept_; }
    std::size_t limit() const noexcept { return limit_; }

    /// The oldest item; the queue must not be empty.
    item pop() {
        item it = std::move(items_.front());
        items_.pop_front();
        if (it) --kept_;
        return it;
    }

    void clear() noexcept {
        items_.clear();
        kept_ = 0;
    }

private:
    std::deque<item> items_;
    std::size_t kept_ = 0;
    std::size_t limit_;
};

}  // namespace pgcoro::detail

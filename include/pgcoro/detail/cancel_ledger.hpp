// pgcoro/detail/cancel_ledger.hpp — the cancel requests a pipeline has sent and what
// they may still do (sans-io).
//
// Cancellation. PostgreSQL's cancel request interrupts whatever the backend runs when it
// arrives, not a statement: in a pipeline, a cancel meant for one statement can hit the
// next. The rule kept here: outside a transaction block, a statement whose caller did not
// cancel it never fails because of a cancel pgcoro sent. Bookkeeping:
//  - every cancel pgcoro sends is *pending* until it is settled;
//  - when the driver reports it delivered by its ticket (the server signalled the backend), it
//    settles with the first op sent after that: the backend drops a pending cancel
//    whenever it reads its next message, so once that op's Sync is back, the cancel can
//    no longer hit anything;
//  - one cancel request can interrupt two statements in a row: the server signals the
//    backend process and then its process group (postmaster's signal_child), and a
//    backend quick enough to act on the first signal before the second arrives is
//    interrupted twice. So a pending cancel accounts for up to two 57014s;
//  - a 57014 (query_canceled) on an op nobody cancelled, while a cancel is pending, and
//    when the connection was outside a transaction block before the op ran (so the op
//    was its own implicit transaction and was rolled back whole), consumes that cancel
//    and sends the op again at the end of the pipeline. Inside a transaction block the
//    57014 stands: the cancel aborted the transaction, as PostgreSQL defines;
//  - a script starts only once no cancel is pending (a bare Sync settles delivered ones).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

namespace pgcoro::detail {

/// Each cancel request gets a ticket. It is *pending* from the moment it is asked for
/// until either its hits are used up (the server signals the backend twice, so one
/// request can interrupt two statements) or it settles: once delivered (the server took
/// it), the first statement sent afterwards reads past it, and once that statement's
/// Sync is back nothing more can be hit. Deliveries are matched by ticket: they can come
/// back late (after the request's hits were counted) or out of order (libpq 17's
/// cancels run side by side), and matching by order once settled a request still on its
/// way, whose hit then failed a caller who cancelled nothing.
class cancel_ledger {
public:
    /// A cancel request for the statement the backend runs now; pending until settled.
    void request() {
        pending_.push_back({next_ticket_});
        to_send_.push_back(next_ticket_++);
    }
    /// A request nobody accounts for (the connection is going away).
    void request_untracked() { to_send_.push_back(next_ticket_++); }

    /// Tickets of the requests to send now.
    std::vector<std::uint64_t> take_to_send() noexcept { return std::exchange(to_send_, {}); }

    /// The server took request `ticket` (or sending it failed: it settles the same way).
    /// `next_seq`: the sequence number the next statement sent will get.
    void delivered(std::uint64_t ticket, std::uint64_t next_seq) {
        for (auto& c : pending_) {
            if (c.ticket == ticket) {
                c.delivered = true;
                c.settles_at = next_seq;
                return;
            }
        }
    }

    /// A 57014 came in: puts it down to a pending request if there is one (a delivered
    /// one first, the soonest to settle, else the oldest still on its way). False: not
    /// pgcoro's doing.
    bool take_hit() {
        auto pick = pending_.end();
        for (auto it = pending_.begin(); it != pending_.end(); ++it) {
            if (pick == pending_.end() || (it->delivered && (!pick->delivered || it->settles_at < pick->settles_at)))
                pick = it;
        }
        if (pick == pending_.end()) return false;
        if (--pick->hits_left == 0) pending_.erase(pick);
        return true;
    }

    /// The statement numbered `seq` is answered: delivered requests it settles are gone.
    void settle(std::uint64_t seq) {
        std::erase_if(pending_, [seq](const entry& c) { return c.delivered && c.settles_at <= seq; });
    }

    std::size_t pending() const noexcept { return pending_.size(); }
    bool all_delivered() const noexcept {
        return std::all_of(pending_.begin(), pending_.end(), [](const entry& c) { return c.delivered; });
    }
    /// The connection is gone: tickets still out find nothing when they come back.
    void clear() noexcept { pending_.clear(); }

private:
    struct entry {
        std::uint64_t ticket = 0;
        bool delivered = false;
        std::uint64_t settles_at = 0;  // seq of the first statement sent after delivery
        int hits_left = 2;             // the server signals the backend twice
    };
    std::deque<entry> pending_;
    std::vector<std::uint64_t> to_send_;
    std::uint64_t next_ticket_ = 1;
};

}  // namespace pgcoro::detail

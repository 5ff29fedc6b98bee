// pgcoro/detail/pool_state.hpp — the pool's logic as a sans-io state machine.
//
// No I/O, no clock reads, no threads: every input carries `now`, and what the pool must
// do comes out as actions (open a connection, check one, reset one, close one, grant a
// request, fail a request, report an event) that the driver (pool_impl.hpp) performs and
// answers with more inputs. Templated on the clock, the connection and the request type,
// so tests run it on a fake clock with fake connections (tests/unit/pool_state_tests.cpp).
//
// Each slot has exactly one status; the counters are derived from status changes:
//
//   connecting ──ok──> idle <──────────────── checking (probe / ping before lending a
//       │ failed: removed, backoff             │  ▲            connection idle ≥ 1 ms)
//       │                                     lend └─ provision, for waiting requests
//       ▼                                      ▼
//   (removed) <── close ── lent (alone) / shared (by n helper calls, pipelined)
//                              │ released (last sharer)
//                              ▼
//                     needs a reset? ── resetting ──ok──> idle
//
// Requests wait in one FIFO (strictly in order: a request never passes an older one).
// Three kinds: `session` (acquire(), transactions: a connection alone, always reset
// unless returned without reset), `alone` (a helper statement that may change the
// session: alone, reset when the connection says it changed), `shared` (a helper
// statement that cannot change the session: it may join a connection other helper
// statements use, up to pipeline_depth, when no connection is idle).
#pragma once

#include <pgcoro/detail/ring.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/observer.hpp>
#include <pgcoro/pool_config.hpp>
#include <pgcoro/pool_stats.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace pgcoro::detail {

enum class slot_status : unsigned char { connecting, checking, idle, lent, shared, resetting };
enum class request_kind : unsigned char { session, alone, shared };

/// Conn: `bool is_open() const`, `bool needs_reset() const` (session state changed, a
/// transaction open, statements in flight, a cancel request not settled),
/// `int backend_pid() const`.
template <class Conn, class TimePoint>
struct pool_slot {
    std::optional<Conn> conn;  // empty while connecting
    slot_status status = slot_status::connecting;
    request_kind lent_as = request_kind::alone;
    std::size_t sharers = 0;
    TimePoint created{}, last_used{}, last_progress{};
    TimePoint expires = TimePoint::max();
};

template <class Clock, class Conn, class Request>
class pool_state {
public:
    using time_point = typename Clock::time_point;
    using slot = pool_slot<Conn, time_point>;

    struct action {
        enum class type { connect, check, reset, close, grant, fail, event };
        type what = type::event;
        slot* target = nullptr;           // connect, check, reset, grant
        Request request{};                // grant, fail
        bool ping = false;                // check: a round trip too, not only a probe
        std::unique_ptr<Conn> conn;       // close (a pointer: g++ 12 at -O3 warns falsely on an optional here)
        boost::system::error_code ec;     // fail
        std::string message;              // fail, event
        pool_event::kind event{};         // event
        int pid = 0;                      // event
    };

    /// A connection back within this long is lent without a probe.
    static constexpr std::chrono::milliseconds probe_after{1};

    pool_state(pool_config cfg, std::uint64_t seed) : cfg_(std::move(cfg)), backoff_(cfg_.reconnect_backoff_initial), rng_(seed) {
        cfg_.validate();
    }

    const pool_config& config() const noexcept { return cfg_; }

    // ---- inputs --------------------------------------------------------------------------

    /// Opens min_size connections and starts the upkeep schedule.
    void start(time_point now) {
        next_upkeep_ = now + upkeep_period();
        serve(now);
    }

    /// A request for a connection. Returns the slot when one is ready now (and no action
    /// follows for this request); otherwise the request waits and a `grant` or `fail`
    /// action answers it later.
    slot* acquire(Request r, request_kind kind, time_point now) {
        if (closed_) {
            fail(std::move(r), errc::pool_closed, "the pool is closed");
            return nullptr;
        }
        skip_cancelled();
        if (waiters_.empty()) {
            if (slot* s = pick(kind, now)) {
                lend(s, kind, now);
                provision(now);
                return s;
            }
        }
        waiters_.push_back(waiter{std::move(r), kind, now + cfg_.acquire_timeout, true});
        ++waiting_[kind == request_kind::shared];
        serve(now);
        return nullptr;
    }

    /// Withdraws a waiting request (cancelled by its caller): the first one `match`
    /// accepts. Returns it, or nothing when it is no longer waiting.
    template <class Match>
    std::optional<Request> cancel(Match match) {
        for (std::size_t i = 0; i < waiters_.size(); ++i) {
            waiter& w = waiters_[i];
            if (w.live && match(w.request)) {
                w.live = false;
                --waiting_[w.kind == request_kind::shared];
                return std::move(w.request);
            }
        }
        return std::nullopt;
    }

    /// A lent or shared slot comes back. `keep_session`: the user says the session is as
    /// it was (return_without_reset); the connection's own report still counts.
    void release(slot* s, time_point now, bool keep_session = false) {
        if (s->status == slot_status::shared) {
            s->last_progress = now;
            --sharers_;
            if (--s->sharers > 0) {
                recent_ = s;
                return serve(now);
            }
            erase(shared_, s);
        }
        bool reset = (s->lent_as == request_kind::session && !keep_session) || s->conn->needs_reset();
        if (closed_) close_slot(s, "the pool is closed");
        else if (!s->conn->is_open()) close_slot(s, "the connection was broken");
        else if (now >= s->expires) close_slot(s, "reached its max_lifetime");
        else if (reset) set_status(s, slot_status::resetting), push_target(action::type::reset, s);
        else make_idle(s, now);
        serve(now);
    }

    void connected(slot* s, Conn c, time_point now) {
        s->conn.emplace(std::move(c));
        s->created = s->last_used = now;
        s->expires = lifetime_end(now);
        backoff_ = cfg_.reconnect_backoff_initial;
        last_connect_error_.clear();
        push_event(pool_event::kind::connected, {}, s->conn->backend_pid());
        if (closed_) close_slot(s, "the pool is closed");
        else make_idle(s, now);
        serve(now);
    }

    /// `message` never holds a password (connect errors have it removed).
    void connect_failed(slot* s, std::string message, time_point now) {
        if (closed_) {  // cancelled by close(), or failed after it: not the server's fault
            remove_slot(s);
            serve(now);
            return;
        }
        ++totals_.connect_failures;
        push_event(pool_event::kind::connect_failed, message, 0);
        last_connect_error_ = std::move(message);
        remove_slot(s);
        backoff_until_ = now + backoff_;
        backoff_ = std::min(backoff_ * 2, cfg_.reconnect_backoff_max);
        serve(now);
    }

    void checked(slot* s, bool ok, time_point now) {
        if (closed_) close_slot(s, "the pool is closed");
        else if (ok && s->conn->is_open()) make_idle(s, now);
        else close_slot(s, "failed its health check");
        serve(now);
    }

    void reset_done(slot* s, bool ok, time_point now) {
        if (closed_) close_slot(s, "the pool is closed");
        else if (ok && s->conn->is_open() && !s->conn->needs_reset()) make_idle(s, now);
        else close_slot(s, "its session could not be reset");
        serve(now);
    }

    /// The time next_wakeup() asked for (or later): acquire timeouts, upkeep, backoff end.
    void on_timer(time_point now) {
        skip_cancelled();
        while (!waiters_.empty() && waiters_.front().deadline <= now) {
            waiter w = std::move(waiters_.front());
            waiters_.pop_front();
            if (!w.live) continue;
            --waiting_[w.kind == request_kind::shared];
            ++totals_.timeouts;
            std::string msg = "timed out after " + std::to_string(cfg_.acquire_timeout.count()) +
                              " ms waiting for a connection (" + std::to_string(waiting() + 1) + " waiting, " +
                              std::to_string(in_use()) + " of max " + std::to_string(cfg_.max_size) + " in use";
            if (!last_connect_error_.empty()) msg += "; last connect error: " + last_connect_error_;
            msg += ")";
            push_event(pool_event::kind::acquire_timeout, msg, 0);
            fail(std::move(w.request), errc::pool_timeout, std::move(msg));
            skip_cancelled();
        }
        if (!closed_ && now >= next_upkeep_) {
            upkeep(now);
            next_upkeep_ = now + upkeep_period();
        }
        serve(now);
    }

    /// Fails every waiting request, closes idle connections now and the others as they
    /// come back; later requests fail with errc::pool_closed.
    void close() {
        if (closed_) return;
        closed_ = true;
        while (!waiters_.empty()) {
            waiter w = std::move(waiters_.front());
            waiters_.pop_front();
            if (w.live) fail(std::move(w.request), errc::pool_closed, "the pool was closed");
        }
        waiting_ = {};
        while (!idle_.empty()) close_slot(idle_.back(), "the pool is closed");
    }

    // ---- outputs -------------------------------------------------------------------------

    /// The actions to perform, in order; the driver swaps the vector out and performs them.
    std::vector<action>& actions() noexcept { return actions_; }

    /// When on_timer() is due next (time_point::max(): nothing to wait for).
    time_point next_wakeup() const noexcept {
        time_point t = time_point::max();
        if (closed_) return t;
        t = next_upkeep_;
        for (std::size_t i = 0; i < waiters_.size(); ++i) {
            if (waiters_[i].live) {
                t = std::min(t, waiters_[i].deadline);
                break;  // deadlines are in FIFO order: the first live one is the earliest
            }
        }
        if (backoff_until_ != time_point() && wants_connections()) t = std::min(t, backoff_until_);  // backoff ends
        return t;
    }

    pool_stats stats() const noexcept {
        pool_stats s = totals_;
        s.size = slots_.size();
        s.idle = count(slot_status::idle);
        s.shared = count(slot_status::shared);
        s.connecting = count(slot_status::connecting);
        s.in_use = in_use();
        s.waiting = waiting();
        return s;
    }

    std::size_t count(slot_status st) const noexcept { return counts_[static_cast<std::size_t>(st)]; }
    std::size_t waiting() const noexcept { return waiting_[0] + waiting_[1]; }
    bool closed() const noexcept { return closed_; }
    const std::string& last_connect_error() const noexcept { return last_connect_error_; }

private:
    struct waiter {
        Request request;
        request_kind kind;
        time_point deadline;
        bool live;  // false: cancelled, left for the front to skip
    };

    std::size_t in_use() const noexcept {
        return count(slot_status::lent) + count(slot_status::shared) + count(slot_status::resetting) +
               count(slot_status::checking);
    }

    /// A slot for a request of `kind` now, or none: an idle connection that needs no
    /// probe (the newest), else, for a shared request, the least loaded shared connection
    /// that has room, is not near its lifetime and is not stalled (no result for
    /// pipeline_stall_after: a long statement at its head would hold the newcomer back).
    slot* pick(request_kind kind, time_point now) {
        // (One idle too long to lend unchecked: provision checks it first.)
        if (slot* s = newest_idle(now); s && now - s->last_used < probe_after) {
            idle_.pop_back();
            return s;
        }
        if (kind != request_kind::shared || cfg_.pipeline_depth < 2) return nullptr;
        auto joinable = [&](const slot* s) {
            return s->status == slot_status::shared && s->sharers < cfg_.pipeline_depth && now < s->expires &&
                   now - s->last_progress <= cfg_.pipeline_stall_after && s->conn->is_open();
        };
        // The connection a helper statement just left first, unless it carries more than
        // its share: a caller resumed by its result usually asks again at once, and its
        // next statement then joins the batch the connection is sending anyway (fewer,
        // fuller packets; fewer server wake-ups). Within the share, so that a long
        // statement holds back at most about (callers / connections) others.
        slot* best = recent_ && joinable(recent_) && recent_->sharers * shared_.size() <= sharers_ ? recent_ : nullptr;
        if (!best)
            for (slot* s : shared_)
                if (joinable(s) && (!best || s->sharers < best->sharers)) best = s;
        if (best) grow_ = true;  // every connection is busy: open another while the pool may grow
        return best;
    }

    void lend(slot* s, request_kind kind, time_point now) {
        ++totals_.acquired;
        if (kind == request_kind::shared) ++sharers_;
        s->lent_as = kind;
        if (kind != request_kind::shared) return set_status(s, slot_status::lent);
        if (s->status != slot_status::shared) {
            set_status(s, slot_status::shared);
            s->sharers = 0;
            s->last_progress = now;
            shared_.push_back(s);
        }
        ++s->sharers;
    }

    /// Grants waiting requests in order, then checks and opens connections for those
    /// still waiting, keeps min_size, and grows when every connection is busy.
    void serve(time_point now) {
        if (closed_) return;
        for (skip_cancelled(); !waiters_.empty(); skip_cancelled()) {
            waiter& w = waiters_.front();
            slot* s = pick(w.kind, now);
            if (!s) break;
            lend(s, w.kind, now);
            --waiting_[w.kind == request_kind::shared];
            action a;
            a.what = action::type::grant;
            a.target = s;
            a.request = std::move(w.request);
            waiters_.pop_front();
            actions_.push_back(std::move(a));
        }
        provision(now);
    }

    void provision(time_point now) {
        if (closed_) return;
        // Connections the waiting requests need: one each, or one per pipeline_depth
        // shared requests.
        std::size_t need = waiting_[0] + (waiting_[1] + cfg_.pipeline_depth - 1) / cfg_.pipeline_depth;
        while (need > count(slot_status::checking)) {
            slot* s = newest_idle(now);
            if (!s) break;
            idle_.pop_back();
            set_status(s, slot_status::checking);
            action a;
            a.what = action::type::check;
            a.target = s;
            a.ping = now - s->last_used > cfg_.health_check_after;
            actions_.push_back(std::move(a));
        }
        bool grow = std::exchange(grow_, false);
        if (now < backoff_until_) return;
        backoff_until_ = time_point();
        std::size_t covered = count(slot_status::checking) + count(slot_status::connecting);
        for (; need > covered && slots_.size() < cfg_.max_size; ++covered) open();
        while (slots_.size() < cfg_.min_size) open();
        if (grow && idle_.empty() && count(slot_status::connecting) == 0 && slots_.size() < cfg_.max_size) open();
    }

    bool wants_connections() const noexcept { return waiting() > 0 || slots_.size() < cfg_.min_size; }

    void open() {
        auto owned = std::make_unique<slot>();
        slot* s = owned.get();
        slots_.push_back(std::move(owned));
        ++counts_[static_cast<std::size_t>(slot_status::connecting)];
        push_target(action::type::connect, s);
    }

    void make_idle(slot* s, time_point now) {
        set_status(s, slot_status::idle);
        s->last_used = now;
        s->sharers = 0;
        idle_.push_back(s);
    }

    /// Upkeep: idle connections past their lifetime, idle too long beyond min_size, or
    /// broken are closed (oldest-used first).
    void upkeep(time_point now) {
        for (std::size_t i = 0; i < idle_.size();) {
            slot* s = idle_[i];
            bool too_long = cfg_.idle_timeout.count() > 0 && slots_.size() > cfg_.min_size &&
                            now - s->last_used > cfg_.idle_timeout;
            const char* why = unusable(s, now);
            if (!why && too_long) why = "idle longer than idle_timeout";
            if (why) close_slot(s, why);
            else ++i;
        }
    }

    std::chrono::milliseconds upkeep_period() const {
        using std::chrono::milliseconds;
        milliseconds p(1000);
        if (cfg_.idle_timeout.count() > 0) p = std::min(p, std::max(cfg_.idle_timeout / 2, milliseconds(10)));
        if (cfg_.max_lifetime.count() > 0) p = std::min(p, std::max(cfg_.max_lifetime / 4, milliseconds(10)));
        return p;
    }

    time_point lifetime_end(time_point created) {
        if (cfg_.max_lifetime.count() <= 0) return time_point::max();
        auto jitter_max = static_cast<std::int64_t>(static_cast<double>(cfg_.max_lifetime.count()) * cfg_.lifetime_jitter);
        std::int64_t jitter = jitter_max > 0 ? std::uniform_int_distribution<std::int64_t>(0, jitter_max)(rng_) : 0;
        return created + cfg_.max_lifetime - std::chrono::milliseconds(jitter);
    }

    /// Why an idle slot must not be lent or checked, or null.
    const char* unusable(const slot* s, time_point now) const {
        if (now >= s->expires) return "reached its max_lifetime";
        if (!s->conn->is_open()) return "the connection was broken";
        return nullptr;
    }

    /// The newest idle slot still usable (left in idle_), or null; the unusable ones
    /// met on the way are closed.
    slot* newest_idle(time_point now) {
        while (!idle_.empty()) {
            slot* s = idle_.back();
            const char* why = unusable(s, now);
            if (!why) return s;
            close_slot(s, why);
        }
        return nullptr;
    }

    /// Closes a slot in any status but connecting; its connection goes out in a `close`
    /// action (the driver closes it gracefully when it is open).
    void close_slot(slot* s, const char* why) {
        if (s->status == slot_status::idle) erase(idle_, s);
        if (s->status == slot_status::shared) erase(shared_, s);
        ++totals_.discarded;
        push_event(pool_event::kind::discarded, why, s->conn ? s->conn->backend_pid() : 0);
        if (s->conn) {
            action a;
            a.what = action::type::close;
            a.conn = std::make_unique<Conn>(std::move(*s->conn));
            s->conn.reset();
            actions_.push_back(std::move(a));
        }
        remove_slot(s);
    }

    void remove_slot(slot* s) {
        if (recent_ == s) recent_ = nullptr;
        --counts_[static_cast<std::size_t>(s->status)];
        auto it = std::find_if(slots_.begin(), slots_.end(), [s](const auto& p) { return p.get() == s; });
        std::swap(*it, slots_.back());
        slots_.pop_back();
    }

    void set_status(slot* s, slot_status st) {
        --counts_[static_cast<std::size_t>(s->status)];
        ++counts_[static_cast<std::size_t>(st)];
        s->status = st;
    }

    static void erase(std::vector<slot*>& v, slot* s) { v.erase(std::remove(v.begin(), v.end(), s), v.end()); }

    void skip_cancelled() {
        while (!waiters_.empty() && !waiters_.front().live) waiters_.pop_front();
    }

    void fail(Request r, errc code, std::string message) {
        action a;
        a.what = action::type::fail;
        a.request = std::move(r);
        a.ec = make_error_code(code);
        a.message = std::move(message);
        actions_.push_back(std::move(a));
    }

    void push_target(typename action::type t, slot* s) {
        action a;
        a.what = t;
        a.target = s;
        actions_.push_back(std::move(a));
    }

    void push_event(pool_event::kind k, std::string message, int pid) {
        action a;
        a.what = action::type::event;
        a.event = k;
        a.message = std::move(message);
        a.pid = pid;
        actions_.push_back(std::move(a));
    }

    pool_config cfg_;
    std::chrono::milliseconds backoff_;
    time_point backoff_until_{};
    time_point next_upkeep_{};
    std::mt19937_64 rng_;
    std::vector<std::unique_ptr<slot>> slots_;
    std::vector<slot*> idle_;    // most recently used last
    std::vector<slot*> shared_;  // shared by helper calls
    slot* recent_ = nullptr;     // the shared slot a helper statement left last
    std::size_t sharers_ = 0;    // helper statements on shared slots, in all
    ring<waiter> waiters_;
    std::array<std::size_t, 2> waiting_{};  // live waiters: [0] session/alone, [1] shared
    std::array<std::size_t, 6> counts_{};   // slots per status
    std::vector<action> actions_;
    pool_stats totals_;
    std::string last_connect_error_;
    bool closed_ = false;
    bool grow_ = false;
};

}  // namespace pgcoro::detail

// pgcoro/detail/pool_impl.hpp — the pool's state machine. All state lives on `strand_`.
//
//  acquire ──> waiters_ (FIFO, each with its acquire_timeout timer)
//                 │  served from idle_ (newest first) after a probe (and a ping when idle
//                 │  longer than health_check_after), or from a new connect (up to max_size)
//  release ──> broken / expired: discard;  touched session state, a transaction or
//              statements still in flight: reset (one pipelined batch), else discard;
//              otherwise straight back to the first waiter or to idle_
//  maintenance (periodic): idle timeout, lifetimes, min_size with reconnect backoff
#pragma once

#include <pgcoro/connection.hpp>
#include <pgcoro/detail/completion.hpp>
#include <pgcoro/observer.hpp>
#include <pgcoro/pool_config.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <random>

namespace pgcoro {

/// A snapshot of a pool's counters.
struct pool_stats {
    std::size_t size = 0;         ///< connections open or being opened
    std::size_t idle = 0;         ///< open and free
    std::size_t in_use = 0;       ///< handed out (or being reset after use)
    std::size_t waiting = 0;      ///< acquire() calls waiting now
    std::uint64_t acquired = 0;   ///< connections handed out, in total
    std::uint64_t timeouts = 0;   ///< acquire() calls that timed out
    std::uint64_t connect_failures = 0;
    std::uint64_t discarded = 0;  ///< connections closed as broken, expired, idle or unresettable
};

namespace detail {

using clock = std::chrono::steady_clock;

struct pool_slot {
    std::optional<connection> conn;
    clock::time_point created;
    clock::time_point last_used;
    clock::time_point expires = clock::time_point::max();
    bool session_use = false;  // handed out by acquire()/begin(): always reset when returned
    std::size_t sharers = 0;   // helper calls using it at once (pipeline_depth > 1)
};

struct acquire_result {
    std::shared_ptr<pool_slot> slot;
    std::string message;
};

class pool_impl : public std::enable_shared_from_this<pool_impl> {
public:
    using acquire_signature = void(boost::system::error_code, acquire_result);

    pool_impl(boost::asio::any_io_executor ex, pool_config cfg)
        : ex_(std::move(ex)), strand_(boost::asio::make_strand(ex_)), cfg_(std::move(cfg)),
          maintenance_(strand_), retry_timer_(strand_), backoff_(cfg_.reconnect_backoff_initial),
          rng_(std::random_device{}()) {
        cfg_.validate();
    }

    void start() {
        boost::asio::post(strand_, [self = shared_from_this()] {
            self->settle();
            self->schedule_maintenance();
        });
    }

    const pool_config& config() const noexcept { return cfg_; }

    template <class Token>
    auto async_acquire(bool session_use, Token&& token) {
        return boost::asio::async_initiate<Token, acquire_signature>(
            [self = shared_from_this(), session_use](auto handler) {
                auto w = std::make_shared<waiter>(self->strand_);
                w->handler.emplace(std::move(handler));
                w->session_use = session_use;
                w->may_share = !session_use && self->cfg_.pipeline_depth > 1;
                auto slot = boost::asio::get_associated_cancellation_slot(*w->handler);
                if (slot.is_connected()) slot.template emplace<cancel_handler>(self, w);
                boost::asio::post(self->strand_, [self, w] { self->enqueue(w); });
            },
            token);
    }

    /// A slot comes back (from pooled_connection's destructor; any thread).
    void release(std::shared_ptr<pool_slot> slot) {
        boost::asio::post(strand_, [self = shared_from_this(), slot = std::move(slot)]() mutable {
            self->on_release(std::move(slot));
        });
    }

    void close() {
        boost::asio::post(strand_, [self = shared_from_this()] { self->do_close(); });
    }

    pool_stats stats() const {
        std::lock_guard lock(stats_mutex_);
        return stats_;
    }

private:
    struct waiter {
        explicit waiter(const boost::asio::strand<boost::asio::any_io_executor>& s) : timer(s) {}
        std::optional<boost::asio::any_completion_handler<acquire_signature>> handler;
        boost::asio::steady_timer timer;
        bool session_use = false;
        bool may_share = false;
        bool done = false;
        bool timer_armed = false;
        clock::time_point deadline;
    };

    struct cancel_handler {
        std::weak_ptr<pool_impl> self;
        std::weak_ptr<waiter> w;
        cancel_handler(std::weak_ptr<pool_impl> s, std::weak_ptr<waiter> ww) : self(std::move(s)), w(std::move(ww)) {}
        void operator()(boost::asio::cancellation_type_t type) {
            if (!cancels(type)) return;
            auto s = self.lock();
            if (!s) return;
            boost::asio::post(s->strand_, [s, ww = w] {
                if (auto p = ww.lock()) s->finish_waiter(p, boost::asio::error::operation_aborted, {});
            });
        }
    };

    // ---- on the strand ----------------------------------------------------------------

    void enqueue(const std::shared_ptr<waiter>& w) {
        if (w->done) return;
        if (closed_) return finish_waiter(w, make_error_code(errc::pool_closed), {nullptr, "the pool is closed"});
        waiters_.push_back(w);
        w->deadline = clock::now() + cfg_.acquire_timeout;
        serve();
        // The timer is armed only for a waiter that has to wait (an idle connection is
        // mostly there: no timer, no timerfd system calls).
        if (!w->done) arm_timer(w);
        publish();
    }

    void arm_timer(const std::shared_ptr<waiter>& w) {
        if (w->timer_armed) return;
        w->timer_armed = true;
        w->timer.expires_at(w->deadline);
        w->timer.async_wait([self = shared_from_this(), ww = std::weak_ptr<waiter>(w)](boost::system::error_code ec) {
            if (ec) return;
            if (auto p = ww.lock()) self->on_acquire_timeout(p);
        });
    }

    void on_acquire_timeout(const std::shared_ptr<waiter>& w) {
        if (w->done) return;
        ++stats_acc_.timeouts;
        std::string msg = "timed out after " + std::to_string(cfg_.acquire_timeout.count()) +
                          " ms waiting for a connection (" + std::to_string(waiters_.size()) + " waiting, " +
                          std::to_string(in_use_) + " of max " + std::to_string(cfg_.max_size) + " in use";
        if (!last_connect_error_.empty()) msg += "; last connect error: " + last_connect_error_;
        msg += ")";
        emit(pool_event::kind::acquire_timeout, msg, 0);
        finish_waiter(w, make_error_code(errc::pool_timeout), {nullptr, std::move(msg)});
    }

    // By value: w may be the very node of waiters_ that this removes.
    void finish_waiter(std::shared_ptr<waiter> w, boost::system::error_code ec, acquire_result r) {
        if (w->done) {
            if (r.slot) give_back_unused(std::move(r.slot));
            return;
        }
        w->done = true;
        if (w->timer_armed) w->timer.cancel();
        waiters_.remove(w);
        boost::asio::any_completion_handler<acquire_signature> h(std::move(*w->handler));
        w->handler.reset();
        post_to_handler_executor(std::move(h), strand_, [ec, r = std::move(r)](auto& handler) mutable {
            auto slot = boost::asio::get_associated_cancellation_slot(handler);
            if (slot.is_connected()) slot.clear();
            std::move(handler)(ec, std::move(r));
        });
        publish();
    }

    /// Hands idle connections to waiters (after checking them) and opens new ones.
    void serve() {
        if (closed_) return;
        share_out();
        while (waiters_.size() > checking_ && !idle_.empty()) {
            auto slot = std::move(idle_.back());
            idle_.pop_back();
            if (expired(*slot)) {
                discard(slot, "reached its max_lifetime");
                ensure_min();
                continue;
            }
            ++checking_;
            boost::asio::co_spawn(strand_, check_and_hand_out(shared_from_this(), std::move(slot)), boost::asio::detached);
        }
        std::size_t needed = waiters_.size() > checking_ + connecting_ ? waiters_.size() - checking_ - connecting_ : 0;
        while (needed > 0 && size_ < cfg_.max_size && !in_backoff_) {
            open_connection();
            --needed;
        }
    }

    static boost::asio::awaitable<void> check_and_hand_out(std::shared_ptr<pool_impl> self, std::shared_ptr<pool_slot> slot) {
        bool ok = slot->conn->is_open();
        try {
            // A connection back for less than a millisecond (the hot path of a busy pool)
            // skips the probe and its system call.
            auto idle_for = clock::now() - slot->last_used;
            if (ok && idle_for >= std::chrono::milliseconds(1)) ok = co_await slot->conn->probe();
            if (ok && idle_for > self->cfg_.health_check_after) {
                co_await slot->conn->query_one<std::int32_t>("select 1");
                ok = true;
            }
        } catch (const std::exception&) {
            ok = false;
        }
        --self->checking_;
        if (ok) self->hand_out(std::move(slot));
        else self->discard(slot, "failed its health check");
        self->settle();
    }

    void hand_out(std::shared_ptr<pool_slot> slot) {
        if (closed_) return discard(slot, "the pool is closed");
        if (waiters_.empty()) {
            idle_.push_back(std::move(slot));
            return;
        }
        auto w = waiters_.front();
        slot->session_use = w->session_use;
        ++in_use_;
        ++stats_acc_.acquired;
        if (w->may_share) {
            slot->sharers = 1;
            shared_.push_back(slot);
        }
        finish_waiter(w, {}, {std::move(slot), {}});
        share_out();
    }

    /// Helper calls at the front of the queue join connections already lent to helpers,
    /// up to pipeline_depth each; never past a waiter that needs a connection to itself
    /// (so the shared ones drain for it).
    void share_out() {
        while (!waiters_.empty() && waiters_.front()->may_share) {
            std::shared_ptr<pool_slot> best;
            for (auto& s : shared_)
                if (s->sharers < cfg_.pipeline_depth && s->conn && s->conn->is_open() && (!best || s->sharers < best->sharers))
                    best = s;
            if (!best) return;
            // Spread first: an idle connection is better than a second sharer; and while
            // the pool may grow, open another rather than pile onto a half-full one.
            if (!idle_.empty()) return;
            if (best->sharers >= std::max<std::size_t>(1, cfg_.pipeline_depth / 2) && size_ < cfg_.max_size) return;
            ++best->sharers;
            ++stats_acc_.acquired;
            finish_waiter(waiters_.front(), {}, {best, {}});
        }
    }

    /// A slot whose waiter was gone by the time it was handed over.
    void give_back_unused(std::shared_ptr<pool_slot> slot) {
        --in_use_;
        --stats_acc_.acquired;
        hand_out(std::move(slot));
        publish();
    }

    void open_connection() {
        ++size_;
        ++connecting_;
        boost::asio::co_spawn(strand_, connect_one(shared_from_this()), boost::asio::detached);
    }

    static boost::asio::awaitable<void> connect_one(std::shared_ptr<pool_impl> self) {
        std::shared_ptr<pool_slot> slot;
        std::string error;
        try {
            connect_options opts;
            opts.connect_timeout = self->cfg_.connect_timeout;
            opts.statement_cache_size = self->cfg_.statement_cache_size;
            opts.observer = self->cfg_.observer;
            auto c = co_await connection::connect(self->ex_, self->cfg_.conninfo, opts);
            slot = std::make_shared<pool_slot>();
            slot->conn.emplace(std::move(c));
            slot->created = slot->last_used = clock::now();
            slot->expires = self->lifetime_end(slot->created);
        } catch (const std::exception& e) {
            error = e.what();  // connect errors never carry the password
        }
        --self->connecting_;
        if (slot) {
            self->backoff_ = self->cfg_.reconnect_backoff_initial;
            self->last_connect_error_.clear();
            self->emit(pool_event::kind::connected, {}, slot->conn->backend_pid());
            self->hand_out(std::move(slot));
        } else {
            --self->size_;
            ++self->stats_acc_.connect_failures;
            self->last_connect_error_ = error;
            self->emit(pool_event::kind::connect_failed, error, 0);
            self->start_backoff();
        }
        self->settle();
    }

    void start_backoff() {
        if (in_backoff_ || closed_) return;
        in_backoff_ = true;
        retry_timer_.expires_after(backoff_);
        backoff_ = std::min(backoff_ * 2, cfg_.reconnect_backoff_max);
        retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            self->in_backoff_ = false;
            if (ec || self->closed_) return;
            self->settle();
        });
    }

    clock::time_point lifetime_end(clock::time_point created) {
        if (cfg_.max_lifetime.count() <= 0) return clock::time_point::max();
        auto jitter_max = static_cast<std::int64_t>(static_cast<double>(cfg_.max_lifetime.count()) * cfg_.lifetime_jitter);
        std::int64_t jitter = jitter_max > 0 ? std::uniform_int_distribution<std::int64_t>(0, jitter_max)(rng_) : 0;
        return created + cfg_.max_lifetime - std::chrono::milliseconds(jitter);
    }

    bool expired(const pool_slot& s) const { return clock::now() >= s.expires; }

    void on_release(std::shared_ptr<pool_slot> slot) {
        if (slot->sharers > 1) {  // other helper calls still use it
            --slot->sharers;
            share_out();
            publish();
            return;
        }
        if (slot->sharers == 1) {
            slot->sharers = 0;
            shared_.erase(std::remove(shared_.begin(), shared_.end(), slot), shared_.end());
        }
        --in_use_;
        connection& c = *slot->conn;
        const char* why = closed_ ? "the pool is closed"
                          : !c.is_open() ? "the connection was broken"
                          : expired(*slot) && c.in_flight() == 0 ? "reached its max_lifetime"
                                                                  : nullptr;
        if (why) {
            discard(slot, why);
            return settle();
        }
        bool reset = slot->session_use || c.session_changed() || c.in_flight() > 0 ||
                     c.transaction_status() != PQTRANS_IDLE;
        if (reset) {
            ++in_use_;  // counted as in use until the reset is done
            boost::asio::co_spawn(strand_, reset_and_return(shared_from_this(), std::move(slot)), boost::asio::detached);
            publish();
            return;
        }
        slot->last_used = clock::now();
        hand_out(std::move(slot));
        publish();
    }

    /// What a returned connection must lose before anyone else gets it: an open (or
    /// failed) transaction, SET / RESET values, SET ROLE / SESSION AUTHORIZATION, LISTEN,
    /// session advisory locks, temporary tables, sequence state and open cursors. The
    /// connection's prepared statements survive (they are pgcoro's own cache).
    static boost::asio::awaitable<void> reset_and_return(std::shared_ptr<pool_impl> self, std::shared_ptr<pool_slot> slot) {
        bool ok = true;
        try {
            std::vector<std::string> reset_sql(reset_statements().begin(), reset_statements().end());
            co_await slot->conn->execute_batch(std::move(reset_sql));
            slot->conn->clear_session_changed();
        } catch (const std::exception&) {
            ok = false;
        }
        --self->in_use_;
        if (!ok || !slot->conn->is_open()) {
            self->discard(slot, "its session could not be reset");
        } else {
            slot->last_used = clock::now();
            slot->session_use = false;
            self->hand_out(std::move(slot));
        }
        self->settle();
    }

    static const std::vector<std::string>& reset_statements() {
        static const std::vector<std::string> statements = {
            "ROLLBACK", "RESET ALL", "SET SESSION AUTHORIZATION DEFAULT", "UNLISTEN *",
            "SELECT pg_advisory_unlock_all()", "DISCARD TEMP", "DISCARD SEQUENCES", "CLOSE ALL"};
        return statements;
    }

    void discard(const std::shared_ptr<pool_slot>& slot, const std::string& why) {
        --size_;
        ++stats_acc_.discarded;
        int pid = slot->conn ? slot->conn->backend_pid() : 0;
        emit(pool_event::kind::discarded, why, pid);
        if (slot->conn && slot->conn->is_open()) {
            boost::asio::co_spawn(strand_, close_quietly(std::move(slot->conn)), boost::asio::detached);
        }
        slot->conn.reset();
    }

    /// After any change: keep min_size, serve waiters, publish the counters.
    void settle() {
        ensure_min();
        serve();
        publish();
    }

    static boost::asio::awaitable<void> close_quietly(std::optional<connection> c) {
        try {
            co_await c->close();
        } catch (...) {
        }
    }

    void ensure_min() {
        if (closed_ || in_backoff_) return;
        while (size_ < cfg_.min_size) open_connection();
    }

    void schedule_maintenance() {
        if (closed_) return;
        auto period = std::chrono::milliseconds(1000);
        if (cfg_.idle_timeout.count() > 0) period = std::min(period, std::max(cfg_.idle_timeout / 2, std::chrono::milliseconds(10)));
        if (cfg_.max_lifetime.count() > 0) period = std::min(period, std::max(cfg_.max_lifetime / 4, std::chrono::milliseconds(10)));
        maintenance_.expires_after(period);
        maintenance_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (ec || self->closed_) return;
            self->maintain();
            self->schedule_maintenance();
        });
    }

    void maintain() {
        auto now = clock::now();
        // Oldest-used first: idle_ is used from the back.
        for (auto it = idle_.begin(); it != idle_.end();) {
            auto& s = *it;
            bool idle_too_long = cfg_.idle_timeout.count() > 0 && size_ > cfg_.min_size && now - s->last_used > cfg_.idle_timeout;
            if (expired(*s) || idle_too_long || !s->conn->is_open()) {
                auto slot = std::move(s);
                it = idle_.erase(it);
                discard(slot, idle_too_long ? "idle longer than idle_timeout" : slot->conn->is_open() ? "reached its max_lifetime" : "the connection was broken");
            } else {
                ++it;
            }
        }
        settle();
    }

    void do_close() {
        if (closed_) return;
        closed_ = true;
        maintenance_.cancel();
        retry_timer_.cancel();
        auto ws = waiters_;
        for (auto& w : ws) finish_waiter(w, make_error_code(errc::pool_closed), {nullptr, "the pool was closed"});
        auto idle = std::move(idle_);
        idle_.clear();
        shared_.clear();
        for (auto& s : idle) discard(s, "the pool is closed");
        publish();
    }

    void emit(pool_event::kind k, const std::string& msg, int pid) {
        if (cfg_.observer) {
            pool_event e{k, msg, pid};
            cfg_.observer->on_pool_event(e);
        }
    }

    void publish() {
        std::lock_guard lock(stats_mutex_);
        stats_ = stats_acc_;
        stats_.size = size_;
        stats_.idle = idle_.size();
        stats_.in_use = in_use_;
        stats_.waiting = waiters_.size();
    }

    boost::asio::any_io_executor ex_;
    boost::asio::strand<boost::asio::any_io_executor> strand_;
    pool_config cfg_;
    boost::asio::steady_timer maintenance_;
    boost::asio::steady_timer retry_timer_;
    std::chrono::milliseconds backoff_;
    std::mt19937_64 rng_;
    std::deque<std::shared_ptr<pool_slot>> idle_;
    std::vector<std::shared_ptr<pool_slot>> shared_;  // lent to helper calls, sharable
    std::list<std::shared_ptr<waiter>> waiters_;
    std::size_t size_ = 0, connecting_ = 0, checking_ = 0, in_use_ = 0;
    bool closed_ = false;
    bool in_backoff_ = false;
    std::string last_connect_error_;
    pool_stats stats_acc_;
    mutable std::mutex stats_mutex_;
    pool_stats stats_;
};

}  // namespace detail
}  // namespace pgcoro

// pgcoro/detail/pool_impl.hpp — the Asio driver around the pool's state machine.
//
// pool_state.hpp decides; this file performs its actions (connect, probe and ping, reset,
// close, grant, fail, observer events), feeds their outcomes back in, keeps one timer
// for the machine's next wake-up, and runs the one-statement helpers. Everything runs on
// one strand, which the pool's connections share: a helper statement granted a
// connection starts on it at once (no hop), and its result releases the connection
// before its caller resumes.
#pragma once

#include <pgcoro/connection.hpp>
#include <pgcoro/detail/completion.hpp>
#include <pgcoro/detail/connect.hpp>
#include <pgcoro/detail/pool_state.hpp>
#include <pgcoro/detail/sql_keywords.hpp>
#include <pgcoro/observer.hpp>
#include <pgcoro/pool_config.hpp>
#include <pgcoro/pool_stats.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <utility>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace pgcoro::detail {

using pool_clock = std::chrono::steady_clock;

/// What the state machine needs to know of a pooled connection.
struct pool_conn {
    connection c;
    bool is_open() const noexcept { return c.is_open(); }
    /// Reset before reuse: the session changed, a transaction is open, statements are in
    /// flight, or a cancel request may still interrupt the next user's statement.
    bool needs_reset() const noexcept {
        return c.session_changed() || c.in_flight() > 0 || c.transaction_status() != PQTRANS_IDLE ||
               connection_access::impl(c)->cancel_pending();
    }
    int backend_pid() const noexcept { return c.backend_pid(); }
};

class pool_impl;
struct acquire_waiter;

/// A request waiting for a connection: a helper statement, or an acquire() call.
struct pool_request {
    std::shared_ptr<exec_op> op;
    std::shared_ptr<acquire_waiter> acquire;
};

using pool_state_type = pool_state<pool_clock, pool_conn, pool_request>;
using pooled_slot = pool_state_type::slot;

/// Owns a lent slot: gives it back when destroyed (a handler dropped unrun loses nothing).
class slot_lease {
public:
    slot_lease() = default;
    slot_lease(std::shared_ptr<pool_impl> p, pooled_slot* s) noexcept : pool_(std::move(p)), slot_(s) {}
    slot_lease(slot_lease&& o) noexcept : pool_(std::move(o.pool_)), slot_(std::exchange(o.slot_, nullptr)) {}
    slot_lease& operator=(slot_lease&& o) noexcept {
        if (this != &o) {
            give_back(false);
            pool_ = std::move(o.pool_);
            slot_ = std::exchange(o.slot_, nullptr);
        }
        return *this;
    }
    ~slot_lease() { give_back(false); }

    pooled_slot* get() const noexcept { return slot_; }
    inline void give_back(bool keep_session) noexcept;

private:
    std::shared_ptr<pool_impl> pool_;
    pooled_slot* slot_ = nullptr;
};

using acquire_signature = void(boost::system::error_code, slot_lease, std::string);

struct acquire_waiter {
    // In an optional, emplaced: Boost 1.81's any_completion_handler move assignment wraps
    // the handler in itself without end.
    std::optional<boost::asio::any_completion_handler<acquire_signature>> handler;
};

/// Statements that may share a connection: their leading keyword says they cannot change
/// the session (SET, LISTEN, CREATE TEMP, PREPARE, BEGIN, DO, CALL, EXPLAIN ANALYZE of
/// any of those... all run alone). Undetectable: session changes made by functions called
/// from these (set_config(..., false), pg_advisory_lock) and SELECT ... INTO TEMP.
inline bool shareable_statement(std::string_view sql) {
    keyword_buffer buf;
    std::string_view k = leading_keyword(sql, buf);
    return k == "SELECT" || k == "INSERT" || k == "UPDATE" || k == "DELETE" || k == "WITH" || k == "VALUES" ||
           k == "TABLE" || k == "MERGE" || k == "SHOW";
}

/// A helper statement's completion: releases its connection on the strand, then resumes
/// the caller on the caller's executor. It has no executor of its own (so the engine runs
/// it on the strand at once); it forwards the caller's cancellation slot and allocator.
template <class Completion>
struct helper_completion {
    Completion handler;
    std::shared_ptr<pool_impl> pool;
    exec_op* op;
    inline void operator()(boost::system::error_code ec, exec_outcome out);
};

class pool_impl : public std::enable_shared_from_this<pool_impl> {
public:
    pool_impl(boost::asio::any_io_executor ex, pool_config cfg)
        : ex_(std::move(ex)), strand_(boost::asio::make_strand(ex_)), state_(std::move(cfg), std::random_device{}()),
          timer_(strand_) {}

    void start() {
        boost::asio::post(strand_, [self = shared_from_this()] {
            self->state_.start(pool_clock::now());
            self->drain();
        });
    }

    const pool_config& config() const noexcept { return state_.config(); }  // immutable
    const connection_strand& strand() const noexcept { return strand_; }

    /// A connection to itself (kind session or alone). Completes with acquire_signature
    /// on the handler's executor, never inside this call; cancellable while waiting.
    template <class Handler>
    void acquire(request_kind kind, Handler&& handler) {
        auto w = std::make_shared<acquire_waiter>();
        w->handler.emplace(std::forward<Handler>(handler));
        auto cs = boost::asio::get_associated_cancellation_slot(*w->handler);
        if (cs.is_connected()) cs.template emplace<cancel_handler>(weak_from_this(), nullptr, w);
        boost::asio::post(strand_, [self = shared_from_this(), w, kind]() mutable {
            if (pooled_slot* s = self->state_.acquire(pool_request{nullptr, w}, kind, pool_clock::now()))
                self->complete_acquire(*w, {}, s, {});
            self->drain();
        });
    }

    /// A one-statement helper: op runs on a pooled connection (shared when it may be).
    template <class Completion>
    void run_helper(std::shared_ptr<exec_op> op, Completion c) {
        op->handler.emplace(helper_completion<Completion>{std::move(c), shared_from_this(), op.get()});
        // One cancellation handler for the whole call: it withdraws a waiting request, or
        // passes the signal on to the connection running the statement.
        auto cs = op->handler.cancellation_slot();
        if (cs.is_connected()) cs.template emplace<cancel_handler>(weak_from_this(), op, std::weak_ptr<acquire_waiter>());
        request_kind kind = config().pipeline_depth > 1 && op->kind == op_kind::statement && shareable_statement(op->sql)
                                ? request_kind::shared
                                : request_kind::alone;
        if (strand_.running_in_this_thread()) return start_helper(std::move(op), kind);
        boost::asio::post(strand_, [self = shared_from_this(), op = std::move(op), kind]() mutable {
            self->start_helper(std::move(op), kind);
        });
    }

    /// A lent slot comes back (any thread). A notice handler the borrower set goes: it
    /// would receive the next borrower's notices, and may capture what died with its scope.
    void release(pooled_slot* s, bool keep_session) {
        if (s->conn->c.has_notice_handler()) s->conn->c.set_notice_handler(nullptr);
        boost::asio::post(strand_, [self = shared_from_this(), s, keep_session] {
            self->state_.release(s, pool_clock::now(), keep_session);
            self->drain();
        });
    }

    /// A helper's statement is done (on the strand).
    void helper_done(pooled_slot* s) {
        state_.release(s, pool_clock::now());
        drain();
    }

    void close() {
        boost::asio::post(strand_, [self = shared_from_this()] {
            self->state_.close();
            self->timer_.cancel();
            // Connects in progress end now (a black-holed server would hold them until
            // connect_timeout, and the io_context with them).
            for (auto& c : self->connecting_) c.second->emit(boost::asio::cancellation_type::terminal);
            self->drain();
        });
    }

    pool_stats stats() const {
        std::lock_guard lock(stats_mutex_);
        return stats_;
    }

private:
    struct cancel_handler {
        std::weak_ptr<pool_impl> pool;
        std::weak_ptr<exec_op> op;              // a helper's statement
        std::uint64_t generation = 0;           // ... in this life of the (recycled) object
        std::weak_ptr<acquire_waiter> acquire;  // or an acquire() call
        cancel_handler(std::weak_ptr<pool_impl> p, const std::shared_ptr<exec_op>& o, std::weak_ptr<acquire_waiter> a)
            : pool(std::move(p)), op(o), generation(o ? o->generation : 0), acquire(std::move(a)) {}
        void operator()(boost::asio::cancellation_type_t type) {
            if (!cancels(type)) return;
            auto p = pool.lock();
            if (!p) return;
            boost::asio::post(p->strand_, [p, o = op, g = generation, a = acquire] {
                auto op = o.lock();
                if (op && op->generation != g) return;  // that statement is over
                p->cancel(op, a.lock());
            });
        }
    };

    // ---- on the strand ----------------------------------------------------------------

    void start_helper(std::shared_ptr<exec_op> op, request_kind kind) {
        if (pooled_slot* s = state_.acquire(pool_request{op, nullptr}, kind, pool_clock::now()))
            submit(s, std::move(op));
        drain();
    }

    void submit(pooled_slot* s, std::shared_ptr<exec_op> op) {
        op->lease = s;
        connection_access::impl(s->conn->c)->submit(std::move(op), false);
    }

    void cancel(const std::shared_ptr<exec_op>& op, const std::shared_ptr<acquire_waiter>& acq) {
        if (!op && !acq) return;
        auto r = state_.cancel([&](const pool_request& q) { return op ? q.op == op : q.acquire == acq; });
        if (r) {
            fail(std::move(*r), boost::asio::error::operation_aborted, {});
        } else if (op && op->lease) {
            // Running: the connection cancels it (and tells the server).
            auto* s = static_cast<pooled_slot*>(op->lease);
            connection_access::impl(s->conn->c)->cancel_op(op, op->generation);
        }
        drain();
    }

    /// Performs the state machine's actions; re-entrant calls (a completion run inside an
    /// action) leave theirs to the loop already running.
    void drain() {
        if (draining_) return;
        draining_ = true;
        while (!state_.actions().empty()) {
            std::swap(actions_, state_.actions());
            for (auto& a : actions_) perform(a);
            actions_.clear();
        }
        draining_ = false;
        arm_timer();
        publish();
    }

    void perform(pool_state_type::action& a) {
        using t = pool_state_type::action::type;
        switch (a.what) {
        case t::connect: return open(a.target);
        case t::check: return check(a.target, a.ping);
        case t::reset: return reset(a.target);
        case t::close: return close_quietly(std::move(a.conn->c));
        case t::grant:
            if (a.request.op) return submit(a.target, std::move(a.request.op));
            return complete_acquire(*a.request.acquire, {}, a.target, {});
        case t::fail: return fail(std::move(a.request), a.ec, std::move(a.message));
        case t::event:
            if (const auto& obs = config().observer) obs->on_pool_event(pool_event{a.event, std::move(a.message), a.pid});
            return;
        }
    }

    void fail(pool_request r, boost::system::error_code ec, std::string message) {
        if (r.acquire) return complete_acquire(*r.acquire, ec, nullptr, std::move(message));
        // Posted: a failure found while starting the call must not complete inside it.
        boost::asio::post(strand_, [self = shared_from_this(), op = std::move(r.op), ec, message = std::move(message)] {
            auto d = std::make_unique<diagnostics>();
            d->message = message.empty() ? ec.message() : message;
            op->handler.complete(self->strand_, ec, exec_outcome{nullptr, std::move(d), nullptr});
        });
    }

    void complete_acquire(acquire_waiter& w, boost::system::error_code ec, pooled_slot* s, std::string message) {
        slot_lease lease(s ? shared_from_this() : nullptr, s);
        boost::asio::any_completion_handler<acquire_signature> h(std::move(*w.handler));
        w.handler.reset();
        post_to_handler_executor(std::move(h), strand_,
                                 [ec, lease = std::move(lease), message = std::move(message)](auto& h) mutable {
                                     auto cs = boost::asio::get_associated_cancellation_slot(h);
                                     if (cs.is_connected()) cs.clear();
                                     std::move(h)(ec, std::move(lease), std::move(message));
                                 });
    }

    void open(pooled_slot* s) {
        const pool_config& cfg = config();
        auto signal = std::make_shared<boost::asio::cancellation_signal>();
        connecting_.emplace_back(s, signal);
        boost::asio::co_spawn(
            strand_, connect_pq(ex_, cfg.conninfo, cfg.connect_timeout, cfg.network),
            boost::asio::bind_cancellation_slot(
                signal->slot(),
                boost::asio::bind_executor(strand_, [self = shared_from_this(), s, signal](std::exception_ptr e,
                                                                                            pgconn_ptr c) {
                auto& cs = self->connecting_;
                cs.erase(std::remove_if(cs.begin(), cs.end(), [s](auto& p) { return p.first == s; }), cs.end());
                auto now = pool_clock::now();
                const pool_config& cfg = self->config();
                if (!e && c) {
                    auto impl = std::make_shared<connection_impl>(
                        self->strand_, std::move(c), cfg.pooler_safe ? 0 : cfg.statement_cache_size, cfg.observer);
                    if (cfg.network.read_timeout) impl->set_read_timeout(*cfg.network.read_timeout);
                    self->state_.connected(s, pool_conn{connection_access::make(std::move(impl))}, now);
                } else {
                    self->state_.connect_failed(s, message_of(e), now);  // never holds the password
                }
                self->drain();
            })));
    }

    void check(pooled_slot* s, bool ping) {
        boost::asio::co_spawn(strand_, check_io(s->conn->c, ping),
                              boost::asio::bind_executor(strand_, [self = shared_from_this(), s](std::exception_ptr e, bool ok) {
                                  self->state_.checked(s, !e && ok, pool_clock::now());
                                  self->drain();
                              }));
    }

    static boost::asio::awaitable<bool> check_io(connection& c, bool ping) {
        bool ok = co_await c.probe();
        if (ok && ping) co_await c.query_one<std::int32_t>("select 1");
        co_return ok;
    }

    /// What a returned connection must lose before anyone else gets it: an open (or
    /// failed) transaction, SET / RESET values, SET ROLE / SESSION AUTHORIZATION, LISTEN,
    /// session advisory locks, temporary tables, sequence state and open cursors. The
    /// connection's prepared statements survive (they are pgcoro's own cache).
    void reset(pooled_slot* s) {
        boost::asio::co_spawn(strand_, reset_io(s->conn->c, config().pooler_safe),
                              boost::asio::bind_executor(strand_, [self = shared_from_this(), s](std::exception_ptr e) {
                                  self->state_.reset_done(s, !e, pool_clock::now());
                                  self->drain();
                              }));
    }

    /// One script (simple query protocol): the engine starts it only once the statements
    /// in flight are done and every cancel request sent is settled, so nothing meant for
    /// the last user can reach the next one.
    static boost::asio::awaitable<void> reset_io(connection& c, bool pooler_safe) {
        // Through a transaction pooler the session is not ours to reset: only end the
        // transaction (and drain what is in flight).
        co_await c.execute_script(pooler_safe ? "ROLLBACK"
                                              : "ROLLBACK; RESET ALL; SET SESSION AUTHORIZATION DEFAULT; UNLISTEN *; "
                                                "SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES; "
                                                "CLOSE ALL");
        c.clear_session_changed();
    }

    void close_quietly(connection c) {
        if (!c.is_open()) return;  // dropped: shut down at once
        boost::asio::co_spawn(strand_, [](connection c) -> boost::asio::awaitable<void> {
            try {
                co_await c.close();
            } catch (...) {
            }
        }(std::move(c)), boost::asio::detached);
    }

    static std::string message_of(std::exception_ptr e) {
        if (!e) return "the connection could not be made";
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            return x.what();
        } catch (...) {
            return "unknown error";
        }
    }

    /// One timer for the machine's next wake-up; armed again only for an earlier one (a
    /// later one waits for this one to fire, so a busy pool makes no timer system calls).
    void arm_timer() {
        auto t = state_.next_wakeup();
        if (t >= armed_for_) return;
        armed_for_ = t;
        timer_.expires_at(t);
        timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (ec == boost::asio::error::operation_aborted) return;
            self->armed_for_ = pool_clock::time_point::max();
            self->state_.on_timer(pool_clock::now());
            self->drain();
        });
    }

    void publish() {
        std::lock_guard lock(stats_mutex_);
        stats_ = state_.stats();
    }

    boost::asio::any_io_executor ex_;
    connection_strand strand_;
    pool_state_type state_;
    boost::asio::steady_timer timer_;
    pool_clock::time_point armed_for_ = pool_clock::time_point::max();
    std::vector<pool_state_type::action> actions_;
    /// Connects in progress and how to cancel them (when the pool closes); on the strand.
    std::vector<std::pair<pooled_slot*, std::shared_ptr<boost::asio::cancellation_signal>>> connecting_;
    bool draining_ = false;
    mutable std::mutex stats_mutex_;
    pool_stats stats_;

    template <class Completion>
    friend struct helper_completion;
};

inline void slot_lease::give_back(bool keep_session) noexcept {
    if (slot_ && pool_) pool_->release(std::exchange(slot_, nullptr), keep_session);
    pool_.reset();
}

template <class Completion>
void helper_completion<Completion>::operator()(boost::system::error_code ec, exec_outcome out) {
    if (void* lease = std::exchange(op->lease, nullptr)) pool->helper_done(static_cast<pooled_slot*>(lease));
    complete_on_executor(std::move(handler), pool->strand(), ec, std::move(out));
}

}  // namespace pgcoro::detail

// helper_completion: the caller's cancellation slot and allocator, but not its executor.
namespace boost::asio {
template <class C, class D>
struct associated_cancellation_slot<pgcoro::detail::helper_completion<C>, D> {
    using type = associated_cancellation_slot_t<C, D>;
    static type get(const pgcoro::detail::helper_completion<C>& h, const D& d = D()) noexcept {
        return associated_cancellation_slot<C, D>::get(h.handler, d);
    }
};
template <class C, class D>
struct associated_allocator<pgcoro::detail::helper_completion<C>, D> {
    using type = associated_allocator_t<C, D>;
    static type get(const pgcoro::detail::helper_completion<C>& h, const D& d = D()) noexcept {
        return associated_allocator<C, D>::get(h.handler, d);
    }
};
}  // namespace boost::asio

// pgcoro/detail/connection_impl.hpp — the Asio driver around the pipeline state machine.
//
// pipeline.hpp decides what to send and which result belongs to whom; this file only
// owns the socket waits, the strand, the callers' completion handlers, and the turn:
// statements started in one turn of the strand leave in one write, and every complete
// result is drained per wake-up. All pipeline state is touched on `strand_` only.
//
// One turn: each op reaching the strand is written into libpq's buffer at once. With
// libpq >= 17 nothing is flushed until the turn ends (PQsendPipelineSync). With libpq
// 14-16 every Sync flushes, so from the second op of a turn on the TCP socket is corked
// (TCP_CORK) and uncorked when the turn ends: the kernel sends the turn in full segments
// instead of a small packet per statement. A lone statement is sent as it comes. A turn
// ends when the strand reaches its posted end, or sooner: when a read handler returns,
// the statements its results set off (callers resumed inline), on any connection of its
// strand, leave at once, as a raw poll loop would send them, instead of waiting behind
// every handler queued meanwhile, and with no post (see read_turns).
#pragma once

#include <pgcoro/detail/cancel.hpp>
#include <pgcoro/detail/completion.hpp>
#include <pgcoro/detail/exclusive_task.hpp>
#include <pgcoro/detail/inline_handler.hpp>
#include <pgcoro/detail/pipeline.hpp>
#include <pgcoro/detail/pq.hpp>
#include <pgcoro/detail/pq_wire.hpp>
#include <pgcoro/detail/silence_watch.hpp>
#include <pgcoro/detail/type_lookup.hpp>
#include <pgcoro/diagnostics.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/observer.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgcoro::detail {

/// What a statement completes with. The diagnostics travel only on error.
struct exec_outcome {
    pgresult_ptr result;
    std::unique_ptr<diagnostics> diag;
    catalog_ptr types;  ///< the connection's looked-up types, for reading `result`

    diagnostics take_diagnostics() { return diag ? std::move(*diag) : diagnostics{}; }
};

using exec_signature = void(boost::system::error_code, exec_outcome);

using connection_strand = boost::asio::strand<boost::asio::any_io_executor>;

struct exec_op : basic_op<pgresult_ptr> {
    using basic_op<pgresult_ptr>::basic_op;
    std::exception_ptr encode_failure;  // parameters that could not be encoded
    std::chrono::steady_clock::time_point started_at;  // set only when observed
    inline_handler<exec_signature, connection_strand> handler;  // empty for internal ops
    void* lease = nullptr;  // a pool helper's: the pool slot it runs on
    std::shared_ptr<exclusive_task> task;  // an exclusive op's (a row stream, a COPY)
    /// Counts the op's lives: a cancellation signal meant for an earlier statement held in
    /// this (recycled) object must not reach the next one.
    std::uint64_t generation = 0;

    /// Ready for another statement, keeping the memory its strings and arrays hold.
    void recycle() noexcept {
        reset_progress();
        resends = 0;
        seq = 0;
        kind = op_kind::statement;
        leaves_pipeline = true;
        sql.clear();
        params.clear();
        encode_failure = nullptr;
        started_at = {};
        handler.reset();
        lease = nullptr;
        task.reset();
        ++generation;
    }
};

/// Who a watched connection tells about notifications and its own end (a listener).
/// Called on the connection's strand, never inside a call into the connection.
struct notification_sink {
    virtual ~notification_sink() = default;
    virtual void on_notification(notification n) = 0;
    /// Closed or broken: nothing more comes.
    virtual void on_connection_lost() = 0;
};

class connection_impl : public std::enable_shared_from_this<connection_impl> {
public:
    using strand_type = connection_strand;
    using op_ptr = std::shared_ptr<exec_op>;

    /// Takes over a connected PGconn (on the caller's thread; nothing runs yet), on a
    /// strand of its own.
    connection_impl(const boost::asio::any_io_executor& ex, pgconn_ptr conn, std::size_t statement_cache_size,
                    std::shared_ptr<observer> obs = nullptr)
        : connection_impl(strand_type(boost::asio::make_strand(ex)), std::move(conn), statement_cache_size,
                          std::move(obs)) {}

    /// The same on a given strand (a pool's connections share the pool's).
    connection_impl(strand_type strand, pgconn_ptr conn, std::size_t statement_cache_size,
                    std::shared_ptr<observer> obs)
        : observer_(std::move(obs)),
          strand_(std::move(strand)),
          sock_(strand_),
          conn_(std::move(conn)),
          pipe_(pq_wire{conn_.get()}, statement_cache_size, PQtransactionStatus(conn_.get())),
          canceller_(conn_.get()),
          backend_pid_(PQbackendPID(conn_.get())),
          server_version_(PQserverVersion(conn_.get())) {
        PQsetNoticeReceiver(conn_.get(), &connection_impl::notice_receiver, this);
        int fd = PQsocket(conn_.get());
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        int family = ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 ? addr.ss_family : AF_UNIX;
        can_cork_ = family == AF_INET || family == AF_INET6;
        sock_.assign(fd);
        publish();
    }

    ~connection_impl() { release_socket(); }
    connection_impl(const connection_impl&) = delete;
    connection_impl& operator=(const connection_impl&) = delete;

    const strand_type& strand() const noexcept { return strand_; }
    int backend_pid() const noexcept { return backend_pid_; }
    int server_version() const noexcept { return server_version_; }
    /// Snapshots, readable from any thread.
    bool is_open() const noexcept { return open_.load(std::memory_order_acquire); }
    PGTransactionStatusType transaction_status() const noexcept {
        return static_cast<PGTransactionStatusType>(tx_status_.load(std::memory_order_acquire));
    }
    std::size_t in_flight() const noexcept { return in_flight_.load(std::memory_order_acquire); }
    bool session_changed() const noexcept { return session_changed_.load(std::memory_order_acquire); }
    /// A cancel request sent and not yet settled: it may still interrupt a statement.
    bool cancel_pending() const noexcept { return cancel_pending_.load(std::memory_order_acquire); }
    void clear_session_changed() noexcept { session_changed_.store(false, std::memory_order_release); }
    /// Statements sent again after a cancel meant for another one hit them.
    std::uint64_t resends() const noexcept { return resends_.load(std::memory_order_relaxed); }
    const std::shared_ptr<observer>& get_observer() const noexcept { return observer_; }

    /// network_options::read_timeout; before the first statement, on the strand or
    /// before anything runs.
    void set_read_timeout(std::chrono::milliseconds limit) { silence_.enable(strand_, limit); }
    silence_watch& silence() noexcept { return silence_; }

    /// Starts op; `handler` gets (error_code, exec_outcome) on its associated executor
    /// (the strand when it has none). Cancellable through its cancellation slot (any
    /// type): the op completes with operation_aborted at once, a cancel request goes to
    /// the server when the op is the one running, and its results are dropped later.
    template <class Handler>
    void exec(op_ptr op, Handler&& handler) {
        op->handler.emplace(std::forward<Handler>(handler));
        submit(std::move(op));
    }

    /// exec() for an op whose handler is in place already. `own_cancel`: false when the
    /// caller (a pool) keeps the handler's cancellation slot and forwards to cancel_ops().
    void submit(op_ptr op, bool own_cancel = true) {
        auto slot = op->handler.cancellation_slot();
        if (own_cancel && slot.is_connected()) slot.template emplace<cancel_handler>(weak_from_this(), op, op->generation);
        if (strand_.running_in_this_thread() && !op->task) {
            // Called from a caller resumed by this connection (the hot path of a loop):
            // start at once, no hop. The op's own completion never runs inside this call.
            start(std::move(op));
            drive();
            if (!completing_now_ && !pipe_.completed().empty())
                boost::asio::post(strand_, [self = shared_from_this()] { self->step(); });
            return;
        }
        boost::asio::post(strand_, [self = shared_from_this(), op = std::move(op)]() mutable {
            self->start(std::move(op));
            self->step();
        });
    }

    /// Runs ops back to back (one round trip); `handler` gets (error_code, diagnostics)
    /// once all are done, with the first error. Cancelling it cancels every op left.
    template <class Handler>
    void exec_batch(std::vector<op_ptr> ops, Handler&& handler) {
        auto b = std::make_shared<batch>(strand_);
        b->handler.emplace(std::forward<Handler>(handler));
        b->remaining = ops.size();
        for (auto& op : ops) {
            b->ops.push_back(op);
            op->handler.emplace(batch_part{b});
        }
        auto slot = boost::asio::get_associated_cancellation_slot(*b->handler);
        if (slot.is_connected()) slot.template emplace<batch_cancel_handler>(weak_from_this(), b);
        boost::asio::post(strand_, [self = shared_from_this(), ops = std::move(ops), b]() mutable {
            if (ops.empty()) b->finish();
            for (auto& op : ops) self->start(std::move(op));
            self->step();
        });
    }

    /// Cancels one op, if it still is the statement `generation` says (on the strand: the
    /// signal may come after the op finished and its object was reused).
    void cancel_op(std::weak_ptr<exec_op> op, std::uint64_t generation) {
        boost::asio::post(strand_, [self = shared_from_this(), op = std::move(op), generation] {
            auto o = op.lock();
            if (!o || o->generation != generation) return;
            if (!self->cancel_held(o.get())) self->pipe_.cancel(o);
            self->step();
        });
    }

    /// Cancels ops from outside their own slots (a batch's slot); on the strand.
    void cancel_ops(std::vector<std::weak_ptr<exec_op>> ops) {
        boost::asio::post(strand_, [self = shared_from_this(), ops = std::move(ops)] {
            for (auto& w : ops)
                if (auto op = w.lock())
                    if (!self->cancel_held(op.get())) self->pipe_.cancel(op);
            self->step();
        });
    }

    /// Runs fn(*this) on the strand, then a step: how an exclusive task's consumer (a row
    /// stream, a COPY) hands in requests.
    template <class Fn>
    void on_strand(Fn fn) {
        boost::asio::post(strand_, [self = shared_from_this(), fn = std::move(fn)]() mutable {
            fn(*self);
            self->step();
        });
    }

    /// On the strand: the consumer of exclusive op `op` went away. A running one is told
    /// (its machine cancels or aborts the statement and reads the rest); a waiting one is
    /// dropped from the queue.
    void abandon_exclusive(const op_ptr& op) {
        if (pipe_.exclusive_op() == op) return;  // the task knows already (it was asked to abandon)
        pipe_.cancel(op);
    }

    /// Graceful close: waits for what is in flight, then says goodbye to the server.
    /// Cancelling the wait shuts the connection down at once instead.
    template <class Handler>
    void close(Handler&& handler) {
        auto h = std::make_shared<boost::asio::any_completion_handler<void(boost::system::error_code)>>(
            std::forward<Handler>(handler));
        auto slot = boost::asio::get_associated_cancellation_slot(*h);
        if (slot.is_connected()) {
            slot.template emplace<close_cancel_handler>(weak_from_this());
        }
        boost::asio::post(strand_, [self = shared_from_this(), h]() mutable {
            self->close_waiters_.push_back(std::move(*h));
            self->pipe_.close();
            self->step();
        });
    }

    /// Immediate shutdown (the connection object's destructor): fails what is pending
    /// with connection_closed, cancels the running statement on the server, never blocks.
    void shutdown() {
        boost::asio::post(strand_, [self = shared_from_this()] {
            self->pipe_.shutdown();
            self->step();
        });
    }

    /// Checks, without a round trip, whether an idle connection is still usable: when the
    /// server closed it, its socket is readable and reading finds the end. `handler`
    /// gets is_open(). (An idle connection is not watched continuously: that would keep
    /// io_context::run() from ever returning.)
    template <class Handler>
    void probe(Handler&& handler) {
        auto h = std::make_shared<boost::asio::any_completion_handler<void(bool)>>(std::forward<Handler>(handler));
        boost::asio::post(strand_, [self = shared_from_this(), h] {
            self->probe_idle();
            self->step();
            complete_on_executor(std::move(*h), self->strand_, self->is_open());
        });
    }

    /// Reads the connection while idle too, handing notifications and its end to `sink`
    /// (held weakly). While watched, a pending socket wait keeps io_context::run() busy.
    void watch(std::weak_ptr<notification_sink> sink) {
        boost::asio::post(strand_, [self = shared_from_this(), sink = std::move(sink)]() mutable {
            self->sink_ = std::move(sink);
            self->pipe_.watch(true);
            self->step();
        });
    }

    /// Whether a caller set a notice handler (a pool clears it when the connection returns).
    bool has_notice_handler() const noexcept { return has_notice_handler_.load(std::memory_order_relaxed); }

    void set_notice_handler(std::function<void(const notice&)> h) {
        has_notice_handler_.store(static_cast<bool>(h), std::memory_order_relaxed);
        boost::asio::post(strand_, [self = shared_from_this(), h = std::move(h)]() mutable {
            self->notice_handler_ = std::move(h);
        });
    }

private:
    struct batch {
        explicit batch(strand_type s) : strand(std::move(s)) {}
        strand_type strand;  // where it completes when the handler has no executor
        std::size_t remaining = 0;
        boost::system::error_code ec;
        diagnostics diag;
        std::vector<std::weak_ptr<exec_op>> ops;
        std::optional<boost::asio::any_completion_handler<void(boost::system::error_code, diagnostics)>> handler;

        void finish() {
            boost::asio::any_completion_handler<void(boost::system::error_code, diagnostics)> h(std::move(*handler));
            handler.reset();
            complete_on_executor(std::move(h), strand, ec, std::move(diag));
        }
    };

    /// One op of a batch; it has no executor of its own, so it runs inline on the strand.
    struct batch_part {
        std::shared_ptr<batch> b;
        void operator()(boost::system::error_code ec, exec_outcome out) {
            if (ec && !b->ec) {
                b->ec = ec;
                b->diag = out.take_diagnostics();
            }
            if (--b->remaining == 0) {
                auto last = std::move(b);
                last->finish();
            }
        }
    };

    struct batch_cancel_handler {
        std::weak_ptr<connection_impl> self;
        std::weak_ptr<batch> b;
        batch_cancel_handler(std::weak_ptr<connection_impl> s, std::weak_ptr<batch> bb)
            : self(std::move(s)), b(std::move(bb)) {}
        void operator()(boost::asio::cancellation_type_t type) {
            if (!cancels(type)) return;
            auto s = self.lock();
            auto bb = b.lock();
            if (s && bb) s->cancel_ops(bb->ops);
        }
    };

    struct cancel_handler {
        std::weak_ptr<connection_impl> self;
        std::weak_ptr<exec_op> op;
        std::uint64_t generation;
        cancel_handler(std::weak_ptr<connection_impl> s, std::weak_ptr<exec_op> o, std::uint64_t g)
            : self(std::move(s)), op(std::move(o)), generation(g) {}
        void operator()(boost::asio::cancellation_type_t type) {
            if (!cancels(type)) return;
            if (auto s = self.lock()) s->cancel_op(op, generation);
        }
    };

    struct close_cancel_handler {
        std::weak_ptr<connection_impl> self;
        explicit close_cancel_handler(std::weak_ptr<connection_impl> s) : self(std::move(s)) {}
        void operator()(boost::asio::cancellation_type_t type) {
            if (!cancels(type)) return;
            auto s = self.lock();
            if (!s) return;
            boost::asio::post(s->strand_, [s] {
                s->pipe_.shutdown();
                s->close_result_ = boost::asio::error::operation_aborted;
                s->step();
            });
        }
    };

    // ---- on the strand ----------------------------------------------------------------

    void start(op_ptr op) {
        if (op->encode_failure && !op->completed) {
            op->completed = true;
            op->ec = make_error_code(errc::encode_error);
            try {
                std::rethrow_exception(op->encode_failure);
            } catch (const pgcoro::error& e) {
                op->ec = e.code();
                op->diag = e.diagnostics();
            } catch (const std::exception& e) {
                op->diag.message = e.what();
            }
            // Completed by the next step(), never inside the call that started it.
            pipe_.completed().push_back(std::move(op));
            return;
        }
        if (observer_ && op->handler && op != types_op_) {  // the type lookup is pgcoro's own
            observer_->on_statement_start(op->sql, op->params.count());
            op->started_at = std::chrono::steady_clock::now();
        }
#ifndef LIBPQ_HAS_SEND_PIPELINE_SYNC
        // The server is busy with earlier statements: this one can wait for the end of
        // the turn with the others (corked), instead of waking it for a packet of its own.
        if (!corked_ && can_cork_ && pipe_.in_flight() > 0 && pipe_.live()) {
            set_cork(true);
            if (!turn_open_) open_turn();
        }
#endif
        pipe_.start(std::move(op));
        started_one();
    }

    /// An op went into libpq's buffer during this turn.
    void started_one() {
#ifdef LIBPQ_HAS_SEND_PIPELINE_SYNC
        // Nothing was flushed: flush once when the turn ends.
        if (!turn_open_) open_turn();
#else
        // Each Sync flushed. A lone op on an idle connection went out by itself; from the
        // second op of a turn on, hold the bytes in the kernel (cork) until the turn ends.
        if (!turn_open_) {
            if (pipe_.in_flight() > 1) open_turn();
        } else if (!corked_ && can_cork_ && pipe_.live()) {
            set_cork(true);
        }
#endif
    }

    /// The turns opened on this thread while a read handler of `strand` runs: they end
    /// when it returns, with no post (a pool's connections share one strand, so a caller
    /// resumed by a result of connection A whose next statement goes to B is sent with
    /// A's batch; on an io_context run by two threads, no post wakes the other thread).
    struct read_turns {
        static constexpr std::size_t capacity = 8;
        const strand_type* strand;
        std::array<std::shared_ptr<connection_impl>, capacity> opened{};
        std::size_t count = 0;
        read_turns* outer;

        explicit read_turns(const strand_type& s) : strand(&s), outer(std::exchange(current(), this)) {}
        read_turns(const read_turns&) = delete;
        read_turns& operator=(const read_turns&) = delete;
        ~read_turns() {
            current() = outer;
            // Only when a handler threw: end the rest as usual (a cork left on is
            // released by the kernel after 200 ms at worst).
            for (std::size_t i = 0; i < count; ++i) {
                try {
                    opened[i]->post_end_turn();
                } catch (...) {
                }
            }
        }
        static read_turns*& current() noexcept {
            static thread_local read_turns* p = nullptr;
            return p;
        }
        bool add(connection_impl& c) {
            if (count == capacity || !(*strand == c.strand_)) return false;
            opened[count++] = c.shared_from_this();
            return true;
        }
        /// Ends every turn opened, on the strand, before the handler returns.
        void end_all() {
            for (; count > 0; --count) {
                auto c = std::move(opened[count - 1]);
                if (!c->turn_open_) continue;
                c->flush_turn();
                c->drive();  // the write wait, if libpq kept bytes back
            }
        }
    };

    /// A turn ends when the strand gets to the end_turn posted here, or earlier, when the
    /// read handler that set its statements off returns (read_turns). One end_turn is
    /// posted at a time: one still on its way after an early end closes the next turn.
    void open_turn() {
        turn_open_ = true;
        if (end_turn_posted_) return;
        if (auto* t = read_turns::current(); t && t->add(*this)) return;
        post_end_turn();
    }

    void post_end_turn() {
        if (end_turn_posted_) return;
        end_turn_posted_ = true;
        boost::asio::post(strand_, [self = shared_from_this()] { self->end_turn(); });
    }

    void end_turn() {
        end_turn_posted_ = false;
        if (!turn_open_) return;  // ended early
        flush_turn();
        step();
    }

    void flush_turn() {
        turn_open_ = false;
        pipe_.flush();
        if (corked_) set_cork(false);
    }

    void set_cork(bool on) {
        int v = on ? 1 : 0;
        if (::setsockopt(PQsocket(conn_.get()), IPPROTO_TCP, TCP_CORK, &v, sizeof v) == 0) corked_ = on;
        else can_cork_ = corked_ = false;
    }

    /// After every input: hand out completed ops, send cancel requests, wait for the
    /// socket as the pipeline wants, publish the snapshots, finish closing.
    void step() {
        drive_exclusive();
        // Snapshots first: a caller resumed inline below must see the state its result
        // left behind (is_open, transaction status, statements in flight).
        publish();
        if (!completing_now_) {
            // A caller resumed here may start statements at once (exec() on the strand):
            // they only drive(); their completions are picked up by this loop.
            completing_now_ = true;
            while (!pipe_.completed().empty()) {
                std::swap(completing_, pipe_.completed());
                for (auto& op : completing_) complete(op);
                completing_.clear();
            }
            completing_now_ = false;
        }
        if (auto sink = sink_.lock()) {
            if (!pipe_.notifications().empty()) {
                std::swap(notifying_, pipe_.notifications());
                for (auto& n : notifying_) sink->on_notification(std::move(n));
                notifying_.clear();
            }
            if (pipe_.finished() && !lost_reported_) {
                lost_reported_ = true;
                sink->on_connection_lost();
            }
        } else {
            pipe_.notifications().clear();
        }
        drive();
    }

    /// Sends cancel requests, waits for the socket as the pipeline wants, publishes the
    /// snapshots, finishes closing.
    void drive() {
        for (std::uint64_t ticket : pipe_.take_cancels_to_send()) send_cancel(ticket);
        if (pipe_.wants_write()) arm_write();
        if (pipe_.wants_read()) arm_read();
        publish();
        if (silence_.enabled()) {
            const op_ptr& ex = pipe_.exclusive_op();
            bool awaiting = pipe_.live() && (ex ? ex->task->started() && ex->task->wants_read() : pipe_.in_flight() > 0);
            silence_.update(awaiting, weak_from_this(), [](connection_impl& c) {
                c.pipe_.break_connection(c.silence_.message());
                c.step();
            });
        }
        if (pipe_.finished()) {
            silence_.stop();
            if (corked_) set_cork(false);
            release_socket();
            conn_.reset();  // PQfinish: sends Terminate (non-blocking) and closes
            complete_close_waiters();
        }
    }

    void complete(op_ptr& p) {
        exec_op& op = *p;
        if (op.task) {  // an exclusive op that never ran, or lost its connection
            auto task = std::move(op.task);
            task->on_lost(op.ec, std::move(op.diag));
            task->deliver();
            return;
        }
        if (!op.handler) return;
        if (p == types_op_) return finish(op, false);
        if (types_.hold(p)) return look_up_types();
        finish(op);
    }

    void finish(exec_op& op, bool observed = true) {
        if (observer_ && observed) observe_finish(op);
        // An empty catalog reads like none: no reference count to touch per statement.
        const catalog_ptr& types = types_.catalog();
        exec_outcome out{std::move(op.result), op.ec ? std::make_unique<diagnostics>(std::move(op.diag)) : nullptr,
                         types->size() ? types : nullptr};
        op.handler.complete(strand_, op.ec, std::move(out));
    }

    /// Results with columns of types not looked up yet wait (type_gate) for one query
    /// that describes them. It goes after what is in flight and before anything queued
    /// (a script, a row stream, a COPY), and during a graceful close too; only a row stream
    /// or COPY already running when it is needed makes it wait for its end.
    struct types_answer {
        std::weak_ptr<connection_impl> self;
        void operator()(boost::system::error_code ec, exec_outcome out) {
            auto s = self.lock();
            if (!s) return;
            s->types_op_.reset();
            for (auto& op : s->types_.on_answer(ec ? nullptr : out.result.get())) s->finish(*op);
            s->look_up_types();
        }
    };

    void look_up_types() {
        std::vector<std::int64_t> oids = types_.to_look_up();
        if (oids.empty()) return;
        auto op = std::make_shared<exec_op>(type_lookup_sql(server_version_), encoded_params{});
        encode_params_into(op->params, oids);
        op->handler.emplace(types_answer{weak_from_this()});
        types_op_ = op;
        pipe_.start_first(std::move(op));
        started_one();
    }

    /// A caller gave up on an op whose result waits for a type lookup: it completes now.
    bool cancel_held(const exec_op* op) {
        op_ptr held = types_.take(op);
        if (!held) return false;
        held->ec = boost::asio::error::operation_aborted;
        held->diag = diagnostics();
        held->diag.message = "the operation was cancelled";
        held->result.reset();
        finish(*held);
        return true;
    }

    void observe_finish(const exec_op& op) {
        statement_event ev;
        ev.sql = op.sql;
        ev.parameter_count = op.params.count();
        if (op.started_at != std::chrono::steady_clock::time_point()) ev.duration = std::chrono::steady_clock::now() - op.started_at;
        ev.error = op.ec;
        ev.diagnostics = op.ec && op.diag.from_server() ? &op.diag : nullptr;
        ev.backend_pid = backend_pid_;
        if (!op.ec) ev.rows = affected_rows_of(op.result.get());
        observer_->on_statement_finish(ev);
    }

    /// The exclusive op's turn: start it, move it on, give the connection back when it is
    /// over (the next exclusive op may start then), wait for the socket as it wants.
    void drive_exclusive() {
        for (;;) {
            op_ptr op = pipe_.exclusive_op();
            if (!op) return;
            exclusive_task& t = *op->task;
            if (!t.started()) {
                t.catalog = types_.catalog();
                t.begin(pipe_.wire(), *op);
            }
            t.advance();
            if (t.take_cancel_request()) pipe_.cancel_exclusive();
            if (!t.broken().empty()) {
                pipe_.break_connection(t.broken());  // completes op: its task hears on_lost
                return;
            }
            if (t.finished()) {
                auto task = op->task;
                pipe_.end_exclusive(t.hit_by_cancel());
                pipe_.flush();  // the statements it held went out
                task->deliver();
                continue;
            }
            if (t.wants_write()) arm_write();
            if (t.wants_read()) arm_read();
            t.deliver();
            return;
        }
    }

    void send_cancel(std::uint64_t ticket) {
        canceller_.send(strand_, [w = weak_from_this(), ticket] {
            if (auto s = w.lock())
                boost::asio::post(s->strand_, [s, ticket] {
                    s->pipe_.on_cancel_delivered(ticket);
                    s->step();
                });
        });
    }

    void probe_idle() {
        if (!pipe_.live() || pipe_.in_flight() != 0 || reading_) return;
        // A server closing the connection sends FATAL, then the end of the stream; one
        // read may get only the message, so read on while the socket stays readable.
        for (int reads = 0; reads < 8 && pipe_.live(); ++reads) {
            pollfd p{PQsocket(conn_.get()), POLLIN, 0};
            if (::poll(&p, 1, 0) <= 0) return;
            pipe_.on_readable();
        }
    }

    void arm_read() {
        if (reading_) return;
        reading_ = true;
        // (Each wait costs Asio an epoll_ctl; a speculative one-byte peek instead trades it
        // for a recvfrom and measured no faster.)
        sock_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [self = shared_from_this()](boost::system::error_code ec) {
                             self->reading_ = false;
                             self->silence_.on_input();
                             read_turns turns(self->strand_);
                             if (ec) {
                                 if (ec != boost::asio::error::operation_aborted) self->pipe_.break_connection(ec.message());
                             } else if (const auto& op = self->pipe_.exclusive_op()) {
                                 op->task->on_readable();
                             } else {
                                 self->pipe_.on_readable();
                             }
                             self->step();
                             // Statements the results just read set off (callers resumed
                             // inline above) leave now, as one batch: the server is waiting.
                             turns.end_all();
                         });
    }

    void arm_write() {
        if (writing_) return;
        writing_ = true;
        sock_.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                         [self = shared_from_this()](boost::system::error_code ec) {
                             self->writing_ = false;
                             if (!ec) {
                                 if (const auto& op = self->pipe_.exclusive_op()) op->task->on_writable();
                                 else self->pipe_.flush();
                             }
                             self->step();
                         });
    }

    void publish() {
        open_.store(pipe_.live() && pipe_.current_state() == decltype(pipe_)::state::open, std::memory_order_release);
        tx_status_.store(static_cast<int>(pipe_.transaction_status()), std::memory_order_release);
        in_flight_.store(pipe_.in_flight(), std::memory_order_release);
        cancel_pending_.store(pipe_.pending_cancels() > 0, std::memory_order_release);
        resends_.store(pipe_.resends(), std::memory_order_relaxed);
        if (pipe_.session_changed()) {
            pipe_.clear_session_changed();
            session_changed_.store(true, std::memory_order_release);
        }
    }

    void complete_close_waiters() {
        auto waiters = std::move(close_waiters_);
        close_waiters_.clear();
        boost::system::error_code ec = close_result_;
        if (!ec && pipe_.current_state() == decltype(pipe_)::state::broken) ec = make_error_code(errc::connection_broken);
        for (auto& h : waiters) complete_on_executor(std::move(h), strand_, ec);
    }

    void release_socket() noexcept {
        // The descriptor belongs to libpq: stop watching it but never close it here.
        if (sock_.is_open()) {
            boost::system::error_code ignored;
            sock_.cancel(ignored);
            (void)sock_.release();
        }
    }

    static void notice_receiver(void* arg, const PGresult* res) {
        auto* self = static_cast<connection_impl*>(arg);
        if (self->notice_handler_) {
            notice n = diagnostics_from(res);
            try {
                self->notice_handler_(n);
            } catch (...) {
                // A throwing notice handler must not unwind through libpq.
            }
        }
    }

    std::shared_ptr<observer> observer_;  // immutable after construction
    strand_type strand_;
    boost::asio::posix::stream_descriptor sock_;
    pgconn_ptr conn_;
    pipeline<pq_wire, exec_op> pipe_;
    canceller canceller_;
    silence_watch silence_;
    std::vector<op_ptr> completing_;
    type_gate<exec_op> types_;
    op_ptr types_op_;  // the type lookup in flight
    std::vector<boost::asio::any_completion_handler<void(boost::system::error_code)>> close_waiters_;
    boost::system::error_code close_result_;
    std::function<void(const notice&)> notice_handler_;
    std::atomic<bool> has_notice_handler_{false};  ///< set by a caller: a pool clears it on return
    std::weak_ptr<notification_sink> sink_;
    std::vector<notification> notifying_;
    bool lost_reported_ = false;
    std::atomic<bool> open_{true};
    std::atomic<int> tx_status_{PQTRANS_IDLE};
    std::atomic<std::size_t> in_flight_{0};
    std::atomic<bool> session_changed_{false};
    std::atomic<bool> cancel_pending_{false};
    std::atomic<std::uint64_t> resends_{0};
    bool reading_ = false;
    bool writing_ = false;
    bool turn_open_ = false;
    bool end_turn_posted_ = false;
    bool completing_now_ = false;
    bool corked_ = false;
    bool can_cork_ = false;
    const int backend_pid_;
    const int server_version_;
};

}  // namespace pgcoro::detail

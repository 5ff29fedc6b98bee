// pgcoro/detail/pipeline.hpp — the connection's pipeline as a sans-io state machine.
//
// It decides; it never waits. Every statement is an op in a FIFO. An op is sent when it
// reaches the pipeline (Parse/Bind/Execute, or Bind/Execute for a cached statement, then
// a Sync), so many callers share one round trip; a Sync after every op confines an error
// to its own op. Results are read in order: each op's results end with PIPELINE_SYNC.
// A script op (several statements, the simple query protocol) waits for the FIFO to
// drain, leaves pipeline mode, and holds the ops called after it until it is done. An
// exclusive op (COPY, a row stream) waits the same way; then the pipeline hands the
// connection to the driver, which runs the op's own state machine (copy_machine.hpp,
// row_stream_machine.hpp) until end_exclusive(). COPY leaves pipeline mode; a row stream
// stays in it (libpq resets single-row mode only for the next query of a pipeline).
//
// It talks to libpq only through `Wire` (send prepare / send prepared / send params /
// sync / consume / next result / flush ...: see pq_wire in pgcoro/detail/pq_wire.hpp),
// so unit tests drive it with a scripted fake and no server. Its outputs are state the
// driver reads after each step: completed ops (to hand to their callers), cancel
// requests to send, and whether to wait for the socket to be readable or writable.
//
// Cancellation: see cancel_ledger.hpp. A 57014 on an op nobody cancelled, put down to
// one of pgcoro's cancels, gets the op sent again when it ran outside a transaction block.
// The same re-send covers an op that used a cached statement whose Prepare, sent by
// another op just ahead of it, failed (26000), or whose plan went stale (0A000).
#pragma once

#include <pgcoro/detail/cancel_ledger.hpp>
#include <pgcoro/detail/params.hpp>
#include <pgcoro/detail/ring.hpp>
#include <pgcoro/detail/sql_keywords.hpp>
#include <pgcoro/detail/statement_cache.hpp>
#include <pgcoro/diagnostics.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/notification.hpp>

#include <boost/asio/error.hpp>

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgcoro::detail {

enum class op_kind : std::uint8_t {
    statement,  ///< one statement, extended protocol, binary results
    script,     ///< several statements, simple query protocol, outside pipeline mode
    internal,   ///< pgcoro's own statement (DEALLOCATE of an evicted one): nobody waits
    settle,     ///< a bare Sync, to settle delivered cancel requests before a script
    exclusive,  ///< a COPY or a row stream: the driver runs it alone (a COPY outside pipeline mode)
};

/// The pipeline's part of an op. The driver's op type derives from it (adding the
/// caller's handler); the pipeline never looks past this.
template <class Result>
struct basic_op {
    basic_op() = default;
    basic_op(std::string s, encoded_params p, op_kind k = op_kind::statement)
        : sql(std::move(s)), params(std::move(p)), kind(k) {}

    std::string sql;
    encoded_params params;
    op_kind kind = op_kind::statement;
    /// An exclusive op's: leave pipeline mode for it (COPY); a row stream stays in it.
    bool leaves_pipeline = true;

    // Progress, owned by the pipeline.
    bool completed = false;           ///< handed to completed() (or nobody waits)
    bool cancel_requested = false;    ///< its caller gave up on it
    bool server_cancel_sent = false;  ///< a cancel request went out for it
    int statements = 1;               ///< result sets before its Sync: 2 when a Prepare leads
    int statements_done = 0;
    int resends = 0;                  ///< re-sent after another caller's cancel or a lost Prepare
    std::uint64_t seq = 0;            ///< order of sending
    std::string prepared_name;        ///< the cached statement it uses, if any
    bool prepares = false;            ///< it carries that statement's Prepare
    bool hit_by_cancel = false;       ///< the server answered 57014 (query_canceled)

    Result result;
    boost::system::error_code ec;
    diagnostics diag;

    /// Ready to be sent again (or, after recycling, for a new statement).
    void reset_progress() {
        completed = cancel_requested = server_cancel_sent = prepares = hit_by_cancel = false;
        statements = 1;
        statements_done = 0;
        prepared_name.clear();
        result = Result();
        ec.clear();
        diag = diagnostics();
    }
};

template <class Wire, class Op>
class pipeline {
public:
    using op_ptr = std::shared_ptr<Op>;
    using result_type = typename Wire::result_type;
    enum class state { open, closing, closed, broken };

    pipeline(Wire wire, std::size_t cache_size, PGTransactionStatusType tx)
        : wire_(std::move(wire)), cache_(cache_size), tx_(tx) {}

    // ---- inputs --------------------------------------------------------------------

    /// A new op. Sent at once (into libpq's buffer: the driver flushes at the end of its
    /// turn), or held behind a script, or failed when the connection is not open.
    void start(op_ptr op) {
        if (op->completed) return;  // cancelled before it got here
        if (state_ != state::open) {
            fail(op, make_error_code(state_ == state::broken ? errc::connection_broken : errc::connection_closed),
                 state_ == state::broken ? broken_message_ : std::string("the connection is closed"));
            return;
        }
        if ((op->kind == op_kind::script || (op->kind == op_kind::statement && might_begin_with_copy(op->sql))) &&
            copies_with_client(op->sql)) {
            fail(op, make_error_code(errc::invalid_argument),
                 "COPY FROM STDIN / TO STDOUT needs an operation of its own: copy_in_raw(), copy_out_raw(), "
                 "copy_in() or copy_out() (as a statement it would leave the connection in COPY mode)");
            return;
        }
        if (script_running_ || exclusive_ || !held_.empty() || op->kind == op_kind::script ||
            op->kind == op_kind::exclusive) {
            held_.push_back(std::move(op));
            release_held();
            return;
        }
        send_op(std::move(op));
    }

    /// The socket became readable: read what is there and complete what is whole.
    void on_readable() {
        if (!live() || exclusive_) return;  // the exclusive op's machine reads
        bool read = wire_.consume_input();
        if (read) {
            if (script_running_) process_script_results();
            else process_results();
        }
        take_notifications();  // even those read just before the connection failed
        if (!read) return break_connection(wire_.error_message());
        if (!live()) return;
        release_held();
        if (wire_.bad()) return break_connection(wire_.error_message());
        request_head_cancel();
        maybe_finish_close();
    }

    /// Pushes libpq's output buffer; wants_write() says whether some is left.
    void flush() {
        if (!live() || exclusive_) return;
        int r = wire_.flush();
        if (r < 0) return break_connection(wire_.error_message());
        need_flush_ = r == 1;
    }

    /// The op's caller gave up: the op completes now with operation_aborted; if it is the
    /// one the server runs, a cancel request is asked for; its results are dropped later.
    void cancel(const op_ptr& op) {
        if (op->completed) return;
        op->cancel_requested = true;
        fail(op, boost::asio::error::operation_aborted, "the operation was cancelled");
        request_head_cancel();
    }

    /// The cancel request with this ticket (from take_cancels_to_send()) reached the
    /// server (or failed: it then settles the same way, harmlessly). Requests may come
    /// back in any order; one whose hits were all accounted for already is gone.
    void on_cancel_delivered(std::uint64_t ticket) {
        cancels_.delivered(ticket, next_seq_);
        release_held();  // a script may be waiting for cancels to settle
    }

    /// The op the driver runs alone now, or null. The driver gives
    /// the connection back with end_exclusive().
    const op_ptr& exclusive_op() const noexcept { return exclusive_; }

    /// The exclusive op needs the statement it runs cancelled (its caller went away in
    /// the middle): a tracked cancel request, settled like any other.
    void cancel_exclusive() {
        if (exclusive_ && live()) cancels_.request();
    }

    /// The exclusive op is over: `hit_by_cancel` when the server answered it with 57014.
    /// The pipeline takes the connection back (pipeline mode again) and releases the ops
    /// held behind it.
    void end_exclusive(bool hit_by_cancel) {
        if (!exclusive_ || !live()) return;
        auto op = std::move(exclusive_);  // (leaves exclusive_ null)
        if (hit_by_cancel) cancels_.take_hit();
        cancels_.settle(op->seq);
        if (!inflight_.empty() && inflight_.front() == op) inflight_.pop_front();
        tx_ = wire_.transaction_status();  // nothing is queued now: libpq knows it
        op->completed = true;  // its caller was answered by the driver
        if (op->leaves_pipeline && !wire_.enter_pipeline()) return break_connection(wire_.error_message());
        release_held();
        maybe_finish_close();
    }

    /// Watch the connection while idle too (a listener): notifications, and the server
    /// going away, are then noticed as they happen.
    void watch(bool on) noexcept { watching_ = on; }

    /// Graceful close: once nothing is in flight or held, the state becomes closed.
    void close() {
        if (state_ == state::open) state_ = state::closing;
        graceful_ = state_ == state::closing;
        maybe_finish_close();
    }

    /// The driver's own statement for results it holds already (a type lookup): it goes
    /// before anything held (a queued script or exclusive op), and it may start while a
    /// graceful close waits, even once the last statement has drained (the driver lets go
    /// of a closed connection only after handing out every completion).
    void start_first(op_ptr op) {
        if (state_ == state::closed && graceful_) state_ = state::closing;
        if (!live()) {
            fail(op, make_error_code(state_ == state::broken ? errc::connection_broken : errc::connection_closed),
                 state_ == state::broken ? broken_message_ : std::string("the connection is closed"));
            return;
        }
        if (script_running_ || exclusive_) held_.push_front(std::move(op));
        else send_op(std::move(op));
    }

    /// Immediate close: everything pending fails with connection_closed; the statement
    /// running on the server is cancelled.
    void shutdown() {
        graceful_ = false;
        if (state_ == state::closed) return;
        if (state_ != state::broken && !inflight_.empty() && !inflight_.front()->completed)
            cancels_.request_untracked();  // nothing waits on it: the connection is gone
        state_ = state::closed;
        fail_all(make_error_code(errc::connection_closed), "the connection was closed", false);
    }

    /// The driver found the connection dead (socket error, ...).
    void break_connection(const std::string& message) {
        if (state_ == state::broken || state_ == state::closed) return;
        state_ = state::broken;
        broken_message_ = message.empty() ? "the connection to the server was lost" : message;
        fail_all(make_error_code(errc::connection_broken), broken_message_, true);
    }

    // ---- outputs -------------------------------------------------------------------

    /// Ops whose outcome is in (result or ec/diag), in completion order; the driver hands
    /// each to its caller and clears the list.
    std::vector<op_ptr>& completed() noexcept { return completed_; }
    /// Notifications read, in arrival order; the driver hands them on and clears the list.
    std::vector<notification>& notifications() noexcept { return notifications_; }
    /// Cancel requests to send now, one ticket each: the driver reports each back by
    /// on_cancel_delivered(ticket).
    std::vector<std::uint64_t> take_cancels_to_send() noexcept { return cancels_.take_to_send(); }
    bool wants_read() const noexcept { return live() && !exclusive_ && (!inflight_.empty() || watching_); }
    bool wants_write() const noexcept { return live() && !exclusive_ && need_flush_; }

    state current_state() const noexcept { return state_; }
    bool live() const noexcept { return state_ == state::open || state_ == state::closing; }
    /// True when closed or broken, and the driver may let go of the connection.
    bool finished() const noexcept { return !live(); }
    const std::string& broken_message() const noexcept { return broken_message_; }
    PGTransactionStatusType transaction_status() const noexcept { return tx_; }
    std::size_t in_flight() const noexcept { return inflight_.size(); }
    bool idle() const noexcept { return inflight_.empty() && held_.empty(); }
    bool session_changed() const noexcept { return session_changed_; }
    void clear_session_changed() noexcept { session_changed_ = false; }
    std::size_t pending_cancels() const noexcept { return cancels_.pending(); }
    std::uint64_t resends() const noexcept { return resends_; }
    const statement_cache& cache() const noexcept { return cache_; }
    Wire& wire() noexcept { return wire_; }

private:
    // ---- sending ---------------------------------------------------------------------

    void send_op(op_ptr op) {
        op->seq = next_seq_++;
        bool ok = true;
        if (op->kind == op_kind::settle) {
            op->statements = 0;
            ok = wire_.send_sync();
        } else if (op->kind == op_kind::statement && cache_.capacity() > 0) {
            ok = send_cached(*op);
        } else {
            ok = wire_.send_params(op->sql, op->params) && wire_.send_sync();
        }
        if (!ok) return send_failed(op);
        inflight_.push_back(std::move(op));
    }

    bool send_cached(Op& op) {
        statement_cache::make_key(key_, op.sql, op.params.types);
        if (const std::string* name = cache_.find(key_)) {
            op.prepared_name = *name;
        } else {
            op.prepared_name = "pgcoro_";
            op.prepared_name += std::to_string(++statement_counter_);
            op.prepares = true;
            op.statements = 2;
            // The evicted statement is dropped first: its DEALLOCATE and Sync must not
            // come between this op's Prepare and its Execute.
            if (auto evicted = cache_.insert(key_, op.prepared_name)) deallocate(*evicted);
            if (!wire_.send_prepare(op.prepared_name, op.sql, op.params)) return false;
        }
        return wire_.send_prepared(op.prepared_name, op.params) && wire_.send_sync();
    }

    /// An evicted statement is dropped on the server by an internal op. Ops already in
    /// flight that use it run before it; later ones prepare it anew.
    void deallocate(const std::string& name) {
        auto op = std::make_shared<Op>();
        op->sql = "DEALLOCATE " + name;
        op->kind = op_kind::internal;
        op->completed = true;  // nobody waits for it
        op->seq = next_seq_++;
        if (!wire_.send_params(op->sql, op->params) || !wire_.send_sync()) return;  // the next send fails too
        inflight_.push_back(std::move(op));
    }

    void send_failed(const op_ptr& op) {
        std::string msg = wire_.error_message();
        break_connection(msg);
        fail(op, make_error_code(errc::connection_broken), msg);
    }

    /// Moves held ops forward: a script starts once the pipeline is empty and no cancel
    /// request is pending; the ops behind it go out once it is done.
    void release_held() {
        while (!held_.empty() && !script_running_ && !exclusive_ && live()) {
            auto& op = held_.front();
            if (op->completed) {
                held_.pop_front();
                continue;
            }
            if (op->kind != op_kind::script && op->kind != op_kind::exclusive) {
                auto o = std::move(op);
                held_.pop_front();
                send_op(std::move(o));
                continue;
            }
            if (!inflight_.empty()) return;  // wait for the pipeline to drain
            if (cancels_.pending()) {
                // Settle delivered cancels with a bare Sync; wait for undelivered ones.
                if (cancels_.all_delivered()) {
                    auto s = std::make_shared<Op>();
                    s->kind = op_kind::settle;
                    s->completed = true;
                    send_op(std::move(s));
                }
                return;
            }
            auto o = std::move(op);
            held_.pop_front();
            if (o->kind == op_kind::exclusive) start_exclusive(std::move(o));
            else start_script(std::move(o));
        }
    }

    void start_exclusive(op_ptr op) {
        if (op->leaves_pipeline && !wire_.exit_pipeline()) return send_failed(op);
        op->seq = next_seq_++;
        exclusive_ = op;
        inflight_.push_back(std::move(op));
    }

    void start_script(op_ptr op) {
        if (!wire_.exit_pipeline() || !wire_.send_simple(op->sql)) return send_failed(op);
        script_running_ = true;
        op->seq = next_seq_++;
        inflight_.push_back(std::move(op));
    }

    /// Asks for a server-side cancel of the head op when its caller gave up on it. Only
    /// the head runs on the server; a cancelled op further back is cancelled when it
    /// reaches the head, if its results are not in by then.
    void request_head_cancel() {
        if (inflight_.empty() || !live()) return;
        Op& head = *inflight_.front();
        if (head.cancel_requested && !head.server_cancel_sent) {
            head.server_cancel_sent = true;
            cancels_.request();
        }
    }

    // ---- reading ---------------------------------------------------------------------

    void process_results() {
        while (!inflight_.empty() && live() && !wire_.is_busy()) {
            Op& op = *inflight_.front();
            result_type res = wire_.next_result();
            if (!res) {  // the end of one statement's results; its Sync comes next
                ++op.statements_done;
                continue;
            }
            ExecStatusType st = Wire::status(res);
            if (st == PGRES_PIPELINE_SYNC) {
                finish_head();
            } else if (st == PGRES_PIPELINE_ABORTED) {
                // Only the Execute behind a failed Prepare of the same op gets here (a Sync
                // follows every op), and that Prepare's error was kept.
                if (!op.ec) set_error(op, make_error_code(errc::protocol_error), "statement skipped by the server");
            } else if (!take_result(op, res, op.statements_done == op.statements - 1)) {
                // COPY or anything else pipeline mode cannot carry: the protocol state is
                // unknown from here on.
                return break_connection("unexpected result status " + std::string(PQresStatus(st)) +
                                        " (COPY is not supported on a pipelined connection)");
            }
        }
    }

    /// A statement's result or error, kept on the op: the main statement's result (not a
    /// Prepare's), the first error. False for a status the pipeline cannot carry.
    bool take_result(Op& op, result_type& res, bool main_statement) {
        switch (Wire::status(res)) {
        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
        case PGRES_EMPTY_QUERY:
            if (main_statement) {
                note_command(op, res);
                if (!op.ec) op.result = std::move(res);
            }
            return true;
        case PGRES_FATAL_ERROR:
        case PGRES_BAD_RESPONSE:
        case PGRES_NONFATAL_ERROR:
            record_error(op, res, !main_statement);
            return true;
        default:
            return false;
        }
    }

    /// Results of a script: one per statement, then none; the first error is kept (the
    /// server stops there), the last result is the op's.
    void process_script_results() {
        while (!inflight_.empty() && live() && !wire_.is_busy()) {
            Op& op = *inflight_.front();
            result_type res = wire_.next_result();
            if (!res) {
                script_running_ = false;
                bool back = wire_.enter_pipeline();
                session_changed_ = true;  // a script may do anything
                auto done = pop_head();
                complete(done);
                if (!back) break_connection(wire_.error_message());
                return;
            }
            if (!take_result(op, res, true))
                return break_connection("unexpected result status " + std::string(PQresStatus(Wire::status(res))) +
                                        " in a script (COPY is not supported)");
        }
    }

    /// The head op's Sync is in: settle cancels, re-send or complete it.
    void finish_head() {
        bool was_idle = tx_ == PQTRANS_IDLE;  // before this op ran
        auto op = pop_head();
        if (op->kind == op_kind::settle) return cancels_.settle(op->seq);
        // Sent again only when it ran as its own implicit transaction (rolled back whole).
        // Read the SQL only then: not on the path of every statement.
        auto may_resend = [&] { return was_idle && !transaction_control(op->sql); };
        // A 57014 is put down to a pending cancel before this op's Sync settles anything:
        // a signal the backend takes late in the statement before (after its last check
        // for interrupts) survives the reading of the next message, which is in its buffer
        // already, and hits that one, sent after delivery though it was.
        if (op->hit_by_cancel && cancels_.take_hit()) {
            // Ours: pgcoro's cancel hit it (its own, or one meant for another op).
            cancels_.settle(op->seq);
            if (!op->cancel_requested && may_resend() && resend(op)) return;
        } else {
            cancels_.settle(op->seq);
            if (op->ec && stale_statement(*op) && !op->completed && op->resends < 2 && may_resend() && resend(op)) return;
        }
        complete(op);
    }

    /// 26000 for a statement pgcoro prepared (its Prepare failed, or DEALLOCATE ALL /
    /// DISCARD ALL dropped it) or 0A000 "cached plan must not change result type".
    static bool stale_statement(const Op& op) {
        if (op.prepared_name.empty() || op.prepares) return false;
        return op.diag.sqlstate == "26000" ||
               (op.diag.sqlstate == "0A000" && op.diag.message.find("cached plan") != std::string::npos);
    }

    bool resend(const op_ptr& op) {
        if (!live() || op->completed) return false;
        ++op->resends;
        ++resends_;
        op->reset_progress();
        if (script_running_ || exclusive_ || !held_.empty()) held_.push_front(op);
        else send_op(op);
        return true;
    }

    op_ptr pop_head() {
        auto done = std::move(inflight_.front());
        inflight_.pop_front();
        track_transaction(*done);
        return done;
    }

    /// The transaction status after the op that just ended. libpq reports it only while
    /// nothing else is queued (otherwise PQTRANS_ACTIVE), so it is followed from the
    /// command tags in between: BEGIN / START TRANSACTION open a block; COMMIT, ROLLBACK
    /// and PREPARE TRANSACTION close it (ROLLBACK TO SAVEPOINT keeps it); an error inside
    /// a block fails it; an error outside leaves the session idle. libpq's own answer,
    /// whenever it has one, overrides (so COMMIT AND CHAIN is put right once idle).
    void track_transaction(const Op& op) {
        PGTransactionStatusType real = wire_.transaction_status();
        if (real != PQTRANS_ACTIVE && real != PQTRANS_UNKNOWN) {
            tx_ = real;
            return;
        }
        if (op.kind == op_kind::settle) return;
        std::string_view verb = leading_keyword(op.sql, keyword_);
        if (op.ec && op.ec != boost::asio::error::operation_aborted) {
            bool ends_block = verb == "COMMIT" || verb == "END" || verb == "ROLLBACK" || verb == "ABORT";
            tx_ = tx_ == PQTRANS_IDLE || ends_block ? PQTRANS_IDLE : PQTRANS_INERROR;
            return;
        }
        if (!op.result) return;  // cancelled by its caller and not answered yet
        std::string_view tag = Wire::command_tag(op.result);
        if (tag == "BEGIN" || tag == "START TRANSACTION") tx_ = PQTRANS_INTRANS;
        else if (tag == "COMMIT" || tag == "PREPARE TRANSACTION") tx_ = PQTRANS_IDLE;
        else if (tag == "ROLLBACK") tx_ = rolls_back_to_savepoint(op.sql) ? PQTRANS_INTRANS : PQTRANS_IDLE;
    }

    /// Statements that begin or end a transaction block are never sent again: their
    /// outcome decides what the session is in.
    bool transaction_control(std::string_view sql) {
        std::string_view v = leading_keyword(sql, keyword_);
        return v == "BEGIN" || v == "START" || v == "COMMIT" || v == "END" || v == "ROLLBACK" || v == "ABORT" ||
               v == "PREPARE" || v == "SAVEPOINT" || v == "RELEASE";
    }

    /// The command tag: the user's own DEALLOCATE ALL / DISCARD ALL drop pgcoro's prepared
    /// statements too, and some commands change the session for whoever uses the
    /// connection next (a pool resets it then). pgcoro's own DEALLOCATE changes nothing.
    void note_command(const Op& op, const result_type& res) {
        if (op.kind == op_kind::internal) return;
        std::string_view tag = Wire::command_tag(res);
        if (tag == "DEALLOCATE ALL" || tag == "DISCARD ALL") cache_.clear();
        static constexpr std::string_view session_tags[] = {
            "SET", "RESET", "LISTEN", "UNLISTEN", "PREPARE", "DECLARE CURSOR", "CREATE", "DEALLOCATE",
            "DISCARD", "BEGIN", "START TRANSACTION", "LOCK", "LOAD", "SAVEPOINT"};
        for (std::string_view t : session_tags) {
            if (tag.starts_with(t)) {
                session_changed_ = true;
                return;
            }
        }
    }

    void record_error(Op& op, const result_type& res, bool in_prepare) {
        diagnostics d = Wire::diagnostics_of(res);
        if (d.sqlstate == "57014") op.hit_by_cancel = true;
        if (!op.prepared_name.empty()) {
            // A failed Prepare leaves no statement; one the server no longer knows, or
            // whose plan changed shape, must be prepared anew.
            if (in_prepare || d.sqlstate == "26000" ||
                (d.sqlstate == "0A000" && d.message.find("cached plan") != std::string::npos))
                cache_.erase_name(op.prepared_name);
        }
        // pgcoro prepares each of its names once per session: the server already having
        // it means the session is not ours alone, a transaction pooler's doing.
        if (in_prepare && d.sqlstate == "42P05" && !op.prepared_name.empty() && d.hint.empty())
            d.hint = "the connection goes through a transaction-pooling proxy (PgBouncer pool_mode=transaction?), "
                     "which shares server sessions: set pool_config::pooler_safe (or connect_options::pooler_safe)";
        if (op.ec) return;  // keep the first (or the cancelled caller's operation_aborted)
        boost::system::error_code ec =
            d.sqlstate.empty() ? make_error_code(errc::connection_broken) : make_sqlstate_error(d.sqlstate);
        op.ec = ec;
        op.diag = std::move(d);
    }

    static void set_error(Op& op, boost::system::error_code ec, std::string message) {
        op.ec = ec;
        op.diag = diagnostics();
        op.diag.message = std::move(message);
    }

    // ---- completing ------------------------------------------------------------------

    void complete(const op_ptr& op) {
        if (op->completed) return;
        if (!op->ec && !op->result)
            set_error(*op, make_error_code(errc::protocol_error), "the server sent no result for the statement");
        op->completed = true;
        completed_.push_back(op);
    }

    void fail(const op_ptr& op, boost::system::error_code ec, std::string message) {
        if (op->completed) return;
        op->result = result_type();
        set_error(*op, ec, std::move(message));
        op->completed = true;
        completed_.push_back(op);
    }

    void fail_all(boost::system::error_code ec, const std::string& message, bool keep_answers) {
        auto ops = inflight_.take_all();
        for (auto& op : ops) {
            if (keep_answers && op->ec && op->diag.from_server() && op->statements_done > 0)
                complete(op);  // it had its answer (e.g. FATAL admin_shutdown) before the end
            else
                fail(op, ec, message);
        }
        for (auto& op : held_.take_all()) fail(op, ec, message);
        script_running_ = false;
        exclusive_.reset();
        cancels_.clear();
        need_flush_ = false;
    }

    void take_notifications() {
        notification n;
        while (wire_.next_notification(n)) notifications_.push_back(std::move(n));
    }

    void maybe_finish_close() {
        if (state_ == state::closing && inflight_.empty() && held_.empty()) state_ = state::closed;
    }

    Wire wire_;
    statement_cache cache_;
    std::string key_;     // reused for cache lookups
    keyword_buffer keyword_{};  // leading_keyword()'s
    std::uint64_t statement_counter_ = 0;
    std::uint64_t next_seq_ = 1;
    ring<op_ptr> inflight_;
    ring<op_ptr> held_;  // behind a script or an exclusive op, in order
    bool graceful_ = false;  // closed by close(), not shutdown(): start_first may reopen
    op_ptr exclusive_;   // the op the driver runs alone, while it runs
    std::vector<op_ptr> completed_;
    std::vector<notification> notifications_;
    cancel_ledger cancels_;
    std::uint64_t resends_ = 0;
    PGTransactionStatusType tx_;
    state state_ = state::open;
    std::string broken_message_;
    bool script_running_ = false;
    bool need_flush_ = false;
    bool watching_ = false;
    bool session_changed_ = false;
};

}  // namespace pgcoro::detail

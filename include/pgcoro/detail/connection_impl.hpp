// pgcoro/detail/connection_impl.hpp — one libpq connection in pipeline mode, driven by Asio.
//
// Every statement is an exec_op in a FIFO. An op is sent as soon as it reaches the strand
// (Parse/Bind/Execute, or just Bind/Execute for a cached prepared statement, then Sync),
// so many coroutines share one round trip. One reader drains results in order: each op's
// results end with PGRES_PIPELINE_SYNC, and the Sync after every op confines an error to
// its own op. A script op (several statements) waits for the FIFO to drain, runs with
// the simple query protocol outside pipeline mode, and holds the ops called after it in
// `held_` until it is done. All state below is touched only on `strand_`.
#pragma once

#include <pgcoro/detail/cancel.hpp>
#include <pgcoro/detail/completion.hpp>
#include <pgcoro/detail/params.hpp>
#include <pgcoro/detail/pq.hpp>
#include <pgcoro/diagnostics.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/observer.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <poll.h>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

namespace pgcoro::detail {

/// What an exec_op completes with. The diagnostics (15 strings) travel only on error.
struct exec_outcome {
    pgresult_ptr result;
    std::unique_ptr<diagnostics> diag;

    diagnostics take_diagnostics() { return diag ? std::move(*diag) : diagnostics{}; }
};

using exec_signature = void(boost::system::error_code, exec_outcome);

struct exec_op {
    exec_op(std::string s, encoded_params p) : sql(std::move(s)), params(std::move(p)) {}

    std::string sql;
    encoded_params params;
    std::exception_ptr encode_failure;  // set instead of params when encoding failed
    bool script = false;                // several statements, simple query protocol
    // Empty for internal ops. Never move-assigned: Boost 1.81's any_completion_handler
    // move assignment recurses without end (it constructs from an lvalue of itself), so
    // it is emplaced, move-constructed out and reset.
    std::optional<boost::asio::any_completion_handler<exec_signature>> handler;

    // Progress, on the strand.
    bool sent = false;
    bool completed = false;          // the handler was invoked (or there was none)
    bool cancel_requested = false;
    bool server_cancel_sent = false;
    int statements = 1;              // 2 when a Prepare goes out in front of the Execute
    int statements_done = 0;
    std::string prepared_name;       // the cached statement used, if any
    bool prepares = false;           // this op carries the Prepare of prepared_name

    pgresult_ptr result;
    boost::system::error_code ec;
    diagnostics diag;
};

/// A small LRU map: statement key (SQL + parameter OIDs) -> prepared statement name.
class statement_cache {
public:
    explicit statement_cache(std::size_t capacity) : capacity_(capacity) {}

    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t size() const noexcept { return map_.size(); }

    /// The name for key, refreshed as most recently used; nullptr when absent.
    const std::string* find(const std::string& key) {
        auto it = map_.find(key);
        if (it == map_.end()) return nullptr;
        lru_.splice(lru_.begin(), lru_, it->second);
        return &it->second->second;
    }
    /// Inserts key -> name; returns the name evicted to make room, if any.
    std::optional<std::string> insert(const std::string& key, std::string name) {
        std::optional<std::string> evicted;
        if (map_.size() >= capacity_ && !lru_.empty()) {
            evicted = std::move(lru_.back().second);
            map_.erase(lru_.back().first);
            lru_.pop_back();
        }
        lru_.emplace_front(key, std::move(name));
        map_[key] = lru_.begin();
        return evicted;
    }
    void clear() {
        map_.clear();
        lru_.clear();
    }
    /// Forgets the entry whose statement is called name (if still cached).
    void erase_name(const std::string& name) {
        for (auto it = lru_.begin(); it != lru_.end(); ++it) {
            if (it->second == name) {
                map_.erase(it->first);
                lru_.erase(it);
                return;
            }
        }
    }

private:
    using entry = std::pair<std::string, std::string>;
    std::size_t capacity_;
    std::list<entry> lru_;
    std::unordered_map<std::string, std::list<entry>::iterator> map_;
};

class connection_impl : public std::enable_shared_from_this<connection_impl> {
public:
    using strand_type = boost::asio::strand<boost::asio::any_io_executor>;

    /// Takes over a connected PGconn (on the caller's thread; nothing runs yet).
    connection_impl(const boost::asio::any_io_executor& ex, pgconn_ptr conn,
                    std::size_t statement_cache_size, std::shared_ptr<observer> obs = nullptr)
        : observer_(std::move(obs)),
          strand_(boost::asio::make_strand(ex)),
          sock_(strand_),
          conn_(std::move(conn)),
          cache_(statement_cache_size),
          backend_pid_(PQbackendPID(conn_.get())),
          server_version_(PQserverVersion(conn_.get())) {
        PQsetNoticeReceiver(conn_.get(), &connection_impl::notice_receiver, this);
        canceller_ = canceller(conn_.get());
        sock_.assign(PQsocket(conn_.get()));
        tx_status_.store(static_cast<int>(PQtransactionStatus(conn_.get())), std::memory_order_relaxed);
    }

    /// Checks, without a round trip, whether an idle connection is still usable: when the
    /// server closed it (pg_terminate_backend, shutdown) its socket is readable, and
    /// reading it finds the end. Completes with is_open(). (An idle connection is not
    /// watched continuously: that would keep io_context::run() from ever returning.)
    template <class Token>
    auto async_probe(Token&& token) {
        return boost::asio::async_initiate<Token, void(bool)>(
            [self = shared_from_this()](auto handler) {
                auto h = std::make_shared<boost::asio::any_completion_handler<void(bool)>>(std::move(handler));
                boost::asio::post(self->strand_, [self, h] {
                    self->probe_idle();
                    bool open = self->is_open();
                    boost::asio::any_completion_handler<void(bool)> hh(std::move(*h));
                    self->post_to_handler_executor(std::move(hh), [open](auto& x) { std::move(x)(open); });
                });
            },
            token);
    }

    ~connection_impl() { release_socket(); }

    connection_impl(const connection_impl&) = delete;
    connection_impl& operator=(const connection_impl&) = delete;

    const strand_type& strand() const noexcept { return strand_; }
    int backend_pid() const noexcept { return backend_pid_; }
    int server_version() const noexcept { return server_version_; }
    /// A snapshot: false once the connection was closed or found broken.
    bool is_open() const noexcept { return open_.load(std::memory_order_acquire); }
    /// A snapshot of PQtransactionStatus as of the last completed statement.
    PGTransactionStatusType transaction_status() const noexcept {
        return static_cast<PGTransactionStatusType>(tx_status_.load(std::memory_order_acquire));
    }
    /// Statements sent and not yet completed by the server (cancelled ones included).
    std::size_t in_flight() const noexcept { return in_flight_.load(std::memory_order_acquire); }
    /// True once a statement changed session state (SET, LISTEN, PREPARE, DECLARE, CREATE,
    /// ...) since the last clear_session_changed().
    bool session_changed() const noexcept { return session_changed_.load(std::memory_order_acquire); }
    void clear_session_changed() noexcept { session_changed_.store(false, std::memory_order_release); }
    const std::shared_ptr<observer>& get_observer() const noexcept { return observer_; }

    /// Runs op; completes with (error_code, exec_outcome). Cancellable: on cancellation the
    /// op completes with operation_aborted at once, a cancel request goes to the server
    /// when the op is the one running, and its results are read and dropped later.
    template <class Token>
    auto async_exec(std::shared_ptr<exec_op> op, Token&& token) {
        return boost::asio::async_initiate<Token, exec_signature>(
            [self = shared_from_this()](auto handler, std::shared_ptr<exec_op> op) {
                op->handler.emplace(std::move(handler));
                auto slot = boost::asio::get_associated_cancellation_slot(*op->handler);
                if (slot.is_connected()) {
                    slot.template emplace<cancel_handler>(self, op);
                }
                boost::asio::post(self->strand_, [self, op = std::move(op)]() mutable {
                    self->start(std::move(op));
                });
            },
            token, std::move(op));
    }

    /// Runs ops back to back in one round trip; completes when all have, with the first
    /// error (and its diagnostics). Not cancellable: used for short internal work.
    template <class Token>
    auto async_exec_batch(std::vector<std::shared_ptr<exec_op>> ops, Token&& token) {
        using sig = void(boost::system::error_code, diagnostics);
        return boost::asio::async_initiate<Token, sig>(
            [self = shared_from_this()](auto handler, std::vector<std::shared_ptr<exec_op>> ops) {
                struct batch {
                    std::size_t remaining = 0;
                    boost::system::error_code ec;
                    diagnostics diag;
                    std::optional<boost::asio::any_completion_handler<sig>> handler;
                };
                auto b = std::make_shared<batch>();
                b->remaining = ops.size();
                b->handler.emplace(std::move(handler));
                auto finish_batch = [self, b] {
                    boost::asio::any_completion_handler<sig> h(std::move(*b->handler));
                    b->handler.reset();
                    self->post_to_handler_executor(std::move(h), [ec = b->ec, d = std::move(b->diag)](auto& h) mutable {
                        std::move(h)(ec, std::move(d));
                    });
                };
                // Each op's own completion runs on the strand (no associated executor), so
                // the count needs no lock.
                for (auto& op : ops) {
                    op->handler.emplace([b, finish_batch](boost::system::error_code ec, exec_outcome out) {
                        if (ec && !b->ec) {
                            b->ec = ec;
                            b->diag = out.take_diagnostics();
                        }
                        if (--b->remaining == 0) finish_batch();
                    });
                }
                boost::asio::post(self->strand_, [self, ops = std::move(ops), finish_batch]() mutable {
                    if (ops.empty()) return finish_batch();
                    for (auto& op : ops) self->start(std::move(op));
                });
            },
            token, std::move(ops));
    }

    /// Graceful close: waits for the statements in flight, then says goodbye to the server.
    template <class Token>
    auto async_close(Token&& token) {
        using sig = void(boost::system::error_code);
        return boost::asio::async_initiate<Token, sig>(
            [self = shared_from_this()](auto handler) {
                auto h = std::make_unique<boost::asio::any_completion_handler<sig>>(std::move(handler));
                boost::asio::post(self->strand_, [self, h = std::shared_ptr(std::move(h))]() mutable {
                    self->close_waiters_.push_back(std::move(*h));
                    if (self->state_ == state::open) self->state_ = state::closing;
                    self->maybe_finish_close();
                });
            },
            token);
    }

    /// Immediate shutdown (the connection object's destructor): fails what is in flight
    /// with connection_closed, cancels the running statement on the server, never blocks.
    void shutdown() {
        boost::asio::post(strand_, [self = shared_from_this()] { self->do_shutdown(); });
    }

    void set_notice_handler(std::function<void(const notice&)> h) {
        boost::asio::post(strand_, [self = shared_from_this(), h = std::move(h)]() mutable {
            self->notice_handler_ = std::move(h);
        });
    }

private:
    enum class state { open, closing, closed, broken };

    struct cancel_handler {
        std::weak_ptr<connection_impl> self;
        std::weak_ptr<exec_op> op;
        cancel_handler(std::weak_ptr<connection_impl> s, std::weak_ptr<exec_op> o)
            : self(std::move(s)), op(std::move(o)) {}
        void operator()(boost::asio::cancellation_type_t type) {
            if (!cancels(type)) return;
            auto s = self.lock();
            if (!s) return;
            boost::asio::post(s->strand_, [s, o = op]() {
                if (auto p = o.lock()) s->cancel(p);
            });
        }
    };

    // ---- on the strand ----------------------------------------------------------------

    void start(std::shared_ptr<exec_op> op) {
        if (op->completed) return;  // cancelled before it got here
        if (state_ == state::open && (script_running_ || !held_.empty() || op->script)) {
            // A script needs the pipeline empty; what comes after it waits, in order.
            held_.push_back(std::move(op));
            return release_held();
        }
        if (state_ != state::open) {
            fail(*op, make_error_code(state_ == state::broken ? errc::connection_broken
                                                              : errc::connection_closed),
                 state_ == state::broken ? broken_message_ : "the connection is closed");
            return;
        }
        start_now(std::move(op));
    }

    bool send(exec_op& op) {
        PGconn* c = conn_.get();
        int n = op.params.count();
        const char* const* values = op.params.pointers();
        bool ok;
        if (cache_.capacity() > 0) {
            // The key is built in a buffer reused across statements (no allocation).
            thread_local std::string key;
            key.assign(op.sql);
            key.push_back('\0');
            key.append(reinterpret_cast<const char*>(op.params.types.data()),
                       op.params.types.size() * sizeof(unsigned int));
            if (const std::string* name = cache_.find(key)) {
                op.prepared_name = *name;
            } else {
                op.prepared_name = "pgcoro_" + std::to_string(++statement_counter_);
                op.prepares = true;
                op.statements = 2;
                if (auto evicted = cache_.insert(key, op.prepared_name)) deallocate(*evicted);
                if (!PQsendPrepare(c, op.prepared_name.c_str(), op.sql.c_str(), n,
                                   op.params.types.data())) {
                    return send_failed(op);
                }
            }
            ok = PQsendQueryPrepared(c, op.prepared_name.c_str(), n, values,
                                     op.params.lengths.data(), op.params.formats.data(), 1) != 0;
        } else {
            ok = PQsendQueryParams(c, op.sql.c_str(), n, op.params.types.data(), values,
                                   op.params.lengths.data(), op.params.formats.data(), 1) != 0;
        }
        if (!ok || !PQpipelineSync(c)) return send_failed(op);
        op.sent = true;
        return true;
    }

    bool send_failed(exec_op& op) {
        std::string msg = conn_error_message(conn_.get());
        if (PQstatus(conn_.get()) == CONNECTION_OK && !op.prepared_name.empty())
            cache_.erase_name(op.prepared_name);
        break_connection(msg);
        fail(op, make_error_code(errc::connection_broken), msg);
        return false;
    }

    /// An evicted prepared statement is dropped on the server with an internal op.
    void deallocate(const std::string& name) {
        auto op = std::make_shared<exec_op>("DEALLOCATE " + name, encoded_params{});
        op->completed = true;  // no handler
        PGconn* c = conn_.get();
        if (!PQsendQueryParams(c, op->sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1) ||
            !PQpipelineSync(c)) {
            return;  // the caller's own send fails next and breaks the connection
        }
        op->sent = true;
        inflight_.push_back(std::move(op));
    }

    /// Moves held ops forward: a script starts once the pipeline is empty; ops behind a
    /// finished script go out as usual.
    void release_held() {
        while (!held_.empty() && !script_running_ && (state_ == state::open || state_ == state::closing)) {
            auto op = held_.front();
            if (op->completed) {
                held_.pop_front();
                continue;
            }
            if (!op->script) {
                held_.pop_front();
                start_now(std::move(op));
                continue;
            }
            if (!inflight_.empty()) return;  // wait for the pipeline to drain
            held_.pop_front();
            start_script(std::move(op));
        }
    }

    void start_now(std::shared_ptr<exec_op> op) {
        if (!send(*op)) return;  // send() broke the connection and failed everything
        push_inflight(std::move(op));
    }

    /// A sent op joins the FIFO; its bytes go out and the reader watches for its results.
    void push_inflight(std::shared_ptr<exec_op> op) {
        inflight_.push_back(std::move(op));
        in_flight_.store(inflight_.size(), std::memory_order_release);
        flush();
        arm_read();
    }

    /// The head op's results are all in: it leaves the FIFO, and the counters published
    /// to other threads follow.
    std::shared_ptr<exec_op> pop_finished() {
        auto done = std::move(inflight_.front());
        inflight_.pop_front();
        tx_status_.store(static_cast<int>(PQtransactionStatus(conn_.get())), std::memory_order_release);
        in_flight_.store(inflight_.size(), std::memory_order_release);
        return done;
    }

    void start_script(std::shared_ptr<exec_op> op) {
        PGconn* c = conn_.get();
        if (PQexitPipelineMode(c) != 1 || !PQsendQuery(c, op->sql.c_str())) {
            std::string msg = conn_error_message(c);
            break_connection(msg);
            fail(*op, make_error_code(errc::connection_broken), msg);
            return;
        }
        script_running_ = true;
        op->sent = true;
        push_inflight(std::move(op));
    }

    /// Results of a script: one per statement, then NULL; the first error is kept (the
    /// server stops at it), the last result is the op's.
    void process_script_results() {
        PGconn* c = conn_.get();
        while (!inflight_.empty() && !PQisBusy(c)) {
            exec_op& op = *inflight_.front();
            PGresult* raw = PQgetResult(c);
            if (!raw) {
                // The caller (on_readable) moves the held ops on next.
                script_running_ = false;
                bool back_in_pipeline = PQenterPipelineMode(c) == 1;
                auto done = pop_finished();
                session_changed_.store(true, std::memory_order_release);  // a script may do anything
                finish(*done);
                if (!back_in_pipeline) break_connection(conn_error_message(c));
                return;
            }
            pgresult_ptr res(raw);
            switch (PQresultStatus(raw)) {
            case PGRES_TUPLES_OK:
            case PGRES_COMMAND_OK:
            case PGRES_EMPTY_QUERY:
                forget_dropped_statements(raw);
                if (!op.ec) op.result = std::move(res);
                break;
            case PGRES_FATAL_ERROR:
            case PGRES_BAD_RESPONSE:
            case PGRES_NONFATAL_ERROR:
                record_error(op, raw, false);
                break;
            default:
                return break_connection("unexpected result status " + std::string(PQresStatus(PQresultStatus(raw))) +
                                        " in a script (COPY is not supported)");
            }
        }
    }

    void flush() {
        if (state_ == state::closed) return;
        int r = PQflush(conn_.get());
        if (r < 0) {
            break_connection(conn_error_message(conn_.get()));
        } else if (r == 1) {
            need_flush_ = true;
            arm_write();
        } else {
            need_flush_ = false;
        }
    }

    void probe_idle() {
        if (state_ != state::open || !inflight_.empty() || reading_) return;
        // A server closing the connection sends FATAL, then the end of the stream; one read
        // may get only the message, so read on while the socket stays readable.
        for (int reads = 0; reads < 8; ++reads) {
            pollfd p{PQsocket(conn_.get()), POLLIN, 0};
            if (::poll(&p, 1, 0) <= 0) return;
            if (!PQconsumeInput(conn_.get()) || PQstatus(conn_.get()) == CONNECTION_BAD)
                return break_connection(conn_error_message(conn_.get()));
        }
    }

    void arm_read() {
        if (reading_ || inflight_.empty() || (state_ != state::open && state_ != state::closing))
            return;
        reading_ = true;
        sock_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [self = shared_from_this()](boost::system::error_code ec) {
                             self->reading_ = false;
                             self->on_readable(ec);
                         });
    }

    void arm_write() {
        if (writing_ || (state_ != state::open && state_ != state::closing)) return;
        writing_ = true;
        sock_.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                         [self = shared_from_this()](boost::system::error_code ec) {
                             self->writing_ = false;
                             if (ec || (self->state_ != state::open && self->state_ != state::closing))
                                 return;
                             self->flush();
                         });
    }

    void on_readable(boost::system::error_code ec) {
        if (state_ != state::open && state_ != state::closing) return;
        if (ec) {
            break_connection(ec.message());
            return;
        }
        if (!PQconsumeInput(conn_.get())) {
            break_connection(conn_error_message(conn_.get()));
            return;
        }
        if (need_flush_) flush();
        if (script_running_) process_script_results();
        else process_results();
        release_held();
        if (state_ != state::open && state_ != state::closing) return;
        if (PQstatus(conn_.get()) == CONNECTION_BAD) {
            break_connection(conn_error_message(conn_.get()));
            return;
        }
        send_pending_cancel();
        arm_read();
        maybe_finish_close();
    }

    void process_results() {
        PGconn* c = conn_.get();
        while (!inflight_.empty() && !PQisBusy(c)) {
            exec_op& op = *inflight_.front();
            PGresult* raw = PQgetResult(c);
            if (!raw) {
                // End of one statement's results; the Sync result comes next.
                ++op.statements_done;
                continue;
            }
            pgresult_ptr res(raw);
            bool main_statement = op.statements_done == op.statements - 1;
            switch (PQresultStatus(raw)) {
            case PGRES_PIPELINE_SYNC: {
                auto done = pop_finished();
                finish(*done);
                break;
            }
            case PGRES_TUPLES_OK:
            case PGRES_COMMAND_OK:
            case PGRES_EMPTY_QUERY:
                if (main_statement) {
                    forget_dropped_statements(raw);
                    op.result = std::move(res);
                }
                break;
            case PGRES_FATAL_ERROR:
            case PGRES_BAD_RESPONSE:
            case PGRES_NONFATAL_ERROR:
                record_error(op, raw, !main_statement);
                break;
            case PGRES_PIPELINE_ABORTED:
                if (!op.ec) {
                    op.ec = make_error_code(errc::pipeline_aborted);
                    op.diag.message = "statement skipped: an earlier statement failed";
                }
                break;
            default:
                // COPY or anything else pipeline mode cannot carry: the protocol state is
                // unknown from here on, so the connection cannot be trusted again.
                break_connection("unexpected result status " +
                                 std::string(PQresStatus(PQresultStatus(raw))) +
                                 " (COPY is not supported on a pipelined connection)");
                return;
            }
        }
    }

    /// Reads the command tag: the user's own DEALLOCATE ALL / DISCARD ALL drop our
    /// prepared statements too, and some commands change the session for whoever uses
    /// the connection next (a pool resets it then).
    void forget_dropped_statements(const PGresult* raw) {
        std::string_view tag = PQcmdStatus(const_cast<PGresult*>(raw));
        if (tag == "DEALLOCATE ALL" || tag == "DISCARD ALL") cache_.clear();
        static constexpr std::string_view session_tags[] = {
            "SET", "RESET", "LISTEN", "UNLISTEN", "PREPARE", "DECLARE CURSOR", "CREATE", "DEALLOCATE",
            "DISCARD", "BEGIN", "START TRANSACTION", "LOCK", "LOAD", "SAVEPOINT"};
        for (std::string_view t : session_tags) {
            if (tag.starts_with(t)) {
                session_changed_.store(true, std::memory_order_release);
                break;
            }
        }
    }

    void record_error(exec_op& op, const PGresult* raw, bool in_prepare) {
        diagnostics d = diagnostics_from(raw);
        if (!op.prepared_name.empty()) {
            // A failed Prepare leaves no statement; a statement the server no longer knows
            // (DEALLOCATE ALL, DISCARD ALL) or whose plan changed shape must be prepared anew.
            if (in_prepare || d.sqlstate == "26000" ||
                (d.sqlstate == "0A000" && d.message.find("cached plan") != std::string::npos))
                cache_.erase_name(op.prepared_name);
        }
        if (op.ec && op.ec != make_error_code(errc::pipeline_aborted)) return;  // keep the first
        op.ec = d.sqlstate.empty() ? make_error_code(errc::connection_broken)
                                   : make_sqlstate_error(d.sqlstate);
        op.diag = std::move(d);
    }

    void finish(exec_op& op) {
        if (op.completed) return;
        op.completed = true;
        if (!op.ec && !op.result) {
            op.ec = make_error_code(errc::protocol_error);
            op.diag.message = "the server sent no result for the statement";
        }
        post_completion(op, op.ec,
                        exec_outcome{std::move(op.result),
                                     op.ec ? std::make_unique<diagnostics>(std::move(op.diag)) : nullptr});
    }

    void fail(exec_op& op, boost::system::error_code ec, std::string message) {
        if (op.completed) return;
        op.completed = true;
        diagnostics d;
        d.message = std::move(message);
        post_completion(op, ec, exec_outcome{nullptr, std::make_unique<diagnostics>(std::move(d))});
    }

    void post_completion(exec_op& op, boost::system::error_code ec, exec_outcome out) {
        if (!op.handler) return;
        boost::asio::any_completion_handler<exec_signature> h(std::move(*op.handler));
        op.handler.reset();
        // The cancellation slot belongs to the caller's context: clear it there.
        post_to_handler_executor(std::move(h), [ec, out = std::move(out)](auto& handler) mutable {
            auto slot = boost::asio::get_associated_cancellation_slot(handler);
            if (slot.is_connected()) slot.clear();
            std::move(handler)(ec, std::move(out));
        });
    }

    template <class Handler, class Fn>
    void post_to_handler_executor(Handler h, Fn fn) {
        detail::post_to_handler_executor(std::move(h), strand_, std::move(fn));
    }

    void cancel(const std::shared_ptr<exec_op>& op) {
        if (op->completed) return;
        op->cancel_requested = true;
        fail(*op, boost::asio::error::operation_aborted, "the operation was cancelled");
        send_pending_cancel();
    }

    /// Cancels on the server the op that runs now, when its caller gave up on it. Only the
    /// head of the FIFO runs on the server; a cancelled op further back is cancelled when
    /// it reaches the head (if its results have not arrived by then).
    void send_pending_cancel() {
        if (inflight_.empty()) return;
        exec_op& head = *inflight_.front();
        if (head.cancel_requested && !head.server_cancel_sent && state_ != state::closed &&
            state_ != state::broken) {
            head.server_cancel_sent = true;
            canceller_.send(strand_);
        }
    }

    void break_connection(const std::string& message) {
        if (state_ == state::broken || state_ == state::closed) return;
        state_ = state::broken;
        open_.store(false, std::memory_order_release);
        broken_message_ = message.empty() ? "the connection to the server was lost" : message;
        auto ops = std::move(inflight_);
        inflight_.clear();
        in_flight_.store(0, std::memory_order_release);
        for (auto& op : held_) fail(*op, make_error_code(errc::connection_broken), broken_message_);
        held_.clear();
        for (auto& op : ops) {
            if (op->ec && op->diag.from_server() && op->statements_done > 0) {
                // It had its answer (e.g. FATAL admin_shutdown) before the line went dead.
                finish(*op);
            } else {
                fail(*op, make_error_code(errc::connection_broken), broken_message_);
            }
        }
        release_socket();
        conn_.reset();
        complete_close_waiters(make_error_code(errc::connection_broken));
    }

    void maybe_finish_close() {
        if (state_ == state::closing && inflight_.empty() && held_.empty()) {
            state_ = state::closed;
            open_.store(false, std::memory_order_release);
            release_socket();
            conn_.reset();  // PQfinish: sends Terminate (non-blocking socket) and closes
        }
        if (state_ == state::closed) complete_close_waiters({});
        else if (state_ == state::broken) complete_close_waiters(make_error_code(errc::connection_broken));
    }

    void complete_close_waiters(boost::system::error_code ec) {
        auto waiters = std::move(close_waiters_);
        close_waiters_.clear();
        for (auto& h : waiters)
            post_to_handler_executor(std::move(h), [ec](auto& handler) { std::move(handler)(ec); });
    }

    void do_shutdown() {
        if (state_ == state::closed) return;
        if (state_ != state::broken && !inflight_.empty() && !inflight_.front()->completed)
            canceller_.send(strand_);  // don't leave the server running an orphaned statement
        state_ = state::closed;
        open_.store(false, std::memory_order_release);
        auto ops = std::move(inflight_);
        inflight_.clear();
        in_flight_.store(0, std::memory_order_release);
        for (auto& op : ops) fail(*op, make_error_code(errc::connection_closed), "the connection was closed");
        for (auto& op : held_) fail(*op, make_error_code(errc::connection_closed), "the connection was closed");
        held_.clear();
        release_socket();
        conn_.reset();
        complete_close_waiters({});
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
    statement_cache cache_;
    std::uint64_t statement_counter_ = 0;
    std::deque<std::shared_ptr<exec_op>> inflight_;
    std::deque<std::shared_ptr<exec_op>> held_;  // behind a script, in order
    bool script_running_ = false;
    std::vector<boost::asio::any_completion_handler<void(boost::system::error_code)>> close_waiters_;
    std::function<void(const notice&)> notice_handler_;
    canceller canceller_;
    state state_ = state::open;
    std::atomic<bool> open_{true};
    std::atomic<int> tx_status_{PQTRANS_IDLE};
    std::atomic<std::size_t> in_flight_{0};
    std::atomic<bool> session_changed_{false};
    std::string broken_message_;
    bool reading_ = false;
    bool writing_ = false;
    bool need_flush_ = false;
    const int backend_pid_;
    const int server_version_;
};

}  // namespace pgcoro::detail

// pgcoro/detail/copy_machine.hpp — one COPY statement, in or out (sans-io).
//
// Runs outside pipeline mode, once the pipeline handed the connection over (an exclusive
// op, pipeline.hpp). Phases:
//   starting  the COPY statement is sent; waiting for the server's CopyIn/CopyOut answer
//             (or its error: a missing table, a bad column, no permission...);
//   copying   in: put() queues data, end() finishes (or aborts, with a message the
//             server reports back); out: rows of data go to the sink while it has room;
//   finishing reading the statement's outcome ("COPY n", or the error naming the line);
//   done      the connection can go back to the pipeline.
// Memory stays bounded both ways: a put() is accepted only once libpq's buffer went out
// (the caller waits for wants_write() to clear), and COPY out reads the socket only while
// the sink has room.
//
// The sink, for COPY out:
//     bool wants_data();
//     void take(std::string_view row);   // one CopyData message (a row; binary: also header/trailer)
#pragma once

#include <pgcoro/diagnostics.hpp>
#include <pgcoro/error.hpp>

#include <libpq-fe.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace pgcoro::detail {

template <class Wire>
class copy_machine {
public:
    using result_type = typename Wire::result_type;
    enum class direction { in, out };
    enum class phase { idle, starting, copying, finishing, done };

    copy_machine(Wire& wire, direction dir) : wire_(&wire), dir_(dir) {}

    void begin(const std::string& sql) {
        phase_ = phase::starting;
        if (!wire_->send_simple(sql)) return fail_wire();
        flush();
    }

    void flush() {
        if (finished() || phase_ == phase::idle) return;
        int r = wire_->flush();
        if (r < 0) return fail_wire();
        need_flush_ = r == 1;
    }

    /// COPY in: queues `data`. False when it was not taken: libpq's buffer is full (wait
    /// for wants_write() to clear, then try again) or the COPY is over (see phase()).
    bool put(std::string_view data) {
        if (phase_ != phase::copying || dir_ != direction::in || need_flush_) return false;
        int r = wire_->put_copy_data(data);
        if (r == 0) {
            need_flush_ = true;
            return false;
        }
        if (r < 0) {
            to_finishing();  // the server ended the COPY (an error): its outcome tells why
            return false;
        }
        flush();
        return true;
    }

    /// COPY in: no more data; with `abort_message` the server aborts the COPY, reporting
    /// that message. False: try again once wants_write() clears.
    bool end(const char* abort_message = nullptr) {
        if (phase_ != phase::copying || dir_ != direction::in) return true;
        if (need_flush_) return false;
        int r = wire_->put_copy_end(abort_message);
        if (r == 0) {
            need_flush_ = true;
            return false;
        }
        to_finishing();
        flush();
        return true;
    }

    template <class Sink>
    void on_readable(Sink& sink) {
        if (finished() || phase_ == phase::idle) return;
        if (!wire_->consume_input()) return fail_wire();
        advance(sink);
    }

    /// Moves on with what libpq has buffered.
    template <class Sink>
    void advance(Sink& sink) {
        if (phase_ == phase::copying && dir_ == direction::in) {
            wire_->is_busy();  // lets libpq handle what was read (notices; an early error)
            return;
        }
        if (phase_ == phase::starting) read_start();
        if (phase_ == phase::copying && dir_ == direction::out) read_data(sink);
        if (phase_ == phase::finishing) read_outcome();
    }

    /// The consumer went away. In: the COPY is aborted (nothing of it stays). Out: a
    /// cancel request is asked for and the rest is read and dropped.
    void abandon(const char* why) {
        if (abandoned_ || finished()) return;
        abandoned_ = true;
        if (phase_ == phase::idle) return;
        if (dir_ == direction::in) {
            abort_message_ = why;
            if (phase_ == phase::copying) end(abort_message_);  // retried by on_writable when full
        } else {
            cancel_wanted_ = true;
        }
    }

    /// The socket is writable: flush, and finish an abort that found the buffer full.
    void on_writable() {
        flush();
        if (abandoned_ && dir_ == direction::in && phase_ == phase::copying && !need_flush_) end(abort_message_);
    }

    // ---- outputs -------------------------------------------------------------------------
    phase current_phase() const noexcept { return phase_; }
    bool done() const noexcept { return phase_ == phase::done; }
    const std::string& broken() const noexcept { return broken_; }
    bool finished() const noexcept { return done() || !broken_.empty(); }
    /// In: ready for put(); out: the same as copying.
    bool copying() const noexcept { return phase_ == phase::copying && broken_.empty(); }
    template <class Sink>
    bool wants_read(Sink& sink) const {
        if (finished() || phase_ == phase::idle) return false;
        // COPY in with libpq's buffer not yet out: read too, so notices the server sends
        // meanwhile (a trigger's RAISE NOTICE per row) cannot fill the socket and stall it.
        if (phase_ == phase::copying) return dir_ == direction::out ? abandoned_ || sink.wants_data() : need_flush_;
        return true;
    }
    bool wants_write() const noexcept { return !finished() && phase_ != phase::idle && need_flush_; }
    /// True once, and only while the statement still runs.
    bool take_cancel_request() noexcept { return std::exchange(cancel_wanted_, false) && !finished(); }
    bool hit_by_cancel() const noexcept { return hit_by_cancel_; }
    /// "COPY n": rows copied (in or out).
    std::uint64_t rows() const noexcept { return rows_; }
    const boost::system::error_code& error() const noexcept { return ec_; }
    diagnostics& error_diagnostics() noexcept { return diag_; }

private:
    void read_start() {
        while (phase_ == phase::starting && broken_.empty() && !wire_->is_busy()) {
            result_type res = wire_->next_result();
            if (!res) {  // ended without a COPY (an error, or not a COPY statement)
                if (!ec_) set_error(errc::protocol_error, "the statement is not a COPY " +
                                                              std::string(dir_ == direction::in ? "FROM STDIN" : "TO STDOUT"));
                phase_ = phase::done;
                return;
            }
            ExecStatusType st = Wire::status(res);
            if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
                phase_ = phase::copying;
                if ((st == PGRES_COPY_IN) != (dir_ == direction::in)) {
                    // The wrong direction: end it, keeping an error for the caller.
                    set_error(errc::protocol_error, dir_ == direction::in ? "the statement is a COPY TO, not a COPY FROM"
                                                                          : "the statement is a COPY FROM, not a COPY TO");
                    if (st == PGRES_COPY_IN) {
                        dir_ = direction::in;
                        abandoned_ = true;
                        end("wrong COPY direction");
                    } else {
                        dir_ = direction::out;
                        abandoned_ = true;
                        cancel_wanted_ = true;
                    }
                } else if (abandoned_ && dir_ == direction::in) {
                    end(abort_message_);
                }
                return;
            }
            if (st == PGRES_COPY_BOTH) {
                broken_ = "COPY BOTH (replication) is not supported";
                return;
            }
            take_outcome(res);
        }
    }

    template <class Sink>
    void read_data(Sink& sink) {
        while (phase_ == phase::copying && broken_.empty() && (abandoned_ || sink.wants_data())) {
            char* buf = nullptr;
            int n = wire_->get_copy_data(&buf);
            if (n > 0) {
                if (!abandoned_) sink.take(std::string_view(buf, static_cast<std::size_t>(n)));
                Wire::free_copy_data(buf);
            } else if (n == 0) {
                return;  // wait for the socket
            } else if (n == -1) {
                phase_ = phase::finishing;
            } else {
                return fail_wire();
            }
        }
    }

    void read_outcome() {
        while (phase_ == phase::finishing && broken_.empty() && !wire_->is_busy()) {
            result_type res = wire_->next_result();
            if (!res) {
                phase_ = phase::done;
                return;
            }
            ExecStatusType st = Wire::status(res);
            if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
                broken_ = "the COPY did not end";
                return;
            }
            take_outcome(res);
        }
    }

    void take_outcome(result_type& res) {
        ExecStatusType st = Wire::status(res);
        if (st == PGRES_COMMAND_OK) {
            rows_ = Wire::affected_rows(res);
        } else if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
            diagnostics d = Wire::diagnostics_of(res);
            if (d.sqlstate == "57014") hit_by_cancel_ = true;
            if (!ec_) {
                ec_ = d.sqlstate.empty() ? make_error_code(errc::protocol_error) : make_sqlstate_error(d.sqlstate);
                diag_ = std::move(d);
            }
        }
    }

    void to_finishing() {
        if (phase_ == phase::copying) phase_ = phase::finishing;
    }

    void set_error(errc e, std::string message) {
        ec_ = make_error_code(e);
        diag_ = diagnostics();
        diag_.message = std::move(message);
    }

    void fail_wire() {
        broken_ = wire_->error_message();
        if (broken_.empty()) broken_ = "the connection to the server was lost";
    }

    Wire* wire_;
    direction dir_;
    phase phase_ = phase::idle;
    bool need_flush_ = false;
    bool abandoned_ = false;
    bool cancel_wanted_ = false;
    bool hit_by_cancel_ = false;
    const char* abort_message_ = "the client abandoned the COPY";
    std::uint64_t rows_ = 0;
    boost::system::error_code ec_;
    diagnostics diag_;
    std::string broken_;
};

}  // namespace pgcoro::detail

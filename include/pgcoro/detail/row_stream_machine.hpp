// pgcoro/detail/row_stream_machine.hpp — one query's rows, a few at a time (sans-io).
//
// Runs alone, once the pipeline handed the connection over (an exclusive op,
// pipeline.hpp), still in pipeline mode: the query and a Sync, binary results, in libpq's
// single-row mode (libpq >= 17: chunked rows). (Outside pipeline mode libpq 14-16 would
// keep single-row mode on for the first query of the pipeline entered afterwards.) Rows are handed to a sink only
// while it has room: when it is full the machine stops reading the socket, so TCP holds
// the rest on the server's side and memory stays bounded whatever the result's size.
//
// The sink (the driver's, or a test's):
//     bool wants_rows();            // room for another result
//     bool take(result_type& r);    // a result holding rows (or none: the column check);
//                                   // false: the rows cannot be used (sink keeps why)
// A consumer that goes away (or a sink that refuses rows) makes the machine abandon the
// query: a cancel request is asked for once, and everything left is read and dropped.
#pragma once

#include <pgcoro/detail/params.hpp>
#include <pgcoro/detail/sql_keywords.hpp>
#include <pgcoro/diagnostics.hpp>
#include <pgcoro/error.hpp>

#include <libpq-fe.h>

#include <string>
#include <utility>

namespace pgcoro::detail {

template <class Wire>
class row_stream_machine {
public:
    using result_type = typename Wire::result_type;

    explicit row_stream_machine(Wire& wire) : wire_(&wire) {}

    /// Sends the query; `chunk`: rows per result where libpq can (>= 17). A COPY with the
    /// client is refused before anything is sent (errc::invalid_argument; the connection
    /// goes on): its rows would come in COPY mode, which a row stream cannot leave.
    void begin(const std::string& sql, encoded_params& params, int chunk) {
        started_ = true;
        if (might_begin_with_copy(sql) && copies_with_client(sql)) {
            ec_ = make_error_code(errc::invalid_argument);
            diag_ = {};
            diag_.message = "a row stream cannot run COPY FROM STDIN / TO STDOUT: use copy_out() / copy_out_raw() "
                            "(or copy_in()) for it";
            done_ = true;
            return;
        }
        if (!wire_->send_params(sql, params) || !wire_->send_sync() || !wire_->set_row_mode(chunk)) return fail_wire();
        flush();
    }

    /// The socket is writable (or the query was just queued): push libpq's buffer.
    void flush() {
        if (finished()) return;
        int r = wire_->flush();
        if (r < 0) return fail_wire();
        need_flush_ = r == 1;
    }

    void on_writable() { flush(); }

    /// The socket is readable: read what is there, then advance().
    template <class Sink>
    void on_readable(Sink& sink) {
        if (finished()) return;
        if (!wire_->consume_input()) return fail_wire();
        advance(sink);
    }

    /// Hands buffered rows to the sink while it has room (drops them once abandoned).
    template <class Sink>
    void advance(Sink& sink) {
        while (!finished() && (abandoned_ || sink.wants_rows()) && !wire_->is_busy()) {
            result_type res = wire_->next_result();
            if (!res) {  // the statement's end; its Sync comes next
                if (wire_->bad()) return fail_wire();  // (libpq idle on a dead connection: no spin)
                continue;
            }
            ExecStatusType st = Wire::status(res);
            if (st == PGRES_PIPELINE_SYNC) {
                done_ = true;
                return;
            }
            if (holds_rows(st)) {
                // The final TUPLES_OK holds no rows: it is used only to check the columns
                // of a result that had none.
                if (!abandoned_ && (st != PGRES_TUPLES_OK || !rows_seen_)) {
                    rows_seen_ = true;
                    if (!sink.take(res)) abandon();
                }
                continue;
            }
            switch (st) {
            case PGRES_COMMAND_OK:
            case PGRES_EMPTY_QUERY:
                break;  // not a query: no rows
            case PGRES_FATAL_ERROR:
            case PGRES_NONFATAL_ERROR:
            case PGRES_BAD_RESPONSE: {
                diagnostics d = Wire::diagnostics_of(res);
                if (d.sqlstate == "57014") hit_by_cancel_ = true;
                if (!ec_) {
                    ec_ = d.sqlstate.empty() ? make_error_code(errc::protocol_error) : make_sqlstate_error(d.sqlstate);
                    diag_ = std::move(d);
                }
                break;
            }
            default:  // COPY (begin() refuses it; a function running COPY gets here): lost
                broken_ = "a row stream got a COPY result (use copy_in / copy_out for COPY)";
                return;
            }
        }
    }

    /// The consumer is gone (or the sink refused rows): the rest is read and dropped, and
    /// a cancel request is asked for so the server stops producing it.
    void abandon() {
        if (abandoned_ || finished()) return;
        abandoned_ = true;
        cancel_wanted_ = started_;
    }

    // ---- outputs -------------------------------------------------------------------------
    bool started() const noexcept { return started_; }
    /// All results read: the connection can go back to the pipeline.
    bool done() const noexcept { return done_; }
    /// The connection is unusable: why (empty while it is fine).
    const std::string& broken() const noexcept { return broken_; }
    bool finished() const noexcept { return done_ || !broken_.empty(); }
    /// Reading is wanted only while someone takes the rows: that is the back-pressure.
    template <class Sink>
    bool wants_read(Sink& sink) const {
        return started_ && !finished() && (abandoned_ || sink.wants_rows());
    }
    bool wants_write() const noexcept { return started_ && !finished() && need_flush_; }
    /// True once: send a cancel request for the query.
    /// True once, and only while the query still runs (drained already: no cancel).
    bool take_cancel_request() noexcept { return std::exchange(cancel_wanted_, false) && !finished(); }
    bool hit_by_cancel() const noexcept { return hit_by_cancel_; }
    bool abandoned() const noexcept { return abandoned_; }
    /// The server's error, the first one.
    const boost::system::error_code& error() const noexcept { return ec_; }
    diagnostics& error_diagnostics() noexcept { return diag_; }

private:
    static bool holds_rows(ExecStatusType st) noexcept {
#ifdef LIBPQ_HAS_CHUNK_MODE
        if (st == PGRES_TUPLES_CHUNK) return true;
#endif
        return st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK;
    }

    void fail_wire() {
        broken_ = wire_->error_message();
        if (broken_.empty()) broken_ = "the connection to the server was lost";
    }

    Wire* wire_;
    bool started_ = false;
    bool done_ = false;
    bool need_flush_ = false;
    bool abandoned_ = false;
    bool cancel_wanted_ = false;
    bool hit_by_cancel_ = false;
    bool rows_seen_ = false;
    boost::system::error_code ec_;
    diagnostics diag_;
    std::string broken_;
};

}  // namespace pgcoro::detail

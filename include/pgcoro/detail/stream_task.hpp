// pgcoro/detail/stream_task.hpp — a row stream's driver side: the row_stream_machine,
// decoding rows into the consumer's vector while a read is pending.
#pragma once

#include <pgcoro/detail/connection_impl.hpp>
#include <pgcoro/detail/exclusive_task.hpp>
#include <pgcoro/detail/inline_handler.hpp>
#include <pgcoro/detail/row_reader.hpp>
#include <pgcoro/detail/row_stream_machine.hpp>

#include <boost/asio/error.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace pgcoro::detail {

/// The completion of one read: (error_code, rows read, diagnostics).
using stream_read_signature = void(boost::system::error_code, std::size_t, diagnostics);

template <class T>
class stream_task final : public machine_task<row_stream_machine<pq_wire>> {
public:
    stream_task(connection_strand strand, int chunk_rows) : strand_(std::move(strand)), chunk_(chunk_rows) {}

    // ---- consumer side (on the strand) ---------------------------------------------------

    /// A read: fills `*rows` (reusing its elements) with up to `limit` rows.
    template <class Handler>
    void read(std::vector<T>* rows, std::size_t limit, Handler&& h) {
        reader_.emplace(std::forward<Handler>(h));
        out_ = rows;
        limit_ = limit == 0 ? 1 : limit;
        filled_ = 0;
    }
    bool busy() const noexcept { return static_cast<bool>(reader_); }

    /// The consumer gives up: a pending read completes with operation_aborted, and the
    /// query (when it runs) is cancelled and drained.
    void abandon() {
        abandoned_ = true;
        if (machine_ && !lost_) machine_->abandon();  // once lost, the connection is gone
        if (reader_) finish_read(boost::asio::error::operation_aborted, "the stream was cancelled");
    }

    /// Nothing more will come: the end was delivered, or an error was.
    bool ended() const noexcept { return ended_; }
    /// The consumer gave up (abandon()).
    bool abandoned() const noexcept { return abandoned_; }
    /// The query is over (or never ran): reads are answered at once, by deliver().
    bool over() const noexcept { return ended_ || lost_ || (machine_ && machine_->finished()); }

    // ---- exclusive_task ------------------------------------------------------------------

    void begin(pq_wire& wire, exec_op& op) override {
        wire_ = wire;
        machine_.emplace(wire_);
        machine_->begin(op.sql, op.params, chunk_);
        if (abandoned_) machine_->abandon();
    }
    /// Called from the socket wait's own handler (no wait is armed): reads on while the
    /// socket has more and the batch has room, so one completion carries many reads' rows.
    /// (Reading while a wait is armed could drain the socket under it, and an
    /// edge-triggered wait would then never fire.)
    void on_readable() override {
        sink s{this};
        for (int reads = 0; reads < 16; ++reads) {
            std::size_t before = filled_;
            machine_->on_readable(s);
            if (filled_ == before || !machine_->wants_read(s)) break;
        }
    }
    void advance() override {
        sink s{this};
        machine_->advance(s);
    }
    bool wants_read() const override {
        sink s{const_cast<stream_task*>(this)};
        return machine_->wants_read(s);
    }
    void deliver() override {
        if (!reader_) return;
        if (ended_) return finish_read({}, {});
        sink s{this};
        if (filled_ > 0 && (filled_ >= limit_ || !machine_ || machine_->finished() || !row_error_.empty() ||
                            machine_->wants_read(s))) {
            // Rows first (a batch is full, or nothing more is buffered); an error after them
            // comes with the next read.
            return finish_read({}, {});
        }
        if (!row_error_.empty() && !ec_) {
            ec_ = row_ec_;
            diag_ = std::move(row_diag_);
            diag_.message = row_error_;
        }
        if (lost_ || (machine_ && machine_->finished())) {
            take_machine_error();
            ended_ = true;
            if (ec_) return finish_read(ec_, diag_.message, true);
            return finish_read({}, {});
        }
    }

private:
    struct sink {
        stream_task* t;
        bool wants_rows() const noexcept { return t->out_ && t->reader_ && t->filled_ < t->limit_ && t->row_error_.empty(); }
        bool take(pgresult_ptr& r) { return t->take(r.get()); }
    };

    bool take(const PGresult* r) {
        row_ec_.clear();
        try {
            if (!types_) {
                static_assert(owned_row_type<T>() || true);  // its own static_assert says why
                check_row_type<T>(r, catalog.get());
                types_.emplace(r, catalog.get());
            }
            int n = PQntuples(r);
            for (int i = 0; i < n; ++i, ++row_number_) {
                if (filled_ < out_->size()) read_row_into(r, i, *types_, (*out_)[filled_]);
                else out_->push_back(read_row<T>(r, i, *types_));
                ++filled_;
            }
        } catch (const pgcoro::error& e) {
            row_ec_ = e.code();
            row_diag_ = e.diagnostics();
        } catch (const std::exception& e) {  // a user decoder's own exception, or bad_alloc
            row_ec_ = make_error_code(errc::decode_error);
            row_diag_ = diagnostics();
            row_diag_.message = e.what();
        } catch (...) {
            row_ec_ = make_error_code(errc::decode_error);
            row_diag_ = diagnostics();
            row_diag_.message = "a row could not be decoded";
        }
        if (!row_ec_) return true;
        row_error_ = types_ ? "row " + std::to_string(row_number_) + " of the stream: " + row_diag_.message
                            : row_diag_.message;
        return false;
    }

    void finish_read(boost::system::error_code ec, std::string message, bool keep_diag = false) {
        diagnostics d;
        if (keep_diag) d = diag_;
        if (!message.empty()) d.message = std::move(message);
        std::size_t n = ec ? 0 : filled_;
        if (out_) out_->resize(ec ? 0 : filled_);
        out_ = nullptr;
        filled_ = 0;
        if (ec == boost::asio::error::operation_aborted) ended_ = true;
        reader_.complete(strand_, ec, n, std::move(d));
    }

    connection_strand strand_;  // where a read without an executor of its own completes
    int chunk_;
    inline_handler<stream_read_signature, connection_strand> reader_;
    std::vector<T>* out_ = nullptr;
    std::size_t limit_ = 1;
    std::size_t filled_ = 0;
    std::size_t row_number_ = 0;
    std::optional<column_types<T>> types_;
    bool abandoned_ = false;
    bool ended_ = false;
    boost::system::error_code row_ec_;
    diagnostics row_diag_;
    std::string row_error_;
};

}  // namespace pgcoro::detail

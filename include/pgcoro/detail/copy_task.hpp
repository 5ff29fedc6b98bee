// pgcoro/detail/copy_task.hpp — a COPY's driver side: the copy_machine, and the
// consumer's pending write, finish or read.
#pragma once

#include <pgcoro/detail/connection_impl.hpp>
#include <pgcoro/detail/copy_machine.hpp>
#include <pgcoro/detail/exclusive_task.hpp>
#include <pgcoro/detail/inline_handler.hpp>

#include <boost/asio/error.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgcoro::detail {

/// The completion of one request: (error_code, bytes or rows, diagnostics).
using copy_completion_signature = void(boost::system::error_code, std::uint64_t, diagnostics);

class copy_task final : public machine_task<copy_machine<pq_wire>> {
public:
    using machine = copy_machine<pq_wire>;
    using direction = machine::direction;

    copy_task(connection_strand strand, direction dir) : strand_(std::move(strand)), dir_(dir) {}

    // ---- consumer side (on the strand); one request at a time ---------------------------

    /// In: queue `data` (the caller keeps it alive until completion); completes with its
    /// size once libpq's buffer has gone out, so memory stays bounded.
    template <class Handler>
    void write(std::string_view data, Handler&& h) {
        start_request(std::forward<Handler>(h), request::write);
        pending_ = data;
    }
    /// In: no more data; completes with the rows the server took.
    template <class Handler>
    void finish(Handler&& h) {
        start_request(std::forward<Handler>(h), request::finish);
    }
    /// Out: appends whole rows of data to `*out` until it holds `limit` bytes or nothing
    /// more is buffered; completes with the bytes appended, 0 at the end.
    template <class Handler>
    void read(std::string* out, std::size_t limit, Handler&& h) {
        start_request(std::forward<Handler>(h), request::read);
        out_ = out;
        limit_ = limit == 0 ? 1 : limit;
        filled_ = 0;
    }

    /// The consumer gives up: in, the COPY is aborted on the server (nothing of it stays);
    /// out, the statement is cancelled and the rest dropped. A pending request completes
    /// with operation_aborted.
    void abandon(const char* why = "the client abandoned the COPY") {
        abandoned_ = true;
        abandon_reason_ = why;
        if (machine_ && !lost_) machine_->abandon(why);  // once lost, the connection is gone
        // Past the end of the data the outcome is the server's: a finish() waiting for it
        // gets it (rows loaded, or the error), never a misleading operation_aborted.
        if (handler_ && !(req_ == request::finish && ended_copy_))
            complete(boost::asio::error::operation_aborted, 0, "the COPY was abandoned");
    }

    /// A request is pending (one at a time).
    bool busy() const noexcept { return static_cast<bool>(handler_); }

    /// Over (or never ran): requests are answered at once by deliver().
    bool over() const noexcept { return lost_ || (machine_ && machine_->finished()); }
    bool ended() const noexcept { return ended_; }
    /// The consumer gave up (abandon()).
    bool abandoned() const noexcept { return abandoned_; }

    // ---- exclusive_task ------------------------------------------------------------------

    void begin(pq_wire& wire, exec_op& op) override {
        wire_ = wire;
        machine_.emplace(wire_, dir_);
        machine_->begin(op.sql);
        if (abandoned_) machine_->abandon(abandon_reason_);
    }
    void on_readable() override {
        sink s{this};
        machine_->on_readable(s);
    }
    void advance() override {
        sink s{this};
        machine_->advance(s);
        if (!handler_ || !machine_->copying()) return;
        // In pieces of at most 1 MiB: libpq takes an int length, and its buffer stays small.
        while (req_ == request::write && put_ < pending_.size()) {
            std::size_t n = std::min<std::size_t>(pending_.size() - put_, 1 << 20);
            if (!machine_->put(pending_.substr(put_, n))) break;
            put_ += n;
        }
        if (req_ == request::finish && !ended_copy_ && machine_->end()) ended_copy_ = true;
    }
    bool wants_read() const override {
        sink s{const_cast<copy_task*>(this)};
        return machine_->wants_read(s);
    }
    void deliver() override {
        if (!handler_) return;
        if (ended_) return complete({}, 0, {});
        bool over_now = over();
        if (over_now) take_machine_error();
        switch (req_) {
        case request::write:
            if (machine_ && put_ == pending_.size() && !machine_->wants_write()) return complete({}, pending_.size(), {});
            if (over_now) return fail_now();  // the server ended the COPY: its error says why
            return;
        case request::finish:
            if (!over_now) return;
            ended_ = true;
            if (ec_) return fail_now();
            return complete({}, rows(), {});
        case request::none:
            return;
        case request::read: {
            sink s{this};
            if (filled_ > 0 && (filled_ >= limit_ || over_now || machine_->wants_read(s))) return complete({}, filled_, {});
            if (!over_now) return;
            ended_ = true;
            if (ec_) return fail_now();
            return complete({}, 0, {});
        }
        }
    }

    /// Rows the statement copied ("COPY n"), once over.
    std::uint64_t rows() const noexcept { return machine_ ? machine_->rows() : 0; }

private:
    enum class request { none, write, finish, read };

    struct sink {
        copy_task* t;
        bool wants_data() const noexcept {
            return t->handler_ && t->req_ == request::read && t->out_ && t->filled_ < t->limit_;
        }
        void take(std::string_view row) {
            t->out_->append(row);
            t->filled_ += row.size();
        }
    };

    template <class Handler>
    void start_request(Handler&& h, request r) {
        handler_.emplace(std::forward<Handler>(h));
        req_ = r;
        put_ = 0;
    }

    void fail_now() {
        ended_ = true;
        if (!ec_) {
            ec_ = make_error_code(errc::protocol_error);
            diag_.message = "the COPY is over";
        }
        complete(ec_, 0, diag_.message, true);
    }

    void complete(boost::system::error_code ec, std::uint64_t n, std::string message, bool keep_diag = false) {
        diagnostics d;
        if (keep_diag) d = diag_;
        if (!message.empty()) d.message = std::move(message);
        req_ = request::none;
        out_ = nullptr;
        pending_ = {};
        handler_.complete(strand_, ec, n, std::move(d));
    }

    connection_strand strand_;
    direction dir_;
    inline_handler<copy_completion_signature, connection_strand> handler_;
    request req_ = request::none;
    std::string_view pending_;
    std::size_t put_ = 0;  // bytes of pending_ handed to libpq
    bool ended_copy_ = false;
    std::string* out_ = nullptr;
    std::size_t limit_ = 1;
    std::size_t filled_ = 0;
    bool abandoned_ = false;
    const char* abandon_reason_ = "the client abandoned the COPY";
    bool ended_ = false;
};

}  // namespace pgcoro::detail

// pgcoro/detail/exclusive_task.hpp — what the driver runs while the pipeline has handed
// it the connection (a row stream, a COPY): a sans-io machine (row_stream_machine,
// copy_machine) plus the consumer's pending request. Everything runs on the connection's
// strand; the driver (connection_impl) calls, in this order on each turn: begin() once,
// on_readable()/on_writable() as the socket allows, advance(), then reads the outputs,
// and deliver() last, when its own state is consistent (a consumer resumed inline may
// call into the connection again).
#pragma once

#include <pgcoro/detail/pq_wire.hpp>
#include <pgcoro/diagnostics.hpp>
#include <pgcoro/types/pg_type.hpp>

#include <boost/system/error_code.hpp>

#include <optional>
#include <string>
#include <utility>

namespace pgcoro::detail {

struct exec_op;

struct exclusive_task {
    virtual ~exclusive_task() = default;
    /// The connection's looked-up types when the task began (a row stream's columns are
    /// checked against them: a stream cannot stop for a lookup).
    catalog_ptr catalog;
    /// The connection is the task's (pipeline mode off): send the statement of `op`.
    virtual void begin(pq_wire& wire, exec_op& op) = 0;
    virtual bool started() const = 0;
    virtual void on_readable() = 0;
    virtual void on_writable() = 0;
    /// Moves on with what is buffered and what the consumer asked for.
    virtual void advance() = 0;
    virtual bool wants_read() const = 0;
    virtual bool wants_write() const = 0;
    /// True once: a cancel request for the running statement is wanted.
    virtual bool take_cancel_request() = 0;
    /// Over: the connection can go back to the pipeline.
    virtual bool finished() const = 0;
    /// Non-empty: the connection is unusable, and why.
    virtual const std::string& broken() const = 0;
    /// The statement was answered with 57014 (query_canceled).
    virtual bool hit_by_cancel() const = 0;
    /// The op never ran, or the connection went away under it: no more calls follow but
    /// deliver().
    virtual void on_lost(boost::system::error_code ec, diagnostics d) = 0;
    /// Completes the consumer's request if its answer is ready.
    virtual void deliver() = 0;
};

/// The members every task answers from its machine alone (a row_stream_machine or a
/// copy_machine over pq_wire), and what it keeps once the connection is lost.
template <class Machine>
class machine_task : public exclusive_task {
public:
    bool started() const override { return machine_.has_value(); }
    void on_writable() override { machine_->on_writable(); }
    bool wants_write() const override { return machine_->wants_write(); }
    bool take_cancel_request() override { return machine_->take_cancel_request(); }
    bool finished() const override { return machine_->finished(); }
    const std::string& broken() const override { return machine_->broken(); }
    bool hit_by_cancel() const override { return machine_->hit_by_cancel(); }

    void on_lost(boost::system::error_code ec, diagnostics d) override {
        lost_ = true;  // from here on the machine (and its PGconn) is never touched
        if (!ec_) {
            ec_ = ec;
            diag_ = std::move(d);
        }
    }

protected:
    /// The machine's first error, once it is over (kept for the consumer).
    void take_machine_error() {
        if (machine_ && !lost_ && !ec_ && machine_->error()) {
            ec_ = machine_->error();
            diag_ = std::move(machine_->error_diagnostics());
        }
    }

    pq_wire wire_{};
    std::optional<Machine> machine_;
    bool lost_ = false;
    boost::system::error_code ec_;
    diagnostics diag_;
};

}  // namespace pgcoro::detail

// pgcoro/detail/pq_wire.hpp — the narrow interface between the pipeline state machine
// (pgcoro/detail/pipeline.hpp) and libpq. Unit tests put a scripted fake in its place.
//
// libpq >= 17 (LIBPQ_HAS_SEND_PIPELINE_SYNC): a Sync is queued without a flush, so the
// statements of one turn leave in one write when the driver flushes. libpq 14-16: every
// PQpipelineSync flushes; the driver corks the socket around a turn instead.
#pragma once

#include <pgcoro/detail/params.hpp>
#include <pgcoro/detail/pq.hpp>
#include <pgcoro/notification.hpp>

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>

namespace pgcoro::detail {

struct pq_wire {
    using result_type = pgresult_ptr;

    PGconn* conn = nullptr;

    bool send_prepare(const std::string& name, const std::string& sql, const encoded_params& p) {
        return PQsendPrepare(conn, name.c_str(), sql.c_str(), p.count(), p.types.data()) != 0;
    }
    bool send_prepared(const std::string& name, encoded_params& p) {
        return PQsendQueryPrepared(conn, name.c_str(), p.count(), p.pointers(), p.lengths.data(), p.formats.data(), 1) != 0;
    }
    bool send_params(const std::string& sql, encoded_params& p) {
        return PQsendQueryParams(conn, sql.c_str(), p.count(), p.types.data(), p.pointers(), p.lengths.data(),
                                 p.formats.data(), 1) != 0;
    }
    bool send_sync() {
#ifdef LIBPQ_HAS_SEND_PIPELINE_SYNC
        return PQsendPipelineSync(conn) != 0;
#else
        return PQpipelineSync(conn) != 0;
#endif
    }
    /// A script: the simple query protocol (outside pipeline mode).
    bool send_simple(const std::string& sql) { return PQsendQuery(conn, sql.c_str()) != 0; }
    bool exit_pipeline() { return PQexitPipelineMode(conn) == 1; }
    bool enter_pipeline() { return PQenterPipelineMode(conn) == 1; }
    /// 0: all sent; 1: some left (wait until writable); -1: failed.
    int flush() { return PQflush(conn); }
    bool consume_input() { return PQconsumeInput(conn) != 0; }
    /// The next notification libpq has read, if any.
    bool next_notification(notification& out) {
        struct freemem {
            void operator()(PGnotify* p) const noexcept { PQfreemem(p); }
        };
        std::unique_ptr<PGnotify, freemem> n(PQnotifies(conn));
        if (!n) return false;
        out.channel = n->relname ? n->relname : "";
        out.payload = n->extra ? n->extra : "";
        out.backend_pid = n->be_pid;
        return true;
    }
    bool is_busy() { return PQisBusy(conn) != 0; }
    result_type next_result() { return result_type(PQgetResult(conn)); }
    PGTransactionStatusType transaction_status() { return PQtransactionStatus(conn); }
    bool bad() { return PQstatus(conn) == CONNECTION_BAD; }
    std::string error_message() { return conn_error_message(conn); }

    static ExecStatusType status(const result_type& r) { return PQresultStatus(r.get()); }
    static std::string_view command_tag(const result_type& r) { return PQcmdStatus(r.get()); }
    static diagnostics diagnostics_of(const result_type& r) { return diagnostics_from(r.get()); }
};

}  // namespace pgcoro::detail

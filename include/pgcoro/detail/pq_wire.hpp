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

#include <cstdint>
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

    // ---- outside pipeline mode: row streams and COPY (row_stream_machine, copy_machine) ----

    /// Rows one result each (libpq >= 17: up to `chunk` rows per result), for the query
    /// just sent.
    bool set_row_mode([[maybe_unused]] int chunk) {
#ifdef LIBPQ_HAS_CHUNK_MODE
        if (chunk > 1) return PQsetChunkedRowsMode(conn, chunk) == 1;
#endif
        return PQsetSingleRowMode(conn) == 1;
    }
    /// 1: queued; 0: libpq's buffer is full (wait until writable, flush, try again); -1: failed.
    int put_copy_data(std::string_view data) {
        return PQputCopyData(conn, data.data(), static_cast<int>(data.size()));
    }
    /// Ends the COPY data; with `error` the server aborts the COPY with that message.
    int put_copy_end(const char* error) { return PQputCopyEnd(conn, error); }
    /// One row of COPY data into `out` (libpq's buffer, freed by the caller with
    /// free_copy_data): > 0 its length; 0: none buffered yet; -1: the end; -2: failed.
    int get_copy_data(char** out) { return PQgetCopyData(conn, out, 1); }
    static void free_copy_data(char* p) noexcept { PQfreemem(p); }
    result_type next_result() { return result_type(PQgetResult(conn)); }
    PGTransactionStatusType transaction_status() { return PQtransactionStatus(conn); }
    bool bad() { return PQstatus(conn) == CONNECTION_BAD; }
    std::string error_message() { return conn_error_message(conn); }

    static ExecStatusType status(const result_type& r) { return PQresultStatus(r.get()); }
    static std::string_view command_tag(const result_type& r) { return PQcmdStatus(r.get()); }
    static std::uint64_t affected_rows(const result_type& r) { return affected_rows_of(r.get()); }
    static diagnostics diagnostics_of(const result_type& r) { return diagnostics_from(r.get()); }
};

}  // namespace pgcoro::detail

// libpq 17's additions that pgcoro uses, declared as libpq 17's libpq-fe.h declares
// them, so that pgcoro's libpq >= 17 code paths are compiled (never linked or run) on
// a machine with an older libpq. Force-included by compile_check.cpp's build.
#pragma once

#include <libpq-fe.h>

#ifndef LIBPQ_HAS_SEND_PIPELINE_SYNC
#define LIBPQ_HAS_SEND_PIPELINE_SYNC 1
#define LIBPQ_HAS_ASYNC_CANCEL 1
extern "C" {
typedef struct pg_cancel_conn PGcancelConn;
int PQsendPipelineSync(PGconn* conn);
PGcancelConn* PQcancelCreate(PGconn* conn);
int PQcancelStart(PGcancelConn* cancelConn);
int PQcancelBlocking(PGcancelConn* cancelConn);
PostgresPollingStatusType PQcancelPoll(PGcancelConn* cancelConn);
ConnStatusType PQcancelStatus(const PGcancelConn* cancelConn);
int PQcancelSocket(const PGcancelConn* cancelConn);
char* PQcancelErrorMessage(const PGcancelConn* cancelConn);
void PQcancelReset(PGcancelConn* cancelConn);
void PQcancelFinish(PGcancelConn* cancelConn);
}
#endif

#ifndef LIBPQ_HAS_CHUNK_MODE
#define LIBPQ_HAS_CHUNK_MODE 1
#define PGRES_TUPLES_CHUNK (static_cast<ExecStatusType>(12))
extern "C" int PQsetChunkedRowsMode(PGconn* conn, int chunkSize);
#endif

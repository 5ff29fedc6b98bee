// pgcoro/detail/cancel.hpp — sends a server-side cancel request without blocking the loop.
#pragma once

#include <pgcoro/detail/pq.hpp>

#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <memory>

#ifdef LIBPQ_HAS_ASYNC_CANCEL
#include <boost/asio/posix/stream_descriptor.hpp>
#endif

namespace pgcoro::detail {

#ifndef LIBPQ_HAS_ASYNC_CANCEL
/// libpq < 17 only has the blocking PQcancel (it opens a new connection to the server and
/// waits for it). It runs on this one background thread, never on an io_context thread.
/// PQcancel on a PGcancel object is thread-safe by libpq's contract.
inline boost::asio::thread_pool& cancel_thread() {
    static boost::asio::thread_pool pool(1);
    return pool;
}
#endif

/// Everything needed to ask the server to cancel what a connection is running now.
class canceller {
public:
    canceller() = default;

    /// Call on the connection's strand, with the connection open.
    explicit canceller(PGconn* conn) {
#ifndef LIBPQ_HAS_ASYNC_CANCEL
        if (PGcancel* c = PQgetCancel(conn)) handle_.reset(c, pgcancel_deleter{});
#else
        conn_ = conn;
#endif
    }

    /// Sends the request without blocking; `done()` runs (on `io` for libpq >= 17, on
    /// the cancel thread before) once the server has taken it, or the attempt failed.
    /// `io` is the executor for libpq >= 17's non-blocking cancel.
    template <class Executor, class Done>
    void send(const Executor& io, Done done) const {
#ifndef LIBPQ_HAS_ASYNC_CANCEL
        if (!handle_) return done();
        // `work` keeps the connection's io_context running until done() has posted back
        // (its run() does not return, nor is it destroyed, with the cancel in flight: the
        // connection is never released last on the cancel thread).
        boost::asio::post(cancel_thread(), [h = handle_, done = std::move(done),
                                            work = boost::asio::prefer(
                                                io, boost::asio::execution::outstanding_work.tracked)]() mutable {
            char errbuf[256];
            (void)PQcancel(h.get(), errbuf, sizeof errbuf);  // failure: the query runs on
            done();
        });
#else
        if (!conn_) return done();
        PGcancelConn* c = PQcancelCreate(conn_);
        if (!c) return done();
        auto state = std::make_shared<async_cancel<Executor, Done>>(io, c, std::move(done));
        if (!PQcancelStart(c)) return;  // state's destructor frees c and calls done
        async_cancel<Executor, Done>::poll(std::move(state));
#endif
    }

private:
#ifndef LIBPQ_HAS_ASYNC_CANCEL
    std::shared_ptr<PGcancel> handle_;
#else
    // libpq >= 17: PQcancelStart + PQcancelPoll driven by the cancel connection's socket.
    template <class Executor, class Done>
    struct async_cancel {
        async_cancel(const Executor& ex, PGcancelConn* c, Done d) : sock(ex), conn(c), done(std::move(d)) {}
        ~async_cancel() {
            if (sock.is_open()) sock.release();
            PQcancelFinish(conn);
            done();  // taken, failed or abandoned: it settles the same way
        }
        static void poll(std::shared_ptr<async_cancel> self) {
            PostgresPollingStatusType st = PQcancelPoll(self->conn);
            if (st == PGRES_POLLING_OK || st == PGRES_POLLING_FAILED) return;
            int fd = PQcancelSocket(self->conn);
            if (fd < 0) return;
            if (self->sock.is_open()) self->sock.release();
            boost::system::error_code ec;
            self->sock.assign(fd, ec);
            if (ec) return;
            auto what = st == PGRES_POLLING_READING
                            ? boost::asio::posix::stream_descriptor::wait_read
                            : boost::asio::posix::stream_descriptor::wait_write;
            self->sock.async_wait(what, [self](boost::system::error_code e) {
                if (!e) poll(self);
            });
        }
        boost::asio::posix::stream_descriptor sock;
        PGcancelConn* conn;
        Done done;
    };
    PGconn* conn_ = nullptr;
#endif
};

}  // namespace pgcoro::detail

// pgcoro/observer.hpp — hooks for logging, metrics and tracing.
#pragma once

#include <pgcoro/diagnostics.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace pgcoro {

/// A finished statement, as seen by the connection that ran it.
struct statement_event {
    std::string_view sql;
    int parameter_count = 0;
    std::chrono::nanoseconds duration{};  ///< from reaching the connection until the result was in
    std::uint64_t rows = 0;               ///< rows affected or returned
    boost::system::error_code error;      ///< empty on success
    const pgcoro::diagnostics* diagnostics = nullptr;  ///< the server's, on a server error
    int backend_pid = 0;
};

/// Something that happened to a pool.
struct pool_event {
    enum class kind {
        connected,       ///< a new connection is ready
        connect_failed,  ///< a connection attempt failed (message says why)
        discarded,       ///< a connection was closed: broken, expired, idle or failing its reset
        acquire_timeout, ///< a waiter gave up after acquire_timeout
    };
    kind what;
    std::string message;
    int backend_pid = 0;
};

/// Override what you need. Threads: on_statement_start and on_statement_finish run on
/// the connection's strand (when the statement reaches the connection, and when its
/// result is in, before its caller resumes); on_pool_event runs on the pool's strand.
/// One observer shared by several connections or a pool is called from their strands
/// concurrently when the io_context has several threads: make it thread-safe then.
/// Keep hooks quick and never throw from them. No observer set: no calls, no clock
/// reads, no cost.
class observer {
public:
    virtual ~observer() = default;
    virtual void on_statement_start(std::string_view /*sql*/, int /*parameter_count*/) {}
    virtual void on_statement_finish(const statement_event&) {}
    virtual void on_pool_event(const pool_event&) {}
};

/// A ready observer: calls `sink` with a line for every statement slower than
/// `threshold`, for every failed statement, and for pool events other than `connected`.
/// Parameters are never logged (they may hold secrets), only their count.
class slow_statement_log : public observer {
public:
    slow_statement_log(std::chrono::nanoseconds threshold, std::function<void(const std::string&)> sink)
        : threshold_(threshold), sink_(std::move(sink)) {}

    void on_statement_finish(const statement_event& e) override {
        if (e.duration < threshold_ && !e.error) return;
        std::string line = e.error ? "failed statement" : "slow statement";
        line += " (" + std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(e.duration).count()) +
                " us, " + std::to_string(e.rows) + " rows, " + std::to_string(e.parameter_count) +
                " params, pid " + std::to_string(e.backend_pid) + ")";
        if (e.error) line += " error: " + (e.diagnostics && !e.diagnostics->message.empty() ? e.diagnostics->message : e.error.message());
        line += ": " + std::string(e.sql.substr(0, 500));
        sink_(line);
    }
    void on_pool_event(const pool_event& e) override {
        if (e.what == pool_event::kind::connected) return;
        static constexpr const char* names[] = {"connected", "connect failed", "discarded", "acquire timeout"};
        sink_(std::string("pool: ") + names[static_cast<int>(e.what)] + (e.message.empty() ? "" : ": " + e.message));
    }

private:
    std::chrono::nanoseconds threshold_;
    std::function<void(const std::string&)> sink_;
};

}  // namespace pgcoro

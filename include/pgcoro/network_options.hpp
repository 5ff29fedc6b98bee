// pgcoro/network_options.hpp — per-host connect deadlines, TCP keepalives, and the
// client-side bound on a silent server (connection, pool and listener share them).
#pragma once

#include <pgcoro/error.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace pgcoro {

/// How a connection behaves on a network that fails. Every field is optional; unset
/// means libpq's (or the operating system's) default.
struct network_options {
    // Not an aggregate, on purpose (g++ 12: see connect_options).
    network_options() = default;

    /// Each host of a multi-host connection string (each address of a name) gets at most
    /// this long (TCP, TLS, authentication, the target_session_attrs check) before the
    /// next one is tried, within the whole connect's timeout. Unset: libpq's
    /// `connect_timeout` parameter when the string has one (per host, as libpq means it),
    /// else an equal share of the connect timeout per host.
    std::optional<std::chrono::milliseconds> host_timeout;
    /// TCP keepalives (libpq's keepalives_idle, keepalives_interval, keepalives_count):
    /// the kernel probes an idle connection and drops it when the peer is gone.
    std::optional<std::chrono::seconds> keepalives_idle;
    std::optional<std::chrono::seconds> keepalives_interval;
    std::optional<int> keepalives_count;
    /// libpq's tcp_user_timeout (Linux): data sent and not acknowledged for this long
    /// drops the connection.
    std::optional<std::chrono::milliseconds> tcp_user_timeout;
    /// A connection that has statements in flight and receives nothing for this long is
    /// closed as broken: its statements fail with errc::connection_broken (a pool
    /// replaces it). A bound on a server or network that went silent, which neither
    /// keepalives (the server's kernel may still answer) nor cancellation (the cancel
    /// request goes to the same silent server) can give. Longer than your slowest
    /// statement's first result; unset: no bound.
    std::optional<std::chrono::milliseconds> read_timeout;

    /// Throws errc::invalid_config naming the field when a value is out of range.
    void validate(const char* owner) const {
        auto bad = [&](const char* field, const char* what) {
            throw pgcoro::error(make_error_code(errc::invalid_config),
                                std::string(owner) + ": network." + field + " " + what);
        };
        if (host_timeout && host_timeout->count() <= 0) bad("host_timeout", "must be positive");
        if (keepalives_idle && keepalives_idle->count() <= 0) bad("keepalives_idle", "must be positive");
        if (keepalives_interval && keepalives_interval->count() <= 0) bad("keepalives_interval", "must be positive");
        if (keepalives_count && *keepalives_count <= 0) bad("keepalives_count", "must be positive");
        if (tcp_user_timeout && tcp_user_timeout->count() <= 0) bad("tcp_user_timeout", "must be positive");
        if (read_timeout && read_timeout->count() <= 0) bad("read_timeout", "must be positive");
    }
};

}  // namespace pgcoro

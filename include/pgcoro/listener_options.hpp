// pgcoro/listener_options.hpp — how a pgcoro::listener connects, reconnects and queues.
#pragma once

#include <pgcoro/error.hpp>
#include <pgcoro/network_options.hpp>
#include <pgcoro/pool_config.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace pgcoro {

/// Options of a pgcoro::listener. Not an aggregate on purpose (g++ 12 destroys braced
/// aggregate temporaries in co_await expressions twice: see README).
class listener_options {
public:
    listener_options() = default;

    /// The same connection settings as a pool's: conninfo aside, its connect timeout and
    /// reconnect backoff.
    static listener_options from(const pool_config& cfg) {
        listener_options o;
        o.connect_timeout = cfg.connect_timeout;
        o.reconnect_backoff_initial = cfg.reconnect_backoff_initial;
        o.reconnect_backoff_max = cfg.reconnect_backoff_max;
        o.network = cfg.network;
        return o;
    }

    /// Bounds each connection attempt (all hosts); unset: libpq's connect_timeout.
    std::optional<std::chrono::milliseconds> connect_timeout = std::chrono::seconds(10);
    /// After the connection is lost: the first attempt is immediate, then waits start at
    /// `reconnect_backoff_initial` and double up to `reconnect_backoff_max`.
    std::chrono::milliseconds reconnect_backoff_initial = std::chrono::milliseconds(100);
    std::chrono::milliseconds reconnect_backoff_max = std::chrono::seconds(5);
    /// Notifications kept while nobody receives. One arriving at a full queue is dropped,
    /// and the receiver gets errc::notifications_missed after the ones kept.
    std::size_t queue_limit = 10'000;
    /// Per-host deadlines, TCP keepalives (a listener idles for long: keepalives are how
    /// it learns of a dead peer), read_timeout (applies to its LISTEN statements only).
    network_options network;

    /// Throws pgcoro::error(errc::invalid_config) for a value that cannot work.
    void validate() const {
        if (queue_limit == 0) throw error(make_error_code(errc::invalid_config), "listener_options: queue_limit must be > 0");
        if (reconnect_backoff_initial.count() <= 0 || reconnect_backoff_max < reconnect_backoff_initial)
            throw error(make_error_code(errc::invalid_config),
                        "listener_options: reconnect backoff must be positive, initial <= max");
        if (connect_timeout && connect_timeout->count() <= 0)
            throw error(make_error_code(errc::invalid_config), "listener_options: connect_timeout must be positive");
        network.validate("listener_options");
    }
};

}  // namespace pgcoro

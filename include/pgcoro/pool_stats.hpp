// pgcoro/pool_stats.hpp — a snapshot of a pool's counters.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pgcoro {

/// What pool::stats() returns: a consistent snapshot, taken after the pool's last change.
struct pool_stats {
    std::size_t size = 0;         ///< connections open or being opened
    std::size_t idle = 0;         ///< open and free
    std::size_t in_use = 0;       ///< lent, shared by helper calls, being checked or reset
    std::size_t shared = 0;       ///< of in_use: shared by one-statement helper calls
    std::size_t connecting = 0;   ///< of size: being opened
    std::size_t waiting = 0;      ///< requests waiting for a connection now
    std::uint64_t acquired = 0;   ///< connections handed out (a helper joining a shared one counts)
    std::uint64_t timeouts = 0;   ///< requests that timed out after acquire_timeout
    std::uint64_t connect_failures = 0;
    std::uint64_t discarded = 0;  ///< connections closed as broken, expired, idle or unresettable
};

}  // namespace pgcoro

// pgcoro/uuid.hpp — UUID generators: random (v4) and time-ordered (v7, RFC 9562).
#pragma once

#include <pgcoro/types/uuid.hpp>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include <chrono>
#include <cstdint>
#include <random>

namespace pgcoro {

/// A random (version 4) UUID. Thread-safe (one generator per thread).
inline boost::uuids::uuid new_uuid() {
    thread_local boost::uuids::random_generator gen;
    return gen();
}

/// A time-ordered (version 7) UUID: 48 bits of Unix milliseconds, then a 12-bit counter
/// that keeps UUIDs made in the same millisecond by the same thread increasing (RFC 9562
/// method 1), then 62 random bits. Good primary keys: new rows land at the index's end.
inline boost::uuids::uuid new_uuid_v7() {
    thread_local std::mt19937_64 rng([] {
        std::random_device rd;
        return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }());
    thread_local std::uint64_t last_ms = 0;
    thread_local std::uint16_t counter = 0;
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
    if (ms <= last_ms) {
        // Same millisecond (or the clock stepped back): count on from the last one.
        if (++counter > 0x0FFF) {
            counter = 0;
            ++last_ms;  // counter exhausted: borrow the next millisecond
        }
        ms = last_ms;
    } else {
        last_ms = ms;
        counter = static_cast<std::uint16_t>(rng() & 0x07FF);  // random start, room to count
    }
    std::uint64_t rand_b = rng();
    boost::uuids::uuid u;
    for (int i = 0; i < 6; ++i) u.data[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
    u.data[6] = static_cast<std::uint8_t>(0x70 | ((counter >> 8) & 0x0F));  // version 7
    u.data[7] = static_cast<std::uint8_t>(counter & 0xFF);
    u.data[8] = static_cast<std::uint8_t>(0x80 | ((rand_b >> 56) & 0x3F));  // variant 10
    for (int i = 9; i < 16; ++i) u.data[i] = static_cast<std::uint8_t>(rand_b >> (8 * (15 - i)));
    return u;
}

}  // namespace pgcoro

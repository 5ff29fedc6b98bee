// pgcoro/detail/binary.hpp — big-endian reads and writes for the binary wire format.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

namespace pgcoro::detail {

template <class U>
inline U byteswap_if_little(U v) noexcept {
    static_assert(std::is_unsigned_v<U>);
    if constexpr (std::endian::native == std::endian::little) {
        if constexpr (sizeof(U) == 1) return v;
        else if constexpr (sizeof(U) == 2) return static_cast<U>(__builtin_bswap16(v));
        else if constexpr (sizeof(U) == 4) return static_cast<U>(__builtin_bswap32(v));
        else return static_cast<U>(__builtin_bswap64(v));
    } else {
        return v;
    }
}

/// Reads a big-endian T (integral or floating) from exactly sizeof(T) bytes at p.
template <class T>
inline T read_be(const char* p) noexcept {
    using U = std::conditional_t<sizeof(T) == 1, std::uint8_t,
              std::conditional_t<sizeof(T) == 2, std::uint16_t,
              std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;
    U u;
    std::memcpy(&u, p, sizeof(U));
    return std::bit_cast<T>(byteswap_if_little(u));
}

/// Appends a big-endian T to out.
template <class T>
inline void write_be(std::string& out, T v) {
    using U = std::conditional_t<sizeof(T) == 1, std::uint8_t,
              std::conditional_t<sizeof(T) == 2, std::uint16_t,
              std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>>;
    U u = byteswap_if_little(std::bit_cast<U>(v));
    char buf[sizeof(U)];
    std::memcpy(buf, &u, sizeof(U));
    out.append(buf, sizeof(U));
}

}  // namespace pgcoro::detail

// pgcoro/detail/binary.hpp — big-endian reads and writes for the binary wire format.
#pragma once

#include <bit>
#include <cstdint>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
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

/// Bounds-checked reading of a binary value; `what` names the type in errors. Throws E
/// (pgcoro::value_error where it is used) on anything past the end.
template <class E>
class byte_reader {
public:
    byte_reader(std::string_view b, const char* what) noexcept : b_(b), what_(what) {}

    template <class T>
    T be() {
        return read_be<T>(take(sizeof(T)).data());
    }
    std::string_view take(std::size_t n) {
        if (n > b_.size() - pos_) throw E(std::string(what_) + ": value truncated");
        std::string_view r = b_.substr(pos_, n);
        pos_ += n;
        return r;
    }
    /// A 4-byte length then that many bytes; nullopt for -1 (NULL).
    std::optional<std::string_view> field() {
        auto len = be<std::int32_t>();
        if (len == -1) return std::nullopt;
        if (len < 0) throw E(std::string(what_) + ": negative length");
        return take(static_cast<std::size_t>(len));
    }
    std::size_t left() const noexcept { return b_.size() - pos_; }
    void expect_end() const {
        if (pos_ != b_.size()) throw E(std::string(what_) + ": trailing bytes");
    }

private:
    std::string_view b_;
    const char* what_;
    std::size_t pos_ = 0;
};

/// Appends a 4-byte length placeholder; end_length() fills it in (the value's bytes
/// since). Throws E over 1 GiB.
inline std::size_t begin_length(std::string& out) {
    std::size_t at = out.size();
    out.append(4, '\0');
    return at;
}
template <class E>
void end_length(std::string& out, std::size_t at) {
    std::size_t len = out.size() - at - 4;
    if (len > 0x3FFFFFFF) throw E("a value larger than 1 GiB");
    auto u = byteswap_if_little(static_cast<std::uint32_t>(len));
    std::memcpy(out.data() + at, &u, 4);
}

}  // namespace pgcoro::detail

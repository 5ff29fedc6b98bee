// pgcoro/types/bit.hpp — bit(n) and bit varying(n) as a sequence of bits.
#pragma once

#include <pgcoro/detail/binary.hpp>
#include <pgcoro/types/traits.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pgcoro {

/// A bit string (bit, varbit): bits[0] is the leftmost bit ("1010" is {1, 0, 1, 0}).
/// Sent as varbit; a bit(n) column checks the length (the server's error otherwise).
struct bit_string {
    std::vector<bool> bits;
    /// "1010"
    std::string to_string() const {
        std::string s;
        s.reserve(bits.size());
        for (bool b : bits) s += b ? '1' : '0';
        return s;
    }
    friend bool operator==(const bit_string&, const bit_string&) = default;
};

template <>
struct type_traits<bit_string> {
    static constexpr std::string_view cpp_name = "pgcoro::bit_string";
    static constexpr oid_t param_oid = oids::varbit;
    static constexpr oid_t array_oid = 1563;
    static bool accepts(oid_t o) noexcept { return o == oids::bit || o == oids::varbit; }
    static void encode(const bit_string& v, std::string& out) {
        if (v.bits.size() > 0x7FFFFFF0) throw value_error("bit string: too long");
        detail::write_be<std::int32_t>(out, static_cast<std::int32_t>(v.bits.size()));
        std::uint8_t byte = 0;
        for (std::size_t i = 0; i < v.bits.size(); ++i) {
            if (v.bits[i]) byte = static_cast<std::uint8_t>(byte | (0x80u >> (i % 8)));
            if (i % 8 == 7) {
                out.push_back(static_cast<char>(byte));
                byte = 0;
            }
        }
        if (v.bits.size() % 8) out.push_back(static_cast<char>(byte));
    }
    static bit_string decode(oid_t, std::string_view b) {
        if (b.size() < 4) throw value_error("bit string: length truncated");
        auto n = detail::read_be<std::int32_t>(b.data());
        if (n < 0) throw value_error("bit string: negative length");
        std::size_t bytes = (static_cast<std::size_t>(n) + 7) / 8;
        if (b.size() - 4 != bytes) throw value_error("bit string: " + std::to_string(n) + " bits in " + std::to_string(b.size() - 4) + " bytes");
        bit_string v;
        v.bits.resize(static_cast<std::size_t>(n));
        for (std::size_t i = 0; i < v.bits.size(); ++i)
            v.bits[i] = (static_cast<std::uint8_t>(b[4 + i / 8]) & (0x80u >> (i % 8))) != 0;
        return v;
    }
};

}  // namespace pgcoro

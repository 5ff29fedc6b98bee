// pgcoro/types/bytea.hpp — bytea as a vector of bytes.
#pragma once

#include <pgcoro/types/traits.hpp>

#include <cstddef>
#include <cstring>
#include <span>
#include <vector>

namespace pgcoro {

namespace detail {
template <class Byte>
struct bytea_traits {
    static constexpr oid_t param_oid = oids::bytea;
    static constexpr oid_t array_oid = 1001;
    static bool accepts(oid_t o) noexcept { return o == oids::bytea; }
    static void encode(const std::vector<Byte>& v, std::string& out) {
        out.append(reinterpret_cast<const char*>(v.data()), v.size());
    }
    static std::vector<Byte> decode(oid_t, std::string_view b) {
        std::vector<Byte> v(b.size());
        if (!b.empty()) std::memcpy(v.data(), b.data(), b.size());
        return v;
    }
};
}  // namespace detail

/// bytea <-> std::vector<std::byte> (any bytes, NUL included).
template <>
struct type_traits<std::vector<std::byte>> : detail::bytea_traits<std::byte> {
    static constexpr std::string_view cpp_name = "std::vector<std::byte>";
};
/// bytea <-> std::vector<unsigned char>.
template <>
struct type_traits<std::vector<unsigned char>> : detail::bytea_traits<unsigned char> {
    static constexpr std::string_view cpp_name = "std::vector<unsigned char>";
};
/// A view of bytes, sent as bytea. Read only from a pgcoro::result (result::get,
/// result::as, query_result): the span points into the result and lives as long as it.
/// query<T>() and friends, which free the result before returning, refuse it at compile
/// time.
template <>
struct type_traits<std::span<const std::byte>> {
    static constexpr std::string_view cpp_name = "std::span<const std::byte>";
    static constexpr oid_t param_oid = oids::bytea;
    static constexpr bool borrows = true;
    static bool accepts(oid_t o) noexcept { return o == oids::bytea; }
    static void encode(std::span<const std::byte> v, std::string& out) {
        out.append(reinterpret_cast<const char*>(v.data()), v.size());
    }
    static std::span<const std::byte> decode(oid_t, std::string_view b) {
        return {reinterpret_cast<const std::byte*>(b.data()), b.size()};
    }
};

}  // namespace pgcoro

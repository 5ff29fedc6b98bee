// pgcoro/types/array.hpp — one-dimensional arrays as std::vector<T>.
#pragma once

#include <pgcoro/detail/binary.hpp>
#include <pgcoro/types/traits.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace pgcoro {

namespace detail {

template <class T>
using element_value_t = typename std::conditional_t<is_optional<T>::value, T, std::optional<T>>::value_type;

template <class E>
constexpr oid_t array_oid_of() {
    if constexpr (requires { type_traits<E>::array_oid; }) return type_traits<E>::array_oid;
    else return oids::unspecified;
}

/// The element type of PostgreSQL's built-in array types (0 for any other OID).
inline oid_t element_oid_of_array(oid_t a) noexcept {
    switch (a) {
    case 1000: return oids::bool_;
    case 1001: return oids::bytea;
    case 1003: return oids::name;
    case 1005: return oids::int2;
    case 1007: return oids::int4;
    case 1009: return oids::text;
    case 1014: return oids::bpchar;
    case 1015: return oids::varchar;
    case 1016: return oids::int8;
    case 1021: return oids::float4;
    case 1022: return oids::float8;
    case 1041: return oids::inet;
    case 651: return oids::cidr;
    case 1115: return oids::timestamp;
    case 1182: return oids::date;
    case 1183: return oids::time;
    case 1185: return oids::timestamptz;
    case 1187: return oids::interval;
    case 1231: return oids::numeric;
    case 2951: return oids::uuid;
    case 199: return oids::json;
    case 3807: return oids::jsonb;
    default: return 0;
    }
}

template <class T>
constexpr bool is_bytea_vector = std::is_same_v<T, std::byte> || std::is_same_v<T, unsigned char>;

}  // namespace detail

/// std::vector<T> <-> a one-dimensional array of T (std::optional<T> elements for arrays
/// that may hold NULL). Reading a multi-dimensional array is a value_error: unnest it or
/// read it as json. An empty vector is '{}'. Arrays of extension types (OID >= 16384) are
/// accepted when their element type reads as T; enum arrays can be read but not sent
/// (send text[] and cast: `$1::text[]::my_enum[]`).
template <class T>
struct type_traits<std::vector<T>, std::enable_if_t<!detail::is_bytea_vector<T>>> {
    using element = detail::element_value_t<T>;
    static constexpr std::string_view cpp_name = "std::vector";
    static constexpr oid_t param_oid = detail::array_oid_of<element>();

    static bool accepts(oid_t o) noexcept
        requires detail::has_decode<element>::value
    {
        oid_t e = detail::element_oid_of_array(o);
        if (e) return type_traits<element>::accepts(e);
        return o >= 16384;  // an extension's array type: the element OID is checked in decode
    }

    static void encode(const std::vector<T>& v, std::string& out)
        requires detail::has_encode<element>::value
    {
        using detail::write_be;
        if (v.size() > 0x7FFFFFFF) throw value_error("array: too many elements");
        bool has_null = false;
        if constexpr (detail::is_optional<T>::value)
            for (const auto& x : v) has_null = has_null || !x;
        write_be<std::int32_t>(out, v.empty() ? 0 : 1);
        write_be<std::int32_t>(out, has_null ? 1 : 0);
        write_be<std::uint32_t>(out, type_traits<element>::param_oid);
        if (v.empty()) return;
        write_be<std::int32_t>(out, static_cast<std::int32_t>(v.size()));
        write_be<std::int32_t>(out, 1);  // lower bound
        for (const auto& x : v) {
            const element* e;
            if constexpr (detail::is_optional<T>::value) {
                if (!x) {
                    write_be<std::int32_t>(out, -1);
                    continue;
                }
                e = &*x;
            } else {
                e = &x;
            }
            std::size_t at = out.size();
            write_be<std::int32_t>(out, 0);
            std::size_t start = out.size();
            type_traits<element>::encode(*e, out);
            std::size_t len = out.size() - start;
            if (len > 0x3FFFFFFF) throw value_error("array: element too large");
            std::string len_bytes;
            write_be<std::int32_t>(len_bytes, static_cast<std::int32_t>(len));
            out.replace(at, 4, len_bytes);
        }
    }

    static std::vector<T> decode(oid_t, std::string_view b)
        requires detail::has_decode<element>::value
    {
        using detail::read_be;
        if (b.size() < 12) throw value_error("array: header truncated");
        auto ndim = read_be<std::int32_t>(b.data());
        auto flags = read_be<std::int32_t>(b.data() + 4);
        auto elem_oid = read_be<std::uint32_t>(b.data() + 8);
        if (flags != 0 && flags != 1) throw value_error("array: bad flags");
        std::vector<T> out;
        if (ndim == 0) {
            if (b.size() != 12) throw value_error("array: trailing bytes after an empty array");
            return out;
        }
        if (ndim < 0) throw value_error("array: negative dimension count");
        if (ndim > 1)
            throw value_error("array: " + std::to_string(ndim) +
                              "-dimensional arrays cannot be read into std::vector; unnest() it or read it as json");
        if (!type_traits<element>::accepts(elem_oid))
            throw value_error("array: element type " + type_name_of(elem_oid) + " cannot be read as the vector's element");
        if (b.size() < 20) throw value_error("array: dimension truncated");
        auto n = read_be<std::int32_t>(b.data() + 12);
        std::size_t pos = 20;
        if (n < 0) throw value_error("array: negative element count");
        if (static_cast<std::size_t>(n) > (b.size() - pos) / 4) throw value_error("array: element count exceeds the data");
        out.reserve(static_cast<std::size_t>(n));
        for (std::int32_t i = 0; i < n; ++i) {
            if (b.size() - pos < 4) throw value_error("array: element length truncated");
            auto len = read_be<std::int32_t>(b.data() + pos);
            pos += 4;
            if (len == -1) {
                if constexpr (detail::is_optional<T>::value) {
                    out.emplace_back();
                    continue;
                } else {
                    throw value_error("array: element " + std::to_string(i) +
                                      " is NULL; use std::vector<std::optional<...>>");
                }
            }
            if (len < 0 || static_cast<std::size_t>(len) > b.size() - pos) throw value_error("array: element length out of bounds");
            out.emplace_back(type_traits<element>::decode(elem_oid, b.substr(pos, static_cast<std::size_t>(len))));
            pos += static_cast<std::size_t>(len);
        }
        if (pos != b.size()) throw value_error("array: trailing bytes");
        return out;
    }
};

}  // namespace pgcoro

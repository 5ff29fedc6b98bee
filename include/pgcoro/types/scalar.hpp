// pgcoro/types/scalar.hpp — bool, integers and floating point.
#pragma once

#include <pgcoro/detail/binary.hpp>
#include <pgcoro/types/traits.hpp>

#include <cstdint>
#include <string>

namespace pgcoro {

template <>
struct type_traits<bool> {
    static constexpr std::string_view cpp_name = "bool";
    static constexpr oid_t param_oid = oids::bool_;
    static constexpr oid_t array_oid = 1000;
    static bool accepts(oid_t o) noexcept { return o == oids::bool_; }
    static void encode(bool v, std::string& out) { out.push_back(v ? '\1' : '\0'); }
    static bool decode(oid_t, std::string_view b) {
        if (b.size() != 1) throw value_error("bool: expected 1 byte, got " + std::to_string(b.size()));
        if (b[0] != 0 && b[0] != 1) throw value_error("bool: byte is neither 0 nor 1");
        return b[0] == 1;
    }
};

namespace detail {

/// Integers read any narrower-or-equal PostgreSQL integer column (int2 into int64 is
/// fine, int8 into int32 is a type mismatch: it could not hold every value).
template <class T, oid_t Own>
struct integer_traits {
    static constexpr oid_t param_oid = Own;
    static constexpr oid_t array_oid = Own == oids::int2 ? 1005 : Own == oids::int4 ? 1007 : 1016;
    static bool accepts(oid_t o) noexcept {
        switch (o) {
        case oids::int2: return true;
        case oids::int4: return sizeof(T) >= 4;
        case oids::int8: return sizeof(T) >= 8;
        default: return false;
        }
    }
    static void encode(T v, std::string& out) { write_be<T>(out, v); }
    static T decode(oid_t o, std::string_view b) {
        std::size_t want = o == oids::int2 ? 2 : o == oids::int4 ? 4 : 8;
        if (b.size() != want)
            throw value_error(type_name_of(o) + ": expected " + std::to_string(want) +
                              " bytes, got " + std::to_string(b.size()));
        switch (want) {
        case 2: return static_cast<T>(read_be<std::int16_t>(b.data()));
        case 4: return static_cast<T>(read_be<std::int32_t>(b.data()));
        default: return static_cast<T>(read_be<std::int64_t>(b.data()));
        }
    }
};

}  // namespace detail

template <>
struct type_traits<std::int16_t> : detail::integer_traits<std::int16_t, oids::int2> {
    static constexpr std::string_view cpp_name = "std::int16_t";
};
template <>
struct type_traits<std::int32_t> : detail::integer_traits<std::int32_t, oids::int4> {
    static constexpr std::string_view cpp_name = "std::int32_t";
};
template <>
struct type_traits<std::int64_t> : detail::integer_traits<std::int64_t, oids::int8> {
    static constexpr std::string_view cpp_name = "std::int64_t";
};
// `long long` is a distinct type from std::int64_t (`long`) on LP64 Linux.
template <>
struct type_traits<long long, std::enable_if_t<!std::is_same_v<long long, std::int64_t>>>
    : detail::integer_traits<long long, oids::int8> {
    static constexpr std::string_view cpp_name = "long long";
};

template <>
struct type_traits<float> {
    static constexpr std::string_view cpp_name = "float";
    static constexpr oid_t param_oid = oids::float4;
    static constexpr oid_t array_oid = 1021;
    static bool accepts(oid_t o) noexcept { return o == oids::float4; }
    static void encode(float v, std::string& out) { detail::write_be<float>(out, v); }
    static float decode(oid_t, std::string_view b) {
        if (b.size() != 4) throw value_error("float4: expected 4 bytes, got " + std::to_string(b.size()));
        return detail::read_be<float>(b.data());
    }
};

/// double reads float8 and (exactly) float4.
template <>
struct type_traits<double> {
    static constexpr std::string_view cpp_name = "double";
    static constexpr oid_t param_oid = oids::float8;
    static constexpr oid_t array_oid = 1022;
    static bool accepts(oid_t o) noexcept { return o == oids::float8 || o == oids::float4; }
    static void encode(double v, std::string& out) { detail::write_be<double>(out, v); }
    static double decode(oid_t o, std::string_view b) {
        if (o == oids::float4) return type_traits<float>::decode(o, b);
        if (b.size() != 8) throw value_error("float8: expected 8 bytes, got " + std::to_string(b.size()));
        return detail::read_be<double>(b.data());
    }
};

}  // namespace pgcoro

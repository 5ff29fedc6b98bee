// Fuzz targets, one per decoder family: the first byte picks a decoder (and the column
// type it is told), the rest is the value's binary form as a server could send it. Every
// decoder must return a value or throw pgcoro::value_error: anything else (another
// exception, a crash, undefined behaviour under ASan + UBSan) is a bug. A value that
// decodes is encoded again and must decode to the same value (where == exists).
//
// Built two ways: with clang's libFuzzer (scripts/fuzz.sh: coverage-guided, bounded in
// time, in CI) and with a deterministic driver (replay.cpp: the corpus and seeded
// mutations, a CTest case in every build, g++ included).
#pragma once

#include <pgcoro/types.hpp>
#include <pgcoro/types/composite.hpp>
#include <pgcoro/types/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pgfuzz {

using namespace pgcoro;

struct fz_address {
    std::string street;
    std::optional<std::string> city;
    friend bool operator==(const fz_address&, const fz_address&) = default;
};
struct fz_nested {
    fz_address where;
    std::vector<std::optional<std::int64_t>> numbers;
    range<std::int32_t> span;
    friend bool operator==(const fz_nested&, const fz_nested&) = default;
};

}  // namespace pgfuzz

template <>
struct pgcoro::composite<pgfuzz::fz_address> {};
template <>
struct pgcoro::composite<pgfuzz::fz_nested> {};

namespace pgfuzz {

template <class T>
bool same(const T& a, const T& b) {
    if constexpr (std::is_floating_point_v<T>) return (a != a && b != b) || a == b;  // NaN is NaN
    else return a == b;
}

template <class T>
void one(oid_t column, std::string_view bytes) {
    T v;
    try {
        v = detail::decode_value<T>(pg_type(column), bytes);
    } catch (const value_error&) {
        return;
    }
    // boost::json::value is decoded only: Boost.JSON (1.81) parses numbers beyond 64-bit
    // integers into doubles without correct rounding, so its own round trip can differ in
    // the last bit (README: read such documents as std::string).
    if constexpr (requires { v == v; } && detail::has_encode<T>::value && !std::is_same_v<T, boost::json::value>) {
        std::string again;
        try {
            type_traits<T>::encode(v, again);
        } catch (const value_error&) {
            return;  // read but not sendable (a NaN-free type's edge): fine
        }
        // Sent as its own parameter type (an int2 read into int64 goes back as int8).
        oid_t sent_as = type_traits<T>::param_oid ? type_traits<T>::param_oid : column;
        T back = detail::decode_value<T>(pg_type(sent_as), again);
        if (!same(back, v)) {  // a value that does not survive its own round trip
            std::fprintf(stderr, "round trip differs for %s from column oid %u, input:", detail::cpp_type_name<T>().c_str(), column);
            for (char ch : bytes) std::fprintf(stderr, " %02x", static_cast<unsigned char>(ch));
            std::fprintf(stderr, "\n");
            std::abort();
        }
    }
}

enum class family { scalars, numeric, datetime, text, arrays, ranges, network, json, composites };
inline constexpr family all_families[] = {family::scalars, family::numeric, family::datetime,
                                          family::text,    family::arrays,  family::ranges,
                                          family::network, family::json,    family::composites};
inline const char* name_of(family f) {
    switch (f) {
    case family::scalars: return "scalars";
    case family::numeric: return "numeric";
    case family::datetime: return "datetime";
    case family::text: return "text";
    case family::arrays: return "arrays";
    case family::ranges: return "ranges";
    case family::network: return "network";
    case family::json: return "json";
    case family::composites: return "composites";
    }
    return "?";
}

inline void run(family f, const std::uint8_t* data, std::size_t size) {
    if (size == 0) return;
    unsigned pick = data[0];
    std::string_view b(reinterpret_cast<const char*>(data + 1), size - 1);
    using namespace std::chrono;
    switch (f) {
    case family::scalars:
        switch (pick % 9) {
        case 0: return one<bool>(oids::bool_, b);
        case 1: return one<std::int16_t>(oids::int2, b);
        case 2: return one<std::int32_t>(oids::int4, b);
        case 3: return one<std::int64_t>(oids::int8, b);
        case 4: return one<std::int64_t>(oids::int2, b);
        case 5: return one<float>(oids::float4, b);
        case 6: return one<double>(oids::float8, b);
        case 7: return one<money>(oids::money, b);
        default: return one<boost::uuids::uuid>(oids::uuid, b);
        }
    case family::numeric: return one<numeric>(oids::numeric, b);
    case family::datetime:
        switch (pick % 8) {
        case 0: return one<sys_days>(oids::date, b);
        case 1: return one<timestamptz>(oids::timestamptz, b);
        case 2: return one<timestamp>(oids::timestamp, b);
        case 3: return one<time_of_day>(oids::time, b);
        case 4: return one<interval>(oids::interval, b);
        case 5: return one<time_tz>(oids::timetz, b);
        case 6: return one<seconds>(oids::interval, b);
        default: return one<nanoseconds>(oids::interval, b);
        }
    case family::text:
        switch (pick % 5) {
        case 0: return one<std::string>(oids::text, b);
        case 1: return one<std::string>(oids::jsonb, b);
        case 2: return one<hstore>(0, b);
        case 3: return one<bit_string>(oids::varbit, b);
        default: return one<std::vector<std::byte>>(oids::bytea, b);
        }
    case family::arrays:
        switch (pick % 6) {
        case 0: return one<std::vector<std::int32_t>>(1007, b);
        case 1: return one<std::vector<std::optional<std::int64_t>>>(1016, b);
        case 2: return one<std::vector<std::string>>(1009, b);
        case 3: return one<std::vector<std::vector<std::optional<std::int32_t>>>>(1007, b);
        case 4: return one<std::vector<numeric>>(1231, b);
        default: return one<std::vector<std::vector<std::vector<std::string>>>>(1009, b);
        }
    case family::ranges:
        switch (pick % 5) {
        case 0: return one<range<std::int32_t>>(oids::int4range, b);
        case 1: return one<range<numeric>>(oids::numrange, b);
        case 2: return one<range<timestamptz>>(oids::tstzrange, b);
        case 3: return one<multirange<std::int64_t>>(4536, b);
        default: return one<std::vector<range<sys_days>>>(3913, b);
        }
    case family::network:
        switch (pick % 3) {
        case 0: return one<inet>(oids::inet, b);
        case 1: return one<macaddr>(oids::macaddr, b);
        default: return one<macaddr8>(oids::macaddr8, b);
        }
    case family::json: return one<boost::json::value>(pick % 2 ? oids::jsonb : oids::json, b);
    case family::composites:
        switch (pick % 3) {
        case 0: return one<fz_address>(oids::record, b);
        case 1: return one<fz_nested>(oids::record, b);
        default: return one<std::vector<fz_address>>(2287, b);
        }
    }
}

}  // namespace pgfuzz

// pgcoro/types/datetime.hpp — date, time, timestamp, timestamptz and interval.
//
// PostgreSQL counts from 2000-01-01 in microseconds (days for date); these map onto
// std::chrono with microsecond precision:
//   date        <-> std::chrono::sys_days
//   timestamptz <-> pgcoro::timestamptz = std::chrono::sys_time<std::chrono::microseconds> (UTC)
//   timestamp   <-> pgcoro::timestamp   = std::chrono::local_time<std::chrono::microseconds>
//   time        <-> pgcoro::time_of_day = std::chrono::hh_mm_ss<std::chrono::microseconds>
//   interval    <-> pgcoro::interval { months, days, microseconds }
// 'infinity' and '-infinity' map to the time point's max() and min(), both ways.
#pragma once

#include <pgcoro/detail/binary.hpp>
#include <pgcoro/types/traits.hpp>

#include <chrono>
#include <cstdint>
#include <limits>

namespace pgcoro {

using timestamptz = std::chrono::sys_time<std::chrono::microseconds>;
using timestamp = std::chrono::local_time<std::chrono::microseconds>;
using time_of_day = std::chrono::hh_mm_ss<std::chrono::microseconds>;

/// A PostgreSQL interval: its three fields are kept apart, as the server keeps them
/// (a month is not a fixed number of days, nor a day of microseconds across DST).
struct interval {
    std::int32_t months = 0;
    std::int32_t days = 0;
    std::int64_t microseconds = 0;
    friend bool operator==(const interval&, const interval&) = default;
};

namespace detail {
inline constexpr std::int64_t pg_epoch_days = 10957;                       // 1970-01-01 -> 2000-01-01
inline constexpr std::int64_t pg_epoch_us = pg_epoch_days * 86400LL * 1000000LL;

template <class TimePoint>
void encode_us_timestamp(TimePoint tp, std::string& out) {
    if (tp == TimePoint::max()) return write_be<std::int64_t>(out, std::numeric_limits<std::int64_t>::max());
    if (tp == TimePoint::min()) return write_be<std::int64_t>(out, std::numeric_limits<std::int64_t>::min());
    std::int64_t us = tp.time_since_epoch().count();
    if (us < std::numeric_limits<std::int64_t>::min() + pg_epoch_us)
        throw value_error("timestamp out of range");
    write_be<std::int64_t>(out, us - pg_epoch_us);
}

template <class TimePoint>
TimePoint decode_us_timestamp(std::string_view b, const char* what) {
    if (b.size() != 8) throw value_error(std::string(what) + ": expected 8 bytes, got " + std::to_string(b.size()));
    auto v = read_be<std::int64_t>(b.data());
    if (v == std::numeric_limits<std::int64_t>::max()) return TimePoint::max();
    if (v == std::numeric_limits<std::int64_t>::min()) return TimePoint::min();
    if (v > std::numeric_limits<std::int64_t>::max() - pg_epoch_us)
        throw value_error(std::string(what) + ": out of range");
    return TimePoint(std::chrono::microseconds(v + pg_epoch_us));
}
}  // namespace detail

template <>
struct type_traits<std::chrono::sys_days> {
    static constexpr std::string_view cpp_name = "std::chrono::sys_days";
    static constexpr oid_t param_oid = oids::date;
    static constexpr oid_t array_oid = 1182;
    static bool accepts(oid_t o) noexcept { return o == oids::date; }
    static void encode(std::chrono::sys_days d, std::string& out) {
        using L = std::numeric_limits<std::int32_t>;
        if (d == std::chrono::sys_days::max()) return detail::write_be<std::int32_t>(out, L::max());
        if (d == std::chrono::sys_days::min()) return detail::write_be<std::int32_t>(out, L::min());
        std::int64_t v = static_cast<std::int64_t>(d.time_since_epoch().count()) - detail::pg_epoch_days;
        if (v <= L::min() || v >= L::max()) throw value_error("date out of range");
        detail::write_be<std::int32_t>(out, static_cast<std::int32_t>(v));
    }
    static std::chrono::sys_days decode(oid_t, std::string_view b) {
        using L = std::numeric_limits<std::int32_t>;
        if (b.size() != 4) throw value_error("date: expected 4 bytes, got " + std::to_string(b.size()));
        auto v = detail::read_be<std::int32_t>(b.data());
        if (v == L::max()) return std::chrono::sys_days::max();
        if (v == L::min()) return std::chrono::sys_days::min();
        return std::chrono::sys_days(std::chrono::days(static_cast<std::int64_t>(v) + detail::pg_epoch_days));
    }
};

template <>
struct type_traits<timestamptz> {
    static constexpr std::string_view cpp_name = "pgcoro::timestamptz";
    static constexpr oid_t param_oid = oids::timestamptz;
    static constexpr oid_t array_oid = 1185;
    static bool accepts(oid_t o) noexcept { return o == oids::timestamptz; }
    static void encode(timestamptz t, std::string& out) { detail::encode_us_timestamp(t, out); }
    static timestamptz decode(oid_t, std::string_view b) {
        return detail::decode_us_timestamp<timestamptz>(b, "timestamptz");
    }
};

template <>
struct type_traits<timestamp> {
    static constexpr std::string_view cpp_name = "pgcoro::timestamp";
    static constexpr oid_t param_oid = oids::timestamp;
    static constexpr oid_t array_oid = 1115;
    static bool accepts(oid_t o) noexcept { return o == oids::timestamp; }
    static void encode(timestamp t, std::string& out) { detail::encode_us_timestamp(t, out); }
    static timestamp decode(oid_t, std::string_view b) {
        return detail::decode_us_timestamp<timestamp>(b, "timestamp");
    }
};

template <>
struct type_traits<time_of_day> {
    static constexpr std::string_view cpp_name = "pgcoro::time_of_day";
    static constexpr oid_t param_oid = oids::time;
    static constexpr oid_t array_oid = 1183;
    static constexpr std::int64_t day_us = 86400LL * 1000000LL;
    static bool accepts(oid_t o) noexcept { return o == oids::time; }
    static void encode(const time_of_day& t, std::string& out) {
        std::int64_t us = t.to_duration().count();
        if (us < 0 || us > day_us) throw value_error("time of day out of range");
        detail::write_be<std::int64_t>(out, us);
    }
    static time_of_day decode(oid_t, std::string_view b) {
        if (b.size() != 8) throw value_error("time: expected 8 bytes, got " + std::to_string(b.size()));
        auto us = detail::read_be<std::int64_t>(b.data());
        if (us < 0 || us > day_us) throw value_error("time: out of range");  // 24:00:00 is allowed
        return time_of_day(std::chrono::microseconds(us));
    }
};

template <>
struct type_traits<interval> {
    static constexpr std::string_view cpp_name = "pgcoro::interval";
    static constexpr oid_t param_oid = oids::interval;
    static constexpr oid_t array_oid = 1187;
    static bool accepts(oid_t o) noexcept { return o == oids::interval; }
    static void encode(const interval& v, std::string& out) {
        detail::write_be<std::int64_t>(out, v.microseconds);
        detail::write_be<std::int32_t>(out, v.days);
        detail::write_be<std::int32_t>(out, v.months);
    }
    static interval decode(oid_t, std::string_view b) {
        if (b.size() != 16) throw value_error("interval: expected 16 bytes, got " + std::to_string(b.size()));
        interval v;
        v.microseconds = detail::read_be<std::int64_t>(b.data());
        v.days = detail::read_be<std::int32_t>(b.data() + 8);
        v.months = detail::read_be<std::int32_t>(b.data() + 12);
        return v;
    }
};

}  // namespace pgcoro

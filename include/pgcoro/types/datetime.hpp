// pgcoro/types/datetime.hpp — date, time, timestamp, timestamptz and interval.
//
// PostgreSQL counts from 2000-01-01 in microseconds (days for date); these map onto
// std::chrono with microsecond precision:
//   date        <-> std::chrono::sys_days
//   timestamptz <-> pgcoro::timestamptz = std::chrono::sys_time<std::chrono::microseconds> (UTC)
//   timestamp   <-> pgcoro::timestamp   = std::chrono::local_time<std::chrono::microseconds>
//   time        <-> pgcoro::time_of_day = std::chrono::hh_mm_ss<std::chrono::microseconds>
//   interval    <-> pgcoro::interval { months, days, microseconds }, or any integral
//                   std::chrono::duration when the value is exact (no months or days)
//   timetz      <-> pgcoro::time_tz { time, utc_offset }
// 'infinity' and '-infinity' map to the time point's max() and min(), both ways.
#pragma once

#include <pgcoro/detail/binary.hpp>
#include <pgcoro/types/traits.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <ratio>
#include <string>
#include <type_traits>

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

namespace detail {
/// A duration unit pgcoro converts to and from microseconds exactly, with a conversion
/// factor that is a whole number one way (ns, us, ms, s, min, h, days...).
template <class Period>
constexpr bool simple_period = std::ratio_divide<Period, std::micro>::num == 1 || std::ratio_divide<Period, std::micro>::den == 1;
}  // namespace detail

/// A std::chrono::duration (integral count, a unit that is a whole number of microseconds
/// or a whole fraction of one) as an interval of no months and no days. Sent as
/// microseconds: a duration that is not a whole number of microseconds is a value_error.
/// Read only when the interval has no months and no days (a month is not a fixed length,
/// and a day is not 24 hours across DST: read those as pgcoro::interval, or normalise with
/// justify_hours() / EXTRACT(epoch ...)) and the duration holds it exactly.
template <class Rep, class Period>
struct type_traits<std::chrono::duration<Rep, Period>,
                   std::enable_if_t<std::is_integral_v<Rep> && detail::simple_period<Period>>> {
    using D = std::chrono::duration<Rep, Period>;
    static constexpr std::string_view cpp_name = "std::chrono::duration";
    static constexpr oid_t param_oid = oids::interval;
    static constexpr oid_t array_oid = 1187;
    static bool accepts(oid_t o) noexcept { return o == oids::interval; }
    static void encode(const D& d, std::string& out) {
        // In 128 bits: no intermediate product can overflow.
        using to_us = std::ratio_divide<Period, std::micro>;
        __int128 n = static_cast<__int128>(d.count()) * to_us::num;
        if (n % to_us::den != 0) throw value_error("duration: not a whole number of microseconds");
        n /= to_us::den;
        if (n > std::numeric_limits<std::int64_t>::max() || n < std::numeric_limits<std::int64_t>::min())
            throw value_error("duration: out of the interval's range");
        type_traits<interval>::encode(interval{0, 0, static_cast<std::int64_t>(n)}, out);
    }
    static D decode(oid_t o, std::string_view b) {
        interval v = type_traits<interval>::decode(o, b);
        if (v.months != 0 || v.days != 0)
            throw value_error("interval of " + std::to_string(v.months) + " month(s) and " + std::to_string(v.days) +
                              " day(s) has no exact duration; read it as pgcoro::interval");
        using from_us = std::ratio_divide<std::micro, Period>;
        __int128 n = static_cast<__int128>(v.microseconds) * from_us::num;
        if (n % from_us::den != 0)
            throw value_error("interval of " + std::to_string(v.microseconds) +
                              " us is not a whole number of the duration's unit");
        n /= from_us::den;
        if (n > static_cast<__int128>(std::numeric_limits<Rep>::max()) ||
            n < static_cast<__int128>(std::numeric_limits<Rep>::min()))
            throw value_error("interval: out of the duration's range");
        return D(static_cast<Rep>(n));
    }
};

/// A time of day with its UTC offset (timetz). utc_offset is east of UTC positive (ISO
/// 8601: +02:00 is 7200 s); the server's own sign is the opposite, pgcoro converts.
struct time_tz {
    std::chrono::microseconds time{0};  ///< since midnight, 0 ... 24:00:00
    std::chrono::seconds utc_offset{0};
    friend bool operator==(const time_tz&, const time_tz&) = default;
};

template <>
struct type_traits<time_tz> {
    static constexpr std::string_view cpp_name = "pgcoro::time_tz";
    static constexpr oid_t param_oid = oids::timetz;
    static constexpr oid_t array_oid = 1270;
    static constexpr std::int64_t day_us = 86400LL * 1000000LL;
    static constexpr std::int32_t max_offset = 15 * 3600 + 59 * 60 + 59;  // the server's limit
    static bool accepts(oid_t o) noexcept { return o == oids::timetz; }
    static void encode(const time_tz& t, std::string& out) {
        if (t.time.count() < 0 || t.time.count() > day_us) throw value_error("timetz: time of day out of range");
        if (t.utc_offset.count() < -max_offset || t.utc_offset.count() > max_offset)
            throw value_error("timetz: UTC offset out of range (at most 15:59:59)");
        detail::write_be<std::int64_t>(out, t.time.count());
        detail::write_be<std::int32_t>(out, static_cast<std::int32_t>(-t.utc_offset.count()));
    }
    static time_tz decode(oid_t, std::string_view b) {
        if (b.size() != 12) throw value_error("timetz: expected 12 bytes, got " + std::to_string(b.size()));
        auto us = detail::read_be<std::int64_t>(b.data());
        auto zone = detail::read_be<std::int32_t>(b.data() + 8);
        if (us < 0 || us > day_us) throw value_error("timetz: time out of range");
        if (zone < -max_offset || zone > max_offset) throw value_error("timetz: zone out of range");
        return time_tz{std::chrono::microseconds(us), std::chrono::seconds(-zone)};
    }
};

}  // namespace pgcoro

// pgcoro/types/range.hpp — range types (int4range, int8range, numrange, daterange,
// tsrange, tstzrange, and user-defined ranges) and their multiranges.
#pragma once

#include <pgcoro/detail/binary.hpp>
#include <pgcoro/types/datetime.hpp>
#include <pgcoro/types/numeric.hpp>
#include <pgcoro/types/traits.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace pgcoro {

/// A range of T. An absent bound (std::nullopt) is infinite; `empty` is the empty range
/// (its bounds are ignored). The server normalises discrete ranges: [1,5] comes back as
/// [1,6), and a range with no values as empty.
template <class T>
struct range {
    std::optional<T> lower;
    std::optional<T> upper;
    bool lower_inclusive = true;
    bool upper_inclusive = false;
    bool empty = false;

    static range make_empty() {
        range r;
        r.empty = true;
        return r;
    }
    friend bool operator==(const range& a, const range& b) {
        if (a.empty || b.empty) return a.empty == b.empty;
        return a.lower == b.lower && a.upper == b.upper && (!a.lower || a.lower_inclusive == b.lower_inclusive) &&
               (!a.upper || a.upper_inclusive == b.upper_inclusive);
    }
};

/// A multirange of T (PostgreSQL 14+): its ranges in order, as the server sorts and
/// merges them.
template <class T>
struct multirange {
    std::vector<range<T>> ranges;
    friend bool operator==(const multirange&, const multirange&) = default;
};

namespace detail {

/// The built-in range and multirange types of a subtype (0: none; a user range is sent
/// with no type and taken from the statement's context).
template <class T>
constexpr oid_t range_oid_of() {
    if constexpr (std::is_same_v<T, std::int32_t>) return oids::int4range;
    else if constexpr (std::is_same_v<T, std::int64_t>) return oids::int8range;
    else if constexpr (std::is_same_v<T, numeric>) return oids::numrange;
    else if constexpr (std::is_same_v<T, std::chrono::sys_days>) return oids::daterange;
    else if constexpr (std::is_same_v<T, timestamp>) return oids::tsrange;
    else if constexpr (std::is_same_v<T, timestamptz>) return oids::tstzrange;
    else return oids::unspecified;
}

inline constexpr std::uint8_t range_empty = 0x01, range_lb_inc = 0x02, range_ub_inc = 0x04, range_lb_inf = 0x08,
                              range_ub_inf = 0x10, range_lb_null = 0x20, range_ub_null = 0x40;

template <class T>
void encode_range(const range<T>& r, std::string& out) {
    if (r.empty) {
        out.push_back(static_cast<char>(range_empty));
        return;
    }
    std::uint8_t flags = 0;
    if (!r.lower) flags |= range_lb_inf;
    else if (r.lower_inclusive) flags |= range_lb_inc;
    if (!r.upper) flags |= range_ub_inf;
    else if (r.upper_inclusive) flags |= range_ub_inc;
    out.push_back(static_cast<char>(flags));
    for (const std::optional<T>* b : {&r.lower, &r.upper}) {
        if (!*b) continue;
        std::size_t at = begin_length(out);
        type_traits<T>::encode(**b, out);
        end_length<value_error>(out, at);
    }
}

template <class T>
range<T> decode_range(const pg_type& subtype, std::string_view b) {
    byte_reader<value_error> in(b, "range");
    auto flags = in.be<std::uint8_t>();
    if (flags & (range_lb_null | range_ub_null | 0x80)) throw value_error("range: unknown flags");
    range<T> r;
    if (flags & range_empty) {
        if (flags != range_empty) throw value_error("range: an empty range with bounds");
        in.expect_end();
        return range<T>::make_empty();
    }
    r.lower_inclusive = (flags & range_lb_inc) != 0;
    r.upper_inclusive = (flags & range_ub_inc) != 0;
    if (!(flags & range_lb_inf)) {
        auto f = in.field();
        if (!f) throw value_error("range: a NULL bound");
        r.lower = decode_value<T>(subtype, *f);
    } else {
        r.lower_inclusive = false;
    }
    if (!(flags & range_ub_inf)) {
        auto f = in.field();
        if (!f) throw value_error("range: a NULL bound");
        r.upper = decode_value<T>(subtype, *f);
    } else {
        r.upper_inclusive = false;
    }
    in.expect_end();
    return r;
}

}  // namespace detail

/// range<T> <-> a range whose subtype reads as T: the built-in ranges for std::int32_t,
/// std::int64_t, pgcoro::numeric, std::chrono::sys_days, pgcoro::timestamp and
/// pgcoro::timestamptz, and user ranges (CREATE TYPE ... AS RANGE) of any subtype.
template <class T>
struct type_traits<range<T>, std::enable_if_t<detail::has_decode<T>::value || detail::has_encode<T>::value>> {
    static constexpr std::string_view cpp_name = "pgcoro::range";
    static constexpr oid_t param_oid = detail::range_oid_of<T>();
    static constexpr oid_t array_oid = param_oid == oids::unspecified ? oids::unspecified : param_oid + 1;
    static constexpr bool borrows = detail::type_borrows<T>();
    static bool accepts(const pg_type& t) noexcept
        requires detail::has_decode<T>::value
    {
        return t.kind() == type_kind::range && detail::accepts_type<T>(t.element().base());
    }
    static void encode(const range<T>& r, std::string& out)
        requires detail::has_encode<T>::value
    {
        detail::encode_range(r, out);
    }
    static range<T> decode(const pg_type& t, std::string_view b)
        requires detail::has_decode<T>::value
    {
        return detail::decode_range<T>(t.element().base(), b);
    }
};

/// multirange<T> <-> a multirange whose range reads as range<T> (PostgreSQL 14+).
template <class T>
struct type_traits<multirange<T>, std::enable_if_t<detail::has_decode<T>::value || detail::has_encode<T>::value>> {
    static constexpr std::string_view cpp_name = "pgcoro::multirange";
    // int4multirange 4451, int8multirange 4536, nummultirange 4532, datemultirange 4535,
    // tsmultirange 4533, tstzmultirange 4534.
    static constexpr oid_t param_oid = [] {
        switch (detail::range_oid_of<T>()) {
        case oids::int4range: return 4451u;
        case oids::int8range: return 4536u;
        case oids::numrange: return 4532u;
        case oids::daterange: return 4535u;
        case oids::tsrange: return 4533u;
        case oids::tstzrange: return 4534u;
        default: return 0u;
        }
    }();
    static constexpr bool borrows = detail::type_borrows<T>();
    static bool accepts(const pg_type& t) noexcept
        requires detail::has_decode<T>::value
    {
        return t.kind() == type_kind::multirange && detail::accepts_type<range<T>>(t.element());
    }
    static void encode(const multirange<T>& m, std::string& out)
        requires detail::has_encode<T>::value
    {
        if (m.ranges.size() > 0x7FFFFFF) throw value_error("multirange: too many ranges");
        detail::write_be<std::int32_t>(out, static_cast<std::int32_t>(m.ranges.size()));
        for (const auto& r : m.ranges) {
            std::size_t at = detail::begin_length(out);
            detail::encode_range(r, out);
            detail::end_length<value_error>(out, at);
        }
    }
    static multirange<T> decode(const pg_type& t, std::string_view b)
        requires detail::has_decode<T>::value
    {
        detail::byte_reader<value_error> in(b, "multirange");
        auto n = in.be<std::int32_t>();
        if (n < 0 || static_cast<std::size_t>(n) > in.left() / 5) throw value_error("multirange: bad range count");
        multirange<T> m;
        pg_type subtype = t.element().element().base();
        for (std::int32_t i = 0; i < n; ++i) {
            auto f = in.field();
            if (!f) throw value_error("multirange: a NULL range");
            m.ranges.push_back(detail::decode_range<T>(subtype, *f));
        }
        in.expect_end();
        return m;
    }
};

}  // namespace pgcoro

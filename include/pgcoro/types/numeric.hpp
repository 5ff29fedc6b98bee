// pgcoro/types/numeric.hpp — numeric / decimal, exact: every digit is kept.
#pragma once

#include <pgcoro/detail/binary.hpp>
#include <pgcoro/types/traits.hpp>

#include <charconv>
#include <concepts>
#include <cstdio>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pgcoro {

/// An exact PostgreSQL numeric, held as its canonical decimal text ("-12.3400", "NaN",
/// "Infinity", "-Infinity"). Converts to double or integers only on request, with a
/// pgcoro::value_error when that would lose information. Equality compares the text, so
/// the scale counts: numeric("1.50") != numeric("1.5").
class numeric {
public:
    numeric() : text_("0") {}
    /// From decimal text: [+-]digits[.digits][e[+-]digits], or NaN / Infinity / -Infinity.
    /// Throws value_error on anything else.
    explicit numeric(std::string_view text) : text_(canonical(text)) {}
    /// Any integer type, exactly (long long and unsigned types included). Not bool, nor
    /// the character types: `numeric('7')` would be 55.
    template <std::integral I>
        requires(!std::is_same_v<I, bool> && !std::is_same_v<I, char> && !std::is_same_v<I, wchar_t> &&
                 !std::is_same_v<I, char8_t> && !std::is_same_v<I, char16_t> && !std::is_same_v<I, char32_t>)
    explicit numeric(I v) : text_(std::to_string(v)) {}
    template <std::same_as<bool> B>
    numeric(B) = delete;  // would convert to double
    /// The shortest decimal that reads back as v (NaN and infinities map to theirs).
    explicit numeric(double v) {
        if (std::isnan(v)) text_ = "NaN";
        else if (std::isinf(v)) text_ = v > 0 ? "Infinity" : "-Infinity";
        else {
            char buf[400];
            auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
            text_ = canonical(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
        }
    }

    const std::string& to_string() const noexcept { return text_; }
    bool is_nan() const noexcept { return text_ == "NaN"; }
    bool is_infinite() const noexcept { return text_ == "Infinity" || text_ == "-Infinity"; }

    /// The value as a double when the double reads back as the same decimal (0.1 does,
    /// 0.12345678901234567 does not); NaN and infinities convert. Else value_error.
    double to_double() const {
        if (is_nan()) return std::numeric_limits<double>::quiet_NaN();
        if (text_ == "Infinity") return std::numeric_limits<double>::infinity();
        if (text_ == "-Infinity") return -std::numeric_limits<double>::infinity();
        double d = 0;
        auto r = std::from_chars(text_.data(), text_.data() + text_.size(), d);
        if (r.ec != std::errc() || !std::isfinite(d) || normalized(numeric(d).text_) != normalized(text_))
            throw value_error("numeric " + text_ + " cannot be represented exactly as a double");
        return d;
    }

    /// The value as an integer when it is whole and in range; else value_error.
    std::int64_t to_int64() const {
        if (is_nan() || is_infinite()) throw value_error("numeric " + text_ + " is not an integer");
        std::string_view s = text_;
        bool neg = !s.empty() && s[0] == '-';
        if (neg) s.remove_prefix(1);
        auto dot = s.find('.');
        if (dot != std::string_view::npos) {
            for (char c : s.substr(dot + 1))
                if (c != '0') throw value_error("numeric " + text_ + " has a fractional part");
            s = s.substr(0, dot);
        }
        std::uint64_t mag = 0;
        auto r = std::from_chars(s.data(), s.data() + s.size(), mag);
        std::uint64_t limit = neg ? std::uint64_t(1) << 63 : (std::uint64_t(1) << 63) - 1;
        if (r.ec != std::errc() || mag > limit) throw value_error("numeric " + text_ + " is out of range for int64");
        return neg ? static_cast<std::int64_t>(0 - mag) : static_cast<std::int64_t>(mag);
    }

    friend bool operator==(const numeric&, const numeric&) = default;

private:
    friend struct type_traits<numeric>;
    struct from_text_tag {};
    numeric(from_text_tag, std::string t) : text_(std::move(t)) {}

    // "-0012.50" -> "-12.5" (for value comparison only).
    static std::string normalized(std::string_view s) {
        std::string out(s);
        if (out.find('.') != std::string::npos) {
            while (out.back() == '0') out.pop_back();
            if (out.back() == '.') out.pop_back();
        }
        if (out == "-0") out = "0";
        return out;
    }

    static std::string canonical(std::string_view in) {
        if (in == "NaN" || in == "nan" || in == "NAN") return "NaN";
        if (in == "Infinity" || in == "+Infinity" || in == "inf" || in == "+inf") return "Infinity";
        if (in == "-Infinity" || in == "-inf") return "-Infinity";
        std::string_view s = in;
        bool neg = false;
        if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
            neg = s[0] == '-';
            s.remove_prefix(1);
        }
        std::string digits;  // all digits, integer then fraction
        std::size_t int_len = 0;
        bool seen_dot = false, any = false;
        std::size_t i = 0;
        for (; i < s.size(); ++i) {
            char c = s[i];
            if (c >= '0' && c <= '9') {
                digits.push_back(c);
                if (!seen_dot) ++int_len;
                any = true;
            } else if (c == '.' && !seen_dot) {
                seen_dot = true;
            } else {
                break;
            }
        }
        if (!any) throw value_error("invalid numeric: \"" + std::string(in) + "\"");
        long long exp = 0;
        if (i < s.size()) {
            if (s[i] != 'e' && s[i] != 'E') throw value_error("invalid numeric: \"" + std::string(in) + "\"");
            std::string_view e = s.substr(i + 1);
            if (!e.empty() && e[0] == '+') e.remove_prefix(1);
            auto r = std::from_chars(e.data(), e.data() + e.size(), exp);
            if (r.ec != std::errc() || r.ptr != e.data() + e.size() || exp > 100000 || exp < -100000)
                throw value_error("invalid numeric exponent: \"" + std::string(in) + "\"");
        }
        // Apply the exponent by moving the decimal point.
        long long point = static_cast<long long>(int_len) + exp;
        std::size_t scale = digits.size() > int_len ? digits.size() - int_len : 0;
        long long new_scale = static_cast<long long>(scale) - exp;
        if (point < 0) {
            digits.insert(0, static_cast<std::size_t>(-point), '0');
            point = 0;
        }
        if (point > static_cast<long long>(digits.size())) digits.append(static_cast<std::size_t>(point) - digits.size(), '0');
        std::string ip = digits.substr(0, static_cast<std::size_t>(point));
        std::string fp = digits.substr(static_cast<std::size_t>(point));
        if (new_scale < 0) new_scale = 0;
        if (fp.size() < static_cast<std::size_t>(new_scale)) fp.append(static_cast<std::size_t>(new_scale) - fp.size(), '0');
        std::size_t nz = ip.find_first_not_of('0');
        ip = nz == std::string::npos ? "0" : ip.substr(nz);
        bool zero = ip == "0" && fp.find_first_not_of('0') == std::string::npos;
        std::string out = (neg && !zero) ? "-" : "";
        out += ip;
        if (!fp.empty()) out += "." + fp;
        if (out.size() > 200000) throw value_error("numeric too long");
        return out;
    }

    std::string text_;
};

template <>
struct type_traits<numeric> {
    static constexpr std::string_view cpp_name = "pgcoro::numeric";
    static constexpr oid_t param_oid = oids::numeric;
    static constexpr oid_t array_oid = 1231;
    static bool accepts(oid_t o) noexcept { return o == oids::numeric; }

    static constexpr std::uint16_t pos = 0x0000, neg = 0x4000, nan = 0xC000, pinf = 0xD000, ninf = 0xF000;

    static void encode(const numeric& v, std::string& out) {
        using detail::write_be;
        const std::string& t = v.to_string();
        auto header = [&](std::int16_t nd, std::int16_t weight, std::uint16_t sign, std::int16_t dscale) {
            write_be<std::int16_t>(out, nd);
            write_be<std::int16_t>(out, weight);
            write_be<std::uint16_t>(out, sign);
            write_be<std::int16_t>(out, dscale);
        };
        if (t == "NaN") return header(0, 0, nan, 0);
        if (t == "Infinity") return header(0, 0, pinf, 0);
        if (t == "-Infinity") return header(0, 0, ninf, 0);
        std::string_view s = t;
        bool negative = s[0] == '-';
        if (negative) s.remove_prefix(1);
        auto dot = s.find('.');
        std::string ip(s.substr(0, dot));
        std::string fp(dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1));
        if (fp.size() > 0x3FFF) throw value_error("numeric scale above 16383");
        auto dscale = static_cast<std::int16_t>(fp.size());
        if (ip == "0") ip.clear();
        // Pad to whole base-10000 groups: integer part on the left, fraction on the right.
        ip.insert(0, (4 - ip.size() % 4) % 4, '0');
        fp.append((4 - fp.size() % 4) % 4, '0');
        std::string all = ip + fp;
        std::vector<std::int16_t> groups;
        for (std::size_t i = 0; i < all.size(); i += 4)
            groups.push_back(static_cast<std::int16_t>((all[i] - '0') * 1000 + (all[i + 1] - '0') * 100 +
                                                       (all[i + 2] - '0') * 10 + (all[i + 3] - '0')));
        long weight = static_cast<long>(ip.size() / 4) - 1;
        std::size_t first = 0;
        while (first < groups.size() && groups[first] == 0) { ++first; --weight; }
        std::size_t last = groups.size();
        while (last > first && groups[last - 1] == 0) --last;
        if (first == last) return header(0, 0, pos, dscale);
        if (last - first > 0x7FFF || weight > 0x7FFF || weight < -0x8000) throw value_error("numeric out of range");
        header(static_cast<std::int16_t>(last - first), static_cast<std::int16_t>(weight), negative ? neg : pos, dscale);
        for (std::size_t i = first; i < last; ++i) write_be<std::int16_t>(out, groups[i]);
    }

    static numeric decode(oid_t, std::string_view b) {
        using detail::read_be;
        if (b.size() < 8) throw value_error("numeric: header truncated");
        auto nd = read_be<std::int16_t>(b.data());
        auto weight = read_be<std::int16_t>(b.data() + 2);
        auto sign = read_be<std::uint16_t>(b.data() + 4);
        auto dscale = read_be<std::int16_t>(b.data() + 6);
        if (nd < 0 || dscale < 0 || dscale > 0x3FFF) throw value_error("numeric: bad digit count or scale");
        if (b.size() != 8 + 2 * static_cast<std::size_t>(nd)) throw value_error("numeric: length does not match its digit count");
        if (sign == nan) return numeric(numeric::from_text_tag{}, "NaN");
        if (sign == pinf) return numeric(numeric::from_text_tag{}, "Infinity");
        if (sign == ninf) return numeric(numeric::from_text_tag{}, "-Infinity");
        if (sign != pos && sign != neg) throw value_error("numeric: bad sign");
        std::vector<int> d(static_cast<std::size_t>(nd));
        for (std::size_t i = 0; i < d.size(); ++i) {
            d[i] = read_be<std::int16_t>(b.data() + 8 + 2 * i);
            if (d[i] < 0 || d[i] > 9999) throw value_error("numeric: digit out of range");
        }
        auto digit = [&](long idx) { return idx >= 0 && idx < nd ? d[static_cast<std::size_t>(idx)] : 0; };
        std::string out;
        if (sign == neg && nd > 0) out.push_back('-');
        if (weight < 0) {
            out.push_back('0');
        } else {
            std::size_t int_start = out.size();
            for (long g = 0; g <= weight; ++g) {
                char buf[5];
                std::snprintf(buf, sizeof buf, g == 0 ? "%d" : "%04d", digit(g));
                out += buf;
            }
            // Canonical text: leading zero groups (never sent by the server, but possible
            // on the wire) leave no leading zeros.
            std::size_t nz = out.find_first_not_of('0', int_start);
            if (nz == std::string::npos) nz = out.size() - 1;
            out.erase(int_start, nz - int_start);
        }
        if (dscale > 0) {
            out.push_back('.');
            std::string frac;
            for (long g = weight + 1; static_cast<long>(frac.size()) < dscale; ++g) {
                char buf[5];
                std::snprintf(buf, sizeof buf, "%04d", digit(g));
                frac += buf;
            }
            frac.resize(static_cast<std::size_t>(dscale));
            out += frac;
        }
        if (out == "-0" || (out.size() > 1 && out[0] == '-' && out.find_first_not_of("-0.") == std::string::npos))
            out.erase(0, 1);  // no negative zero
        return numeric(numeric::from_text_tag{}, std::move(out));
    }
};

}  // namespace pgcoro

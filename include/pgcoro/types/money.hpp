// pgcoro/types/money.hpp — money as an exact count of its smallest unit.
#pragma once

#include <pgcoro/detail/binary.hpp>
#include <pgcoro/types/traits.hpp>

#include <cstdint>
#include <string>

namespace pgcoro {

/// A money value: an integer count of the currency's smallest unit, as the server keeps
/// it (cents when lc_monetary has 2 fractional digits: $12.34 is 1234). The scale is the
/// server's lc_monetary, which pgcoro cannot see: prefer numeric for new schemas.
struct money {
    std::int64_t units = 0;
    friend bool operator==(const money&, const money&) = default;
};

template <>
struct type_traits<money> {
    static constexpr std::string_view cpp_name = "pgcoro::money";
    static constexpr oid_t param_oid = oids::money;
    static constexpr oid_t array_oid = 791;
    static bool accepts(oid_t o) noexcept { return o == oids::money; }
    static void encode(const money& v, std::string& out) { detail::write_be<std::int64_t>(out, v.units); }
    static money decode(oid_t, std::string_view b) {
        if (b.size() != 8) throw value_error("money: expected 8 bytes, got " + std::to_string(b.size()));
        return money{detail::read_be<std::int64_t>(b.data())};
    }
};

}  // namespace pgcoro

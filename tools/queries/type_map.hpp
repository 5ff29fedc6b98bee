// tools/queries/type_map.hpp — the C++ type of each PostgreSQL type, for a result column
// (owning) and for a parameter (what pgcoro sends with that type's OID).
#pragma once

#include "description.hpp"

#include <map>
#include <optional>
#include <string>

namespace pgcoro_tools::queries {

struct cpp_type {
    std::string row;    ///< a result column's type; "" when it cannot be read
    std::string param;  ///< a parameter's type; "" when pgcoro sends nothing as this type
    bool by_value = false;  ///< pass the parameter by value (cheap to copy)
};

/// User mappings, by PostgreSQL type name (format_type: `action_status`,
/// `myschema.money2`): the C++ type used for columns and parameters of that type. It must
/// read that type (pgcoro::type_traits<T>::accepts) and send it (param_oid, or no type).
using type_overrides = std::map<std::string, std::string>;

namespace detail {

inline std::optional<cpp_type> builtin(std::uint32_t oid) {
    auto both = [](const char* t, bool by_value = false) { return cpp_type{t, t, by_value}; };
    auto text_like = cpp_type{"std::string", "std::string_view", true};
    auto read_only = [](const char* t) { return cpp_type{t, "", false}; };
    switch (oid) {
    case 16: return both("bool", true);
    case 17: return cpp_type{"std::vector<std::byte>", "std::span<const std::byte>", true};
    case 18: return read_only("std::string");  // "char"
    case 19: return text_like;                 // name
    case 20: return both("std::int64_t", true);
    case 21: return both("std::int16_t", true);
    case 23: return both("std::int32_t", true);
    case 25: return text_like;
    case 114: return read_only("std::string");   // json
    case 142: return read_only("std::string");   // xml
    case 650: return both("pgcoro::inet");       // cidr
    case 700: return both("float", true);
    case 701: return both("double", true);
    case 705: return read_only("std::string");   // unknown
    case 774: return both("pgcoro::macaddr8");
    case 790: return both("pgcoro::money");
    case 829: return both("pgcoro::macaddr");
    case 869: return both("pgcoro::inet");
    case 1042: return text_like;                 // char(n)
    case 1043: return text_like;                 // varchar
    case 1082: return both("std::chrono::sys_days", true);
    case 1083: return both("pgcoro::time_of_day");
    case 1114: return both("pgcoro::timestamp", true);
    case 1184: return both("pgcoro::timestamptz", true);
    case 1186: return both("pgcoro::interval");
    case 1266: return both("pgcoro::time_tz");
    case 1560: return both("pgcoro::bit_string"); // bit(n)
    case 1562: return both("pgcoro::bit_string"); // varbit
    case 1700: return both("pgcoro::numeric");
    case 2950: return both("boost::uuids::uuid", true);
    case 3802: return read_only("std::string");  // jsonb
    case 3904: return both("pgcoro::range<std::int32_t>");
    case 3906: return both("pgcoro::range<pgcoro::numeric>");
    case 3908: return both("pgcoro::range<pgcoro::timestamp>");
    case 3910: return both("pgcoro::range<pgcoro::timestamptz>");
    case 3912: return both("pgcoro::range<std::chrono::sys_days>");
    case 3926: return both("pgcoro::range<std::int64_t>");
    case 4451: return both("pgcoro::multirange<std::int32_t>");
    case 4532: return both("pgcoro::multirange<pgcoro::numeric>");
    case 4533: return both("pgcoro::multirange<pgcoro::timestamp>");
    case 4534: return both("pgcoro::multirange<pgcoro::timestamptz>");
    case 4535: return both("pgcoro::multirange<std::chrono::sys_days>");
    case 4536: return both("pgcoro::multirange<std::int64_t>");
    default: return std::nullopt;
    }
}

inline std::optional<cpp_type> scalar(std::uint32_t oid, const std::string& name, char category,
                                      const type_overrides& o) {
    if (auto it = o.find(name); it != o.end()) return cpp_type{it->second, it->second, false};
    if (auto b = builtin(oid)) return b;
    if (category == 'e') return cpp_type{"std::string", "", false};  // any enum reads as its label
    if (name == "hstore" || name.ends_with(".hstore")) return cpp_type{"pgcoro::hstore", "", false};
    if (name == "citext" || name.ends_with(".citext")) return cpp_type{"std::string", "", false};
    return std::nullopt;
}

}  // namespace detail

/// The C++ types of `t`; empty strings where there is none.
inline cpp_type map_type(const type_ref& t, const type_overrides& o) {
    if (auto it = o.find(t.name); it != o.end()) return cpp_type{it->second, it->second, false};
    if (t.category == 'a' && t.element_category) {
        auto e = detail::scalar(t.element_oid, t.element_name, t.element_category, o);
        if (!e || e->row.empty()) return {};
        // The array's element type as a parameter is its owning type (std::vector of it).
        bool sendable = !e->param.empty();
        std::string v = "std::vector<" + e->row + ">";
        return cpp_type{v, sendable ? v : "", false};
    }
    auto s = detail::scalar(t.oid, t.name, t.category, o);
    return s ? *s : cpp_type{};
}

}  // namespace pgcoro_tools::queries

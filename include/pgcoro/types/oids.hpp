// pgcoro/types/oids.hpp — the OIDs of PostgreSQL's built-in types.
#pragma once

#include <string>
#include <string_view>

namespace pgcoro {

/// A PostgreSQL type OID (same as libpq's Oid).
using oid_t = unsigned int;

namespace oids {
inline constexpr oid_t unspecified = 0;
inline constexpr oid_t bool_ = 16;
inline constexpr oid_t bytea = 17;
inline constexpr oid_t char_ = 18;
inline constexpr oid_t name = 19;
inline constexpr oid_t int8 = 20;
inline constexpr oid_t int2 = 21;
inline constexpr oid_t int4 = 23;
inline constexpr oid_t text = 25;
inline constexpr oid_t oid = 26;
inline constexpr oid_t json = 114;
inline constexpr oid_t xml = 142;
inline constexpr oid_t float4 = 700;
inline constexpr oid_t float8 = 701;
inline constexpr oid_t unknown = 705;
inline constexpr oid_t inet = 869;
inline constexpr oid_t cidr = 650;
inline constexpr oid_t bpchar = 1042;
inline constexpr oid_t varchar = 1043;
inline constexpr oid_t date = 1082;
inline constexpr oid_t time = 1083;
inline constexpr oid_t timestamp = 1114;
inline constexpr oid_t timestamptz = 1184;
inline constexpr oid_t interval = 1186;
inline constexpr oid_t numeric = 1700;
inline constexpr oid_t uuid = 2950;
inline constexpr oid_t jsonb = 3802;
}  // namespace oids

/// A readable name for an OID, for messages: "int4", or "oid 16384" for types pgcoro
/// does not know by heart (user types, extensions).
inline std::string type_name_of(oid_t oid) {
    switch (oid) {
    case oids::bool_: return "bool";
    case oids::bytea: return "bytea";
    case oids::char_: return "\"char\"";
    case oids::name: return "name";
    case oids::int8: return "int8";
    case oids::int2: return "int2";
    case oids::int4: return "int4";
    case oids::text: return "text";
    case oids::oid: return "oid";
    case oids::json: return "json";
    case oids::xml: return "xml";
    case oids::float4: return "float4";
    case oids::float8: return "float8";
    case oids::unknown: return "unknown";
    case oids::inet: return "inet";
    case oids::cidr: return "cidr";
    case oids::bpchar: return "bpchar";
    case oids::varchar: return "varchar";
    case oids::date: return "date";
    case oids::time: return "time";
    case oids::timestamp: return "timestamp";
    case oids::timestamptz: return "timestamptz";
    case oids::interval: return "interval";
    case oids::numeric: return "numeric";
    case oids::uuid: return "uuid";
    case oids::jsonb: return "jsonb";
    default: return "oid " + std::to_string(oid);
    }
}

}  // namespace pgcoro

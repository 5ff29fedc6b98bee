// pgcoro/types/oids.hpp — the OIDs of PostgreSQL's built-in types.
#pragma once

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
inline constexpr oid_t money = 790;
inline constexpr oid_t macaddr = 829;
inline constexpr oid_t macaddr8 = 774;
inline constexpr oid_t timetz = 1266;
inline constexpr oid_t bit = 1560;
inline constexpr oid_t varbit = 1562;
inline constexpr oid_t record = 2249;
inline constexpr oid_t int4range = 3904;
inline constexpr oid_t numrange = 3906;
inline constexpr oid_t tsrange = 3908;
inline constexpr oid_t tstzrange = 3910;
inline constexpr oid_t daterange = 3912;
inline constexpr oid_t int8range = 3926;
}  // namespace oids

}  // namespace pgcoro

// type_name_of(oid) and the built-in type table.
#include <pgcoro/types/pg_type.hpp>

// pgcoro/types/pg_type.hpp — what pgcoro knows about a PostgreSQL type: its name, its
// kind, its element or fields. Built-in types are known by heart; the others (extension
// types such as citext and hstore, enums, composites, ranges, domains, their arrays) are
// looked up by each connection the first time one of its results holds them.
#pragma once

#include <pgcoro/types/oids.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pgcoro {

/// pg_type.typtype, with arrays told apart (typcategory 'A').
enum class type_kind : char {
    unknown = 0,      ///< not known to pgcoro nor looked up
    base = 'b',       ///< a scalar: built in or an extension's (citext, hstore)
    composite = 'c',  ///< a row type: CREATE TYPE ... AS (...), or a table's
    domain = 'd',
    enumeration = 'e',
    pseudo = 'p',  ///< record, void, unknown...
    range = 'r',
    multirange = 'm',
    array = 'A',
};

/// One type as the server's catalog describes it.
struct type_description {
    oid_t oid = 0;
    std::string name;    ///< pg_type.typname: "int4", "citext", "_int4" for int4[]
    std::string schema;  ///< "pg_catalog" for the built-in types
    type_kind kind = type_kind::unknown;
    /// An array's element, a range's subtype, a multirange's range, a domain's base type
    /// (0 for the others).
    oid_t element = 0;
    std::vector<oid_t> field_types;        ///< a composite's attributes, in order
    std::vector<std::string> field_names;  ///< the same attributes' names
};

namespace detail {

struct builtin_type {
    oid_t oid;
    std::string_view name;
    type_kind kind;
    oid_t element;
};

// Sorted by OID. Names are pg_type.typname. Every OID below 16384 (FirstNormalObjectId)
// is a type made by initdb: never looked up (pgcoro maps those by OID). Listed: every
// type with a fixed OID (below 10000) that is a base, range, multirange or pseudo type,
// and their arrays (PostgreSQL 15's catalog; the system catalogs' row types are left
// out). _record is listed as an array of record (its typtype says pseudo).
inline constexpr builtin_type builtin_types[] = {
    {16, "bool", type_kind::base, 0}, {17, "bytea", type_kind::base, 0}, {18, "char", type_kind::base, 0},
    {19, "name", type_kind::base, 0}, {20, "int8", type_kind::base, 0}, {21, "int2", type_kind::base, 0},
    {22, "int2vector", type_kind::base, 0}, {23, "int4", type_kind::base, 0}, {24, "regproc", type_kind::base, 0},
    {25, "text", type_kind::base, 0}, {26, "oid", type_kind::base, 0}, {27, "tid", type_kind::base, 0},
    {28, "xid", type_kind::base, 0}, {29, "cid", type_kind::base, 0}, {30, "oidvector", type_kind::base, 0},
    {32, "pg_ddl_command", type_kind::pseudo, 0}, {114, "json", type_kind::base, 0}, {142, "xml", type_kind::base, 0},
    {143, "_xml", type_kind::array, 142}, {194, "pg_node_tree", type_kind::base, 0},
    {199, "_json", type_kind::array, 114}, {269, "table_am_handler", type_kind::pseudo, 0},
    {271, "_xid8", type_kind::array, 5069}, {325, "index_am_handler", type_kind::pseudo, 0},
    {600, "point", type_kind::base, 0}, {601, "lseg", type_kind::base, 0}, {602, "path", type_kind::base, 0},
    {603, "box", type_kind::base, 0}, {604, "polygon", type_kind::base, 0}, {628, "line", type_kind::base, 0},
    {629, "_line", type_kind::array, 628}, {650, "cidr", type_kind::base, 0}, {651, "_cidr", type_kind::array, 650},
    {700, "float4", type_kind::base, 0}, {701, "float8", type_kind::base, 0}, {705, "unknown", type_kind::pseudo, 0},
    {718, "circle", type_kind::base, 0}, {719, "_circle", type_kind::array, 718},
    {774, "macaddr8", type_kind::base, 0}, {775, "_macaddr8", type_kind::array, 774},
    {790, "money", type_kind::base, 0}, {791, "_money", type_kind::array, 790}, {829, "macaddr", type_kind::base, 0},
    {869, "inet", type_kind::base, 0}, {1000, "_bool", type_kind::array, 16}, {1001, "_bytea", type_kind::array, 17},
    {1002, "_char", type_kind::array, 18}, {1003, "_name", type_kind::array, 19},
    {1005, "_int2", type_kind::array, 21}, {1006, "_int2vector", type_kind::array, 22},
    {1007, "_int4", type_kind::array, 23}, {1008, "_regproc", type_kind::array, 24},
    {1009, "_text", type_kind::array, 25}, {1010, "_tid", type_kind::array, 27}, {1011, "_xid", type_kind::array, 28},
    {1012, "_cid", type_kind::array, 29}, {1013, "_oidvector", type_kind::array, 30},
    {1014, "_bpchar", type_kind::array, 1042}, {1015, "_varchar", type_kind::array, 1043},
    {1016, "_int8", type_kind::array, 20}, {1017, "_point", type_kind::array, 600},
    {1018, "_lseg", type_kind::array, 601}, {1019, "_path", type_kind::array, 602},
    {1020, "_box", type_kind::array, 603}, {1021, "_float4", type_kind::array, 700},
    {1022, "_float8", type_kind::array, 701}, {1027, "_polygon", type_kind::array, 604},
    {1028, "_oid", type_kind::array, 26}, {1033, "aclitem", type_kind::base, 0},
    {1034, "_aclitem", type_kind::array, 1033}, {1040, "_macaddr", type_kind::array, 829},
    {1041, "_inet", type_kind::array, 869}, {1042, "bpchar", type_kind::base, 0},
    {1043, "varchar", type_kind::base, 0}, {1082, "date", type_kind::base, 0}, {1083, "time", type_kind::base, 0},
    {1114, "timestamp", type_kind::base, 0}, {1115, "_timestamp", type_kind::array, 1114},
    {1182, "_date", type_kind::array, 1082}, {1183, "_time", type_kind::array, 1083},
    {1184, "timestamptz", type_kind::base, 0}, {1185, "_timestamptz", type_kind::array, 1184},
    {1186, "interval", type_kind::base, 0}, {1187, "_interval", type_kind::array, 1186},
    {1231, "_numeric", type_kind::array, 1700}, {1263, "_cstring", type_kind::array, 2275},
    {1266, "timetz", type_kind::base, 0}, {1270, "_timetz", type_kind::array, 1266},
    {1560, "bit", type_kind::base, 0}, {1561, "_bit", type_kind::array, 1560}, {1562, "varbit", type_kind::base, 0},
    {1563, "_varbit", type_kind::array, 1562}, {1700, "numeric", type_kind::base, 0},
    {1790, "refcursor", type_kind::base, 0}, {2201, "_refcursor", type_kind::array, 1790},
    {2202, "regprocedure", type_kind::base, 0}, {2203, "regoper", type_kind::base, 0},
    {2204, "regoperator", type_kind::base, 0}, {2205, "regclass", type_kind::base, 0},
    {2206, "regtype", type_kind::base, 0}, {2207, "_regprocedure", type_kind::array, 2202},
    {2208, "_regoper", type_kind::array, 2203}, {2209, "_regoperator", type_kind::array, 2204},
    {2210, "_regclass", type_kind::array, 2205}, {2211, "_regtype", type_kind::array, 2206},
    {2249, "record", type_kind::pseudo, 0}, {2275, "cstring", type_kind::pseudo, 0},
    {2276, "any", type_kind::pseudo, 0}, {2277, "anyarray", type_kind::pseudo, 0},
    {2278, "void", type_kind::pseudo, 0}, {2279, "trigger", type_kind::pseudo, 0},
    {2280, "language_handler", type_kind::pseudo, 0}, {2281, "internal", type_kind::pseudo, 0},
    {2283, "anyelement", type_kind::pseudo, 0}, {2287, "_record", type_kind::array, 2249},
    {2776, "anynonarray", type_kind::pseudo, 0}, {2949, "_txid_snapshot", type_kind::array, 2970},
    {2950, "uuid", type_kind::base, 0}, {2951, "_uuid", type_kind::array, 2950},
    {2970, "txid_snapshot", type_kind::base, 0}, {3115, "fdw_handler", type_kind::pseudo, 0},
    {3220, "pg_lsn", type_kind::base, 0}, {3221, "_pg_lsn", type_kind::array, 3220},
    {3310, "tsm_handler", type_kind::pseudo, 0}, {3361, "pg_ndistinct", type_kind::base, 0},
    {3402, "pg_dependencies", type_kind::base, 0}, {3500, "anyenum", type_kind::pseudo, 0},
    {3614, "tsvector", type_kind::base, 0}, {3615, "tsquery", type_kind::base, 0},
    {3642, "gtsvector", type_kind::base, 0}, {3643, "_tsvector", type_kind::array, 3614},
    {3644, "_gtsvector", type_kind::array, 3642}, {3645, "_tsquery", type_kind::array, 3615},
    {3734, "regconfig", type_kind::base, 0}, {3735, "_regconfig", type_kind::array, 3734},
    {3769, "regdictionary", type_kind::base, 0}, {3770, "_regdictionary", type_kind::array, 3769},
    {3802, "jsonb", type_kind::base, 0}, {3807, "_jsonb", type_kind::array, 3802},
    {3831, "anyrange", type_kind::pseudo, 0}, {3838, "event_trigger", type_kind::pseudo, 0},
    {3904, "int4range", type_kind::range, 23}, {3905, "_int4range", type_kind::array, 3904},
    {3906, "numrange", type_kind::range, 1700}, {3907, "_numrange", type_kind::array, 3906},
    {3908, "tsrange", type_kind::range, 1114}, {3909, "_tsrange", type_kind::array, 3908},
    {3910, "tstzrange", type_kind::range, 1184}, {3911, "_tstzrange", type_kind::array, 3910},
    {3912, "daterange", type_kind::range, 1082}, {3913, "_daterange", type_kind::array, 3912},
    {3926, "int8range", type_kind::range, 20}, {3927, "_int8range", type_kind::array, 3926},
    {4072, "jsonpath", type_kind::base, 0}, {4073, "_jsonpath", type_kind::array, 4072},
    {4089, "regnamespace", type_kind::base, 0}, {4090, "_regnamespace", type_kind::array, 4089},
    {4096, "regrole", type_kind::base, 0}, {4097, "_regrole", type_kind::array, 4096},
    {4191, "regcollation", type_kind::base, 0}, {4192, "_regcollation", type_kind::array, 4191},
    {4451, "int4multirange", type_kind::multirange, 3904}, {4532, "nummultirange", type_kind::multirange, 3906},
    {4533, "tsmultirange", type_kind::multirange, 3908}, {4534, "tstzmultirange", type_kind::multirange, 3910},
    {4535, "datemultirange", type_kind::multirange, 3912}, {4536, "int8multirange", type_kind::multirange, 3926},
    {4537, "anymultirange", type_kind::pseudo, 0}, {4538, "anycompatiblemultirange", type_kind::pseudo, 0},
    {4600, "pg_brin_bloom_summary", type_kind::base, 0}, {4601, "pg_brin_minmax_multi_summary", type_kind::base, 0},
    {5017, "pg_mcv_list", type_kind::base, 0}, {5038, "pg_snapshot", type_kind::base, 0},
    {5039, "_pg_snapshot", type_kind::array, 5038}, {5069, "xid8", type_kind::base, 0},
    {5077, "anycompatible", type_kind::pseudo, 0}, {5078, "anycompatiblearray", type_kind::pseudo, 0},
    {5079, "anycompatiblenonarray", type_kind::pseudo, 0}, {5080, "anycompatiblerange", type_kind::pseudo, 0},
    {6150, "_int4multirange", type_kind::array, 4451}, {6151, "_nummultirange", type_kind::array, 4532},
    {6152, "_tsmultirange", type_kind::array, 4533}, {6153, "_tstzmultirange", type_kind::array, 4534},
    {6155, "_datemultirange", type_kind::array, 4535}, {6157, "_int8multirange", type_kind::array, 4536},
};

inline constexpr bool builtin_types_sorted() {
    for (std::size_t i = 1; i < std::size(builtin_types); ++i)
        if (builtin_types[i - 1].oid >= builtin_types[i].oid) return false;
    return true;
}
static_assert(builtin_types_sorted(), "pgcoro: builtin_types must be sorted by OID");

inline const builtin_type* find_builtin(oid_t oid) noexcept {
    auto it = std::lower_bound(std::begin(builtin_types), std::end(builtin_types), oid,
                               [](const builtin_type& b, oid_t o) { return b.oid < o; });
    return it != std::end(builtin_types) && it->oid == oid ? &*it : nullptr;
}

}  // namespace detail

/// The types one connection has looked up (those pgcoro does not know by heart). A
/// connection shares an immutable snapshot with each result; looking up more types makes
/// a new snapshot, so a result may be read on any thread.
class type_catalog {
public:
    /// The description of `oid`, or nullptr. Built-in types pgcoro knows by heart are
    /// not stored here: see pg_type.
    const type_description* find(oid_t oid) const noexcept {
        auto it = types_.find(oid);
        return it == types_.end() ? nullptr : &it->second;
    }
    /// Needs no lookup: made by initdb (below 16384: mapped by OID), or looked up. A type
    /// asked about and not found is asked about again next time (the lookup may have run
    /// in a transaction whose snapshot predates the type).
    bool knows(oid_t oid) const noexcept { return oid < first_normal_oid || types_.count(oid) != 0; }
    void add(type_description t) {
        oid_t o = t.oid;
        types_.insert_or_assign(o, std::move(t));
    }
    std::size_t size() const noexcept { return types_.size(); }

    static constexpr oid_t first_normal_oid = 16384;

private:
    std::unordered_map<oid_t, type_description> types_;
};

/// A handle on a PostgreSQL type: its OID and the catalog that describes it (built-in
/// types need none). What type_traits' accepts/decode receive. Cheap to copy; valid while
/// the result (and so the catalog) it came from lives.
class pg_type {
public:
    constexpr pg_type() = default;
    explicit pg_type(oid_t oid, const type_catalog* catalog = nullptr) noexcept : oid_(oid), catalog_(catalog) {
        if (auto* b = detail::find_builtin(oid)) builtin_ = b;
        else if (catalog_) described_ = catalog_->find(oid);
    }

    oid_t oid() const noexcept { return oid_; }
    const type_catalog* catalog() const noexcept { return catalog_; }
    bool known() const noexcept { return builtin_ || described_; }

    /// pg_type.typname ("int4", "citext", "mood"), or "" when not known.
    std::string_view name() const noexcept {
        return builtin_ ? builtin_->name : described_ ? std::string_view(described_->name) : std::string_view();
    }
    std::string_view schema() const noexcept {
        return builtin_ ? std::string_view("pg_catalog") : described_ ? std::string_view(described_->schema) : std::string_view();
    }
    type_kind kind() const noexcept {
        return builtin_ ? builtin_->kind : described_ ? described_->kind : type_kind::unknown;
    }
    /// An array's element, a range's subtype, a multirange's range, a domain's base type;
    /// pg_type(0) for the others.
    pg_type element() const noexcept {
        oid_t e = builtin_ ? builtin_->element : described_ ? described_->element : 0;
        return pg_type(e, catalog_);
    }
    /// Through domains to the type whose binary form the value has.
    pg_type base() const noexcept {
        pg_type t = *this;
        for (int depth = 0; t.kind() == type_kind::domain && depth < 32; ++depth) t = t.element();
        return t;
    }
    /// A composite's attributes (none for the other kinds).
    std::size_t field_count() const noexcept { return described_ ? described_->field_types.size() : 0; }
    pg_type field(std::size_t i) const noexcept {
        return pg_type(i < field_count() ? described_->field_types[i] : 0, catalog_);
    }
    std::string_view field_name(std::size_t i) const noexcept {
        return i < field_count() && i < described_->field_names.size() ? std::string_view(described_->field_names[i])
                                                                       : std::string_view();
    }

    /// Whether this is the type named `n`: "citext", or schema-qualified "public.citext".
    bool is(std::string_view n) const noexcept {
        std::string_view own = name();
        if (own.empty()) return false;
        auto dot = n.find('.');
        if (dot == std::string_view::npos) return own == n;
        return schema() == n.substr(0, dot) && own == n.substr(dot + 1);
    }

    /// For messages: "int4", "int4[]", "public.mood", "oid 16390".
    std::string display_name(int depth = 0) const {
        if (!known()) return "oid " + std::to_string(oid_);
        if (kind() == type_kind::array) {
            // The catalog's answer came from the network: a cycle must not recurse forever.
            if (depth >= 6 || element().oid() == oid_) return "oid " + std::to_string(oid_);
            return element().display_name(depth + 1) + "[]";
        }
        std::string s(schema());
        if (s == "pg_catalog" || s == "public" || s.empty()) return std::string(name());
        return s + "." + std::string(name());
    }

private:
    oid_t oid_ = 0;
    const type_catalog* catalog_ = nullptr;
    const detail::builtin_type* builtin_ = nullptr;
    const type_description* described_ = nullptr;
};

namespace detail {
using catalog_ptr = std::shared_ptr<const type_catalog>;
}  // namespace detail

/// A readable name for an OID, for messages: "int4", "int4[]", or "oid 16384" for types
/// pgcoro does not know by heart (pg_type::display_name names those too).
inline std::string type_name_of(oid_t oid) { return pg_type(oid).display_name(); }

}  // namespace pgcoro

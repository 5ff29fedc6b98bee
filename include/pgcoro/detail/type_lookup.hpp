// pgcoro/detail/type_lookup.hpp — looking up the types a connection's results hold that
// pgcoro does not know by heart (sans-io: which OIDs to ask about, the query, reading its
// answer into a new catalog snapshot). The driver (connection_impl) holds back a result
// with such columns until the lookup is back, so every result reaches its reader with
// all its column types described (their elements, fields and subtypes too).
#pragma once

#include <pgcoro/detail/row_reader.hpp>
#include <pgcoro/types/array.hpp>
#include <pgcoro/types/pg_type.hpp>
#include <pgcoro/types/scalar.hpp>
#include <pgcoro/types/text.hpp>

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace pgcoro::detail {

/// Appends to `out` the column types of `r` that `catalog` does not know (no repeats).
inline void unknown_column_types(const PGresult* r, const type_catalog& catalog, std::vector<std::int64_t>& out) {
    if (!r) return;
    int n = PQnfields(r);
    for (int c = 0; c < n; ++c) {
        oid_t o = PQftype(r, c);
        if (catalog.knows(o)) continue;
        bool seen = false;
        for (std::int64_t x : out) seen = seen || x == static_cast<std::int64_t>(o);
        if (!seen) out.push_back(static_cast<std::int64_t>(o));
    }
}

inline bool has_unknown_column_types(const PGresult* r, const type_catalog& catalog) noexcept {
    if (!r) return false;
    int n = PQnfields(r);
    for (int c = 0; c < n; ++c)
        if (!catalog.knows(PQftype(r, c))) return true;
    return false;
}

/// The asked types and every type they are made of (array elements, range subtypes,
/// a multirange's range, domains' base types, composites' attributes), in one query.
/// $1: the OIDs as int8[]. Multiranges exist from PostgreSQL 14.
inline std::string type_lookup_sql(int server_version) {
    bool multiranges = server_version >= 140000;
    std::string s =
        "WITH RECURSIVE wanted(oid) AS ("
        " SELECT o::oid FROM pg_catalog.unnest($1::pg_catalog.int8[]) AS o"
        " UNION"
        " SELECT x.oid FROM wanted w JOIN pg_catalog.pg_type t ON t.oid = w.oid CROSS JOIN LATERAL ("
        "  SELECT t.typelem WHERE t.typelem <> 0 AND t.typcategory = 'A'"
        "  UNION ALL SELECT t.typbasetype WHERE t.typbasetype <> 0"
        "  UNION ALL SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid";
    if (multiranges) s += "  UNION ALL SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid";
    s +=
        "  UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a"
        "   WHERE t.typrelid <> 0 AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped"
        " ) AS x(oid))"
        " SELECT t.oid::int8, t.typname::text, n.nspname::text,"
        "  CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN 'A' ELSE t.typtype::text END,"
        "  (CASE WHEN t.typtype = 'd' THEN t.typbasetype"
        "   WHEN t.typtype = 'r' THEN (SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid)";
    if (multiranges)
        s += "   WHEN t.typtype = 'm' THEN (SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid)";
    s +=
        "   WHEN t.typcategory = 'A' THEN t.typelem ELSE 0 END)::int8,"
        "  ARRAY(SELECT a.atttypid::int8 FROM pg_catalog.pg_attribute a WHERE t.typrelid <> 0 AND"
        "   a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum),"
        "  ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE t.typrelid <> 0 AND"
        "   a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)"
        " FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace"
        " WHERE t.oid IN (SELECT oid FROM wanted)";
    return s;
}

inline type_kind kind_from_catalog(std::string_view k) noexcept {
    if (k.size() != 1) return type_kind::unknown;
    switch (k[0]) {
    case 'b': return type_kind::base;
    case 'c': return type_kind::composite;
    case 'd': return type_kind::domain;
    case 'e': return type_kind::enumeration;
    case 'p': return type_kind::pseudo;
    case 'r': return type_kind::range;
    case 'm': return type_kind::multirange;
    case 'A': return type_kind::array;
    default: return type_kind::unknown;
    }
}

using type_lookup_row = std::tuple<std::int64_t, std::string, std::string, std::string, std::int64_t,
                                   std::vector<std::int64_t>, std::vector<std::string>>;

/// A new snapshot: `old` plus the lookup's answer. Throws pgcoro::error when the answer
/// is not what was asked.
inline std::shared_ptr<type_catalog> merge_type_lookup(const type_catalog& old, const PGresult* answer) {
    auto next = std::make_shared<type_catalog>(old);
    check_row_type<type_lookup_row>(answer, nullptr);
    column_types<type_lookup_row> ct(answer, nullptr);
    int n = PQntuples(answer);
    for (int i = 0; i < n; ++i) {
        auto [oid, name, schema, kind, element, field_types, field_names] = read_row<type_lookup_row>(answer, i, ct);
        type_description d;
        d.oid = static_cast<oid_t>(oid);
        d.name = std::move(name);
        d.schema = std::move(schema);
        d.kind = kind_from_catalog(kind);
        d.element = static_cast<oid_t>(element);
        for (std::int64_t f : field_types) d.field_types.push_back(static_cast<oid_t>(f));
        d.field_names = std::move(field_names);
        if (d.oid < type_catalog::first_normal_oid) continue;  // made by initdb: mapped by OID
        next->add(std::move(d));
    }
    return next;
}

/// The driver's gate for completed statements: one whose result has columns of types the
/// connection has not looked up waits here, and so does every statement completed after
/// it (callers see their results in order), until a lookup is back. Op: anything with
/// `result` (pgresult_ptr) and `ec`.
template <class Op>
class type_gate {
public:
    using op_ptr = std::shared_ptr<Op>;

    /// The snapshot results are read with.
    const catalog_ptr& catalog() const noexcept { return catalog_; }
    bool holding() const noexcept { return !held_.empty(); }

    /// A completed op: true when it has to wait (the gate keeps it; see to_look_up). A
    /// failed op never waits: it has no columns to read. (So every op held has no error.)
    bool hold(op_ptr& op) {
        if (op->ec || (held_.empty() && !has_unknown_column_types(op->result.get(), *catalog_))) return false;
        held_.push_back(std::move(op));
        return true;
    }

    /// Takes `op` out if it waits here (its caller gave up on it).
    op_ptr take(const Op* op) {
        for (auto it = held_.begin(); it != held_.end(); ++it) {
            if (it->get() != op) continue;
            op_ptr o = std::move(*it);
            held_.erase(it);
            return o;
        }
        return nullptr;
    }

    /// The OIDs to look up now: empty when none are needed or a lookup is out already.
    std::vector<std::int64_t> to_look_up() {
        std::vector<std::int64_t> oids;
        if (asking_ || held_.empty()) return oids;
        for (auto& op : held_) unknown_column_types(op->result.get(), *catalog_, oids);
        if (!oids.empty()) {
            asking_ = true;
            asked_ = oids;
        }
        return oids;
    }

    /// The lookup's answer (nullptr: it failed; the ops go on with what is known, and a
    /// later result asks again). Returns the ops that may complete now, in order; then
    /// call to_look_up() again for the ones still waiting.
    std::vector<op_ptr> on_answer(const PGresult* answer) {
        asking_ = false;
        if (answer) {
            try {
                catalog_ = merge_type_lookup(*catalog_, answer);
            } catch (const std::exception&) {
                // A malformed answer: read the results with what is known.
            }
        }
        std::vector<op_ptr> ready;
        std::vector<std::int64_t> unknown;
        std::size_t i = 0;
        for (; i < held_.size(); ++i) {
            unknown.clear();
            unknown_column_types(held_[i]->result.get(), *catalog_, unknown);
            bool waits = false;
            for (std::int64_t o : unknown) {
                bool was_asked = false;
                for (std::int64_t a : asked_) was_asked = was_asked || a == o;
                waits = waits || !was_asked;
            }
            if (waits) break;  // a type first seen after the lookup went out: ask again
            ready.push_back(std::move(held_[i]));
        }
        held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(i));
        asked_.clear();
        return ready;
    }

private:
    catalog_ptr catalog_ = std::make_shared<const type_catalog>();
    std::vector<op_ptr> held_;
    std::vector<std::int64_t> asked_;
    bool asking_ = false;
};

}  // namespace pgcoro::detail

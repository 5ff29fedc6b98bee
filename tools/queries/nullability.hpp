// tools/queries/nullability.hpp — which result columns may be NULL.
//
// A column is NOT NULL only when all of this holds (anything unsure may be NULL):
//  - the server says it comes straight from a table column (PQftable / PQftablecol) and
//    that column is NOT NULL in the catalog;
//  - in the statement's plan (EXPLAIN (VERBOSE, FORMAT JSON) of its generic plan), the
//    column's output is a plain column reference of a relation scanned directly (a
//    table, or the target of INSERT/UPDATE/DELETE ... RETURNING), not on the nullable
//    side of an outer join (LEFT: the inner side; RIGHT: the outer; FULL: both). An
//    outer join the planner proved to be inner (a WHERE clause rejecting its NULLs)
//    counts as inner. A column read through a subquery or CTE that was not flattened
//    counts as unsure, and so does every column of a statement with grouping sets
//    (ROLLUP, CUBE: their summary rows hold NULL in the grouped columns). (EXPLAIN leaves column names unqualified when a statement reads
//    one relation only: then that relation is the one.)
// The SQL can say otherwise: a column alias ending in `!` is NOT NULL, in `?` nullable
// (`count(*) as "total!"`); the mark is not part of the field's name.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cctype>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace pgcoro_tools::queries {

/// What a plan says about the statement's outputs.
struct plan_facts {
    bool read = false;                     ///< the plan was there and understood
    std::vector<std::string> outputs;      ///< the top node's Output expressions, in order
    std::set<std::string> direct;          ///< aliases of relations scanned directly
    std::set<std::string> aliases;         ///< every alias in the plan (subqueries, CTEs, functions too)
    bool grouping_sets = false;            ///< ROLLUP / CUBE / GROUPING SETS: grouped columns turn NULL
    std::set<std::string> nullable_side;   ///< aliases under the nullable side of an outer join
};

namespace detail {

inline void collect_aliases(const boost::json::object& node, std::set<std::string>& into) {
    if (auto* a = node.if_contains("Alias"); a && a->is_string()) into.insert(std::string(a->as_string()));
    if (auto* plans = node.if_contains("Plans"); plans && plans->is_array())
        for (const auto& child : plans->as_array())
            if (child.is_object()) collect_aliases(child.as_object(), into);
}

inline void walk_plan(const boost::json::object& node, plan_facts& f) {
    if (auto* a = node.if_contains("Alias"); a && a->is_string()) f.aliases.insert(std::string(a->as_string()));
    if (node.contains("Grouping Sets")) f.grouping_sets = true;
    if (auto* rel = node.if_contains("Relation Name"); rel && rel->is_string())
        if (auto* a = node.if_contains("Alias"); a && a->is_string()) f.direct.insert(std::string(a->as_string()));
    const boost::json::array* plans = nullptr;
    if (auto* p = node.if_contains("Plans"); p && p->is_array()) plans = &p->as_array();
    std::string join;
    if (auto* j = node.if_contains("Join Type"); j && j->is_string()) join = std::string(j->as_string());
    if (plans) {
        for (const auto& child : *plans) {
            if (!child.is_object()) continue;
            const auto& c = child.as_object();
            std::string rel;
            if (auto* r = c.if_contains("Parent Relationship"); r && r->is_string()) rel = std::string(r->as_string());
            bool nullable = (join == "Left" && rel == "Inner") || (join == "Right" && rel == "Outer") ||
                            (join == "Full" && (rel == "Inner" || rel == "Outer"));
            if (nullable) collect_aliases(c, f.nullable_side);
            walk_plan(c, f);
        }
    }
}

/// One identifier at `i` (quoted or not), its name in `out`; false when there is none.
inline bool identifier_at(std::string_view e, std::size_t& i, std::string& out) {
    out.clear();
    if (i < e.size() && e[i] == '"') {
        for (++i; i < e.size(); ++i) {
            if (e[i] != '"') {
                out += e[i];
            } else if (i + 1 < e.size() && e[i + 1] == '"') {
                out += '"';
                ++i;
            } else {
                ++i;
                return !out.empty();
            }
        }
        return false;  // unterminated
    }
    auto word_char = [](char c, bool first) {
        auto u = static_cast<unsigned char>(c);
        return std::isalpha(u) || c == '_' || u >= 0x80 || (!first && (std::isdigit(u) || c == '$'));
    };
    if (i >= e.size() || !word_char(e[i], true)) return false;
    while (i < e.size() && word_char(e[i], false)) out += e[i++];
    return true;
}

/// Whether an Output entry is a plain column reference, `column` or `relation.column`
/// (either part quoted or not), and if so its relation ("" when unqualified). Anything
/// else (an expression, a placeholder `(t.x)` of a pulled-up subquery, a cast) is not.
inline bool column_reference(std::string_view e, std::string& relation) {
    std::size_t i = 0;
    std::string first, second;
    if (!identifier_at(e, i, first)) return false;
    if (i == e.size()) {
        relation.clear();
        return true;
    }
    if (e[i] != '.') return false;
    ++i;
    if (!identifier_at(e, i, second) || i != e.size()) return false;
    relation = first;
    return true;
}

}  // namespace detail

/// Reads EXPLAIN (VERBOSE, FORMAT JSON)'s answer; `read` is false when it is not one.
inline plan_facts read_plan(std::string_view explain_json) {
    plan_facts f;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(explain_json, ec);
    if (ec || !v.is_array() || v.as_array().empty() || !v.as_array()[0].is_object()) return f;
    auto* plan = v.as_array()[0].as_object().if_contains("Plan");
    if (!plan || !plan->is_object()) return f;
    const auto& top = plan->as_object();
    if (auto* out = top.if_contains("Output"); out && out->is_array())
        for (const auto& o : out->as_array())
            if (o.is_string()) f.outputs.emplace_back(o.as_string());
    detail::walk_plan(top, f);
    f.read = true;
    return f;
}

/// Whether output `column` (0-based) of the plan reads only relations scanned directly,
/// none on the nullable side of an outer join.
inline bool output_is_direct(const plan_facts& f, std::size_t column) {
    if (!f.read || f.grouping_sets || column >= f.outputs.size()) return false;
    std::string relation;
    if (!detail::column_reference(f.outputs[column], relation)) return false;
    // EXPLAIN qualifies column names only when the statement has more than one range
    // table entry: unqualified, the one relation scanned is all there is.
    if (relation.empty()) return f.aliases.size() == 1 && f.direct.size() == 1 && f.nullable_side.empty();
    return f.direct.count(relation) && !f.nullable_side.count(relation);
}

/// The `!` / `?` mark at the end of a column's name: '!', '?' or 0.
inline char nullability_mark(std::string_view name) {
    if (name.size() > 1 && (name.back() == '!' || name.back() == '?')) return name.back();
    return 0;
}

}  // namespace pgcoro_tools::queries

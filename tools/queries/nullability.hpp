// tools/queries/nullability.hpp — which result columns may be NULL.
//
// A column is NOT NULL only when all of this holds (anything unsure may be NULL):
//  - the server says it comes straight from a table column (PQftable / PQftablecol) and
//    that column is NOT NULL in the catalog;
//  - in the statement's plan (EXPLAIN (VERBOSE, FORMAT JSON) of its generic plan), the
//    column's output expression names only relations that are scanned directly (tables,
//    or the target of INSERT/UPDATE/DELETE ... RETURNING), none of them on the nullable
//    side of an outer join (LEFT: the inner side; RIGHT: the outer; FULL: both). An
//    outer join the planner proved to be inner (a WHERE clause rejecting its NULLs)
//    counts as inner. A column read through a subquery or CTE that was not flattened
//    counts as unsure. (EXPLAIN leaves column names unqualified when a statement reads
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

/// The relation names an output expression qualifies its columns with (`t.x`, `"T".x`).
inline std::vector<std::string> qualifiers(std::string_view e) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < e.size()) {
        char c = e[i];
        if (c == '\'') {  // a literal: skip, '' included
            for (++i; i < e.size(); ++i)
                if (e[i] == '\'') {
                    if (i + 1 < e.size() && e[i + 1] == '\'') ++i;
                    else break;
                }
            ++i;
            continue;
        }
        std::string word;
        bool is_word = false;
        if (c == '"') {
            for (++i; i < e.size(); ++i) {
                if (e[i] == '"') {
                    if (i + 1 < e.size() && e[i + 1] == '"') {
                        word += '"';
                        ++i;
                    } else {
                        break;
                    }
                } else {
                    word += e[i];
                }
            }
            ++i;
            is_word = true;
        } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80) {
            while (i < e.size() && (std::isalnum(static_cast<unsigned char>(e[i])) || e[i] == '_' || e[i] == '$' ||
                                    static_cast<unsigned char>(e[i]) >= 0x80))
                word += e[i++];
            is_word = true;
        } else {
            ++i;
            continue;
        }
        if (is_word && i < e.size() && e[i] == '.') {
            out.push_back(word);
            ++i;
            // Skip the column name after the dot (it may be quoted), so `a.b.c` gives a only.
            if (i < e.size() && e[i] == '"') {
                for (++i; i < e.size(); ++i)
                    if (e[i] == '"') {
                        if (i + 1 < e.size() && e[i + 1] == '"') ++i;
                        else break;
                    }
                ++i;
            } else {
                while (i < e.size() && (std::isalnum(static_cast<unsigned char>(e[i])) || e[i] == '_' || e[i] == '$' ||
                                        static_cast<unsigned char>(e[i]) >= 0x80))
                    ++i;
            }
        }
    }
    return out;
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
    if (!f.read || column >= f.outputs.size()) return false;
    auto names = detail::qualifiers(f.outputs[column]);
    // EXPLAIN qualifies column names only when the statement has more than one range
    // table entry: unqualified, the one relation scanned is all there is.
    if (names.empty()) return f.aliases.size() == 1 && f.direct.size() == 1 && f.nullable_side.empty();
    for (const auto& n : names)
        if (!f.direct.count(n) || f.nullable_side.count(n)) return false;
    return true;
}

/// The `!` / `?` mark at the end of a column's name: '!', '?' or 0.
inline char nullability_mark(std::string_view name) {
    if (name.size() > 1 && (name.back() == '!' || name.back() == '?')) return name.back();
    return 0;
}

}  // namespace pgcoro_tools::queries

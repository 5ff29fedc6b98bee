// tools/diff/plan_columns.hpp — the planner's state, and its part for one table's changes
// (columns, row-level security, options) and for sequences. Pure functions of two models.
#pragma once

#include "diff/model.hpp"
#include "diff/steps.hpp"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pgcoro_tools::diff {

/// What the planner knows while it writes (shared by the table and object parts).
struct plan_state {
    std::vector<step> steps;
    std::set<std::string> dropped_relations;  // tables and views that go (their parts go with them)
    std::set<std::string> removed_columns;    // "table.column", dropped (serial sequences go with them)
    std::set<std::string> retyped_tables;     // tables with a column type changed or a column dropped
    bool makes_functions = false;             // a function is created or replaced (their bodies are not checked)

    void add(phase p, std::int64_t order, std::string sql, std::string review = {}, bool destructive = false,
             std::string note = {}) {
        steps.push_back(step{p, order, std::move(sql), std::move(review), std::move(note), destructive});
    }
    void comment(std::int64_t order, const std::string& target, const std::string& from, const std::string& to) {
        if (from == to) return;
        add(phase::comment, order, "COMMENT ON " + target + " IS " + (to.empty() ? "NULL" : sql_literal(to)) + ";");
    }
};

namespace detail {

/// The last name of a qualified "schema.name" (quotes kept), and the schema.
inline std::pair<std::string, std::string> split_name(const std::string& q) {
    bool quoted = false;
    std::size_t dot = std::string::npos;
    for (std::size_t i = 0; i < q.size(); ++i) {
        if (q[i] == '"') quoted = !quoted;
        else if (q[i] == '.' && !quoted) dot = i;
    }
    if (dot == std::string::npos) return {"", q};
    return {q.substr(0, dot), q.substr(dot + 1)};
}

/// "a=1, b=2" -> {"a=1", "b=2"} (reloptions as array_to_string wrote them).
inline std::vector<std::string> split_options(const std::string& s) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < s.size()) {
        auto comma = s.find(", ", at);
        if (comma == std::string::npos) comma = s.size();
        out.push_back(s.substr(at, comma - at));
        at = comma + 2;
    }
    return out;
}

inline std::string sequence_clauses(const sequence_options& o, bool with_type) {
    std::string s = with_type ? " AS " + o.type : "";
    s += " START WITH " + std::to_string(o.start) + " INCREMENT BY " + std::to_string(o.increment) + " MINVALUE " +
         std::to_string(o.min) + " MAXVALUE " + std::to_string(o.max) + " CACHE " + std::to_string(o.cache) +
         (o.cycle ? " CYCLE" : " NO CYCLE");
    return s;
}

inline std::string identity_clause(const column& c) {
    return std::string(" GENERATED ") + (c.identity == 'a' ? "ALWAYS" : "BY DEFAULT") + " AS IDENTITY (" +
           (c.identity_sequence.empty() ? "" : "SEQUENCE NAME " + c.identity_sequence) +
           sequence_clauses(c.identity_options, false) + ")";
}

inline std::string column_definition(const column& c) {
    std::string s = c.name + " " + c.type;
    if (!c.collation.empty()) s += " COLLATE " + c.collation;
    if (!c.generated.empty()) s += " GENERATED ALWAYS AS (" + c.generated + ") STORED";
    if (!c.default_expr.empty()) s += " DEFAULT " + c.default_expr;
    if (c.not_null) s += " NOT NULL";
    if (c.identity) s += identity_clause(c);
    return s;
}

/// "varchar(10)" -> {"varchar", {10}}; a type without a modifier gets an empty list.
inline std::pair<std::string, std::vector<long>> type_parts(const std::string& t) {
    auto open = t.find('(');
    if (open == std::string::npos || t.back() != ')') return {t, {}};
    std::vector<long> mods;
    std::string inner = t.substr(open + 1, t.size() - open - 2);
    std::size_t at = 0;
    while (at < inner.size()) {
        auto comma = inner.find(',', at);
        if (comma == std::string::npos) comma = inner.size();
        try {
            mods.push_back(std::stol(inner.substr(at, comma - at)));
        } catch (...) {
            return {t, {}};
        }
        at = comma + 1;
    }
    return {t.substr(0, open), mods};
}

/// Whether PostgreSQL converts `from` to `to` by itself (an assignment cast), which fails
/// on a value that does not fit where an explicit `USING x::t` would cut it (varchar(n)).
inline bool assignment_cast(const std::string& from, const std::string& to) {
    static const std::set<std::string> numbers = {"smallint", "integer", "bigint", "numeric", "real", "double precision"};
    static const std::set<std::string> strings = {"character varying", "text", "character"};
    auto fb = type_parts(from).first, tb = type_parts(to).first;
    return fb == tb || (numbers.count(fb) && numbers.count(tb)) || (strings.count(fb) && strings.count(tb));
}

/// Whether every value of type `from` converts to `to` unchanged (a widening), so the
/// change needs no review.
inline bool widens(const std::string& from, const std::string& to) {
    auto [fb, fm] = type_parts(from);
    auto [tb, tm] = type_parts(to);
    static const std::map<std::string, std::set<std::string>> wider = {
        {"smallint", {"integer", "bigint", "numeric", "double precision"}},
        {"integer", {"bigint", "numeric"}},
        {"bigint", {"numeric"}},
        {"real", {"double precision"}},
        {"character varying", {"text"}},
    };
    // (Not: char(n) -> text drops trailing blanks; timestamp -> timestamptz reads the
    // values in the session's time zone.)
    if (fb != tb) {
        auto it = wider.find(fb);
        if (it == wider.end() || !it->second.count(tb)) return false;
        if (tm.empty()) return true;
        if (tb != "numeric") return false;
        // An integer into numeric(p, s): room for all its digits before the point.
        long digits = fb == "smallint" ? 5 : fb == "integer" ? 10 : fb == "bigint" ? 19 : 1000;
        return tm[0] - (tm.size() > 1 ? tm[1] : 0) >= digits;
    }
    if (tm.empty()) return true;  // varchar(10) -> varchar, numeric(10,2) -> numeric
    if (fm.empty()) return false;
    if (fb == "numeric" && fm.size() == 2 && tm.size() == 2)  // as many digits before and after the point
        return tm[1] >= fm[1] && tm[0] - tm[1] >= fm[0] - fm[1];
    if (fb == "character") return false;  // char(n) pads: a longer one changes the values
    return fm.size() == 1 && tm.size() == 1 && tm[0] >= fm[0];
}

}  // namespace detail


/// Whether a column must be dropped and added again: PostgreSQL 15 cannot change a
/// generation expression or make a column generated in place (it can stop generating).
inline bool rebuilt_column(const column& f, const column& c) {
    return f.generated != c.generated && !c.generated.empty();
}

/// One column's changes, as ALTER TABLE ... ALTER COLUMN steps in an order that works:
/// identity off, default off, type, default on, NOT NULL on, identity on, NOT NULL off.
inline void plan_column(plan_state& st, const table& t, const column& f, const column& c) {
    const std::string alter = "ALTER TABLE " + t.name + " ALTER COLUMN " + c.name + " ";
    auto add = [&](std::string sql, std::string review = {}, bool destructive = false) {
        st.add(phase::alter_table, t.order, std::move(sql), std::move(review), destructive);
    };
    column was = f;
    if (f.generated != c.generated) {  // (not a rebuilt column: plan_table_changes did that)
        add(alter + "DROP EXPRESSION;");  // keeps the values
        was.generated.clear();
    }
    bool retype = was.type != c.type || was.collation != c.collation;
    // A narrowing change is commented out unless allowed: so is the default made for it.
    bool narrowing = retype && !(was.type == c.type || detail::widens(was.type, c.type));
    if (was.identity && (!c.identity)) add(alter + "DROP IDENTITY;");
    if (!was.default_expr.empty() && (was.default_expr != c.default_expr || retype))
        add(alter + "DROP DEFAULT;", {}, narrowing);
    if (retype) {
        st.retyped_tables.insert(t.name);
        bool widening = was.type == c.type || detail::widens(was.type, c.type);
        std::string review;
        if (!widening)
            review = "column " + t.name + "." + c.name + " changes type from " + was.type + " to " + c.type +
                     ": a value that does not convert fails the migration, and a narrower type can round or cut "
                     "values. Check the data, or write a USING expression.";
        else if (was.collation != c.collation)
            review = "column " + t.name + "." + c.name + " changes collation from " +
                     (was.collation.empty() ? "the default" : was.collation) + " to " +
                     (c.collation.empty() ? "the default" : c.collation) +
                     ": its sort order and comparisons change, and its indexes are built again.";
        add(alter + "TYPE " + c.type + (c.collation.empty() ? "" : " COLLATE " + c.collation) +
                (detail::assignment_cast(was.type, c.type) ? "" : " USING " + c.name + "::" + c.type) + ";",
            review, !widening);
    }
    if (!c.default_expr.empty() && (was.default_expr != c.default_expr || retype))
        add(alter + "SET DEFAULT " + c.default_expr + ";", {}, narrowing);
    if (!was.not_null && c.not_null)
        add(alter + "SET NOT NULL;", "fails while a row holds NULL in " + t.name + "." + c.name + ": fill those first.");
    if (!was.identity && c.identity) {
        add(alter + "ADD" + detail::identity_clause(c) + ";",
            "the identity's sequence starts at " + std::to_string(c.identity_options.start) +
                ": move it past the values already there (SELECT setval(...)).");
    } else if (was.identity && c.identity) {
        if (was.identity != c.identity)
            add(alter + "SET GENERATED " + (c.identity == 'a' ? "ALWAYS" : "BY DEFAULT") + ";");
        const auto &a = was.identity_options, &b = c.identity_options;
        std::string set;
        if (a.increment != b.increment) set += " SET INCREMENT BY " + std::to_string(b.increment);
        if (a.min != b.min) set += " SET MINVALUE " + std::to_string(b.min);
        if (a.max != b.max) set += " SET MAXVALUE " + std::to_string(b.max);
        if (a.start != b.start) set += " SET START WITH " + std::to_string(b.start);
        if (a.cache != b.cache) set += " SET CACHE " + std::to_string(b.cache);
        if (a.cycle != b.cycle) set += b.cycle ? " SET CYCLE" : " SET NO CYCLE";
        if (!set.empty()) add(alter.substr(0, alter.size() - 1) + set + ";");
        if (was.identity_sequence != c.identity_sequence && !c.identity_sequence.empty()) {
            auto [schema, name] = detail::split_name(c.identity_sequence);
            add("ALTER SEQUENCE " + was.identity_sequence + " RENAME TO " + name + ";");
        }
    }
    if (was.not_null && !c.not_null) add(alter + "DROP NOT NULL;");
    st.comment(t.order, "COLUMN " + t.name + "." + c.name, f.comment, c.comment);
}

/// A table in both: its columns (dropped, changed, added), persistence, options,
/// row-level security and comment.
inline void plan_table_changes(plan_state& st, const table& f, const table& t) {
    std::map<std::string, const column*> old, now;
    for (const auto& c : f.columns) old[c.name] = &c;
    for (const auto& c : t.columns) now[c.name] = &c;
    std::vector<const column*> removed, added;
    for (const auto& c : f.columns)
        if (!now.count(c.name)) removed.push_back(&c);
    for (const auto& c : t.columns)
        if (!old.count(c.name)) added.push_back(&c);
    auto rename_of = [&](const column* c, const std::vector<const column*>& others) -> const column* {
        const column* hit = nullptr;
        for (const auto* o : others)
            if (o->type == c->type) {
                if (hit) return nullptr;  // more than one candidate: no guess
                hit = o;
            }
        return hit;
    };
    for (const auto* c : removed) {
        st.removed_columns.insert(t.name + "." + c->name);
        st.retyped_tables.insert(t.name);
        std::string review = "drops column " + t.name + "." + c->name + " and its data.";
        if (const column* a = rename_of(c, added); a && rename_of(a, removed) == c)
            review += " It looks like a rename to " + a->name + ": if it is, write ALTER TABLE " + t.name +
                      " RENAME COLUMN " + c->name + " TO " + a->name + "; instead of this drop and the ADD COLUMN below.";
        st.add(phase::alter_table, t.order, "ALTER TABLE " + t.name + " DROP COLUMN " + c->name + ";", review, true);
    }
    // Columns rebuilt go before any other change (one may use a column whose type changes).
    std::vector<const column*> rebuilt;
    for (const auto& c : t.columns)
        if (auto it = old.find(c.name); it != old.end() && rebuilt_column(*it->second, c)) {
            rebuilt.push_back(&c);
            bool data = it->second->generated.empty();
            st.retyped_tables.insert(t.name);
            std::string review = "column " + t.name + "." + c.name +
                                 (data ? " becomes generated: its values are replaced by computed ones."
                                       : " gets a new generation expression: its values are computed again.") +
                                 " PostgreSQL 15 cannot do that in place, so the column is dropped and added again "
                                 "(at the end of the table); indexes, constraints and views on it go with it and must "
                                 "be created again.";
            st.add(phase::alter_table, t.order, "ALTER TABLE " + t.name + " DROP COLUMN " + c.name + ";", review, data);
        }
    for (const auto& c : t.columns)
        if (auto it = old.find(c.name); it != old.end() && !rebuilt_column(*it->second, c)) plan_column(st, t, *it->second, c);
    for (const auto* c : rebuilt)
        st.add(phase::alter_table, t.order, "ALTER TABLE " + t.name + " ADD COLUMN " + detail::column_definition(*c) + ";",
               {}, old.at(c->name)->generated.empty());
    int last_kept = 0;
    for (const auto& c : t.columns)
        if (old.count(c.name)) last_kept = c.position;
    for (const auto* c : added) {
        std::string review;
        if (c->not_null && c->default_expr.empty() && c->generated.empty() && !c->identity)
            review = "NOT NULL without a default: fails while " + t.name +
                     " has rows. Give it a DEFAULT, or add it nullable, fill it, then SET NOT NULL.";
        std::string note = c->position < last_kept ? "PostgreSQL adds columns at the end: " + c->name +
                                                         " comes after the table's other columns, not where the schema "
                                                         "file puts it"
                                                   : "";
        st.add(phase::alter_table, t.order,
               "ALTER TABLE " + t.name + " ADD COLUMN " + detail::column_definition(*c) + ";", review, false, note);
        st.comment(t.order, "COLUMN " + t.name + "." + c->name, "", c->comment);
    }
    const std::string alter = "ALTER TABLE " + t.name + " ";
    if (f.persistence != t.persistence)
        st.add(phase::alter_table, t.order, alter + (t.persistence == 'u' ? "SET UNLOGGED;" : "SET LOGGED;"),
               "rewrites the table.");
    if (f.options != t.options) {
        std::set<std::string> keep;
        for (const auto& o : detail::split_options(t.options)) keep.insert(o.substr(0, o.find('=')));
        std::string reset;
        for (const auto& o : detail::split_options(f.options))
            if (!keep.count(o.substr(0, o.find('=')))) reset += (reset.empty() ? "" : ", ") + o.substr(0, o.find('='));
        if (!reset.empty()) st.add(phase::alter_table, t.order, alter + "RESET (" + reset + ");");
        if (!t.options.empty()) st.add(phase::alter_table, t.order, alter + "SET (" + t.options + ");");
    }
    if (f.row_security != t.row_security)
        st.add(phase::alter_table, t.order, alter + (t.row_security ? "ENABLE" : "DISABLE") + " ROW LEVEL SECURITY;",
               t.row_security ? "" : "turns row-level security off: every role with access sees every row.");
    if (f.force_row_security != t.force_row_security)
        st.add(phase::alter_table, t.order, alter + (t.force_row_security ? "FORCE" : "NO FORCE") + " ROW LEVEL SECURITY;");
    st.comment(t.order, "TABLE " + t.name, f.comment, t.comment);
}

inline void plan_sequences(plan_state& st, const model& from, const model& to) {
    std::map<std::string, const sequence*> old;
    for (const auto& s : from.sequences) old[s.name] = &s;
    std::set<std::string> kept;
    for (const auto& s : to.sequences) {
        auto it = old.find(s.name);
        if (it == old.end()) {
            st.add(phase::sequence, s.order, "CREATE SEQUENCE " + s.name + detail::sequence_clauses(s.options, true) + ";");
            if (!s.owned_by.empty()) st.add(phase::owned_by, s.order, "ALTER SEQUENCE " + s.name + " OWNED BY " + s.owned_by + ";");
            st.comment(s.order, "SEQUENCE " + s.name, "", s.comment);
            continue;
        }
        const sequence& f = *it->second;
        kept.insert(s.name);
        if (!(f.options == s.options)) {
            // START WITH changes what RESTART goes back to, not the next value.
            st.add(phase::sequence, s.order, "ALTER SEQUENCE " + s.name + detail::sequence_clauses(s.options, true) + ";");
        }
        if (f.owned_by != s.owned_by)
            st.add(phase::owned_by, s.order,
                   "ALTER SEQUENCE " + s.name + " OWNED BY " + (s.owned_by.empty() ? "NONE" : s.owned_by) + ";");
        st.comment(s.order, "SEQUENCE " + s.name, f.comment, s.comment);
    }
    for (const auto& f : from.sequences) {
        if (kept.count(f.name)) continue;
        // One a dropped table or column owns goes with it.
        if (!f.owned_by.empty() && (st.dropped_relations.count(f.owned_by_table) || st.removed_columns.count(f.owned_by)))
            continue;
        st.add(phase::drop_sequence, -f.order, "DROP SEQUENCE " + f.name + ";");
    }
}

}  // namespace pgcoro_tools::diff

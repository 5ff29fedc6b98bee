// tools/diff/plan_tables.hpp — the planner's part for tables and their columns, enums and
// sequences: what changes by ALTER rather than by dropping and creating again. Pure
// functions of two models (no server): unit-tested in tests/unit/diff_tests.cpp.
#pragma once

#include "diff/plan_columns.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace pgcoro_tools::diff {

inline void plan_enums(plan_state& st, const model& from, const model& to) {
    std::map<std::string, const enum_type*> old;
    for (const auto& e : from.enums) old[e.name] = &e;
    std::set<std::string> kept;
    for (const auto& t : to.enums) {
        auto it = old.find(t.name);
        if (it == old.end()) {
            std::string labels;
            for (const auto& l : t.labels) labels += (labels.empty() ? "" : ", ") + sql_literal(l);
            st.add(phase::type, t.order, "CREATE TYPE " + t.name + " AS ENUM (" + labels + ");");
            st.comment(t.order, "TYPE " + t.name, "", t.comment);
            continue;
        }
        const enum_type& f = *it->second;
        kept.insert(t.name);
        st.comment(t.order, "TYPE " + t.name, f.comment, t.comment);
        if (f.labels == t.labels) continue;
        // Only additions (the old labels in order, within the new): ADD VALUE each.
        std::size_t k = 0;
        for (const auto& l : t.labels)
            if (k < f.labels.size() && l == f.labels[k]) ++k;
        if (k == f.labels.size() && t.labels.size() > f.labels.size()) {
            std::set<std::string> have(f.labels.begin(), f.labels.end());
            bool first = true;
            for (std::size_t i = 0; i < t.labels.size(); ++i) {
                if (have.count(t.labels[i])) continue;
                // After the label before it (old, or added just now); the first one before
                // the first old label; into an enum without labels, plainly.
                std::string where = i > 0 ? " AFTER " + sql_literal(t.labels[i - 1])
                                    : f.labels.empty() ? ""
                                                       : " BEFORE " + sql_literal(f.labels[0]);
                st.add(phase::type, t.order, "ALTER TYPE " + t.name + " ADD VALUE " + sql_literal(t.labels[i]) + where + ";",
                       {}, false, first ? "a value added to an enum cannot be used in the transaction that adds it" : "");
                first = false;
                have.insert(t.labels[i]);
            }
            continue;
        }
        auto list = [](const std::vector<std::string>& v) {
            std::string s;
            for (const auto& l : v) s += (s.empty() ? "" : ", ") + sql_literal(l);
            return "(" + s + ")";
        };
        std::string review = "enum " + t.name + " changes from " + list(f.labels) + " to " + list(t.labels) + ".";
        std::vector<std::size_t> differ;
        if (f.labels.size() == t.labels.size())
            for (std::size_t i = 0; i < t.labels.size(); ++i)
                if (f.labels[i] != t.labels[i]) differ.push_back(i);
        if (differ.size() == 1) {
            auto i = differ[0];
            st.add(phase::type, t.order,
                   "ALTER TYPE " + t.name + " RENAME VALUE " + sql_literal(f.labels[i]) + " TO " +
                       sql_literal(t.labels[i]) + ";",
                   review + " It looks like a rename: rows holding the old value hold the new one afterwards. "
                            "If the value is meant to go instead, write that by hand.");
        } else {
            st.add(phase::type, t.order, "",
                   review + " PostgreSQL can only add values (ADD VALUE) and rename them (RENAME VALUE); removing or "
                            "reordering values needs a new type, the columns converted to it, and the old type "
                            "dropped. Not drafted: write it by hand.");
        }
    }
    for (const auto& f : from.enums)
        if (!kept.count(f.name))
            st.add(phase::drop_type, -f.order, "DROP TYPE " + f.name + ";");
}

inline void plan_tables(plan_state& st, const model& from, const model& to) {
    std::map<std::string, const table*> old, now;
    for (const auto& t : from.tables) old[t.name] = &t;
    for (const auto& t : to.tables) now[t.name] = &t;
    auto columns_of = [](const table& t) {
        std::string s;
        for (const auto& c : t.columns) s += c.name + " " + c.type + "\n";
        return s;
    };
    std::vector<const table*> added, removed;
    for (const auto& t : to.tables)
        if (!old.count(t.name)) added.push_back(&t);
    for (const auto& f : from.tables)
        if (!now.count(f.name)) removed.push_back(&f);
    // A rename looks like a drop and a create: same schema, same columns.
    std::map<const table*, std::string> rename_hint;
    for (const auto* r : removed)
        for (const auto* a : added)
            if (detail::split_name(r->name).first == detail::split_name(a->name).first && columns_of(*r) == columns_of(*a)) {
                std::string hint = "looks like a rename of " + r->name + " to " + a->name + ": if it is, write ALTER TABLE " +
                                   r->name + " RENAME TO " + detail::split_name(a->name).second +
                                   "; instead of dropping one and creating the other, which loses the rows.";
                rename_hint[r] = hint;
                rename_hint[a] = hint;
            }
    for (const auto* f : removed) {
        st.dropped_relations.insert(f->name);
        std::string review = "drops table " + f->name + " and every row in it.";
        if (rename_hint.count(f)) review += " It " + rename_hint[f];
        st.add(phase::drop_table, -f->order, "DROP TABLE " + f->name + ";", review, true);
    }
    for (const auto* t : added) {
        std::string sql = std::string("CREATE ") + (t->persistence == 'u' ? "UNLOGGED " : "") + "TABLE " + t->name + " (";
        for (std::size_t i = 0; i < t->columns.size(); ++i)
            sql += std::string(i ? "," : "") + "\n    " + detail::column_definition(t->columns[i]);
        sql += (t->columns.empty() ? ")" : "\n)") + (t->options.empty() ? "" : " WITH (" + t->options + ")") + ";";
        if (t->row_security) sql += "\nALTER TABLE " + t->name + " ENABLE ROW LEVEL SECURITY;";
        if (t->force_row_security) sql += "\nALTER TABLE " + t->name + " FORCE ROW LEVEL SECURITY;";
        st.add(phase::table, t->order, sql, rename_hint.count(t) ? "this table " + rename_hint[t] : "");
        st.comment(t->order, "TABLE " + t->name, "", t->comment);
        for (const auto& c : t->columns) st.comment(t->order, "COLUMN " + t->name + "." + c.name, "", c.comment);
    }
    for (const auto& t : to.tables)
        if (auto it = old.find(t.name); it != old.end()) plan_table_changes(st, *it->second, t);
}

}  // namespace pgcoro_tools::diff

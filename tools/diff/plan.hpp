// tools/diff/plan.hpp — the migration draft between two schemas: plan(from, to) gives the
// steps that turn `from` into `to`, in dependency order (steps.hpp's phases). Pure: the
// models come from catalog.hpp or, in unit tests, from hand. The down file is
// plan(to, from).
//
// Objects compared by definition (functions, views, keys, indexes, triggers, policies,
// schemas, extensions) change in place when they can (CREATE OR REPLACE) and by drop and
// create otherwise; a view is built again when a relation it reads changes shape; parts of
// a relation that is dropped or built again go, and come back, with it.
#pragma once

#include "diff/plan_tables.hpp"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace pgcoro_tools::diff {

namespace detail {

inline phase create_phase(const object& o) {
    switch (o.kind) {
    case kind::schema: return phase::schema;
    case kind::extension: return phase::extension;
    case kind::function: return o.late ? phase::late : phase::function;
    case kind::view: return phase::late;
    case kind::constraint: return phase::constraint;
    case kind::foreign_key: return phase::foreign_key;
    case kind::index: return o.late ? phase::trigger : phase::index;
    case kind::trigger: return phase::trigger;
    case kind::policy: return phase::policy;
    }
    return phase::late;
}

/// Where an object's drop goes: `changing` when it is created again in this script.
inline phase drop_phase(const object& o, bool changing) {
    switch (o.kind) {
    case kind::schema: return phase::drop_schema;
    case kind::extension: return phase::drop_extension;
    case kind::function:  // one using a table goes before tables do, as views do
        return o.late ? phase::drop_view : changing ? phase::drop_changed_function : phase::drop_function;
    case kind::view: return phase::drop_view;
    case kind::constraint: return phase::drop_constraint;
    case kind::foreign_key: return phase::drop_foreign_key;
    case kind::index: return phase::drop_index;
    case kind::trigger: return phase::drop_trigger;
    case kind::policy: return phase::drop_policy;
    }
    return phase::drop_function;
}

/// Drops run newest first (a newer object may use an older one of its kind: a view
/// another view, an extension another, a function another).
inline std::int64_t drop_order(const object& o) { return -o.order; }

inline std::string key_of(const object& o) { return std::to_string(static_cast<int>(o.kind)) + ":" + o.key; }

}  // namespace detail

inline void plan_objects(plan_state& st, const model& from, const model& to) {
    std::map<std::string, const object*> old, now;
    for (const auto& o : from.objects) old[detail::key_of(o)] = &o;
    for (const auto& o : to.objects) now[detail::key_of(o)] = &o;

    // Views built again: changed where CREATE OR REPLACE cannot do it, reading a table
    // whose columns change type or go, or reading a view built again (to a fixpoint).
    std::set<std::string> rebuilt;
    auto replaceable = [](const object& f, const object& t) {
        return !t.replace.empty() && t.shape.compare(0, f.shape.size(), f.shape) == 0;
    };
    for (bool grew = true; grew;) {
        grew = false;
        for (const auto& t : to.objects) {
            if (t.kind != kind::view || rebuilt.count(t.key)) continue;
            auto it = old.find(detail::key_of(t));
            if (it == old.end()) continue;
            const object& f = *it->second;
            bool rebuild = (f.definition != t.definition && !replaceable(f, t));
            for (const auto& d : f.depends_on)
                rebuild = rebuild || rebuilt.count(d) || st.retyped_tables.count(d);
            if (rebuild) {
                rebuilt.insert(t.key);
                grew = true;
            }
        }
    }
    // Relations whose parts (triggers, indexes of a materialized view, comments) go with them.
    std::set<std::string> gone = st.dropped_relations;
    for (const auto& f : from.objects)
        if (f.kind == kind::view && (!now.count(detail::key_of(f)) || rebuilt.count(f.key))) gone.insert(f.key);

    std::map<std::string, std::int64_t> table_order;
    for (const auto& t : from.tables) table_order[t.name] = t.order;
    for (const auto& f : from.objects) {
        if (now.count(detail::key_of(f))) continue;
        // Parts go with their relation; except a foreign key from a table dropped to a newer
        // one dropped too, which would stop the newer one's DROP (dropped newest first).
        bool cross = f.kind == kind::foreign_key && !f.depends_on.empty() && f.depends_on[0] != f.owner &&
                     st.dropped_relations.count(f.depends_on[0]) && table_order[f.depends_on[0]] > table_order[f.owner];
        if (!f.owner.empty() && gone.count(f.owner) && !cross) continue;
        std::string review;
        if (f.kind == kind::function)
            review = "drops " + f.comment_target + ": check that nothing outside the schema file (another "
                     "service, a job) still calls it.";
        st.add(detail::drop_phase(f, false), detail::drop_order(f), f.drop, review);
    }
    for (const auto& t : to.objects) {
        auto it = old.find(detail::key_of(t));
        phase p = detail::create_phase(t);
        // (A function is made below exactly when it is new or its definition changed.)
        if (t.kind == kind::function && (it == old.end() || it->second->definition != t.definition))
            st.makes_functions = true;
        if (it == old.end()) {
            st.add(p, t.order, t.create);
            st.comment(t.order, t.comment_target, "", t.comment);
            continue;
        }
        const object& f = *it->second;
        bool owner_gone = !t.owner.empty() && gone.count(t.owner);
        // Policies and triggers may name a column whose type changes, which ALTER TYPE
        // refuses: they are dropped before the table changes and created after.
        bool rebuild = (t.kind == kind::view && rebuilt.count(t.key)) ||
                       ((t.kind == kind::policy || t.kind == kind::trigger) && st.retyped_tables.count(t.owner));
        if (owner_gone) {  // dropped with its relation: made again after it
            st.add(p, t.order, t.create);
            st.comment(t.order, t.comment_target, "", t.comment);
            continue;
        }
        if (f.definition == t.definition && !rebuild) {
            st.comment(t.order, t.comment_target, f.comment, t.comment);
            continue;
        }
        if (!rebuild && replaceable(f, t)) {
            st.add(p, t.order, t.replace);
            st.comment(t.order, t.comment_target, f.comment, t.comment);
            continue;
        }
        std::string review;
        if (t.kind == kind::function)
            review = f.comment_target + " changes its parameters or result, so it is dropped and created again: "
                     "the DROP fails while triggers, policies, defaults or views use it (drop and create those "
                     "around it).";
        if (t.kind == kind::constraint || t.kind == kind::foreign_key || t.kind == kind::index)
            review = t.comment_target + " changes: it is dropped and created again, which checks (or indexes) "
                     "every row while the table is locked.";
        st.add(detail::drop_phase(f, true), detail::drop_order(f), f.drop, review);
        st.add(p, t.order, t.create);
        st.comment(t.order, t.comment_target, "", t.comment);
    }
}

/// The steps that turn the schema `from` into `to`, sorted into their phases.
inline std::vector<step> plan(const model& from, const model& to) {
    plan_state st;
    plan_tables(st, from, to);
    plan_enums(st, from, to);
    plan_sequences(st, from, to);
    plan_objects(st, from, to);
    if (st.makes_functions)  // as pg_dump does: a function body may use what is created after it
        st.add(phase::prologue, 0, "SET LOCAL check_function_bodies = false;");
    sort_steps(st.steps);
    return st.steps;
}

/// Whether the plan changes anything (a step with SQL, or a review of a change that is
/// not drafted).
inline bool has_changes(const std::vector<step>& steps) {
    for (const auto& s : steps)
        if (s.phase != phase::prologue && (!s.sql.empty() || !s.review.empty())) return true;
    return false;
}

}  // namespace pgcoro_tools::diff

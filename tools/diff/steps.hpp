// tools/diff/steps.hpp — what the planner (plan.hpp) writes: steps in phases, so that
// whatever an object needs exists before it and goes after it (dependency order), and
// their rendering as a migration file.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgcoro_tools::diff {

/// Up a script, in this order. Drops of what others use (functions, types, sequences,
/// schemas) come last, after the tables stopped using them; drops of what uses others
/// (triggers, policies, views, keys) come first.
enum class phase : int {
    prologue,
    drop_trigger,
    drop_policy,
    drop_view,  // newest first
    drop_foreign_key,
    drop_constraint,
    drop_index,
    drop_changed_function,  // one created again below with another signature
    drop_table,
    schema,
    extension,
    type,
    sequence,
    function,  // those tables use (defaults, checks), before the tables
    table,
    alter_table,
    owned_by,
    constraint,
    index,
    foreign_key,
    late,  // views and the functions that use tables, in the order the schema file made them
    trigger,
    policy,
    comment,
    drop_function,
    drop_sequence,
    drop_type,
    drop_extension,
    drop_schema,
};

struct step {
    diff::phase phase{};
    std::int64_t order = 0;  // within its phase (stable: equal orders keep their sequence)
    std::string sql;         // one or more statements
    std::string review;      // why a person must look: written as "-- REVIEW: ..."
    std::string note;        // a plain comment
    bool destructive = false;  // loses data: commented out unless allowed
};

/// Sorts the steps into their phases (stable).
inline void sort_steps(std::vector<step>& steps) {
    std::stable_sort(steps.begin(), steps.end(), [](const step& a, const step& b) {
        if (a.phase != b.phase) return a.phase < b.phase;
        return a.order < b.order;
    });
}

namespace detail {
/// `text` as comment lines of at most ~92 characters, the first after `prefix`, the
/// others indented under it.
inline void comment_lines(std::string& out, std::string_view prefix, std::string_view text) {
    constexpr std::size_t width = 92;
    std::string line(prefix);
    bool empty = true;
    std::size_t at = 0;
    while (at < text.size()) {
        auto end = text.find_first_of(" \n", at);
        if (end == std::string_view::npos) end = text.size();
        auto word = text.substr(at, end - at);
        if (!empty && line.size() + 1 + word.size() > width) {
            out += line + '\n';
            line = "--   ";
            empty = true;
        }
        if (!word.empty()) {
            if (!empty) line += ' ';
            line += word;
            empty = false;
        }
        if (end < text.size() && text[end] == '\n') {
            out += line + '\n';
            line = "--   ";
            empty = true;
        }
        at = end + 1;
    }
    if (!empty || line.size() == prefix.size()) out += line + '\n';
}

/// Whether a step only drops (in a down file, undoing what the up file made: no review).
inline bool drop_step(const step& s) {
    return (s.phase >= phase::drop_trigger && s.phase <= phase::drop_table) || s.phase >= phase::drop_function ||
           (s.destructive && s.sql.find(" DROP COLUMN ") != std::string::npos);
}
}  // namespace detail

struct rendered {
    std::string text;
    std::size_t statements = 0, reviews = 0, commented_out = 0;
};

enum class file_kind { up, down };

/// The steps as SQL: each REVIEW above its step, destructive steps commented out unless
/// `allow_destructive`. A down file (which undoes an up file, destructive steps allowed)
/// keeps its reviews for changes but not for drops: its header says what it drops.
inline rendered render(const std::vector<step>& steps, bool allow_destructive, file_kind kind = file_kind::up) {
    rendered r;
    for (const auto& s : steps) {
        bool review = !s.review.empty() && !(kind == file_kind::down && detail::drop_step(s));
        if (s.sql.empty() && !review) continue;
        r.text += '\n';
        if (!s.note.empty()) detail::comment_lines(r.text, "-- ", s.note);
        if (review) {
            detail::comment_lines(r.text, "-- REVIEW: ", s.review);
            ++r.reviews;
        }
        if (s.sql.empty()) continue;
        // Once a destructive step is held back, so are the last drops (a type, function or
        // sequence the held-back table or column still uses would refuse to go).
        bool held = !allow_destructive && r.commented_out > 0 && s.phase >= phase::drop_function;
        if ((s.destructive && !allow_destructive) || held) {
            r.text += held && !s.destructive
                          ? "-- (commented out with the destructive steps above, which it may need)\n"
                          : "-- (destructive: commented out; `pgcoro-migrate diff --allow-destructive` writes it)\n";
            std::size_t at = 0;
            while (at < s.sql.size()) {
                auto nl = s.sql.find('\n', at);
                if (nl == std::string::npos) nl = s.sql.size();
                r.text += "-- " + s.sql.substr(at, nl - at) + "\n";
                at = nl + 1;
            }
            ++r.commented_out;
        } else {
            r.text += s.sql + "\n";
            ++r.statements;
        }
    }
    return r;
}

}  // namespace pgcoro_tools::diff

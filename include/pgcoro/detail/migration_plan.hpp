// pgcoro/detail/migration_plan.hpp — what a migrator run will do, decided from the files and
// the history table alone (no I/O: unit-tested without a server).
#pragma once

#include <pgcoro/error.hpp>
#include <pgcoro/migration.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace pgcoro::detail {

/// Refuses drift: an applied migration whose file changed (every one is named, with both
/// checksums), or, unless ignore_missing, a version the set does not have.
inline void check_history(const migration_set& set, const std::vector<applied_migration>& applied,
                          bool ignore_missing) {
    std::string changed, unknown;
    int n_changed = 0, n_unknown = 0;
    for (const auto& a : applied) {
        const migration* m = set.find(a.version);
        if (!m) {
            if (ignore_missing) continue;
            ++n_unknown;
            unknown += (unknown.empty() ? "" : ", ") + std::to_string(a.version) + "_" + a.name;
        } else if (m->up.checksum != a.checksum) {
            ++n_changed;
            changed += (changed.empty() ? "" : "; ") + m->up.file + " was applied with checksum " + a.checksum +
                       " but the file now has " + m->up.checksum;
        }
    }
    if (n_changed)
        throw pgcoro::error(make_error_code(errc::migration_checksum_mismatch),
                            "refusing to migrate: " + changed +
                                ". Applied migrations must not be edited: restore the file and add a new migration");
    if (n_unknown)
        throw pgcoro::error(make_error_code(errc::migration_unknown_version),
                            "refusing to migrate: the database has applied " + unknown +
                                (n_unknown == 1 ? ", which is" : ", which are") +
                                " not among these migrations (an older binary or the wrong directory? set "
                                "ignore_missing to go on)");
}

inline std::optional<std::int64_t> newest_applied(const std::vector<applied_migration>& applied) {
    std::optional<std::int64_t> v;
    for (const auto& a : applied)
        if (!v || a.version > *v) v = a.version;
    return v;
}

inline bool is_applied(const std::vector<applied_migration>& applied, std::int64_t version) {
    return std::any_of(applied.begin(), applied.end(), [&](const applied_migration& a) { return a.version == version; });
}

/// The migrations `up` applies, in order: every unapplied one up to `target`. An
/// unapplied version older than the newest applied one is errc::migration_out_of_order
/// unless allow_out_of_order.
inline std::vector<const migration*> plan_up(const migration_set& set, const std::vector<applied_migration>& applied,
                                             std::optional<std::int64_t> target, bool allow_out_of_order) {
    std::vector<const migration*> out;
    auto newest = newest_applied(applied);
    std::string late;
    for (const auto& m : set) {
        if (target && m.version > *target) break;
        if (is_applied(applied, m.version)) continue;
        if (newest && m.version < *newest && !allow_out_of_order)
            late += (late.empty() ? "" : ", ") + m.up.file;
        out.push_back(&m);
    }
    if (!late.empty())
        throw pgcoro::error(make_error_code(errc::migration_out_of_order),
                            "refusing to migrate: " + late + " is older than the newest applied version " +
                                std::to_string(*newest) +
                                " (merged after a newer one was deployed? renumber it, or set allow_out_of_order)");
    return out;
}

/// What `down` reverts, newest first: the newest `steps` applied versions, or every
/// applied version above `to_version`. Each needs a down file: errc::migration_missing_down
/// (naming them all) before anything runs.
inline std::vector<const migration*> plan_down(const migration_set& set, const std::vector<applied_migration>& applied,
                                               std::size_t steps, std::optional<std::int64_t> to_version) {
    std::vector<std::int64_t> versions;
    for (const auto& a : applied)
        if (!to_version || a.version > *to_version) versions.push_back(a.version);
    std::sort(versions.rbegin(), versions.rend());
    if (!to_version && versions.size() > steps) versions.resize(steps);
    std::vector<const migration*> out;
    std::string missing;
    for (std::int64_t v : versions) {
        const migration* m = set.find(v);
        if (!m)
            missing += (missing.empty() ? "" : ", ") + std::string("version ") + std::to_string(v) + " (not in this set)";
        else if (!m->down)
            missing += (missing.empty() ? "" : ", ") + m->up.file;
        else
            out.push_back(m);
    }
    if (!missing.empty())
        throw pgcoro::error(make_error_code(errc::migration_missing_down),
                            "refusing to roll back: no down file for " + missing + "; nothing was run");
    return out;
}

}  // namespace pgcoro::detail

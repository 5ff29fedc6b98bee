// pgcoro/migration.hpp — migration and seed files: names, checksums, sets; the history
// table's rows.
#pragma once

#include <pgcoro/detail/sha256.hpp>
#include <pgcoro/detail/sql_script.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/types/datetime.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgcoro {

/// A file's name and content, as read from disk or embedded in the binary.
struct sql_file {
    std::string name;     ///< the file name, e.g. "20261121093000_create_users.up.sql"
    std::string content;  ///< as stored (BOM and CRLF are normalised when loaded)
};

/// One direction of a migration, or a seed: normalised SQL plus what pgcoro derived from it.
struct sql_script {
    std::string file;            ///< the file name it came from
    std::string sql;             ///< BOM removed, CRLF turned into LF
    std::string checksum;        ///< SHA-256 of `sql`, lower-case hex
    bool no_transaction = false; ///< first line `-- pgcoro:no-transaction`

    /// Normalises `content`, computes its checksum and checks it: a script that runs in a
    /// transaction must not hold BEGIN / COMMIT / ROLLBACK of its own (they would commit
    /// half a migration): errc::invalid_migration naming the file and line.
    static sql_script from(std::string file, std::string_view content) {
        sql_script s;
        s.file = std::move(file);
        s.sql = detail::normalise_sql(content);
        s.checksum = detail::sha256_hex(s.sql);
        s.no_transaction = detail::has_no_transaction_pragma(s.sql);
        if (!s.no_transaction) {
            for (const auto& st : detail::split_sql(s.sql)) {
                std::string kw = detail::transaction_control_keyword(st);
                if (!kw.empty())
                    throw pgcoro::error(make_error_code(errc::invalid_migration),
                                        s.file + " line " + std::to_string(st.line) + ": " + kw +
                                            " is not allowed: pgcoro runs each migration in a transaction of its "
                                            "own; remove it, or make the file's first line "
                                            "'-- pgcoro:no-transaction'");
            }
        }
        return s;
    }
};

/// A versioned migration: its up script and, optionally, its down script.
struct migration {
    std::int64_t version = 0;
    std::string name;                ///< the part of the file name after "<version>_"
    sql_script up;
    std::optional<sql_script> down;
};

namespace detail {

[[noreturn]] inline void bad_migration(const std::string& what) {
    throw pgcoro::error(make_error_code(errc::invalid_migration), what);
}

inline std::vector<sql_file> read_sql_files(const std::filesystem::path& dir, const char* what) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        bad_migration(std::string(what) + " directory " + dir.string() + " does not exist or is not a directory");
    std::vector<sql_file> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        std::string name = entry.path().filename().string();
        if (!entry.is_regular_file() || name.empty() || name[0] == '.') continue;
        if (entry.path().extension() != ".sql") continue;
        std::ifstream in(entry.path(), std::ios::binary);
        if (!in) bad_migration("cannot read " + entry.path().string());
        std::ostringstream content;
        content << in.rdbuf();
        files.push_back({std::move(name), std::move(content).str()});
    }
    std::sort(files.begin(), files.end(), [](const sql_file& a, const sql_file& b) { return a.name < b.name; });
    return files;
}

inline bool valid_migration_name(std::string_view n) {
    if (n.empty()) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

}  // namespace detail

/// The migrations a program knows, sorted by version. Build it from files embedded in the
/// binary (pgcoro_embed_migrations() in CMake) or from a directory at run time. File
/// names are `<version>_<name>.up.sql` and `<version>_<name>.down.sql`; version is a
/// non-negative integer (timestamps such as 20261121093000 are fine); name is letters,
/// digits, '_' and '-'. Other `.sql` names, duplicate versions, a down file without an up
/// file and transaction control inside a transactional file are errc::invalid_migration.
class migration_set {
public:
    migration_set() = default;

    static migration_set from_files(const std::vector<sql_file>& files) {
        std::map<std::int64_t, migration> by_version;
        for (const auto& f : files) {
            std::string_view n = f.name;
            bool up = n.ends_with(".up.sql");
            bool down = n.ends_with(".down.sql");
            if (!up && !down)
                detail::bad_migration(f.name + ": a migration file is named <version>_<name>.up.sql or "
                                      "<version>_<name>.down.sql");
            std::string_view stem = n.substr(0, n.size() - (up ? 7 : 9));
            std::size_t us = stem.find('_');
            std::string_view digits = stem.substr(0, us);
            std::string_view name = us == std::string_view::npos ? std::string_view() : stem.substr(us + 1);
            std::int64_t version = -1;
            auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
            if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || version < 0 ||
                !detail::valid_migration_name(name))
                detail::bad_migration(f.name + ": expected <version>_<name>" + (up ? ".up.sql" : ".down.sql") +
                                      " with a non-negative integer version (at most 19 digits) and a name of "
                                      "letters, digits, '_' and '-'");
            auto [it, fresh] = by_version.try_emplace(version);
            migration& m = it->second;
            if (fresh) {
                m.version = version;
                m.name = std::string(name);
            } else if (m.name != name) {
                detail::bad_migration("version " + std::to_string(version) + " is used twice: " +
                                      std::string(name) + " and " + m.name);
            }
            if (up) {
                if (!m.up.file.empty()) detail::bad_migration("two up files for version " + std::to_string(version));
                m.up = sql_script::from(f.name, f.content);
            } else {
                if (m.down) detail::bad_migration("two down files for version " + std::to_string(version));
                m.down = sql_script::from(f.name, f.content);
            }
        }
        migration_set set;
        for (auto& [v, m] : by_version) {
            if (m.up.file.empty()) detail::bad_migration(m.down->file + " has no matching .up.sql file");
            set.items_.push_back(std::move(m));
        }
        return set;
    }

    /// Every `*.sql` file of `dir` (not its subdirectories; other files are ignored).
    static migration_set from_directory(const std::filesystem::path& dir) {
        return from_files(detail::read_sql_files(dir, "migrations"));
    }

    const std::vector<migration>& items() const noexcept { return items_; }
    auto begin() const noexcept { return items_.begin(); }
    auto end() const noexcept { return items_.end(); }
    std::size_t size() const noexcept { return items_.size(); }
    bool empty() const noexcept { return items_.empty(); }

    /// The migration with this version, or nullptr.
    const migration* find(std::int64_t version) const noexcept {
        auto it = std::lower_bound(items_.begin(), items_.end(), version,
                                   [](const migration& m, std::int64_t v) { return m.version < v; });
        return it != items_.end() && it->version == version ? &*it : nullptr;
    }

private:
    std::vector<migration> items_;
};

/// Seed files (reference data), run in file-name order after the migrations, each again
/// only when its content changed. Write them to be idempotent (INSERT ... ON CONFLICT).
class seed_set {
public:
    seed_set() = default;

    static seed_set from_files(const std::vector<sql_file>& files) {
        seed_set set;
        for (const auto& f : files) {
            if (!std::string_view(f.name).ends_with(".sql") || f.name.size() > 200)
                detail::bad_migration(f.name + ": a seed file is named <name>.sql");
            set.items_.push_back(sql_script::from(f.name, f.content));
        }
        std::sort(set.items_.begin(), set.items_.end(),
                  [](const sql_script& a, const sql_script& b) { return a.file < b.file; });
        for (std::size_t i = 1; i < set.items_.size(); ++i)
            if (set.items_[i].file == set.items_[i - 1].file) detail::bad_migration("seed " + set.items_[i].file + " appears twice");
        return set;
    }

    static seed_set from_directory(const std::filesystem::path& dir) {
        return from_files(detail::read_sql_files(dir, "seeds"));
    }

    const std::vector<sql_script>& items() const noexcept { return items_; }
    auto begin() const noexcept { return items_.begin(); }
    auto end() const noexcept { return items_.end(); }
    std::size_t size() const noexcept { return items_.size(); }
    bool empty() const noexcept { return items_.empty(); }

private:
    std::vector<sql_script> items_;
};

/// A row of the migrator's history table: an applied migration, its file's checksum,
/// when it was applied and how long it took (see get_migration_status for a report).
struct applied_migration {
    std::int64_t version = 0;
    std::string name;
    std::string checksum;
    timestamptz applied_at{};
    std::int64_t duration_ms = 0;
};

}  // namespace pgcoro

// pgcoro-migrate: the migrator for humans and deploy scripts. Thin over pgcoro/migrate.hpp.
//
// Exit codes (stable, for scripts):
//   0  success
//   1  status --exit-code: something is pending or drifted; verify: drift found
//   2  usage error, or invalid migration files
//   3  the database refused or a migration failed (the message says which file and line)
//   4  could not connect
//   5  timed out waiting for another migrator's lock
#include "diff/command.hpp"

#include <pgcoro/migrator.hpp>
#include <pgcoro/pgcoro.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <fmt/chrono.h>
#include <fmt/core.h>

#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

enum exit_code { ok = 0, pending_or_drift = 1, usage = 2, failed = 3, no_connection = 4, lock_timeout = 5 };

struct settings {
    std::string url;
    std::string dir = "migrations";
    std::string seeds_dir;
    std::string table = "pgcoro_migrations";
    std::string seeds_table = "pgcoro_seeds";
    double lock_timeout_s = 300;
    bool ignore_missing = false;
    bool allow_out_of_order = false;
    bool quiet = false;
    // up
    std::optional<std::int64_t> to;
    bool dry_run = false;
    std::string backup_dir;
    std::string pg_dump = "pg_dump";
    // down
    std::size_t steps = 1;
    bool all = false;
    // status
    bool exit_code = false;
    // new
    std::string new_name;
    // diff
    pgcoro_tools::diff::diff_settings diff;
    // schema-doc
    std::string output;
    std::vector<std::string> schemas;
};

class cli_error : public std::runtime_error {
public:
    cli_error(int code, const std::string& what) : std::runtime_error(what), code_(code) {}
    int code() const noexcept { return code_; }

private:
    int code_;
};

using pgcoro_tools::diff::detail::utc_stamp;

std::string format_time(const pgcoro::timestamptz& t) {
    return fmt::format("{:%Y-%m-%d %H:%M:%S} UTC", std::chrono::floor<std::chrono::seconds>(t));
}

pgcoro::migrate_options options_of(const settings& s) {
    pgcoro::migrate_options o;
    o.history_table = s.table;
    o.seeds_table = s.seeds_table;
    o.lock_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(s.lock_timeout_s * 1000));
    o.ignore_missing = s.ignore_missing;
    o.allow_out_of_order = s.allow_out_of_order;
    o.target = s.to;
    o.dry_run = s.dry_run;
    if (!s.quiet) {
        o.on_event = [](const pgcoro::migration_event& e) {
            using k = pgcoro::migration_event;
            switch (e.kind) {
            case k::waiting_for_lock: std::printf("waiting for another migrator to finish...\n"); break;
            case k::locked: break;
            case k::applying: std::printf("applying %s ... ", e.file.c_str()); break;
            case k::reverting: std::printf("reverting %s ... ", e.file.c_str()); break;
            case k::seeding: std::printf("seeding %s ... ", e.file.c_str()); break;
            case k::applied:
            case k::reverted:
            case k::seeded: std::printf("ok (%lld ms)\n", static_cast<long long>(e.duration.count())); break;
            }
            std::fflush(stdout);
        };
    }
    return o;
}

std::string version_text(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "none (empty)"; }

// ---- pg_dump for up --backup-dir -----------------------------------------------------

/// The connection string without its password (which goes to pg_dump through PGPASSWORD,
/// never on a command line that `ps` shows).
std::pair<std::string, std::string> split_password(const std::string& url) {
    auto params = pgcoro::detail::parse_conninfo(url, pgcoro::detail::conninfo_secrets(url));
    std::string conninfo, password;
    for (std::size_t i = 0; i < params.keys.size(); ++i) {
        const std::string& key = params.keys[i];
        const std::string& value = params.values[i];
        if (value.empty()) continue;
        if (key == "password") {
            password = value;
            continue;
        }
        std::string v;
        for (char c : value) {
            if (c == '\'' || c == '\\') v.push_back('\\');
            v.push_back(c);
        }
        conninfo += key + "='" + v + "' ";
    }
    return {conninfo, password};
}

/// Starts pg_dump (custom format) into `file`; returns its pid.
pid_t spawn_pg_dump(const settings& s, const fs::path& file) {
    auto [conninfo, password] = split_password(s.url);
    std::vector<std::string> args = {s.pg_dump, "--format=custom", "--no-password", "--file=" + file.string(),
                                     "--dbname=" + conninfo};
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e)
        if (std::string_view(*e).substr(0, 11) != "PGPASSWORD=") env.emplace_back(*e);
    if (!password.empty()) env.push_back("PGPASSWORD=" + password);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = 0;
    if (int rc = posix_spawnp(&pid, s.pg_dump.c_str(), nullptr, nullptr, argv.data(), envp.data()); rc != 0)
        throw cli_error(failed, "cannot run " + s.pg_dump + ": " + std::strerror(rc) + "; nothing was applied");
    return pid;
}

asio::awaitable<void> run_pg_dump(const settings& s, const std::string& dbname, std::int64_t first_version) {
    fs::create_directories(s.backup_dir);
    fs::path file = fs::path(s.backup_dir) /
                    fmt::format("{}-{}-before-{}.dump", dbname, utc_stamp("%Y%m%dT%H%M%SZ"), first_version);
    pid_t pid = spawn_pg_dump(s, file);
    if (!s.quiet) std::printf("backing up to %s ... ", file.c_str());
    std::fflush(stdout);
    // Poll for the child without blocking the io_context.
    asio::steady_timer timer(co_await asio::this_coro::executor);
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0) throw cli_error(failed, std::string("waitpid: ") + std::strerror(errno));
        timer.expires_after(20ms);
        co_await timer.async_wait(asio::use_awaitable);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::error_code ec;
        fs::remove(file, ec);
        throw cli_error(failed, "pg_dump failed (see its message above); nothing was applied");
    }
    if (!s.quiet) std::printf("ok (%ju bytes)\n", static_cast<std::uintmax_t>(fs::file_size(file)));
}

// ---- commands --------------------------------------------------------------------------

pgcoro::migration_set load_migrations(const settings& s) { return pgcoro::migration_set::from_directory(s.dir); }

pgcoro::seed_set load_seeds(const settings& s) {
    return s.seeds_dir.empty() ? pgcoro::seed_set{} : pgcoro::seed_set::from_directory(s.seeds_dir);
}

asio::awaitable<pgcoro::connection> connect(const settings& s) {
    if (s.url.empty())
        throw cli_error(usage, "no database: pass --database-url or set DATABASE_URL");
    auto ex = co_await asio::this_coro::executor;
    auto conn = co_await pgcoro::connection::connect(ex, s.url);
    co_await conn.execute("select set_config('application_name', 'pgcoro-migrate', false)");
    co_return conn;
}

void print_report(const pgcoro::migration_report& r, const char* verb) {
    std::size_t n = std::string_view(verb) == "reverted" ? r.reverted.size() : r.applied.size();
    std::printf("%s %zu migration(s)", verb, n);
    if (!r.seeded.empty()) std::printf(", ran %zu seed(s)", r.seeded.size());
    std::printf("; database at version %s (%lld ms, %lld ms waiting for the lock)\n", version_text(r.version).c_str(),
                static_cast<long long>(r.elapsed.count()), static_cast<long long>(r.lock_wait.count()));
}

asio::awaitable<int> cmd_up(const settings& s) {
    auto set = load_migrations(s);
    auto opt = options_of(s);
    opt.seeds = load_seeds(s);
    auto conn = co_await connect(s);
    if (s.dry_run) {
        auto r = co_await pgcoro::migrate(conn, set, opt);
        if (r.planned.empty()) std::printf("nothing to do; database at version %s\n", version_text(r.version).c_str());
        for (const auto& p : r.planned) std::printf("would %s %s\n", p.version ? "apply" : "run seed", p.file.c_str());
        co_return ok;
    }
    if (!s.backup_dir.empty()) {
        std::string db = co_await conn.query_one<std::string>("select current_database()");
        opt.before_apply = [&s, db](const std::vector<const pgcoro::migration*>& plan) {
            return run_pg_dump(s, db, plan.front()->version);
        };
    }
    auto r = co_await pgcoro::migrate(conn, set, opt);
    print_report(r, "applied");
    co_return ok;
}

asio::awaitable<int> cmd_down(const settings& s) {
    auto set = load_migrations(s);
    auto opt = options_of(s);
    auto conn = co_await connect(s);
    pgcoro::migration_report r;
    if (s.to) r = co_await pgcoro::migrate_down_to(conn, set, *s.to, opt);
    else r = co_await pgcoro::migrate_down(conn, set, s.all ? static_cast<std::size_t>(-1) : s.steps, opt);
    if (s.dry_run) {
        if (r.planned.empty()) std::printf("nothing to roll back; database at version %s\n", version_text(r.version).c_str());
        for (const auto& p : r.planned) std::printf("would revert %s\n", p.file.c_str());
        co_return ok;
    }
    print_report(r, "reverted");
    co_return ok;
}

asio::awaitable<int> cmd_redo(const settings& s) {
    auto set = load_migrations(s);
    auto opt = options_of(s);
    auto conn = co_await connect(s);
    auto down = co_await pgcoro::migrate_down(conn, set, 1, opt);
    if (down.reverted.empty()) {
        std::printf("nothing to redo: no migration is applied\n");
        co_return ok;
    }
    opt.target = down.reverted.front().version;
    auto up = co_await pgcoro::migrate(conn, set, opt);
    print_report(up, "re-applied");
    co_return ok;
}

asio::awaitable<int> cmd_status(const settings& s) {
    auto set = load_migrations(s);
    auto conn = co_await connect(s);
    auto rows = co_await pgcoro::get_migration_status(conn, set, options_of(s));
    std::size_t name_w = 4;
    for (const auto& r : rows) name_w = std::max(name_w, r.name.size());
    std::printf("%-16s %-*s %-26s %s\n", "version", static_cast<int>(name_w), "name", "applied", "checksum");
    int pending = 0, drift = 0;
    for (const auto& r : rows) {
        std::string when = r.applied_at ? format_time(*r.applied_at) : r.out_of_order ? "pending (out of order)" : "pending";
        std::string sum;
        switch (r.state) {
        case pgcoro::migration_status::applied: sum = "ok"; break;
        case pgcoro::migration_status::pending: sum = "-"; ++pending; if (r.out_of_order) ++drift; break;
        case pgcoro::migration_status::changed:
            sum = "CHANGED: applied " + r.applied_checksum.substr(0, 12) + ", file " + r.file_checksum.substr(0, 12);
            ++drift;
            break;
        case pgcoro::migration_status::unknown: sum = "UNKNOWN: no such file"; ++drift; break;
        }
        std::printf("%-16lld %-*s %-26s %s\n", static_cast<long long>(r.version), static_cast<int>(name_w),
                    r.name.c_str(), when.c_str(), sum.c_str());
    }
    std::printf("%zu migration(s): %d pending, %d drifted\n", rows.size(), pending, drift);
    co_return s.exit_code && (pending || drift) ? pending_or_drift : ok;
}

asio::awaitable<int> cmd_verify(const settings& s) {
    auto set = load_migrations(s);
    auto seeds = load_seeds(s);
    std::printf("files ok: %zu migration(s), %zu seed(s) in %s\n", set.size(), seeds.size(), s.dir.c_str());
    if (s.url.empty()) {
        std::printf("no database given: checked the files only\n");
        co_return ok;
    }
    auto conn = co_await connect(s);
    auto rows = co_await pgcoro::get_migration_status(conn, set, options_of(s));
    int problems = 0;
    for (const auto& r : rows) {
        std::string what;
        if (r.state == pgcoro::migration_status::changed)
            what = "changed since it was applied (applied " + r.applied_checksum + ", file " + r.file_checksum + ")";
        else if (r.state == pgcoro::migration_status::unknown && !s.ignore_missing)
            what = "is applied but has no file";
        else if (r.out_of_order && !s.allow_out_of_order)
            what = "is pending but older than the newest applied version";
        if (what.empty()) continue;
        ++problems;
        std::printf("drift: %lld_%s %s\n", static_cast<long long>(r.version), r.name.c_str(), what.c_str());
    }
    if (problems) co_return pending_or_drift;
    std::printf("database agrees with the files\n");
    co_return ok;
}

asio::awaitable<int> cmd_seed(const settings& s) {
    if (s.seeds_dir.empty()) throw cli_error(usage, "seed needs --seeds DIR");
    auto seeds = load_seeds(s);
    auto conn = co_await connect(s);
    auto r = co_await pgcoro::run_seeds(conn, seeds, options_of(s));
    if (s.dry_run) {
        if (r.planned.empty()) std::printf("nothing to do: every seed is unchanged since it last ran\n");
        for (const auto& p : r.planned) std::printf("would run seed %s\n", p.file.c_str());
        co_return ok;
    }
    std::printf("ran %zu of %zu seed(s) (the others are unchanged since they last ran)\n", r.seeded.size(), seeds.size());
    co_return ok;
}

int cmd_new(const settings& s) {
    if (!pgcoro::detail::valid_migration_name(s.new_name))
        throw cli_error(usage, "NAME '" + s.new_name + "': use letters, digits, '_' and '-'");
    fs::create_directories(s.dir);
    auto set = load_migrations(s);  // also checks that the directory is valid
    std::int64_t version = pgcoro_tools::diff::detail::next_version(set);
    std::string stem = std::to_string(version) + "_" + s.new_name;
    fs::path up = fs::path(s.dir) / (stem + ".up.sql");
    fs::path down = fs::path(s.dir) / (stem + ".down.sql");
    std::ofstream(up) << "-- " << s.new_name << ": runs in one transaction with its history row.\n"
                      << "-- Make the first line '-- pgcoro:no-transaction' for CREATE INDEX CONCURRENTLY and the like.\n\n";
    std::ofstream(down) << "-- Undoes " << stem << ".up.sql.\n\n";
    if (!fs::exists(up) || !fs::exists(down)) throw cli_error(failed, "cannot write into " + s.dir);
    std::printf("created %s\ncreated %s\n", up.c_str(), down.c_str());
    return ok;
}

// ---- diff --------------------------------------------------------------------------------

asio::awaitable<int> cmd_diff(const settings& s) {
    auto set = load_migrations(s);  // also checks the directory
    auto d = s.diff;
    d.dir = s.dir;
    d.history = s.table;
    d.seeds = s.seeds_table;
    d.quiet = s.quiet;
    co_return co_await pgcoro_tools::diff::run_diff(d, set);
}

// ---- schema-doc --------------------------------------------------------------------------

std::string md(std::string s) {
    std::string out;
    for (char c : s) {
        if (c == '|') out += "\\|";
        else if (c == '\n') out += ' ';
        else out += c;
    }
    return out;
}

asio::awaitable<int> cmd_schema_doc(const settings& s) {
    auto conn = co_await connect(s);
    std::vector<std::string> schemas = s.schemas;
    if (schemas.empty())
        schemas = co_await conn.query<std::string>(
            "select nspname from pg_namespace where nspname not like 'pg\\_%' and nspname <> 'information_schema' "
            "order by nspname");
    std::string doc = "# Database schema\n\nGenerated by `pgcoro-migrate schema-doc` from database `" +
                      co_await conn.query_one<std::string>("select current_database()") + "`";
    auto version = co_await pgcoro::get_migration_status(conn, pgcoro::migration_set{}, options_of(s));
    if (!version.empty()) doc += " at migration version " + std::to_string(version.back().version);
    doc += ".\n";
    for (const auto& schema : schemas) {
        auto enums = co_await conn.query<std::tuple<std::string, std::string>>(
            "select t.typname, string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder) "
            "from pg_type t join pg_enum e on e.enumtypid = t.oid join pg_namespace n on n.oid = t.typnamespace "
            "where n.nspname = $1 group by t.typname order by t.typname",
            schema);
        auto tables = co_await conn.query<std::tuple<std::string, std::optional<std::string>, bool, bool, std::int64_t>>(
            "select c.relname, obj_description(c.oid, 'pg_class'), c.relrowsecurity, c.relforcerowsecurity, c.oid::int8 "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = $1 and c.relkind in ('r', 'p') order by c.relname",
            schema);
        if (enums.empty() && tables.empty()) continue;
        doc += "\n## Schema `" + schema + "`\n";
        if (!enums.empty()) {
            doc += "\n### Enum types\n\n| type | values |\n|---|---|\n";
            for (const auto& [name, values] : enums) doc += "| `" + name + "` | " + md(values) + " |\n";
        }
        for (const auto& [table, comment, rls, forced, oid] : tables) {
            doc += "\n### `" + table + "`\n\n";
            if (comment) doc += md(*comment) + "\n\n";
            if (rls) doc += std::string("Row-level security: enabled") + (forced ? ", forced" : "") + ".\n\n";
            doc += "| column | type | null | default | description |\n|---|---|---|---|---|\n";
            auto columns = co_await conn.query<
                std::tuple<std::string, std::string, bool, std::optional<std::string>, std::optional<std::string>>>(
                "select a.attname, format_type(a.atttypid, a.atttypmod), not a.attnotnull, "
                "pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum) "
                "from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum "
                "where a.attrelid = $1::int8::oid and a.attnum > 0 and not a.attisdropped order by a.attnum",
                oid);
            for (const auto& [col, type, nullable, def, desc] : columns)
                doc += "| `" + col + "` | " + md(type) + " | " + (nullable ? "yes" : "no") + " | " +
                       (def ? "`" + md(*def) + "`" : "") + " | " + md(desc.value_or("")) + " |\n";
            auto constraints = co_await conn.query<std::tuple<std::string, std::string, std::string>>(
                "select conname, case contype when 'p' then 'primary key' when 'u' then 'unique' when 'f' then "
                "'foreign key' when 'c' then 'check' when 'x' then 'exclusion' else contype::text end, "
                "pg_get_constraintdef(oid) from pg_constraint where conrelid = $1::int8::oid "
                "order by contype, conname",
                oid);
            if (!constraints.empty()) {
                doc += "\nConstraints:\n\n";
                for (const auto& [name, kind, def] : constraints)
                    doc += "- `" + name + "` (" + kind + "): `" + md(def) + "`\n";
            }
            auto indexes = co_await conn.query<std::tuple<std::string, std::string>>(
                "select c.relname, pg_get_indexdef(i.indexrelid) from pg_index i "
                "join pg_class c on c.oid = i.indexrelid where i.indrelid = $1::int8::oid order by c.relname",
                oid);
            if (!indexes.empty()) {
                doc += "\nIndexes:\n\n";
                for (const auto& [name, def] : indexes) doc += "- `" + name + "`: `" + md(def) + "`\n";
            }
            auto policies = co_await conn.query<
                std::tuple<std::string, std::string, bool, std::optional<std::string>, std::optional<std::string>>>(
                "select polname, case polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' "
                "when 'd' then 'DELETE' else 'ALL' end, polpermissive, pg_get_expr(polqual, polrelid), "
                "pg_get_expr(polwithcheck, polrelid) from pg_policy where polrelid = $1::int8::oid order by polname",
                oid);
            if (!policies.empty()) {
                doc += "\nPolicies:\n\n";
                for (const auto& [name, cmd, permissive, qual, check] : policies) {
                    doc += "- `" + name + "` (" + cmd + (permissive ? "" : ", restrictive") + ")";
                    if (qual) doc += " using `" + md(*qual) + "`";
                    if (check) doc += " with check `" + md(*check) + "`";
                    doc += "\n";
                }
            }
        }
    }
    if (s.output.empty()) {
        std::fwrite(doc.data(), 1, doc.size(), stdout);
    } else {
        std::ofstream out(s.output, std::ios::binary);
        out << doc;
        if (!out) throw cli_error(failed, "cannot write " + s.output);
        std::printf("wrote %s\n", s.output.c_str());
    }
    co_return ok;
}

int exit_code_of(const pgcoro::error& e) {
    using pgcoro::errc;
    auto ec = e.code();
    if (ec == errc::migration_lock_timeout) return lock_timeout;
    if (ec == errc::connect_failed || ec == errc::connect_timeout || ec == errc::invalid_conninfo) return no_connection;
    if (ec == errc::invalid_migration || ec == errc::invalid_config) return usage;
    return failed;
}

}  // namespace

int main(int argc, char** argv) {
    settings s;
    CLI::App app{"pgcoro-migrate: PostgreSQL schema migrations (pgcoro)"};
    app.require_subcommand(1);
    app.add_option("--database-url", s.url,
                   "connection URL or key=value string (default: $PGCORO_DATABASE_URL, else $DATABASE_URL)");
    app.add_option("--dir", s.dir, "migrations directory (default: migrations, or $PGCORO_MIGRATIONS_DIR)")
        ->envname("PGCORO_MIGRATIONS_DIR");
    app.add_option("--seeds", s.seeds_dir, "seeds directory (run after up, and by seed)")->envname("PGCORO_SEEDS_DIR");
    app.add_option("--table", s.table, "history table (default: pgcoro_migrations)");
    app.add_option("--seeds-table", s.seeds_table, "seed history table (default: pgcoro_seeds)");
    app.add_option("--lock-timeout", s.lock_timeout_s, "seconds to wait for another migrator (default: 300)")
        ->check(CLI::Range(0.0, 86400.0));
    app.add_flag("--ignore-missing", s.ignore_missing, "go on when the database has versions the files lack");
    app.add_flag("--allow-out-of-order", s.allow_out_of_order, "apply pending versions older than the newest applied");
    app.add_flag("-q,--quiet", s.quiet, "print only the summary");

    auto* up = app.add_subcommand("up", "apply pending migrations, then new or changed seeds");
    up->add_option("--to", s.to, "apply up to and including this version");
    up->add_flag("--dry-run", s.dry_run, "show what would run; change nothing");
    up->add_option("--backup-dir", s.backup_dir, "run pg_dump into this directory before applying anything");
    up->add_option("--pg-dump", s.pg_dump, "the pg_dump program (default: pg_dump, or $PGCORO_PG_DUMP)")
        ->envname("PGCORO_PG_DUMP");
    auto* down = app.add_subcommand("down", "roll back the newest migration(s) through their down files");
    auto* steps = down->add_option("N", s.steps, "how many (default 1)")->check(CLI::PositiveNumber);
    auto* all = down->add_flag("--all", s.all, "roll back every applied migration");
    auto* to = down->add_option("--to", s.to, "roll back every migration newer than this version");
    all->excludes(steps);
    to->excludes(steps);
    to->excludes(all);
    down->add_flag("--dry-run", s.dry_run, "show what would be rolled back; change nothing");
    app.add_subcommand("redo", "roll back the newest migration and apply it again");
    auto* status = app.add_subcommand("status", "list migrations: applied (when), pending, changed");
    status->add_flag("--exit-code", s.exit_code, "exit 1 when anything is pending or drifted");
    auto* make = app.add_subcommand("new", "create a timestamped up/down pair in --dir");
    make->add_option("NAME", s.new_name, "what the migration does, e.g. add_invoices")->required();
    auto* seed = app.add_subcommand("seed", "run new or changed seeds (--seeds DIR)");
    seed->add_flag("--dry-run", s.dry_run, "show which seeds would run; change nothing");
    app.add_subcommand("verify", "check the files, and that the database agrees with them");
    auto* diff = app.add_subcommand("diff", "draft an up/down pair from the difference between the migrations and a "
                                            "schema file (--check: only report it)");
    diff->add_option("--to", s.diff.schema, "the schema file: SQL that creates the schema as it should be")->required();
    diff->add_option("--name", s.diff.name, "the new migration's name (default: schema_diff)");
    diff->add_flag("--check", s.diff.check, "write nothing; exit 1 and print the differences when there are any");
    diff->add_flag("--allow-destructive", s.diff.allow_destructive,
                   "write steps that lose data (DROP TABLE, DROP COLUMN, narrowing types) instead of commenting them out");
    auto* doc = app.add_subcommand("schema-doc", "print the schema as Markdown, from the catalog");
    doc->add_option("-o,--output", s.output, "write to this file instead of stdout");
    doc->add_option("--schema", s.schemas, "document only these schemas");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? ok : usage;
    }
    // Not on the command line: PGCORO_DATABASE_URL wins over DATABASE_URL, as in
    // pool_config::from_env(). (CLI11's envname would count DATABASE_URL as given.)
    // diff makes throwaway databases: only on a server named for that (--database-url on
    // the command line, or $PGCORO_DIFF_DATABASE_URL), never on the application's.
    if (app.get_subcommands().front()->get_name() == "diff") {
        s.diff.url = s.url;
        if (app.count("--database-url") == 0)
            if (const char* u = std::getenv("PGCORO_DIFF_DATABASE_URL")) s.diff.url = u;
    } else if (app.count("--database-url") == 0) {
        for (const char* name : {"PGCORO_DATABASE_URL", "DATABASE_URL"}) {
            if (const char* u = std::getenv(name); u && *u) {
                s.url = u;
                break;
            }
        }
    }

    std::string command = app.get_subcommands().front()->get_name();
    int rc = failed;
    try {
        if (command == "new") return cmd_new(s);
        asio::io_context io;
        std::exception_ptr failure;
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<int> {
                if (command == "up") co_return co_await cmd_up(s);
                if (command == "down") co_return co_await cmd_down(s);
                if (command == "redo") co_return co_await cmd_redo(s);
                if (command == "status") co_return co_await cmd_status(s);
                if (command == "verify") co_return co_await cmd_verify(s);
                if (command == "seed") co_return co_await cmd_seed(s);
                if (command == "diff") co_return co_await cmd_diff(s);
                co_return co_await cmd_schema_doc(s);
            },
            [&](std::exception_ptr e, int r) {
                failure = e;
                rc = r;
            });
        io.run();
        if (failure) std::rethrow_exception(failure);
        return rc;
    } catch (const pgcoro_tools::diff::diff_usage& e) {
        std::fprintf(stderr, "\nerror: %s\n", e.what());
        return usage;
    } catch (const cli_error& e) {
        std::fprintf(stderr, "\nerror: %s\n", e.what());
        return e.code();
    } catch (const pgcoro::error& e) {
        std::fprintf(stderr, "\nerror: %s\n", e.what());
        return exit_code_of(e);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "\nerror: %s\n", e.what());
        return failed;
    }
}

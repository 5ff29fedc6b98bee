// tools/diff/command.hpp — `pgcoro-migrate diff`: the migrations applied on one throwaway
// database, the schema file on another, their catalogs compared (catalog.hpp, plan.hpp),
// and a new up/down pair written that turns the first into the second; or, with --check,
// exit 1 and the differences when they are not the same. The draft is tried before it
// is written: applied on the first database (which must then match the schema file) and
// rolled back by its down file (which must give the migrations' schema again).
#pragma once

#include "common/throwaway.hpp"
#include "diff/catalog.hpp"
#include "diff/plan.hpp"

#include <pgcoro/migrator.hpp>
#include <pgcoro/pgcoro.hpp>

#include <boost/asio.hpp>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace pgcoro_tools::diff {

struct diff_settings {
    std::string url;     // a server to make the throwaway databases on; empty: a cluster of its own
    std::string schema;  // the schema file
    std::string dir;     // the migrations directory
    std::string name = "schema_diff";
    std::string history = "pgcoro_migrations", seeds = "pgcoro_seeds";
    bool check = false, allow_destructive = false, quiet = false;
};

/// Exit codes (as pgcoro-migrate's): 0 done (or no difference), 1 --check found
/// differences; failures throw tool_error (3) or diff_usage (2).
struct diff_usage : tool_error {
    using tool_error::tool_error;
};

namespace detail {

/// Runs a script in one transaction (as the migrator runs a file); empty when it worked,
/// else the server's message with file:line:col.
inline std::string run_script(PGconn* c, const std::string& text, const std::string& file) {
    exec_checked(c, "begin");
    pq_result r(PQexec(c, text.c_str()), &PQclear);
    auto st = PQresultStatus(r.get());
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
        exec_checked(c, "commit");
        return {};
    }
    pq_result(PQexec(c, "rollback"), &PQclear);
    std::string where = file;
    if (const char* pos = PQresultErrorField(r.get(), PG_DIAG_STATEMENT_POSITION)) {
        auto at = pgcoro::detail::locate(text, std::atoi(pos));
        if (at.line) where += ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
    }
    std::string msg = PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY) ? PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY)
                                                                            : PQresultErrorMessage(r.get());
    if (const char* code = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE)) msg += " (SQLSTATE " + std::string(code) + ")";
    if (const char* ctx = PQresultErrorField(r.get(), PG_DIAG_CONTEXT); ctx && where == file)
        msg += "\n  context: " + std::string(ctx);
    return where + ": error: " + msg;
}

inline void refuse_unsupported(PGconn* c, const diff_settings& s, const std::string& what) {
    auto kinds = unsupported(c, s.history, s.seeds);
    if (kinds.empty()) return;
    std::string list;
    for (const auto& k : kinds) list += "\n  " + k;
    throw tool_error(what + " has objects `pgcoro-migrate diff` does not compare yet:" + list +
                     "\nWrite migrations for those by hand (diff compares schemas, extensions, tables, columns, keys, "
                     "checks, indexes, enums, sequences, views, functions, triggers, policies and comments).");
}

inline std::string utc_stamp(const char* format) {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, format, &tm);
    return buf;
}

/// A new migration's version: the UTC time as YYYYMMDDhhmmss, or the newest + 1 when
/// that is later (pgcoro-migrate new and diff).
inline std::int64_t next_version(const pgcoro::migration_set& set) {
    std::int64_t version = std::stoll(utc_stamp("%Y%m%d%H%M%S"));
    if (!set.empty() && set.items().back().version >= version) version = set.items().back().version + 1;
    return version;
}

}  // namespace detail

/// Runs the command; returns its exit code.
inline boost::asio::awaitable<int> run_diff(const diff_settings& s, const pgcoro::migration_set& migrations) {
    namespace fs = std::filesystem;
    std::string schema_text;
    try {
        schema_text = read_file(s.schema);
    } catch (const tool_error&) {
        throw diff_usage("cannot read the schema file " + s.schema);
    }
    if (!s.check && !pgcoro::detail::valid_migration_name(s.name))
        throw diff_usage("--name '" + s.name + "': use letters, digits, '_' and '-'");
    throwaway_server server(s.url);
    std::string from_db = server.new_database("from"), to_db = server.new_database("to");
    if (!s.quiet)
        std::fprintf(stderr, "pgcoro-migrate diff: comparing %zu migration(s) with %s on %s\n", migrations.size(),
                     s.schema.c_str(), server.where().c_str());
    {
        pgcoro::migrate_options o;
        o.history_table = s.history;
        o.seeds_table = s.seeds;
        auto conn = co_await pgcoro::connection::connect(co_await boost::asio::this_coro::executor, from_db);
        try {
            co_await pgcoro::migrate(conn, migrations, o);
        } catch (const pgcoro::error& e) {
            throw tool_error(std::string("applying the migrations failed: ") + e.what());
        }
    }
    auto from_c = connect_blocking(from_db, server.where());
    auto to_c = connect_blocking(to_db, server.where());
    exec_checked(from_c.get(), "set client_min_messages = warning");
    exec_checked(to_c.get(), "set client_min_messages = warning");
    if (auto err = detail::run_script(to_c.get(), schema_text, s.schema); !err.empty()) throw tool_error(err);
    detail::refuse_unsupported(from_c.get(), s, "the migrations' schema");
    detail::refuse_unsupported(to_c.get(), s, s.schema);
    model from = read_model(from_c.get(), s.history, s.seeds);
    model to = read_model(to_c.get(), s.history, s.seeds);
    auto up = plan(from, to);

    if (s.check) {
        if (!has_changes(up)) {
            std::printf("ok: the migrations build the schema %s describes\n", s.schema.c_str());
            co_return 0;
        }
        std::printf("the migrations do not build the schema %s describes; a migration doing this would make them "
                    "agree (`pgcoro-migrate diff --to %s` drafts it):\n%s",
                    s.schema.c_str(), s.schema.c_str(), render(up, true).text.c_str());
        co_return 1;
    }
    if (!has_changes(up)) {
        std::printf("nothing to draft: the migrations already build the schema %s describes\n", s.schema.c_str());
        co_return 0;
    }
    auto down = plan(to, from);
    rendered up_sql = render(up, s.allow_destructive), down_sql = render(down, true, file_kind::down);

    // The new pair's version and names, as `new` makes them.
    std::int64_t version = detail::next_version(migrations);
    std::string stem = std::to_string(version) + "_" + s.name;
    std::string up_text =
        "-- " + s.name + ": drafted by `pgcoro-migrate diff --to " + fs::path(s.schema).filename().string() + "` on " +
        detail::utc_stamp("%Y-%m-%d") + ".\n-- It turns the schema the migrations before it build into the one " +
        fs::path(s.schema).filename().string() + " describes.\n-- Read it before committing: " +
        std::to_string(up_sql.reviews) + " step(s) marked REVIEW" +
        (up_sql.commented_out ? ", " + std::to_string(up_sql.commented_out) + " destructive step(s) commented out" : "") +
        ".\n" + up_sql.text;
    std::string down_text = "-- Undoes " + stem + ".up.sql (drafted by `pgcoro-migrate diff`): what the up file\n"
                            "-- creates is dropped with its data.\n" + down_sql.text;

    // Try the draft before writing it.
    std::vector<std::string> warnings;
    bool applies = true;
    if (auto err = detail::run_script(from_c.get(), up_text, stem + ".up.sql"); !err.empty()) {
        applies = false;
        warnings.push_back("the draft does not apply as written: " + err);
    } else {
        auto left = plan(read_model(from_c.get(), s.history, s.seeds), to);
        if (has_changes(left))
            warnings.push_back("after the up file, these differences remain (steps commented out, or not drafted):\n" +
                               render(left, true).text);
        if (up_sql.commented_out) {
            // (The down file undoes the whole up file: it cannot be tried after a part.)
        } else if (auto derr = detail::run_script(from_c.get(), down_text, stem + ".down.sql"); !derr.empty())
            warnings.push_back("the down file does not apply after the up file: " + derr);
        else if (auto back = plan(read_model(from_c.get(), s.history, s.seeds), from); has_changes(back))
            warnings.push_back("the down file does not return to the migrations' schema; still different:\n" +
                               render(back, true).text);
    }

    fs::create_directories(s.dir);
    fs::path up_file = fs::path(s.dir) / (stem + ".up.sql"), down_file = fs::path(s.dir) / (stem + ".down.sql");
    std::ofstream(up_file, std::ios::binary) << up_text;
    std::ofstream(down_file, std::ios::binary) << down_text;
    if (!fs::exists(up_file) || !fs::exists(down_file)) throw tool_error("cannot write into " + s.dir);
    std::printf("created %s\ncreated %s\n", up_file.c_str(), down_file.c_str());
    std::printf("%zu statement(s); %zu step(s) marked REVIEW; %zu destructive step(s) commented out%s\n",
                up_sql.statements, up_sql.reviews, up_sql.commented_out,
                up_sql.commented_out ? " (--allow-destructive writes them)" : "");
    if (warnings.empty())
        std::printf("tried on a throwaway database: the up file gives %s's schema, and the down file gives the "
                    "migrations' schema back\n",
                    s.schema.c_str());
    for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    co_return applies ? 0 : 3;
}

}  // namespace pgcoro_tools::diff

// pgcoro-queries: typed functions for the SQL statements of a directory, checked by
// PostgreSQL itself against the schema the migrations build.
//
//   pgcoro-queries generate --queries DIR --migrations DIR --descriptions FILE --output HEADER
//   pgcoro-queries prepare  --queries DIR --migrations DIR --descriptions FILE
//   pgcoro-queries check    --queries DIR --migrations DIR --descriptions FILE
//
// generate: the header, from the descriptions file when it was made from these very SQL
//   files and migrations (no database needed), else from a database (which rewrites the
//   descriptions file; --offline forbids that, and a stale file is then an error).
// prepare: describe against a database and write the descriptions file, always.
// check: describe against a database and exit 1 when the descriptions file differs (CI).
//
// The database: --database-url, else $PGCORO_QUERIES_DATABASE_URL (a role that may create
// databases: a temporary one is created there and dropped), else a throwaway cluster of
// the tool's own (initdb; $PGCORO_PG_BIN names the server binaries).
//
// Exit codes: 0 ok, 1 check found differences, 2 usage, 3 statements or types in error,
// 4 no database, 5 other failures.
#include "common/throwaway.hpp"
#include "queries/codegen.hpp"
#include "queries/describe.hpp"

#include <pgcoro/connection.hpp>
#include <pgcoro/migrate.hpp>
#include <pgcoro/migration.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/src.hpp>  // Boost.JSON, header-only, in this one translation unit

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace pgcoro_tools;
using namespace pgcoro_tools::queries;

namespace {

enum exit_code { ok = 0, differs = 1, usage = 2, statement_errors = 3, no_database = 4, failed = 5 };

struct coded_error : tool_error {
    coded_error(int c, const std::string& what) : tool_error(what), code(c) {}
    int code;
};

struct settings {
    std::string queries, migrations, descriptions, output, url, ns = "queries";
    std::vector<std::string> includes, types;
    bool offline = false, quiet = false;
};

struct inputs {
    query_files queries;
    pgcoro::migration_set migrations;
    std::string digest;
};

inputs load_inputs(const settings& s) {
    inputs in;
    in.queries = load_queries(s.queries);
    if (!fs::is_directory(s.migrations))
        throw coded_error(usage, "the migrations directory " + s.migrations + " does not exist");
    // Read once, as the migrator reads a directory: the set and the digest see the same files.
    auto files = pgcoro::detail::read_sql_files(s.migrations, "migrations");
    std::vector<std::pair<std::string, std::string>> mfiles;
    for (const auto& f : files) mfiles.emplace_back(f.name, f.content);
    in.migrations = pgcoro::migration_set::from_files(files);
    in.digest = inputs_digest(in.queries.files, mfiles);
    return in;
}

/// Describes the statements on a throwaway database with the migrations applied.
descriptions describe_online(const settings& s, const inputs& in) {
    std::string url = s.url;
    if (url.empty())
        if (const char* u = std::getenv("PGCORO_QUERIES_DATABASE_URL"); u && *u) url = u;
    std::unique_ptr<throwaway_server> server;
    std::string db;
    try {
        server = std::make_unique<throwaway_server>(url);
        db = server->new_database("queries");
    } catch (const tool_error& e) {
        throw coded_error(no_database, std::string("no database to describe the statements on: ") + e.what());
    }
    if (!s.quiet)
        std::fprintf(stderr, "pgcoro-queries: describing %zu statement(s) on %s\n", in.queries.queries.size(),
                     server->where().c_str());
    // The migrations, by pgcoro's own migrator.
    asio::io_context io;
    std::exception_ptr failure;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto conn = co_await pgcoro::connection::connect(co_await asio::this_coro::executor, db);
            co_await pgcoro::migrate(conn, in.migrations);
        },
        [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            throw coded_error(statement_errors, "applying the migrations of " + s.migrations + " failed: " + e.what());
        }
    }
    auto c = connect_blocking(db, server->where());
    descriptions d;
    d.inputs = in.digest;
    try {
        d.queries = describe_all(c.get(), in.queries.queries);
    } catch (const tool_error& e) {
        throw coded_error(statement_errors, e.what());
    }
    return d;
}

/// Writes `text` to `path` unless it holds exactly that already (so builds that depend on
/// it do not rerun). Returns whether it wrote.
bool write_if_changed(const fs::path& path, const std::string& text) {
    std::error_code ec;
    if (fs::exists(path, ec)) {
        try {
            if (read_file(path) == text) return false;
        } catch (const tool_error&) {
        }
    }
    if (path.has_parent_path()) fs::create_directories(path.parent_path(), ec);
    fs::path tmp = path;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary);
        out << text;
        if (!out) throw coded_error(failed, "cannot write " + tmp.string());
    }
    fs::rename(tmp, path);
    return true;
}

codegen_options codegen_of(const settings& s) {
    codegen_options o;
    o.ns = s.ns;
    o.includes = s.includes;
    o.queries_dir = s.queries;
    for (const auto& t : s.types) {
        auto eq = t.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == t.size())
            throw coded_error(usage, "--type " + t + ": expected PG_TYPE=C++_TYPE");
        o.types[t.substr(0, eq)] = t.substr(eq + 1);
    }
    return o;
}

/// What differs between the committed descriptions and the server's, statement by
/// statement (a changed statement's JSON lines shown).
std::string difference(const descriptions& committed, const descriptions& now) {
    std::string out;
    if (committed.inputs != now.inputs) out += "  the SQL files or the migrations changed since the file was made\n";
    auto find = [](const descriptions& d, const std::string& name) -> const query_desc* {
        for (const auto& q : d.queries)
            if (q.name == name) return &q;
        return nullptr;
    };
    auto lines = [](const query_desc& q) {
        descriptions one;
        one.queries.push_back(q);
        std::vector<std::string> out;
        std::string text = write_descriptions(one), line;
        for (char c : text) {
            if (c == '\n') {
                out.push_back(line);
                line.clear();
            } else {
                line += c;
            }
        }
        return out;
    };
    for (const auto& q : now.queries) {
        const query_desc* old = find(committed, q.name);
        if (!old) {
            out += "  + " + q.name + " (" + q.source + ":" + std::to_string(q.line) + "): not in the file\n";
        } else if (!(*old == q)) {
            out += "  ~ " + q.name + " (" + q.source + ":" + std::to_string(q.line) + "): changed\n";
            auto a = lines(*old), b = lines(q);
            for (const auto& l : a)
                if (std::find(b.begin(), b.end(), l) == b.end()) out += "      - " + l + "\n";
            for (const auto& l : b)
                if (std::find(a.begin(), a.end(), l) == a.end()) out += "      + " + l + "\n";
        }
    }
    for (const auto& q : committed.queries)
        if (!find(now, q.name)) out += "  - " + q.name + ": no longer in the SQL files\n";
    if (out.empty()) out = "  (the same statements, written differently: the file was edited by hand)\n";
    return out;
}

int cmd_generate(const settings& s, bool force_online) {
    auto in = load_inputs(s);
    descriptions d;
    bool current = false;
    if (!force_online && fs::exists(s.descriptions)) {
        d = read_descriptions(read_file(s.descriptions), s.descriptions);
        current = d.inputs == in.digest;
    }
    if (!current) {
        if (s.offline)
            throw coded_error(statement_errors,
                              s.descriptions + ": " +
                                  (fs::exists(s.descriptions) ? "stale: it was made from other SQL files or migrations"
                                                              : "missing") +
                                  ", and this build is offline: build once with a database (without --offline / "
                                  "PGCORO_QUERIES_OFFLINE), or run pgcoro-queries prepare, and commit the file");
        d = describe_online(s, in);
        if (write_if_changed(s.descriptions, write_descriptions(d)) && !s.quiet)
            std::fprintf(stderr, "pgcoro-queries: wrote %s (commit it: builds without a database use it)\n",
                         s.descriptions.c_str());
    }
    if (!s.output.empty()) {
        std::string header;
        try {
            header = generate_header(d, codegen_of(s));
        } catch (const coded_error&) {
            throw;
        } catch (const tool_error& e) {
            throw coded_error(statement_errors, e.what());
        }
        write_if_changed(s.output, header);
    }
    return ok;
}

int cmd_check(const settings& s) {
    auto in = load_inputs(s);
    if (!fs::exists(s.descriptions)) {
        std::fprintf(stderr, "pgcoro-queries: %s is missing: run pgcoro-queries prepare\n", s.descriptions.c_str());
        return differs;
    }
    std::string committed = read_file(s.descriptions);
    descriptions old;
    try {
        old = read_descriptions(committed, s.descriptions);
    } catch (const tool_error& e) {
        std::fprintf(stderr, "pgcoro-queries: %s\n", e.what());
        return differs;
    }
    auto fresh = describe_online(s, in);
    if (committed == write_descriptions(fresh)) {
        if (!s.quiet) std::fprintf(stderr, "pgcoro-queries: %s is current\n", s.descriptions.c_str());
        return ok;
    }
    std::fprintf(stderr, "pgcoro-queries: %s is stale (run pgcoro-queries prepare, or build with a database, and "
                         "commit it):\n%s",
                 s.descriptions.c_str(), difference(old, fresh).c_str());
    return differs;
}

}  // namespace

int main(int argc, char** argv) {
    settings s;
    CLI::App app{"pgcoro-queries: typed C++ functions for SQL statements, checked by PostgreSQL"};
    app.require_subcommand(1);
    auto common = [&](CLI::App* c) {
        c->add_option("--queries", s.queries, "directory of *.sql files with `-- name:` annotations")->required();
        c->add_option("--migrations", s.migrations, "the migrations directory (applied before describing)")->required();
        c->add_option("--descriptions", s.descriptions, "the descriptions file (JSON; commit it)")->required();
        c->add_option("--database-url", s.url,
                      "a server to describe on (default: $PGCORO_QUERIES_DATABASE_URL, else a throwaway cluster)");
        c->add_flag("-q,--quiet", s.quiet, "print errors only");
    };
    auto* gen = app.add_subcommand("generate", "write the header (describing only when the descriptions are stale)");
    common(gen);
    gen->add_option("-o,--output", s.output, "the header to write")->required();
    gen->add_option("--namespace", s.ns, "C++ namespace of the generated code (default: queries)");
    gen->add_option("--include", s.includes, "a header the generated one includes (for --type)");
    gen->add_option("--type", s.types, "PG_TYPE=C++_TYPE: the C++ type of a PostgreSQL type");
    gen->add_flag("--offline", s.offline,
                  "never connect: a stale descriptions file is an error (also $PGCORO_QUERIES_OFFLINE=1)");
    auto* prep = app.add_subcommand("prepare", "describe on a database and write the descriptions file");
    common(prep);
    auto* check = app.add_subcommand("check", "exit 1 when the descriptions file is not what a database says now");
    common(check);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? ok : usage;
    }
    if (!is_identifier(s.ns) || is_cpp_keyword(s.ns)) {
        std::fprintf(stderr, "pgcoro-queries: --namespace %s is not a C++ identifier\n", s.ns.c_str());
        return usage;
    }
    if (const char* off = std::getenv("PGCORO_QUERIES_OFFLINE");
        off && *off && std::string_view(off) != "0" && std::string_view(off) != "OFF" && std::string_view(off) != "off")
        s.offline = true;
    std::string command = app.get_subcommands().front()->get_name();
    try {
        if (command == "generate") return cmd_generate(s, false);
        if (command == "prepare") {
            s.offline = false;  // prepare always describes: that is what it is for
            return cmd_generate(s, true);
        }
        return cmd_check(s);
    } catch (const coded_error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return e.code;
    } catch (const tool_error& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return statement_errors;
    } catch (const pgcoro::error& e) {
        std::fprintf(stderr, "pgcoro-queries: %s\n", e.what());
        return failed;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pgcoro-queries: %s\n", e.what());
        return failed;
    }
}

// tools/queries/query_file.hpp — the named statements of pgcoro-queries' SQL files.
//
//   -- name: tenant_by_slug :one (slug)
//   select id, slug, name from tenants where slug = $1;
//
// An annotation line starts each statement: its name (a C++ identifier, unique across
// the files), what it returns (:one exactly one row, :opt zero or one, :many any number,
// :exec nothing, :execrows the number of rows affected), and optionally its parameters'
// names in order ($1, $2, ...), a trailing `?` making one a std::optional (NULL allowed).
// The statement runs to the next annotation; one statement each, a final `;` optional.
#pragma once

#include "../common/throwaway.hpp"

#include <pgcoro/detail/sql_script.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace pgcoro_tools::queries {

enum class returns { one, opt, many, exec, execrows };

inline std::string_view returns_name(returns r) {
    switch (r) {
    case returns::one: return "one";
    case returns::opt: return "opt";
    case returns::many: return "many";
    case returns::exec: return "exec";
    case returns::execrows: return "execrows";
    }
    return "?";
}

inline bool parse_returns(std::string_view s, returns& out) {
    for (returns r : {returns::one, returns::opt, returns::many, returns::exec, returns::execrows})
        if (s == returns_name(r)) {
            out = r;
            return true;
        }
    return false;
}

struct param_name {
    std::string name;
    bool optional = false;
};

/// One named statement as written.
struct query_def {
    std::string name;
    returns kind = returns::many;
    std::vector<param_name> params;  ///< empty: named p1, p2, ... after describing
    bool params_given = false;
    std::string sql;     ///< the statement, without its final `;`
    std::string file;    ///< the path, as errors show it
    std::string source;  ///< relative to the queries directory (what the descriptions record)
    int line = 0;        ///< the annotation's line
    int sql_line = 0;    ///< where the statement's text starts (1-based line, column)
    int sql_column = 0;
};

inline bool is_identifier(std::string_view s) {
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

/// C++ keywords a column or parameter name cannot be.
inline bool is_cpp_keyword(std::string_view w) {
    static constexpr std::string_view words[] = {
        "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
        "char", "char8_t", "char16_t", "char32_t", "class", "co_await", "co_return", "co_yield", "compl", "concept",
        "const", "consteval", "constexpr", "constinit", "const_cast", "continue", "decltype", "default", "delete",
        "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
        "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
        "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
        "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct",
        "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename",
        "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq"};
    for (auto k : words)
        if (k == w) return true;
    return false;
}

/// Why `name` cannot name a statement (`parameter` false) or a parameter; "" when it can.
/// The generated code uses `sql::NAME`, `NAME_row`, `Db`, `Token`, `db`, `token`,
/// `diag` and the namespaces pgcoro, std and boost inside the functions.
inline std::string name_problem(std::string_view name, bool parameter) {
    std::string n(name);
    if (!is_identifier(name)) return "`" + n + "` is not a C++ identifier";
    if (is_cpp_keyword(name)) return "`" + n + "` is a C++ keyword";
    if (!parameter && (name == "sql" || name.ends_with("_row")))
        return "`" + n + "` is taken by the generated code (sql::..., ..._row)";
    if (parameter) {
        for (std::string_view taken : {"db", "token", "diag", "sql", "pgcoro", "std", "boost", "Db", "Token"})
            if (name == taken) return "parameter name `" + n + "` is taken by the generated function";
    }
    return {};
}

/// A file error at file:line:col.
inline tool_error error_at(const std::string& file, int line, int column, const std::string& what) {
    return tool_error(file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": error: " + what);
}

/// Where 1-based character `position` of `q.sql` (as the server counts) is in its file.
inline std::string locate_in_file(const query_def& q, int position) {
    auto at = pgcoro::detail::locate(q.sql, position);
    if (at.line == 0) return q.file + ":" + std::to_string(q.sql_line) + ":" + std::to_string(q.sql_column);
    int line = q.sql_line + at.line - 1;
    int column = at.line == 1 ? q.sql_column + at.column - 1 : at.column;
    return q.file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

namespace detail {

/// `-- name: NAME :kind (a, b?)` parsed; false when the line is not an annotation.
/// Throws for an annotation that is malformed.
inline bool parse_annotation(std::string_view line, const std::string& file, int line_no, query_def& q) {
    std::string_view s = pgcoro::detail::trim(line);
    if (!s.starts_with("--")) return false;
    s = pgcoro::detail::trim(s.substr(2));
    if (!s.starts_with("name:")) return false;
    s = pgcoro::detail::trim(s.substr(5));
    auto bad = [&](const std::string& why) {
        return error_at(file, line_no, 1, why + " (expected `-- name: NAME :one|:opt|:many|:exec|:execrows [(param, ...)]`)");
    };
    auto sp = s.find_first_of(" \t");
    if (sp == std::string_view::npos) throw bad("the annotation names no result kind");
    q.name = std::string(s.substr(0, sp));
    if (auto why = name_problem(q.name, false); !why.empty()) throw bad(why);
    s = pgcoro::detail::trim(s.substr(sp));
    if (!s.starts_with(":")) throw bad("the result kind starts with ':'");
    auto end = s.find_first_of(" \t(");
    std::string_view kind = s.substr(1, end == std::string_view::npos ? s.size() - 1 : end - 1);
    if (!parse_returns(kind, q.kind)) throw bad("unknown result kind `:" + std::string(kind) + "`");
    s = end == std::string_view::npos ? std::string_view{} : pgcoro::detail::trim(s.substr(end));
    if (s.empty()) return true;
    if (!s.starts_with("(") || !s.ends_with(")")) throw bad("parameter names go in parentheses");
    q.params_given = true;
    std::string_view list = pgcoro::detail::trim(s.substr(1, s.size() - 2));
    std::set<std::string> seen;
    while (!list.empty()) {
        auto comma = list.find(',');
        std::string_view item = pgcoro::detail::trim(list.substr(0, comma));
        param_name p;
        if (item.ends_with("?")) {
            p.optional = true;
            item = pgcoro::detail::trim(item.substr(0, item.size() - 1));
        }
        p.name = std::string(item);
        if (auto why = name_problem(p.name, true); !why.empty()) throw bad(why);
        if (!seen.insert(p.name).second) throw bad("parameter `" + p.name + "` is named twice");
        q.params.push_back(std::move(p));
        if (comma == std::string_view::npos) break;
        list = list.substr(comma + 1);
        if (pgcoro::detail::trim(list).empty()) throw bad("a parameter name is missing after ','");
    }
    return true;
}

/// Line and column (1-based) of byte `offset` in `text`, columns counted in characters.
inline std::pair<int, int> line_col(std::string_view text, std::size_t offset) {
    int line = 1, col = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        auto b = static_cast<unsigned char>(text[i]);
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else if ((b & 0xC0) != 0x80) {
            ++col;
        }
    }
    return {line, col};
}

/// Whether `text` holds nothing but blanks and comments.
inline bool only_comments(std::string_view text) {
    return pgcoro::detail::split_sql(text).empty();
}

}  // namespace detail

/// The named statements of one file's text. `file` names it in errors.
inline std::vector<query_def> parse_query_file(std::string_view text, const std::string& file) {
    std::vector<query_def> out;
    // Annotation lines: their byte offsets and the line after them.
    struct mark {
        query_def q;
        std::size_t begin = 0;  // the annotation line
        std::size_t body = 0;   // after it
    };
    std::vector<mark> marks;
    std::size_t pos = 0;
    int line_no = 1;
    while (pos <= text.size()) {
        auto nl = text.find('\n', pos);
        std::size_t end = nl == std::string_view::npos ? text.size() : nl;
        query_def q;
        if (detail::parse_annotation(text.substr(pos, end - pos), file, line_no, q)) {
            q.file = file;
            q.line = line_no;
            marks.push_back({std::move(q), pos, nl == std::string_view::npos ? text.size() : nl + 1});
        }
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
        ++line_no;
    }
    std::size_t first = marks.empty() ? text.size() : marks.front().begin;
    if (!detail::only_comments(text.substr(0, first))) {
        auto [l, c] = detail::line_col(text, text.find_first_not_of(" \t\r\n"));
        throw error_at(file, l, c, "SQL before the first `-- name:` annotation");
    }
    for (std::size_t i = 0; i < marks.size(); ++i) {
        auto& m = marks[i];
        std::size_t stop = i + 1 < marks.size() ? marks[i + 1].begin : text.size();
        std::string_view body = text.substr(m.body, stop - m.body);
        auto statements = pgcoro::detail::split_sql(body);
        if (statements.empty())
            throw error_at(file, m.q.line, 1, "`" + m.q.name + "` has no statement");
        if (statements.size() > 1)
            throw error_at(file, m.q.line + statements[1].line, 1,
                           "`" + m.q.name + "` holds more than one statement (one per annotation)");
        // The statement's text from its first non-blank character, without the final ';'.
        std::size_t start = body.find_first_not_of(" \t\r\n");
        std::string_view sql = body.substr(start);
        while (!sql.empty() && std::isspace(static_cast<unsigned char>(sql.back()))) sql.remove_suffix(1);
        if (sql.ends_with(";")) sql.remove_suffix(1);
        while (!sql.empty() && std::isspace(static_cast<unsigned char>(sql.back()))) sql.remove_suffix(1);
        m.q.sql = std::string(sql);
        auto [l, c] = detail::line_col(text, m.body + start);
        m.q.sql_line = l;
        m.q.sql_column = c;
        out.push_back(std::move(m.q));
    }
    return out;
}

/// Every `*.sql` file under `dir` (sorted by relative path), parsed; names unique.
struct query_files {
    std::vector<query_def> queries;
    std::vector<std::pair<std::string, std::string>> files;  ///< relative path, content
};

inline query_files load_queries(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) throw tool_error("the queries directory " + dir.string() + " does not exist");
    query_files out;
    std::vector<fs::path> paths;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file() && e.path().extension() == ".sql") paths.push_back(e.path());
    std::sort(paths.begin(), paths.end());
    std::set<std::string> names;
    for (const auto& p : paths) {
        std::string rel = fs::relative(p, dir).generic_string();
        std::string text = read_file(p);
        if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);  // a UTF-8 BOM is not SQL
        // The file as shown in errors: the path given (so an IDE can open it).
        for (auto& q : parse_query_file(text, p.string())) {
            q.source = rel;
            if (!names.insert(q.name).second)
                throw error_at(q.file, q.line, 1, "a statement named `" + q.name + "` exists already");
            out.queries.push_back(std::move(q));
        }
        out.files.emplace_back(rel, std::move(text));
    }
    if (out.queries.empty()) throw tool_error("no `-- name:` statements in " + dir.string() + "/**/*.sql");
    return out;
}

}  // namespace pgcoro_tools::queries

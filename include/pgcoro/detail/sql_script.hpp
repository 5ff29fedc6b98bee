// pgcoro/detail/sql_script.hpp — what the migrator needs to know about a SQL file without a
// server: its normalised text, its pragma line, its statements, and where a character is.
#pragma once

#include <cctype>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pgcoro::detail {

/// The text a checksum covers and the server runs: a UTF-8 byte order mark removed, CRLF
/// line ends turned into LF (a lone CR is kept: it is content).
inline std::string normalise_sql(std::string_view text) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
        out.push_back(text[i]);
    }
    return out;
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

/// True when the first line is the comment `-- pgcoro:no-transaction` (spaces allowed).
inline bool has_no_transaction_pragma(std::string_view sql) {
    std::string_view first = sql.substr(0, sql.find('\n'));
    first = trim(first);
    if (first.substr(0, 2) != "--") return false;
    return trim(first.substr(2)) == "pgcoro:no-transaction";
}

/// One statement of a script: its text (without the closing semicolon) and the 1-based
/// line it starts on.
struct sql_statement {
    std::string text;
    int line = 1;
    std::string first_word, second_word;  ///< its first two keywords, upper case
};

/// Splits a script into statements the way psql does: semicolons inside quotes ('...',
/// E'...', "..."), dollar quotes ($$...$$, $tag$...$tag$), comments (-- and nested /* */)
/// and the BEGIN ATOMIC ... END body of a CREATE FUNCTION / PROCEDURE do not end a
/// statement. Statements that hold only comments and blanks are dropped. Never fails:
/// an unterminated quote makes the rest one statement (the server reports it).
inline std::vector<sql_statement> split_sql(std::string_view sql) {
    std::vector<sql_statement> out;
    std::size_t start = 0, i = 0, n = sql.size();  // start: the statement's first code character
    int line = 1, start_line = 1;
    bool has_code = false;       // the current statement has more than blanks and comments
    std::string first_word, second_word;  // its first keywords, lower case
    int atomic_depth = 0;        // BEGIN ... END nesting inside CREATE FUNCTION bodies
    bool in_create = false;
    auto is_ident = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || static_cast<unsigned char>(c) >= 0x80;
    };
    auto finish = [&](std::size_t end) {
        if (has_code) {
            auto upper = [](std::string w) {
                for (auto& ch : w) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                return w;
            };
            out.push_back({std::string(trim(sql.substr(start, end - start))), start_line, upper(first_word),
                           upper(second_word)});
        }
        has_code = false;
        first_word.clear();
        second_word.clear();
        atomic_depth = 0;
        in_create = false;
    };
    auto count_lines = [&](std::size_t from, std::size_t to) {
        for (std::size_t k = from; k < to && k < n; ++k)
            if (sql[k] == '\n') ++line;
    };
    auto mark_code = [&] {
        if (!has_code) {
            has_code = true;
            start_line = line;
            start = i;  // leading blanks and comments are not part of the statement
        }
    };
    while (i < n) {
        char c = sql[i];
        if (c == ';' && atomic_depth == 0) {
            finish(i);
            ++i;
            continue;
        }
        if (c == '-' && i + 1 < n && sql[i + 1] == '-') {  // line comment
            std::size_t e = sql.find('\n', i);
            i = e == std::string_view::npos ? n : e;
            continue;
        }
        if (c == '/' && i + 1 < n && sql[i + 1] == '*') {  // block comment, nested
            int depth = 0;
            std::size_t k = i;
            while (k < n) {
                if (sql[k] == '/' && k + 1 < n && sql[k + 1] == '*') { ++depth; k += 2; continue; }
                if (sql[k] == '*' && k + 1 < n && sql[k + 1] == '/') { k += 2; if (--depth == 0) break; continue; }
                ++k;
            }
            count_lines(i, k);
            i = k;
            continue;
        }
        if (c == '\n') { ++line; ++i; continue; }
        if (std::isspace(static_cast<unsigned char>(c))) { ++i; continue; }
        mark_code();
        if (c == '\'' || c == '"') {
            // E'...' strings take backslash escapes; the E was read as a word just before.
            bool escapes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                           (i < 2 || !is_ident(sql[i - 2]));
            std::size_t k = i + 1;
            while (k < n) {
                if (escapes && sql[k] == '\\') { k += 2; continue; }
                if (sql[k] == c) {
                    if (k + 1 < n && sql[k + 1] == c) { k += 2; continue; }  // doubled quote
                    break;
                }
                ++k;
            }
            k = k < n ? k + 1 : n;
            count_lines(i, k);
            i = k;
            continue;
        }
        if (c == '$' && (i == 0 || !is_ident(sql[i - 1]))) {  // $tag$ ... $tag$ (not $1)
            std::size_t k = i + 1;
            while (k < n && is_ident(sql[k]) && !(k == i + 1 && std::isdigit(static_cast<unsigned char>(sql[k])))) ++k;
            if (k < n && sql[k] == '$') {
                std::string_view tag = sql.substr(i, k - i + 1);
                std::size_t e = sql.find(tag, k + 1);
                std::size_t end = e == std::string_view::npos ? n : e + tag.size();
                count_lines(i, end);
                i = end;
                continue;
            }
            ++i;
            continue;
        }
        if (is_ident(c)) {
            std::size_t k = i;
            while (k < n && (is_ident(sql[k]) || sql[k] == '$')) ++k;
            std::string word(sql.substr(i, k - i));
            for (auto& ch : word) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (first_word.empty()) {
                first_word = word;
                in_create = word == "create";
            } else if (second_word.empty()) {
                second_word = word;
            }
            if (in_create) {
                if (word == "begin") {
                    std::size_t m = k;
                    while (m < n && std::isspace(static_cast<unsigned char>(sql[m]))) ++m;
                    std::size_t w = m;
                    while (w < n && is_ident(sql[w])) ++w;
                    std::string next(sql.substr(m, w - m));
                    for (auto& ch : next) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                    if (next == "atomic" || atomic_depth > 0) ++atomic_depth;
                } else if (word == "case" && atomic_depth > 0) {
                    ++atomic_depth;
                } else if (word == "end" && atomic_depth > 0) {
                    --atomic_depth;
                }
            }
            i = k;
            continue;
        }
        ++i;
    }
    finish(n);
    return out;
}

/// The transaction-control command a statement is, or "" (BEGIN, START TRANSACTION,
/// COMMIT, END, ROLLBACK without TO, ABORT, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED).
inline std::string transaction_control_keyword(const sql_statement& st) {
    const std::string& a = st.first_word;
    const std::string& b = st.second_word;
    if (a == "BEGIN" || a == "COMMIT" || a == "END" || a == "ABORT") return a;
    if (a == "START" && b == "TRANSACTION") return "START TRANSACTION";
    if (a == "ROLLBACK" && b != "TO") return "ROLLBACK";
    if (a == "PREPARE" && b == "TRANSACTION") return "PREPARE TRANSACTION";
    return {};
}

/// 1-based line and column of the 1-based character `position` (as the server counts:
/// characters, here UTF-8 code points) in `text`; {0, 0} when out of range.
struct text_location {
    int line = 0;
    int column = 0;
};
inline text_location locate(std::string_view text, int position) {
    if (position < 1) return {};
    int chars = 0, line = 1, column = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto b = static_cast<unsigned char>(text[i]);
        if ((b & 0xC0) == 0x80) continue;  // continuation byte
        ++chars;
        ++column;
        if (chars == position) return {line, column};
        if (b == '\n') {
            ++line;
            column = 0;
        }
    }
    return {};
}

}  // namespace pgcoro::detail

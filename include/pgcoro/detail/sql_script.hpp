// pgcoro/detail/sql_script.hpp — what the migrator needs to know about a SQL file without a
// server: its normalised text, its pragma line, its statements, and where a character is.
#pragma once

#include <pgcoro/detail/sql_lexer.hpp>

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
    const std::size_t n = sql.size();
    std::size_t start = 0;  // the statement's first code character
    int line = 1, start_line = 1;
    bool has_code = false;                // the current statement has more than blanks and comments
    std::string first_word, second_word;  // its first keywords, upper case
    int atomic_depth = 0;                 // BEGIN ... END nesting inside CREATE FUNCTION bodies
    bool in_create = false;
    auto finish = [&](std::size_t end) {
        if (has_code) out.push_back({std::string(trim(sql.substr(start, end - start))), start_line, first_word, second_word});
        has_code = false;
        first_word.clear();
        second_word.clear();
        atomic_depth = 0;
        in_create = false;
    };
    auto upper = [](std::string_view w) {
        std::string u(w);
        for (auto& ch : u) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        return u;
    };
    for (std::size_t i = 0; i < n;) {
        sql_token t = sql_token_at(sql, i);
        const std::size_t next = i + t.text.size();
        if (t.kind == sql_token_kind::other && t.text[0] == ';' && atomic_depth == 0) {
            finish(i);
            i = next;
            continue;
        }
        if (t.kind != sql_token_kind::blank && t.kind != sql_token_kind::comment && !has_code) {
            has_code = true;  // leading blanks and comments are not part of the statement
            start_line = line;
            start = i;
        }
        if (t.kind == sql_token_kind::word) {
            std::string word = upper(t.text);
            if (first_word.empty()) {
                first_word = word;
                in_create = word == "CREATE";
            } else if (second_word.empty()) {
                second_word = word;
            }
            if (in_create) {
                if (word == "BEGIN") {
                    // BEGIN ATOMIC opens a body; inside one, BEGIN opens a block.
                    std::size_t m = next;
                    sql_token after;
                    while (m < n && ((after = sql_token_at(sql, m)).kind == sql_token_kind::blank ||
                                     after.kind == sql_token_kind::comment))
                        m += after.text.size();
                    bool atomic = m < n && after.kind == sql_token_kind::word && sql_word_is(after.text, "ATOMIC");
                    if (atomic || atomic_depth > 0) ++atomic_depth;
                } else if (word == "CASE" && atomic_depth > 0) {
                    ++atomic_depth;
                } else if (word == "END" && atomic_depth > 0) {
                    --atomic_depth;
                }
            }
        }
        for (char ch : t.text)
            if (ch == '\n') ++line;
        i = next;
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

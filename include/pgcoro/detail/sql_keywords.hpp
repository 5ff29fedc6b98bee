// pgcoro/detail/sql_keywords.hpp — the little the pipeline reads of a statement's text:
// its leading keyword (to follow the transaction status through a pipeline), and whether
// it is a COPY with the client.
#pragma once

#include <pgcoro/detail/sql_lexer.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace pgcoro::detail {

using keyword_buffer = std::array<char, 24>;

/// The first word of a statement, upper-cased into a small buffer (comments and
/// leading spaces skipped); empty when there is none.
inline std::string_view leading_keyword(std::string_view sql, keyword_buffer& buf) {
    std::size_t i = 0;
    while (i < sql.size()) {
        if (sql_blank(sql[i]) || sql[i] == '(') {
            ++i;
        } else if (sql.substr(i, 2) == "--") {
            i = sql.find('\n', i);
            if (i == std::string_view::npos) return {};
        } else if (sql.substr(i, 2) == "/*") {
            i = sql.find("*/", i + 2);
            if (i == std::string_view::npos) return {};
            i += 2;
        } else {
            break;
        }
    }
    std::size_t n = 0;
    while (i < sql.size() && n < buf.size() &&
           ((sql[i] >= 'a' && sql[i] <= 'z') || (sql[i] >= 'A' && sql[i] <= 'Z') || sql[i] == '_')) {
        char c = sql[i++];
        buf[n++] = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    }
    return std::string_view(buf.data(), n);
}

/// ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name.
inline bool rolls_back_to_savepoint(std::string_view sql) {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    for (std::size_t i = 1; i + 2 < sql.size(); ++i) {
        bool to = (sql[i] == 't' || sql[i] == 'T') && (sql[i + 1] == 'o' || sql[i + 1] == 'O');
        if (to && space(sql[i - 1]) && space(sql[i + 2])) return true;
    }
    return false;
}

/// A cheap first look (one character): could this statement begin with COPY?
inline bool might_begin_with_copy(std::string_view sql) noexcept {
    for (char c : sql) {
        if (sql_blank(c)) continue;
        return c == 'c' || c == 'C' || c == '-' || c == '/' || c == '(';
    }
    return false;
}

/// True for SQL holding a COPY with the client: a statement whose first word is COPY and
/// that names STDIN or STDOUT after FROM or TO, outside parentheses (the server accepts
/// either word in either direction). Quotes ('...', E'...', "..."), dollar quotes and
/// comments (nested /* */ included) are skipped, so a ';' or the words inside them count
/// for nothing. Such a statement needs an operation of its own (copy_in_raw,
/// copy_out_raw, ...): sent as a plain statement it would leave the connection in COPY
/// mode. COPY to or from a server file is an ordinary statement.
inline bool copies_with_client(std::string_view sql) {
    // Per statement: its word count, whether it is a COPY, the paren depth, and whether the
    // previous word (at depth 0) was FROM or TO.
    std::size_t words = 0;
    bool copy = false, after_direction = false;
    int depth = 0;
    for (std::size_t i = 0; i < sql.size();) {
        sql_token t = sql_token_at(sql, i);
        i += t.text.size();
        switch (t.kind) {
        case sql_token_kind::blank:
        case sql_token_kind::comment: break;
        case sql_token_kind::word:
            if (words++ == 0) copy = sql_word_is(t.text, "COPY");
            if (copy && depth == 0) {
                if (after_direction && (sql_word_is(t.text, "STDIN") || sql_word_is(t.text, "STDOUT"))) return true;
                after_direction = sql_word_is(t.text, "FROM") || sql_word_is(t.text, "TO");
            }
            break;
        case sql_token_kind::other:
            if (t.text[0] == ';') {
                words = 0, copy = false, depth = 0;
            } else if (t.text[0] == '(') {
                ++depth;
            } else if (t.text[0] == ')' && depth > 0) {
                --depth;
            }
            after_direction = false;
            break;
        case sql_token_kind::quoted:
        case sql_token_kind::dollar_quoted: after_direction = false; break;
        }
    }
    return false;
}

/// `name` as a quoted SQL identifier: exactly that name, capitals and quotes included.
inline std::string quote_identifier(std::string_view name) {
    std::string q = "\"";
    for (char c : name) {
        if (c == '"') q += '"';
        q += c;
    }
    q += '"';
    return q;
}

}  // namespace pgcoro::detail

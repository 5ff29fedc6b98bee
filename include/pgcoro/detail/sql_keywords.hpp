// pgcoro/detail/sql_keywords.hpp — the little the pipeline reads of a statement's text:
// its leading keyword (to follow the transaction status through a pipeline).
#pragma once

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
        if (sql[i] == ' ' || sql[i] == '\t' || sql[i] == '\n' || sql[i] == '\r' || sql[i] == '(') {
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
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
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
    auto ident = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               static_cast<unsigned char>(c) >= 0x80;
    };
    auto is = [](std::string_view w, std::string_view upper_word) {
        if (w.size() != upper_word.size()) return false;
        for (std::size_t k = 0; k < w.size(); ++k) {
            char c = w[k] >= 'a' && w[k] <= 'z' ? static_cast<char>(w[k] - 'a' + 'A') : w[k];
            if (c != upper_word[k]) return false;
        }
        return true;
    };
    // Per statement: its word count, whether it is a COPY, the paren depth, and whether the
    // previous word (at depth 0) was FROM or TO.
    std::size_t words = 0, i = 0, n = sql.size();
    bool copy = false, after_direction = false;
    int depth = 0;
    while (i < n) {
        char c = sql[i];
        if (c == ';') {
            words = 0, copy = false, after_direction = false, depth = 0;
            ++i;
        } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
            i = sql.find('\n', i);
            if (i == std::string_view::npos) i = n;
        } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
            int nest = 0;
            while (i < n) {
                if (sql.substr(i, 2) == "/*") ++nest, i += 2;
                else if (sql.substr(i, 2) == "*/") { i += 2; if (--nest == 0) break; }
                else ++i;
            }
        } else if (c == '\'' || c == '"') {
            bool escapes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') && (i < 2 || !ident(sql[i - 2]));
            std::size_t k = i + 1;
            while (k < n) {
                if (escapes && sql[k] == '\\') k += 2;
                else if (sql[k] == c && k + 1 < n && sql[k + 1] == c) k += 2;  // a doubled quote
                else if (sql[k] == c) break;
                else ++k;
            }
            i = k < n ? k + 1 : n;
            after_direction = false;
        } else if (c == '$' && (i == 0 || !ident(sql[i - 1]))) {  // $tag$ ... $tag$, not $1
            std::size_t k = i + 1;
            while (k < n && ident(sql[k]) && !(k == i + 1 && sql[k] >= '0' && sql[k] <= '9')) ++k;
            if (k < n && sql[k] == '$') {
                std::size_t e = sql.find(sql.substr(i, k - i + 1), k + 1);
                i = e == std::string_view::npos ? n : e + (k - i + 1);
            } else {
                ++i;
            }
            after_direction = false;
        } else if (ident(c)) {
            std::size_t k = i;
            while (k < n && (ident(sql[k]) || sql[k] == '$')) ++k;
            std::string_view w = sql.substr(i, k - i);
            if (words++ == 0) copy = is(w, "COPY");
            if (copy && depth == 0) {
                if (after_direction && (is(w, "STDIN") || is(w, "STDOUT"))) return true;
                after_direction = is(w, "FROM") || is(w, "TO");
            }
            i = k;
        } else {
            if (c == '(') ++depth;
            if (c == ')' && depth > 0) --depth;
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') after_direction = false;
            ++i;
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

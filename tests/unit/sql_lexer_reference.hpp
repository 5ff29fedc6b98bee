// tests/unit/sql_lexer_reference.hpp — the script splitter and the COPY detector as they
// were before both moved onto detail/sql_lexer.hpp, kept as an oracle: the lexer-based
// versions must agree with them on any text (white space aside: \f and \v are blanks
// now), which the unit tests check on random texts.
#pragma once

#include <pgcoro/detail/sql_script.hpp>

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace sql_reference {
using pgcoro::detail::trim;
using sql_statement = pgcoro::detail::sql_statement;

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

}  // namespace sql_reference

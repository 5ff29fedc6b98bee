// pgcoro/detail/sql_lexer.hpp — SQL text cut into the few kinds of token pgcoro needs to
// tell apart without a server: blanks, comments, quoted text, dollar quotes, words and
// single characters. The script splitter (split_sql) and the COPY detector
// (copies_with_client) read statements through it, so both skip exactly the same text.
#pragma once

#include <cstddef>
#include <string_view>

namespace pgcoro::detail {

enum class sql_token_kind {
    blank,          ///< one white-space character
    comment,        ///< -- to the end of the line (the newline not included), or /* */, nested
    quoted,         ///< '...', E'...' (backslash escapes), "..." (doubled quotes inside)
    dollar_quoted,  ///< $$...$$ or $tag$...$tag$
    word,           ///< a keyword or identifier: letters, digits, _, bytes >= 0x80, $ after the first
    other,          ///< any other single character: ; ( ) , $1's $ ...
};

struct sql_token {
    sql_token_kind kind = sql_token_kind::other;
    std::string_view text;  ///< a slice of the statement; never empty
};

/// A character that may be part of a word (any byte of a multi-byte UTF-8 character too).
constexpr bool sql_word_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           static_cast<unsigned char>(c) >= 0x80;
}

constexpr bool sql_blank(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/// `word` equals `upper` (upper case ASCII) ignoring case.
constexpr bool sql_word_is(std::string_view word, std::string_view upper) noexcept {
    if (word.size() != upper.size()) return false;
    for (std::size_t k = 0; k < word.size(); ++k) {
        char c = word[k] >= 'a' && word[k] <= 'z' ? static_cast<char>(word[k] - 'a' + 'A') : word[k];
        if (c != upper[k]) return false;
    }
    return true;
}

/// The token that starts at `i` (< sql.size()). Never fails: an unterminated comment or
/// quote runs to the end of the text (the server reports it).
inline sql_token sql_token_at(std::string_view sql, std::size_t i) noexcept {
    const std::size_t n = sql.size();
    auto token = [&](sql_token_kind kind, std::size_t end) { return sql_token{kind, sql.substr(i, end - i)}; };
    const char c = sql[i];
    if (sql_blank(c)) return token(sql_token_kind::blank, i + 1);
    if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
        std::size_t e = sql.find('\n', i);
        return token(sql_token_kind::comment, e == std::string_view::npos ? n : e);
    }
    if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
        int depth = 0;
        std::size_t k = i;
        while (k < n) {
            if (sql[k] == '/' && k + 1 < n && sql[k + 1] == '*') {
                ++depth;
                k += 2;
            } else if (sql[k] == '*' && k + 1 < n && sql[k + 1] == '/') {
                k += 2;
                if (--depth == 0) break;
            } else {
                ++k;
            }
        }
        return token(sql_token_kind::comment, k);
    }
    if (c == '\'' || c == '"') {
        // E'...' takes backslash escapes; the E is the word just before, alone.
        bool escapes = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                       (i < 2 || !sql_word_char(sql[i - 2]));
        std::size_t k = i + 1;
        while (k < n) {
            if (escapes && sql[k] == '\\') {
                k += 2;
            } else if (sql[k] == c && k + 1 < n && sql[k + 1] == c) {
                k += 2;  // a doubled quote
            } else if (sql[k] == c) {
                break;
            } else {
                ++k;
            }
        }
        return token(sql_token_kind::quoted, k < n ? k + 1 : n);
    }
    if (c == '$' && (i == 0 || !sql_word_char(sql[i - 1]))) {  // $tag$ ... $tag$, not $1
        std::size_t k = i + 1;
        while (k < n && sql_word_char(sql[k]) && !(k == i + 1 && sql[k] >= '0' && sql[k] <= '9')) ++k;
        if (k < n && sql[k] == '$') {
            std::string_view tag = sql.substr(i, k - i + 1);
            std::size_t e = sql.find(tag, k + 1);
            return token(sql_token_kind::dollar_quoted, e == std::string_view::npos ? n : e + tag.size());
        }
        return token(sql_token_kind::other, i + 1);
    }
    if (sql_word_char(c)) {
        std::size_t k = i;
        while (k < n && (sql_word_char(sql[k]) || sql[k] == '$')) ++k;
        return token(sql_token_kind::word, k);
    }
    return token(sql_token_kind::other, i + 1);
}

}  // namespace pgcoro::detail

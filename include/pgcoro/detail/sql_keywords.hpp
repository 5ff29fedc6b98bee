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

/// True for SQL holding a COPY with the client (`COPY ... FROM STDIN`, `COPY ... TO
/// STDOUT`): the word COPY, then before the next ';' the word FROM followed by STDIN or TO
/// followed by STDOUT (case-insensitive, any white space or comments between). Such a
/// statement needs an operation of its own (copy_in_raw, copy_out_raw, ...): sent as a
/// plain statement it would leave the connection in COPY mode. A string literal holding
/// those words can be taken for one; COPY to or from a server file is not.
inline bool copies_with_client(std::string_view sql) {
    auto upper = [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; };
    auto word_char = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
    };
    // The words of the text, upper-cased, one at a time.
    std::size_t i = 0;
    keyword_buffer buf;
    auto next_word = [&](bool& semicolon) -> std::string_view {
        semicolon = false;
        while (i < sql.size()) {
            if (word_char(sql[i])) break;
            if (sql[i] == ';') semicolon = true;
            if (sql.substr(i, 2) == "--") {
                i = sql.find('\n', i);
                if (i == std::string_view::npos) i = sql.size();
            } else if (sql.substr(i, 2) == "/*") {
                i = sql.find("*/", i + 2);
                i = i == std::string_view::npos ? sql.size() : i + 2;
            } else {
                ++i;
            }
        }
        std::size_t n = 0;
        while (i < sql.size() && word_char(sql[i])) {
            if (n < buf.size()) buf[n++] = upper(sql[i]);
            ++i;
        }
        return std::string_view(buf.data(), n);
    };
    bool in_copy = false, semicolon = false;
    std::string previous;
    for (std::string_view w = next_word(semicolon); !w.empty(); w = next_word(semicolon)) {
        if (semicolon) in_copy = false;
        if (w == "COPY") {
            in_copy = true;
        } else if (in_copy && ((previous == "FROM" && w == "STDIN") || (previous == "TO" && w == "STDOUT"))) {
            return true;
        }
        previous.assign(w);
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

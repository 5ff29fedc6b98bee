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

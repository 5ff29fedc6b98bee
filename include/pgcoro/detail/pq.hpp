// pgcoro/detail/pq.hpp — owning handles for libpq objects and small libpq helpers.
#pragma once

#include <pgcoro/diagnostics.hpp>

#include <libpq-fe.h>

#include <charconv>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include <optional>

namespace pgcoro::detail {

struct pgconn_deleter { void operator()(PGconn* c) const noexcept { PQfinish(c); } };
struct pgresult_deleter { void operator()(PGresult* r) const noexcept { PQclear(r); } };
struct pgcancel_deleter { void operator()(PGcancel* c) const noexcept { PQfreeCancel(c); } };
struct conninfo_deleter { void operator()(PQconninfoOption* o) const noexcept { PQconninfoFree(o); } };

using pgconn_ptr = std::unique_ptr<PGconn, pgconn_deleter>;
using pgresult_ptr = std::unique_ptr<PGresult, pgresult_deleter>;
using conninfo_ptr = std::unique_ptr<PQconninfoOption, conninfo_deleter>;

inline std::string field_or_empty(const PGresult* r, int code) {
    const char* v = PQresultErrorField(r, code);
    return v ? std::string(v) : std::string();
}

inline std::optional<int> int_field(const PGresult* r, int code) {
    const char* v = PQresultErrorField(r, code);
    if (!v) return std::nullopt;
    std::string_view s(v);
    int out = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return out;
}

/// The diagnostics of an error or notice result.
inline diagnostics diagnostics_from(const PGresult* r) {
    diagnostics d;
#ifdef PG_DIAG_SEVERITY_NONLOCALIZED
    d.severity = field_or_empty(r, PG_DIAG_SEVERITY_NONLOCALIZED);
#endif
    if (d.severity.empty()) d.severity = field_or_empty(r, PG_DIAG_SEVERITY);
    d.sqlstate = field_or_empty(r, PG_DIAG_SQLSTATE);
    d.message = field_or_empty(r, PG_DIAG_MESSAGE_PRIMARY);
    d.detail = field_or_empty(r, PG_DIAG_MESSAGE_DETAIL);
    d.hint = field_or_empty(r, PG_DIAG_MESSAGE_HINT);
    d.position = int_field(r, PG_DIAG_STATEMENT_POSITION);
    d.internal_position = int_field(r, PG_DIAG_INTERNAL_POSITION);
    d.internal_query = field_or_empty(r, PG_DIAG_INTERNAL_QUERY);
    d.context = field_or_empty(r, PG_DIAG_CONTEXT);
    d.schema = field_or_empty(r, PG_DIAG_SCHEMA_NAME);
    d.table = field_or_empty(r, PG_DIAG_TABLE_NAME);
    d.column = field_or_empty(r, PG_DIAG_COLUMN_NAME);
    d.datatype = field_or_empty(r, PG_DIAG_DATATYPE_NAME);
    d.constraint = field_or_empty(r, PG_DIAG_CONSTRAINT_NAME);
    d.source_file = field_or_empty(r, PG_DIAG_SOURCE_FILE);
    d.source_line = field_or_empty(r, PG_DIAG_SOURCE_LINE);
    d.source_function = field_or_empty(r, PG_DIAG_SOURCE_FUNCTION);
    if (d.message.empty()) {
        // A result libpq made itself (e.g. a lost connection): only the error message is set.
        const char* m = PQresultErrorMessage(r);
        d.message = m ? m : "";
    }
    while (!d.message.empty() && (d.message.back() == '\n' || d.message.back() == ' '))
        d.message.pop_back();
    return d;
}

/// The row count of a command tag ("INSERT 0 5" -> 5); 0 when there is none.
inline std::uint64_t affected_rows_of(const PGresult* r) noexcept {
    if (!r) return 0;
    std::string_view s = PQcmdTuples(const_cast<PGresult*>(r));
    std::uint64_t n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return 0;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return n;
}

/// libpq's last error message for a connection, trailing newline removed.
inline std::string conn_error_message(const PGconn* c) {
    std::string m = c ? PQerrorMessage(c) : "out of memory";
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    return m;
}

/// The password-like secrets written in a connection string, URL or key=value form, so
/// that messages can be scrubbed of them before anyone sees them.
inline std::vector<std::string> conninfo_secrets(std::string_view conninfo) {
    std::vector<std::string> out;
    auto add = [&](std::string_view s) {
        if (s.size() >= 1) out.emplace_back(s);
    };
    if (conninfo.starts_with("postgresql://") || conninfo.starts_with("postgres://")) {
        std::string_view rest = conninfo.substr(conninfo.find("://") + 3);
        std::size_t at = rest.rfind('@', rest.find_first_of("/?"));
        if (at != std::string_view::npos) {
            std::string_view userinfo = rest.substr(0, at);
            std::size_t colon = userinfo.find(':');
            if (colon != std::string_view::npos) add(userinfo.substr(colon + 1));
        }
        for (std::size_t p = conninfo.find("password="); p != std::string_view::npos;
             p = conninfo.find("password=", p + 1)) {
            std::string_view v = conninfo.substr(p + 9);
            add(v.substr(0, v.find('&')));
        }
    } else {
        // key=value: password may be quoted ('...' with \' and \\ escapes) or bare.
        for (std::size_t p = conninfo.find("password"); p != std::string_view::npos;
             p = conninfo.find("password", p + 1)) {
            std::size_t q = p + 8;
            while (q < conninfo.size() && conninfo[q] == ' ') ++q;
            if (q >= conninfo.size() || conninfo[q] != '=') continue;
            ++q;
            while (q < conninfo.size() && conninfo[q] == ' ') ++q;
            if (q < conninfo.size() && conninfo[q] == '\'') {
                std::string raw;
                std::size_t start = q + 1, i = start;
                for (; i < conninfo.size() && conninfo[i] != '\''; ++i) {
                    if (conninfo[i] == '\\' && i + 1 < conninfo.size()) ++i;
                    raw.push_back(conninfo[i]);
                }
                add(raw);
                add(conninfo.substr(start, i - start));
            } else {
                std::size_t end = conninfo.find(' ', q);
                add(conninfo.substr(q, end == std::string_view::npos ? std::string_view::npos : end - q));
            }
        }
    }
    return out;
}

/// Replaces every occurrence of each secret in `message` with "********".
inline std::string redact(std::string message, const std::vector<std::string>& secrets) {
    for (const auto& s : secrets) {
        if (s.empty()) continue;
        for (std::size_t p = message.find(s); p != std::string::npos; p = message.find(s, p + 8))
            message.replace(p, s.size(), "********");
    }
    return message;
}

}  // namespace pgcoro::detail

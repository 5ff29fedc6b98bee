// pgcoro/error.hpp — error codes (client errors and SQLSTATEs) and the exception type.
#pragma once

#include <pgcoro/diagnostics.hpp>

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace pgcoro {

/// Errors found by pgcoro itself (the server's errors use server_category()).
enum class errc {
    invalid_conninfo = 1,     ///< the connection string could not be parsed
    connect_failed,           ///< could not connect or authenticate (see the message)
    connect_timeout,          ///< connecting took longer than the connect timeout
    connection_closed,        ///< the connection was closed by close() or its destructor
    connection_broken,        ///< the socket failed or the server went away
    no_rows,                  ///< query_one: the statement returned no row
    too_many_rows,            ///< query_one / query_opt: the statement returned more than one row
    column_count_mismatch,    ///< the result's columns do not match the C++ row type
    type_mismatch,            ///< a column's PostgreSQL type cannot be read as the C++ type
    unexpected_null,          ///< NULL in a column read into a type that is not std::optional
    decode_error,             ///< a value's binary form is malformed
    encode_error,             ///< a parameter could not be encoded
    protocol_error,           ///< the server's answer did not follow the protocol pgcoro expects
    pool_timeout,             ///< no pool connection became free within acquire_timeout
    pool_closed,              ///< the pool was closed
    invalid_config,           ///< a pool_config value (or environment variable) is wrong
    transaction_aborted,      ///< COMMIT found the transaction failed; it was rolled back
    invalid_migration,        ///< a migration or seed file is malformed (name, content, pairing)
    migration_lock_timeout,   ///< another migrator held the migration lock past lock_timeout
    migration_checksum_mismatch,  ///< an applied migration's file changed since it was applied
    migration_unknown_version,    ///< the database has a version the migration set lacks
    migration_out_of_order,   ///< a pending version is older than the newest applied one
    migration_missing_down,   ///< a rollback needs a .down.sql file that does not exist
    notifications_missed,     ///< listener: notifications may have been lost here (reconnected, or queue full)
    invalid_argument,         ///< an argument is malformed (a COPY target, ...); the message says how
};

namespace detail {

class client_category_impl final : public boost::system::error_category {
public:
    constexpr client_category_impl() noexcept : error_category(0x7067636f726f0001ULL) {}
    const char* name() const noexcept override { return "pgcoro"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::invalid_conninfo: return "invalid connection string";
        case errc::connect_failed: return "could not connect to the server";
        case errc::connect_timeout: return "timed out connecting to the server";
        case errc::connection_closed: return "the connection is closed";
        case errc::connection_broken: return "the connection to the server was lost";
        case errc::no_rows: return "the query returned no rows";
        case errc::too_many_rows: return "the query returned more than one row";
        case errc::column_count_mismatch: return "the result's column count does not match the row type";
        case errc::type_mismatch: return "a result column's type does not match the C++ type";
        case errc::unexpected_null: return "NULL in a column whose C++ type is not std::optional";
        case errc::decode_error: return "malformed value from the server";
        case errc::encode_error: return "a parameter could not be encoded";
        case errc::protocol_error: return "unexpected answer from the server";
        case errc::pool_timeout: return "timed out waiting for a pool connection";
        case errc::pool_closed: return "the pool is closed";
        case errc::invalid_config: return "invalid configuration";
        case errc::transaction_aborted: return "the transaction had failed and was rolled back";
        case errc::invalid_migration: return "invalid migration file";
        case errc::migration_lock_timeout: return "timed out waiting for the migration lock";
        case errc::migration_checksum_mismatch: return "an applied migration was changed";
        case errc::migration_unknown_version: return "the database has a migration these files do not";
        case errc::migration_out_of_order: return "a pending migration is older than the newest applied one";
        case errc::migration_missing_down: return "a migration has no down file";
        case errc::notifications_missed: return "notifications may have been missed (reconnected or queue full)";
        case errc::invalid_argument: return "an argument is malformed";
        }
        return "unknown pgcoro error";
    }
};

/// SQLSTATEs are five characters of [0-9A-Z]; packed base 36 into an int (max 60,466,175).
constexpr int pack_sqlstate(std::string_view s) noexcept {
    if (s.size() != 5) return -1;
    int v = 0;
    for (char c : s) {
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'A' && c <= 'Z') d = c - 'A' + 10;
        else return -1;
        v = v * 36 + d;
    }
    return v;
}

inline std::string unpack_sqlstate(int v) {
    if (v < 0 || v >= 36 * 36 * 36 * 36 * 36) return {};
    std::string s(5, '0');
    for (int i = 4; i >= 0; --i) {
        int d = v % 36;
        s[static_cast<std::size_t>(i)] = static_cast<char>(d < 10 ? '0' + d : 'A' + d - 10);
        v /= 36;
    }
    return s;
}

std::string_view sqlstate_name(std::string_view code) noexcept;

class server_category_impl final : public boost::system::error_category {
public:
    constexpr server_category_impl() noexcept : error_category(0x7067636f726f0002ULL) {}
    const char* name() const noexcept override { return "pgcoro.sqlstate"; }
    std::string message(int ev) const override {
        std::string code = unpack_sqlstate(ev);
        if (code.empty()) return "unknown SQLSTATE";
        std::string_view nm = sqlstate_name(code);
        std::string out = "SQLSTATE " + code;
        if (!nm.empty()) out.append(" (").append(nm).append(")");
        return out;
    }
};

// The few SQLSTATEs applications test for most often, with PostgreSQL's condition names.
inline std::string_view sqlstate_name(std::string_view code) noexcept {
    struct entry { std::string_view code, name; };
    static constexpr entry names[] = {
        {"08000", "connection_exception"}, {"08003", "connection_does_not_exist"},
        {"08006", "connection_failure"}, {"0A000", "feature_not_supported"},
        {"21000", "cardinality_violation"}, {"22001", "string_data_right_truncation"},
        {"22003", "numeric_value_out_of_range"}, {"22007", "invalid_datetime_format"},
        {"22012", "division_by_zero"}, {"22P02", "invalid_text_representation"},
        {"23000", "integrity_constraint_violation"}, {"23502", "not_null_violation"},
        {"23503", "foreign_key_violation"}, {"23505", "unique_violation"},
        {"23514", "check_violation"}, {"23P01", "exclusion_violation"},
        {"25001", "active_sql_transaction"}, {"25P02", "in_failed_sql_transaction"},
        {"26000", "invalid_sql_statement_name"}, {"28000", "invalid_authorization_specification"},
        {"28P01", "invalid_password"}, {"40001", "serialization_failure"},
        {"40P01", "deadlock_detected"}, {"42501", "insufficient_privilege"},
        {"42601", "syntax_error"}, {"42703", "undefined_column"},
        {"42704", "undefined_object"}, {"42710", "duplicate_object"},
        {"42804", "datatype_mismatch"}, {"42883", "undefined_function"},
        {"42P01", "undefined_table"}, {"42P07", "duplicate_table"},
        {"53300", "too_many_connections"}, {"55P03", "lock_not_available"},
        {"57014", "query_canceled"}, {"57P01", "admin_shutdown"},
        {"57P03", "cannot_connect_now"}, {"XX000", "internal_error"},
    };
    for (const auto& e : names)
        if (e.code == code) return e.name;
    return {};
}

}  // namespace detail

/// The category of errors pgcoro finds itself (values: pgcoro::errc).
inline const boost::system::error_category& client_category() noexcept {
    static constexpr detail::client_category_impl instance;
    return instance;
}

/// The category of server errors; the value is the SQLSTATE (see sqlstate_of()).
inline const boost::system::error_category& server_category() noexcept {
    static constexpr detail::server_category_impl instance;
    return instance;
}

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), client_category()};
}

/// An error_code for a five-character SQLSTATE, e.g. make_sqlstate_error("23505").
/// An invalid code yields errc::protocol_error.
inline boost::system::error_code make_sqlstate_error(std::string_view sqlstate) noexcept {
    int v = detail::pack_sqlstate(sqlstate);
    if (v < 0) return make_error_code(errc::protocol_error);
    return {v, server_category()};
}

/// The SQLSTATE of a server error_code ("" for any other error).
inline std::string sqlstate_of(const boost::system::error_code& ec) {
    if (ec.category() != server_category()) return {};
    return detail::unpack_sqlstate(ec.value());
}

/// The exception pgcoro's coroutines throw: an error_code plus the server's diagnostics.
/// what() holds the message with its SQLSTATE, detail and hint; never a password.
class error : public boost::system::system_error {
public:
    error(boost::system::error_code ec, pgcoro::diagnostics diag)
        : system_error(ec, describe(diag)), diag_(std::move(diag)) {}
    explicit error(boost::system::error_code ec, std::string message = {})
        : error(ec, client_diagnostics(std::move(message))) {}

    const pgcoro::diagnostics& diagnostics() const noexcept { return diag_; }
    /// The SQLSTATE, or "" for client-side errors.
    const std::string& sqlstate() const noexcept { return diag_.sqlstate; }

private:
    static pgcoro::diagnostics client_diagnostics(std::string message) {
        pgcoro::diagnostics d;
        d.message = std::move(message);
        return d;
    }
    static std::string describe(const pgcoro::diagnostics& d) {
        std::string s = d.message;
        if (!d.detail.empty()) s.append(" (detail: ").append(d.detail).append(")");
        if (!d.hint.empty()) s.append(" (hint: ").append(d.hint).append(")");
        if (d.position) s.append(" (at character ").append(std::to_string(*d.position)).append(")");
        return s;
    }

    pgcoro::diagnostics diag_;
};

}  // namespace pgcoro

template <>
struct boost::system::is_error_code_enum<pgcoro::errc> : std::true_type {};

// pgcoro/diagnostics.hpp — what the server said about an error or a notice.
#pragma once

#include <optional>
#include <string>

namespace pgcoro {

/// The fields of a server ErrorResponse or NoticeResponse (see PostgreSQL's
/// "Error and Notice Message Fields"). Empty strings mean the server sent no such field.
/// For client-side errors only `message` is set (and `sqlstate` stays empty).
struct diagnostics {
    std::string severity;           ///< ERROR, FATAL, PANIC, WARNING, NOTICE, ... (not localized)
    std::string sqlstate;           ///< five characters, e.g. "42P01"
    std::string message;            ///< the primary message
    std::string detail;
    std::string hint;
    std::optional<int> position;    ///< 1-based character index into the statement
    std::optional<int> internal_position;
    std::string internal_query;
    std::string context;
    std::string schema;
    std::string table;
    std::string column;
    std::string datatype;
    std::string constraint;
    std::string source_file;
    std::string source_line;
    std::string source_function;

    /// True when this describes a server message (it has a SQLSTATE).
    bool from_server() const noexcept { return !sqlstate.empty(); }
};

/// A notice or warning the server sent outside of any error (RAISE NOTICE, WARNING, ...).
using notice = diagnostics;

}  // namespace pgcoro

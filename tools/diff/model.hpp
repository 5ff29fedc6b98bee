// tools/diff/model.hpp — what `pgcoro-migrate diff` compares: one database's schema as
// plain values (read from the catalog by catalog.hpp, compared by plan.hpp). Names are
// already quoted and schema-qualified as SQL wants them ("public.users", "\"Odd\".t"),
// so the planner never quotes and the model can be written by hand in unit tests.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pgcoro_tools::diff {

/// A sequence's options (a standalone sequence's, or an identity column's).
struct sequence_options {
    std::string type = "bigint";
    std::int64_t start = 1, increment = 1, min = 1, max = 9223372036854775807LL, cache = 1;
    bool cycle = false;
    bool operator==(const sequence_options&) const = default;
};

struct column {
    std::string name;       // quoted
    std::string type;       // format_type(): "character varying(63)", "public.action_type"
    std::string collation;  // quoted, qualified; empty: the type's own
    std::string default_expr;
    std::string generated;  // a stored generated column's expression
    bool not_null = false;
    char identity = 0;        // 'a' ALWAYS, 'd' BY DEFAULT, 0 none
    std::string identity_sequence;  // the identity's sequence, qualified
    sequence_options identity_options;
    std::string comment;
    int position = 0;
};

struct table {
    std::string name;  // qualified
    char persistence = 'p';  // 'u' unlogged
    std::string options;     // reloptions, "fillfactor=70, autovacuum_enabled=false"
    bool row_security = false, force_row_security = false;
    std::vector<column> columns;  // in position order
    std::string comment;
    std::int64_t order = 0;  // creation order in its database (the oid)
};

struct enum_type {
    std::string name;
    std::vector<std::string> labels;  // unquoted, in sort order
    std::string comment;
    std::int64_t order = 0;
};

struct sequence {
    std::string name;
    sequence_options options;
    std::string owned_by;        // "public.t.id" (qualified table, then quoted column), or empty
    std::string owned_by_table;  // the owning table, qualified
    std::string comment;
    std::int64_t order = 0;
};

/// What the rest have in common: compared by definition, changed by replacing in place
/// (when `replace` is given) or by dropping and creating again.
enum class kind {
    schema,
    extension,
    function,    // and procedures
    view,        // and materialized views
    constraint,  // primary key, unique, check, exclusion
    foreign_key,
    index,
    trigger,
    policy,
};

struct object {
    diff::kind kind{};
    std::string key;     // unique within its kind
    std::string owner;   // the relation it belongs to (goes with it), qualified; empty for none
    std::string create;  // one or more statements, each ending in ';'
    std::string drop;
    std::string replace;      // in place when the definitions differ (CREATE OR REPLACE), or empty
    std::string definition;   // what is compared
    /// `replace` works only when the old object's shape is a prefix of the new one's (a
    /// view's columns, one per line: new ones may follow; a function's arguments and result)
    std::string shape;
    std::string comment_target;  // "INDEX public.i", "CONSTRAINT c ON public.t"
    std::string comment;
    std::vector<std::string> depends_on;  // relations a view reads (a change there rebuilds it)
    /// A function created after tables and views (its signature or body uses them), or an
    /// index on a materialized view.
    bool late = false;
    std::int64_t order = 0;
};

inline object make_object(kind k, std::string key, std::string owner = {}) {
    object o;
    o.kind = k;
    o.key = std::move(key);
    o.owner = std::move(owner);
    return o;
}

struct model {
    std::vector<table> tables;
    std::vector<enum_type> enums;
    std::vector<sequence> sequences;
    std::vector<object> objects;
};

/// A string as an SQL literal ('it''s'); with standard_conforming_strings (on since
/// PostgreSQL 9.1) a backslash is an ordinary character.
inline std::string sql_literal(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'') out += '\'';
        out += c;
    }
    out += '\'';
    return out;
}

}  // namespace pgcoro_tools::diff

// tools/queries/describe.hpp — asks PostgreSQL about each statement: prepares it
// (errors mapped to file:line:col), describes its parameters and columns, reads the
// catalog for NOT NULL, and its generic plan for outer joins (nullability.hpp).
// Synchronous libpq: this runs in a build tool, on a throwaway database.
#pragma once

#include "description.hpp"
#include "nullability.hpp"

#include <libpq-fe.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace pgcoro_tools::queries {

namespace detail {

/// PostgreSQL's FirstNormalObjectId: OIDs below it are the built-in objects'.
inline constexpr std::uint32_t first_user_oid = 16384;

/// One text-parameter query; its rows as strings ("" for NULL).
inline std::vector<std::vector<std::string>> select_rows(PGconn* c, const char* sql,
                                                         const std::vector<std::string>& args) {
    std::vector<const char*> values;
    for (const auto& a : args) values.push_back(a.c_str());
    pq_result r(PQexecParams(c, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0),
                &PQclear);
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK)
        throw tool_error(std::string("catalog query failed: ") + PQresultErrorMessage(r.get()));
    std::vector<std::vector<std::string>> rows;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        std::vector<std::string> row;
        for (int j = 0; j < PQnfields(r.get()); ++j) row.emplace_back(PQgetvalue(r.get(), i, j));
        rows.push_back(std::move(row));
    }
    return rows;
}

/// Type facts from pg_type, cached per OID; domains become their base type.
class type_catalog {
public:
    explicit type_catalog(PGconn* c) : c_(c) {}

    type_ref get(std::uint32_t oid) {
        if (auto it = cache_.find(oid); it != cache_.end()) return it->second;
        std::uint32_t base = 0;
        type_ref t = scalar(oid, base);
        if (t.category == 'a') {
            auto rows = select_rows(c_, "select typelem from pg_type where oid = $1::oid", {std::to_string(base)});
            std::uint32_t unused = 0;
            type_ref e = scalar(static_cast<std::uint32_t>(std::stoul(rows.at(0).at(0))), unused);
            t.element_oid = e.oid;
            t.element_name = e.name;
            t.element_category = e.category;
        }
        cache_.emplace(oid, t);
        return t;
    }

private:
    /// `base`: the OID after domains. The type_ref keeps built-in OIDs only: a user type's
    /// OID differs from database to database (it is known by name).
    type_ref scalar(std::uint32_t oid, std::uint32_t& base) {
        // Down through domains to the base type; pgcoro reads and sends that.
        for (int depth = 0; depth < 32; ++depth) {
            auto rows = select_rows(c_,
                                    "select format_type(oid, null), typtype, typcategory, typbasetype "
                                    "from pg_type where oid = $1::oid",
                                    {std::to_string(oid)});
            if (rows.empty()) throw tool_error("type OID " + std::to_string(oid) + " is not in pg_type");
            const auto& r = rows[0];
            if (r[1] == "d") {
                oid = static_cast<std::uint32_t>(std::stoul(r[3]));
                continue;
            }
            type_ref t;
            base = oid;
            t.oid = oid < first_user_oid ? oid : 0;
            t.name = r[0];
            char typtype = r[1].empty() ? 'b' : r[1][0];
            t.category = r[2] == "A" ? 'a' : typtype;
            return t;
        }
        throw tool_error("type OID " + std::to_string(oid) + ": domains nested too deep");
    }

    PGconn* c_;
    std::map<std::uint32_t, type_ref> cache_;
};

inline std::string server_error(const query_def& q, PGresult* r) {
    auto field = [&](int code) {
        const char* v = PQresultErrorField(r, code);
        return std::string(v ? v : "");
    };
    std::string pos = field(PG_DIAG_STATEMENT_POSITION);
    std::string at = pos.empty() ? locate_in_file(q, 0) : locate_in_file(q, std::stoi(pos));
    std::string msg = at + ": error: `" + q.name + "`: " + field(PG_DIAG_MESSAGE_PRIMARY);
    std::string state = field(PG_DIAG_SQLSTATE);
    if (!state.empty()) msg += " (SQLSTATE " + state + ")";
    if (auto d = field(PG_DIAG_MESSAGE_DETAIL); !d.empty()) msg += "\n  detail: " + d;
    if (auto h = field(PG_DIAG_MESSAGE_HINT); !h.empty()) msg += "\n  hint: " + h;
    return msg;
}

}  // namespace detail

/// Describes every statement on `c` (a database with the migrations applied). Every
/// statement that does not prepare is reported (all of them, one per line block) in the
/// tool_error thrown.
inline std::vector<query_desc> describe_all(PGconn* c, const std::vector<query_def>& defs) {
    exec_checked(c, "set plan_cache_mode = force_generic_plan");
    detail::type_catalog types(c);
    std::vector<query_desc> out;
    std::string errors;
    for (const auto& q : defs) {
        pq_result prep(PQprepare(c, "pgcoro_queries", q.sql.c_str(), 0, nullptr), &PQclear);
        if (PQresultStatus(prep.get()) != PGRES_COMMAND_OK) {
            errors += detail::server_error(q, prep.get()) + "\n";
            continue;
        }
        pq_result d(PQdescribePrepared(c, "pgcoro_queries"), &PQclear);
        if (PQresultStatus(d.get()) != PGRES_COMMAND_OK)
            throw tool_error(q.file + ": describing `" + q.name + "` failed: " + PQresultErrorMessage(d.get()));
        query_desc qd;
        qd.name = q.name;
        qd.kind = q.kind;
        qd.source = q.source;
        qd.line = q.line;
        qd.sql = q.sql;
        int np = PQnparams(d.get());
        if (q.params_given && static_cast<int>(q.params.size()) != np) {
            errors += q.file + ":" + std::to_string(q.line) + ":1: error: `" + q.name + "` names " +
                      std::to_string(q.params.size()) + " parameter(s), the statement has " + std::to_string(np) + "\n";
            pq_result(PQexec(c, "deallocate pgcoro_queries"), &PQclear);
            continue;
        }
        for (int i = 0; i < np; ++i) {
            param_desc p;
            if (q.params_given) {
                p.name = q.params[static_cast<std::size_t>(i)].name;
                p.optional = q.params[static_cast<std::size_t>(i)].optional;
            } else {
                p.name = "p" + std::to_string(i + 1);
            }
            p.type = types.get(PQparamtype(d.get(), i));
            qd.params.push_back(std::move(p));
        }
        // The generic plan, for outer joins (a statement without a plan: all unsure).
        plan_facts plan;
        if (PQnfields(d.get()) > 0) {
            std::string explain = "explain (verbose, format json) execute pgcoro_queries";
            if (np > 0) {
                explain += "(";
                for (int i = 0; i < np; ++i) explain += i ? ", null" : "null";
                explain += ")";
            }
            pq_result e(PQexec(c, explain.c_str()), &PQclear);
            if (PQresultStatus(e.get()) == PGRES_TUPLES_OK && PQntuples(e.get()) == 1)
                plan = read_plan(PQgetvalue(e.get(), 0, 0));
        }
        for (int i = 0; i < PQnfields(d.get()); ++i) {
            column_desc col;
            std::string name = PQfname(d.get(), i);
            char mark = nullability_mark(name);
            if (mark) name.pop_back();
            col.name = name;
            col.type = types.get(PQftype(d.get(), i));
            Oid table = PQftable(d.get(), i);
            int attnum = PQftablecol(d.get(), i);
            bool not_null_column = false;
            if (table != InvalidOid && attnum > 0) {
                // NOT NULL that holds for every row: a table's (not a view's, whose columns
                // report the view; not a foreign table's, which nothing enforces), and not a
                // NOT VALID constraint (PostgreSQL 18: attnotnull is set, old rows may be NULL).
                auto rows = detail::select_rows(
                    c,
                    "select a.attrelid::regclass::text, a.attname, "
                    "       a.attnotnull and c.relkind in ('r', 'p') and not exists ("
                    "           select 1 from pg_constraint k where k.conrelid = a.attrelid and k.contype = 'n' "
                    "           and not k.convalidated and a.attnum = any (k.conkey)) "
                    "from pg_attribute a join pg_class c on c.oid = a.attrelid "
                    "where a.attrelid = $1::oid and a.attnum = $2::int2",
                    {std::to_string(table), std::to_string(attnum)});
                if (!rows.empty()) {
                    col.origin = rows[0][0] + "." + rows[0][1];
                    not_null_column = rows[0][2] == "t";
                }
            }
            col.nullable = !(not_null_column && output_is_direct(plan, static_cast<std::size_t>(i)));
            if (mark == '!') col.nullable = false;
            if (mark == '?') col.nullable = true;
            qd.columns.push_back(std::move(col));
        }
        pq_result(PQexec(c, "deallocate pgcoro_queries"), &PQclear);
        out.push_back(std::move(qd));
    }
    if (!errors.empty()) {
        errors.pop_back();
        throw tool_error(errors);
    }
    return out;
}

}  // namespace pgcoro_tools::queries

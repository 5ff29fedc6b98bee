// tools/diff/catalog_tables.hpp — reads one database's schema into a diff::model (the
// tables, enums and sequences here; the rest in catalog.hpp), through the
// server's own deparsers (pg_get_indexdef, pg_get_constraintdef, pg_get_viewdef,
// pg_get_functiondef, pg_get_triggerdef, pg_get_expr, format_type), so what is compared
// and what is written back is exactly what PostgreSQL would print. Synchronous libpq: a
// command-line tool's work on a throwaway database.
//
// Left out: pg_catalog, information_schema, pg_toast, extensions' members, pgcoro's
// history tables, owners and grants (per cluster, not per schema file). Object kinds the
// planner does not handle (domains, partitioning, ...) are listed by unsupported(), so the
// tool refuses them by name rather than writing a draft that silently misses them.
#pragma once

#include "common/throwaway.hpp"
#include "diff/model.hpp"

#include <libpq-fe.h>

#include <map>
#include <string>
#include <vector>

namespace pgcoro_tools::diff {

namespace detail {

/// User schemas, extension members, and the relations looked at ($1, $2: the history
/// tables' names, plain or qualified, which are left out).
inline constexpr const char* catalog_cte = R"(with ns as (
  select n.oid, n.nspname from pg_namespace n
  where n.nspname !~ '^pg_' and n.nspname <> 'information_schema'
    and not exists (select 1 from pg_depend d where d.classid = 'pg_namespace'::regclass and d.objid = n.oid
                    and d.deptype = 'e')),
ext as (select d.classid, d.objid from pg_depend d where d.deptype = 'e'),
rels as (
  select c.oid, c.relkind, format('%I.%I', ns.nspname, c.relname) as qname
  from pg_class c join ns on ns.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'v', 'm', 'f')
    and not exists (select 1 from ext where ext.classid = 'pg_class'::regclass and ext.objid = c.oid)
    and not (c.relkind = 'r' and (c.relname in ($1, $2) or ns.nspname || '.' || c.relname in ($1, $2))))
)";

class reader {
public:
    reader(PGconn* c, std::string history, std::string seeds) : c_(c), history_(std::move(history)), seeds_(std::move(seeds)) {}

    pq_result run(const std::string& body) {
        std::string sql = std::string(catalog_cte) + body;
        const char* params[2] = {history_.c_str(), seeds_.c_str()};
        pq_result r(PQexecParams(c_, sql.c_str(), 2, nullptr, params, nullptr, nullptr, 0), &PQclear);
        if (PQresultStatus(r.get()) != PGRES_TUPLES_OK)
            throw tool_error(std::string("reading the catalog failed: ") + PQresultErrorMessage(r.get()));
        return r;
    }

private:
    PGconn* c_;
    std::string history_, seeds_;
};

struct rows {
    PGresult* r;
    int count() const { return PQntuples(r); }
    std::string s(int row, int col) const { return PQgetvalue(r, row, col); }
    bool b(int row, int col) const { return *PQgetvalue(r, row, col) == 't'; }
    std::int64_t i(int row, int col) const { return std::stoll(PQgetvalue(r, row, col)); }
    char ch(int row, int col) const { return *PQgetvalue(r, row, col); }
    bool null(int row, int col) const { return PQgetisnull(r, row, col) != 0; }
};

/// Lines of a newline-joined list.
inline std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < s.size()) {
        auto nl = s.find('\n', at);
        if (nl == std::string::npos) nl = s.size();
        if (nl > at) out.push_back(s.substr(at, nl - at));
        at = nl + 1;
    }
    return out;
}

inline std::string strip_semicolon(std::string s) {
    while (!s.empty() && (s.back() == ';' || s.back() == ' ' || s.back() == '\n')) s.pop_back();
    return s;
}

inline std::string with_options(const std::string& options) {
    return options.empty() ? "" : " WITH (" + options + ")";
}

inline void read_tables(reader& q, model& m) {
    auto t = q.run(R"(select c.oid, r.qname, c.relpersistence, coalesce(array_to_string(c.reloptions, ', '), ''),
  c.relrowsecurity, c.relforcerowsecurity, coalesce(obj_description(c.oid, 'pg_class'), '')
from rels r join pg_class c on c.oid = r.oid where r.relkind = 'r' order by c.oid)");
    rows tr{t.get()};
    std::map<std::string, std::size_t> by_oid;
    for (int i = 0; i < tr.count(); ++i) {
        table x;
        x.order = tr.i(i, 0);
        x.name = tr.s(i, 1);
        x.persistence = tr.ch(i, 2);
        x.options = tr.s(i, 3);
        x.row_security = tr.b(i, 4);
        x.force_row_security = tr.b(i, 5);
        x.comment = tr.s(i, 6);
        by_oid[tr.s(i, 0)] = m.tables.size();
        m.tables.push_back(std::move(x));
    }
    auto c = q.run(R"(select a.attrelid, format('%I', a.attname), format_type(a.atttypid, a.atttypmod),
  coalesce((select format('%I.%I', cn.nspname, co.collname) from pg_collation co
            join pg_namespace cn on cn.oid = co.collnamespace
            where co.oid = a.attcollation and a.attcollation <> t.typcollation), ''),
  coalesce(pg_get_expr(ad.adbin, ad.adrelid), ''), a.attgenerated, a.attnotnull, a.attidentity,
  coalesce(col_description(a.attrelid, a.attnum), ''), a.attnum,
  case when sc.oid is not null then format('%I.%I', sn.nspname, sc.relname) else '' end,
  coalesce(format_type(s.seqtypid, null), ''), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle
from rels r join pg_attribute a on a.attrelid = r.oid
join pg_type t on t.oid = a.atttypid
left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
left join lateral (select sc.oid, sc.relname, sc.relnamespace from pg_depend d join pg_class sc on sc.oid = d.objid
                   where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass
                     and d.refobjid = a.attrelid and d.refobjsubid = a.attnum and d.deptype = 'i'
                     and sc.relkind = 'S' limit 1) sc on a.attidentity <> ''
left join pg_namespace sn on sn.oid = sc.relnamespace
left join pg_sequence s on s.seqrelid = sc.oid
where r.relkind = 'r' and a.attnum > 0 and not a.attisdropped
order by a.attrelid, a.attnum)");
    rows cr{c.get()};
    for (int i = 0; i < cr.count(); ++i) {
        auto it = by_oid.find(cr.s(i, 0));
        if (it == by_oid.end()) continue;
        column col;
        col.name = cr.s(i, 1);
        col.type = cr.s(i, 2);
        col.collation = cr.s(i, 3);
        (cr.ch(i, 5) == 's' ? col.generated : col.default_expr) = cr.s(i, 4);
        col.not_null = cr.b(i, 6);
        col.identity = cr.ch(i, 7);
        col.comment = cr.s(i, 8);
        col.position = static_cast<int>(cr.i(i, 9));
        if (col.identity && !cr.null(i, 12)) {
            col.identity_sequence = cr.s(i, 10);
            auto& o = col.identity_options;
            o.type = cr.s(i, 11);
            o.start = cr.i(i, 12);
            o.increment = cr.i(i, 13);
            o.min = cr.i(i, 14);
            o.max = cr.i(i, 15);
            o.cache = cr.i(i, 16);
            o.cycle = cr.b(i, 17);
        }
        m.tables[it->second].columns.push_back(std::move(col));
    }
}

inline void read_types_and_sequences(reader& q, model& m) {
    auto e = q.run(R"(select t.oid, format('%I.%I', ns.nspname, t.typname), coalesce(obj_description(t.oid, 'pg_type'), '')
from pg_type t join ns on ns.oid = t.typnamespace
where t.typtype = 'e' and not exists (select 1 from ext where ext.classid = 'pg_type'::regclass and ext.objid = t.oid)
order by t.oid)");
    rows er{e.get()};
    std::map<std::string, std::size_t> by_oid;
    for (int i = 0; i < er.count(); ++i) {
        by_oid[er.s(i, 0)] = m.enums.size();
        m.enums.push_back(enum_type{er.s(i, 1), {}, er.s(i, 2), er.i(i, 0)});
    }
    // Labels one per row (no array parsing).
    auto l = q.run(R"(select e.enumtypid, e.enumlabel from pg_enum e order by e.enumtypid, e.enumsortorder)");
    rows lr{l.get()};
    for (int i = 0; i < lr.count(); ++i)
        if (auto it = by_oid.find(lr.s(i, 0)); it != by_oid.end()) m.enums[it->second].labels.push_back(lr.s(i, 1));

    // Sequences: standalone and serial-owned; identity sequences belong to their columns,
    // and those of tables left out (the history tables) are left out with them.
    auto s = q.run(R"(select c.oid, format('%I.%I', ns.nspname, c.relname), format_type(s.seqtypid, null), s.seqstart,
  s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle, coalesce(o.tbl, ''), coalesce(o.col, ''),
  coalesce(obj_description(c.oid, 'pg_class'), '')
from pg_class c join pg_sequence s on s.seqrelid = c.oid join ns on ns.oid = c.relnamespace
left join lateral (select tr.qname as tbl, format('%I', a.attname) as col from pg_depend d
                   join rels tr on tr.oid = d.refobjid
                   join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
                   where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.refclassid = 'pg_class'::regclass
                     and d.deptype = 'a' limit 1) o on true
where c.relkind = 'S'
  and not exists (select 1 from ext where ext.classid = 'pg_class'::regclass and ext.objid = c.oid)
  and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid
                  and d.refclassid = 'pg_class'::regclass
                  and (d.deptype = 'i' or (d.deptype = 'a' and d.refobjid not in (select oid from rels))))
order by c.oid)");
    rows sr{s.get()};
    for (int i = 0; i < sr.count(); ++i) {
        sequence x;
        x.order = sr.i(i, 0);
        x.name = sr.s(i, 1);
        x.options = {sr.s(i, 2), sr.i(i, 3), sr.i(i, 4), sr.i(i, 5), sr.i(i, 6), sr.i(i, 7), sr.b(i, 8)};
        x.owned_by_table = sr.s(i, 9);
        if (!x.owned_by_table.empty()) x.owned_by = x.owned_by_table + "." + sr.s(i, 10);
        x.comment = sr.s(i, 11);
        m.sequences.push_back(std::move(x));
    }
}

}  // namespace detail

/// Object kinds in the database that diff does not compare, as "kind name" lines.
inline std::vector<std::string> unsupported(PGconn* c, const std::string& history, const std::string& seeds) {
    detail::reader q(c, history, seeds);
    auto r = q.run(R"(, types as (
  select t.oid, t.typtype, t.typrelid, format('%I.%I', ns.nspname, t.typname) as qname from pg_type t
  join ns on ns.oid = t.typnamespace
  where not exists (select 1 from ext where ext.classid = 'pg_type'::regclass and ext.objid = t.oid))
select kind || ' ' || name from (
  select 'domain' as kind, qname as name from types where typtype = 'd'
  union all select 'range type', qname from types where typtype = 'r'
  union all select 'composite type', qname from types t
    where typtype = 'c' and exists (select 1 from pg_class c where c.oid = t.typrelid and c.relkind = 'c')
  union all select case r.relkind when 'p' then 'partitioned table' else 'foreign table' end, r.qname
    from rels r where r.relkind in ('p', 'f')
  union all select 'partition or inheriting table', r.qname from rels r join pg_inherits i on i.inhrelid = r.oid
  union all select 'aggregate', format('%I.%I', ns.nspname, p.proname) from pg_proc p join ns on ns.oid = p.pronamespace
    where p.prokind in ('a', 'w') and not exists (select 1 from ext where ext.classid = 'pg_proc'::regclass and ext.objid = p.oid)
  union all select 'rule', format('%I on %s', rw.rulename, r.qname) from pg_rewrite rw join rels r on r.oid = rw.ev_class
    where rw.rulename <> '_RETURN'
  union all select 'collation', format('%I.%I', ns.nspname, co.collname) from pg_collation co join ns on ns.oid = co.collnamespace
    where not exists (select 1 from ext where ext.classid = 'pg_collation'::regclass and ext.objid = co.oid)
  union all select 'statistics object', format('%I.%I', ns.nspname, st.stxname) from pg_statistic_ext st
    join ns on ns.oid = st.stxnamespace
  union all select 'operator', format('%s.%s', ns.nspname, o.oprname) from pg_operator o join ns on ns.oid = o.oprnamespace
    where not exists (select 1 from ext where ext.classid = 'pg_operator'::regclass and ext.objid = o.oid)
  union all select 'operator class', format('%I.%I', ns.nspname, o.opcname) from pg_opclass o join ns on ns.oid = o.opcnamespace
    where not exists (select 1 from ext where ext.classid = 'pg_opclass'::regclass and ext.objid = o.oid)
  union all select 'operator family', format('%I.%I', ns.nspname, o.opfname) from pg_opfamily o join ns on ns.oid = o.opfnamespace
    where not exists (select 1 from ext where ext.classid = 'pg_opfamily'::regclass and ext.objid = o.oid)
  union all select 'text search configuration', format('%I.%I', ns.nspname, c.cfgname) from pg_ts_config c
    join ns on ns.oid = c.cfgnamespace
    where not exists (select 1 from ext where ext.classid = 'pg_ts_config'::regclass and ext.objid = c.oid)
  union all select 'text search dictionary', format('%I.%I', ns.nspname, d.dictname) from pg_ts_dict d
    join ns on ns.oid = d.dictnamespace
    where not exists (select 1 from ext where ext.classid = 'pg_ts_dict'::regclass and ext.objid = d.oid)
  union all select 'conversion', format('%I.%I', ns.nspname, c.conname) from pg_conversion c join ns on ns.oid = c.connamespace
    where not exists (select 1 from ext where ext.classid = 'pg_conversion'::regclass and ext.objid = c.oid)
  union all select 'event trigger', format('%I', e.evtname) from pg_event_trigger e
    where not exists (select 1 from ext where ext.classid = 'pg_event_trigger'::regclass and ext.objid = e.oid)
  union all select 'publication', format('%I', p.pubname) from pg_publication p
) x order by 1)");
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(PQgetvalue(r.get(), i, 0));
    return out;
}

}  // namespace pgcoro_tools::diff

// tools/diff/catalog.hpp — reads one database's schema into a diff::model: tables, enums
// and sequences (catalog_tables.hpp), then everything compared by definition (schemas,
// extensions, functions, views, constraints, indexes, triggers, policies), each with
// the statements that create, drop or replace it, written by the server's deparsers.
#pragma once

#include "diff/catalog_tables.hpp"

namespace pgcoro_tools::diff {

namespace detail {

inline void read_namespaces(reader& q, model& m) {
    auto s = q.run(R"(select ns.oid, format('%I', ns.nspname), coalesce(obj_description(ns.oid, 'pg_namespace'), '')
from ns order by ns.oid)");
    rows r{s.get()};
    for (int i = 0; i < r.count(); ++i) {
        object o = make_object(kind::schema, r.s(i, 1));
        o.create = "CREATE SCHEMA " + o.key + ";";
        o.drop = "DROP SCHEMA " + o.key + ";";
        o.comment_target = "SCHEMA " + o.key;
        o.comment = r.s(i, 2);
        o.order = r.i(i, 0);
        m.objects.push_back(std::move(o));
    }
    auto e = q.run(R"(select e.oid, format('%I', e.extname), format('%I', n.nspname),
  coalesce(obj_description(e.oid, 'pg_extension'), '')
from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname <> 'plpgsql' order by e.oid)");
    rows er{e.get()};
    for (int i = 0; i < er.count(); ++i) {
        object o = make_object(kind::extension, er.s(i, 1));
        o.create = "CREATE EXTENSION IF NOT EXISTS " + o.key + " WITH SCHEMA " + er.s(i, 2) + ";";
        o.drop = "DROP EXTENSION " + o.key + ";";
        o.replace = "ALTER EXTENSION " + o.key + " SET SCHEMA " + er.s(i, 2) + ";";
        o.definition = er.s(i, 2);
        o.comment_target = "EXTENSION " + o.key;
        o.comment = er.s(i, 3);
        o.order = er.i(i, 0);
        m.objects.push_back(std::move(o));
    }
}

inline void read_functions(reader& q, model& m) {
    // "late": its signature uses a table's row type (or an array of one), or its
    // SQL-standard body reads a relation, so it is created after tables and views.
    // Keyed by name and argument types (regprocedure, qualified under the empty search_path):
    // a renamed parameter is the same function with another shape, dropped and created.
    auto f = q.run(R"(select p.oid, p.oid::regprocedure::text,
  p.prokind, pg_get_functiondef(p.oid), pg_get_function_arguments(p.oid), coalesce(pg_get_function_result(p.oid), ''),
  coalesce(obj_description(p.oid, 'pg_proc'), ''),
  exists (select 1 from pg_depend d left join pg_type t on d.refclassid = 'pg_type'::regclass and t.oid = d.refobjid
          where d.classid = 'pg_proc'::regclass and d.objid = p.oid
            and (d.refclassid = 'pg_class'::regclass or t.typrelid <> 0
                 or exists (select 1 from pg_type e where e.oid = t.typelem and e.typrelid <> 0)))
from pg_proc p join ns on ns.oid = p.pronamespace
where p.prokind in ('f', 'p') and not exists (select 1 from ext where ext.classid = 'pg_proc'::regclass and ext.objid = p.oid)
order by p.oid)");
    rows r{f.get()};
    for (int i = 0; i < r.count(); ++i) {
        object o = make_object(kind::function, r.s(i, 1));
        std::string what = r.ch(i, 2) == 'p' ? "PROCEDURE " : "FUNCTION ";
        o.definition = strip_semicolon(r.s(i, 3));
        o.create = o.definition + ";";
        o.replace = o.create;  // pg_get_functiondef writes CREATE OR REPLACE
        o.drop = "DROP " + what + o.key + ";";
        // CREATE OR REPLACE cannot rename parameters, drop defaults or change the result.
        o.shape = what + r.s(i, 4) + " -> " + r.s(i, 5) + "\n";
        o.comment_target = what + o.key;
        o.comment = r.s(i, 6);
        o.late = r.b(i, 7);
        o.order = r.i(i, 0);
        m.objects.push_back(std::move(o));
    }
}

inline void read_views(reader& q, model& m) {
    auto v = q.run(R"(select c.oid, r.qname, c.relkind, pg_get_viewdef(c.oid, true),
  coalesce(array_to_string(c.reloptions, ', '), ''), coalesce(obj_description(c.oid, 'pg_class'), ''),
  coalesce((select string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), E'\n' order by a.attnum)
            from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), ''),
  coalesce((select string_agg(distinct dr.qname, E'\n') from pg_rewrite rw
            join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = rw.oid
                            and d.refclassid = 'pg_class'::regclass
            join rels dr on dr.oid = d.refobjid
            where rw.ev_class = c.oid and d.refobjid <> c.oid), '')
from rels r join pg_class c on c.oid = r.oid where r.relkind in ('v', 'm') order by c.oid)");
    rows r{v.get()};
    for (int i = 0; i < r.count(); ++i) {
        object o = make_object(kind::view, r.s(i, 1));
        bool mat = r.ch(i, 2) == 'm';
        std::string body = strip_semicolon(r.s(i, 3));
        std::string opts = with_options(r.s(i, 4));
        o.definition = (mat ? "materialized" : "view") + opts + "\n" + body;
        if (mat) {
            o.create = "CREATE MATERIALIZED VIEW " + o.key + opts + " AS\n" + body + "\n  WITH DATA;";
            o.drop = "DROP MATERIALIZED VIEW " + o.key + ";";
        } else {
            o.create = "CREATE VIEW " + o.key + opts + " AS\n" + body + ";";
            o.replace = "CREATE OR REPLACE VIEW " + o.key + opts + " AS\n" + body + ";";
            o.drop = "DROP VIEW " + o.key + ";";
            o.shape = r.s(i, 6) + "\n";
        }
        o.comment_target = (mat ? "MATERIALIZED VIEW " : "VIEW ") + o.key;
        o.comment = r.s(i, 5);
        o.depends_on = lines_of(r.s(i, 7));
        o.order = r.i(i, 0);
        m.objects.push_back(std::move(o));
    }
}

inline void read_table_parts(reader& q, model& m) {
    auto k = q.run(R"(select k.oid, r.qname, format('%I', k.conname), k.contype, pg_get_constraintdef(k.oid),
  coalesce(obj_description(k.oid, 'pg_constraint'), ''), coalesce(fr.qname, '')
from pg_constraint k join rels r on r.oid = k.conrelid left join rels fr on fr.oid = k.confrelid
where k.contype in ('p', 'u', 'f', 'c', 'x') and k.conislocal order by k.oid)");
    rows kr{k.get()};
    for (int i = 0; i < kr.count(); ++i) {
        std::string table = kr.s(i, 1), name = kr.s(i, 2);
        object o = make_object(kr.ch(i, 3) == 'f' ? kind::foreign_key : kind::constraint, table + "." + name, table);
        o.definition = kr.s(i, 4);
        o.create = "ALTER TABLE " + table + " ADD CONSTRAINT " + name + " " + o.definition + ";";
        o.drop = "ALTER TABLE " + table + " DROP CONSTRAINT " + name + ";";
        o.comment_target = "CONSTRAINT " + name + " ON " + table;
        o.comment = kr.s(i, 5);
        if (!kr.s(i, 6).empty()) o.depends_on.push_back(kr.s(i, 6));
        o.order = kr.i(i, 0);
        m.objects.push_back(std::move(o));
    }
    // Indexes of their own (those of primary key, unique and exclusion constraints come
    // with the constraint).
    auto x = q.run(R"(select i.indexrelid, format('%I.%I', n.nspname, ic.relname), r.qname, pg_get_indexdef(i.indexrelid),
  coalesce(obj_description(i.indexrelid, 'pg_class'), ''), r.relkind = 'm'
from pg_index i join rels r on r.oid = i.indrelid join pg_class ic on ic.oid = i.indexrelid
join pg_namespace n on n.oid = ic.relnamespace
where not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.conrelid = i.indrelid
                  and k.contype in ('p', 'u', 'x'))
order by i.indexrelid)");
    rows xr{x.get()};
    for (int i = 0; i < xr.count(); ++i) {
        object o = make_object(kind::index, xr.s(i, 1), xr.s(i, 2));
        o.definition = xr.s(i, 3);
        o.create = o.definition + ";";
        o.drop = "DROP INDEX " + o.key + ";";
        o.comment_target = "INDEX " + o.key;
        o.comment = xr.s(i, 4);
        o.late = xr.b(i, 5);  // on a materialized view: made after it
        o.order = xr.i(i, 0);
        m.objects.push_back(std::move(o));
    }
    auto t = q.run(R"(select t.oid, r.qname, format('%I', t.tgname), pg_get_triggerdef(t.oid), t.tgenabled,
  coalesce(obj_description(t.oid, 'pg_trigger'), '')
from pg_trigger t join rels r on r.oid = t.tgrelid where not t.tgisinternal order by t.oid)");
    rows tr{t.get()};
    for (int i = 0; i < tr.count(); ++i) {
        std::string table = tr.s(i, 1), name = tr.s(i, 2);
        object o = make_object(kind::trigger, table + "." + name, table);
        o.create = tr.s(i, 3) + ";";
        switch (tr.ch(i, 4)) {  // 'O': enabled (the default)
        case 'D': o.create += "\nALTER TABLE " + table + " DISABLE TRIGGER " + name + ";"; break;
        case 'R': o.create += "\nALTER TABLE " + table + " ENABLE REPLICA TRIGGER " + name + ";"; break;
        case 'A': o.create += "\nALTER TABLE " + table + " ENABLE ALWAYS TRIGGER " + name + ";"; break;
        default: break;
        }
        o.definition = o.create;
        o.drop = "DROP TRIGGER " + name + " ON " + table + ";";
        o.comment_target = "TRIGGER " + name + " ON " + table;
        o.comment = tr.s(i, 5);
        o.order = tr.i(i, 0);
        m.objects.push_back(std::move(o));
    }
    auto p = q.run(R"(select p.oid, r.qname, format('%I', p.polname),
  case when p.polpermissive then 'PERMISSIVE' else 'RESTRICTIVE' end,
  case p.polcmd when 'r' then 'SELECT' when 'a' then 'INSERT' when 'w' then 'UPDATE' when 'd' then 'DELETE' else 'ALL' end,
  case when p.polroles = '{0}'::oid[] then 'PUBLIC'
       else (select string_agg(quote_ident(a.rolname), ', ' order by a.rolname) from pg_roles a
             where a.oid = any (p.polroles)) end,
  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid),
  coalesce(obj_description(p.oid, 'pg_policy'), '')
from pg_policy p join rels r on r.oid = p.polrelid order by p.oid)");
    rows pr{p.get()};
    for (int i = 0; i < pr.count(); ++i) {
        std::string table = pr.s(i, 1), name = pr.s(i, 2);
        object o = make_object(kind::policy, table + "." + name, table);
        o.create = "CREATE POLICY " + name + " ON " + table + "\n    AS " + pr.s(i, 3) + " FOR " + pr.s(i, 4) +
                   " TO " + pr.s(i, 5);
        if (!pr.null(i, 6)) o.create += "\n    USING (" + pr.s(i, 6) + ")";
        if (!pr.null(i, 7)) o.create += "\n    WITH CHECK (" + pr.s(i, 7) + ")";
        o.create += ";";
        o.definition = o.create;
        o.drop = "DROP POLICY " + name + " ON " + table + ";";
        o.comment_target = "POLICY " + name + " ON " + table;
        o.comment = pr.s(i, 8);
        o.order = pr.i(i, 0);
        m.objects.push_back(std::move(o));
    }
}

}  // namespace detail

/// The schema of the database `c` is connected to; `history` and `seeds` name pgcoro's
/// history tables, which are left out. Names come schema-qualified.
inline model read_model(PGconn* c, const std::string& history, const std::string& seeds) {
    // As pg_dump does: with an empty search_path the deparsers qualify every name, so the
    // draft means the same whatever search_path the migrator runs with.
    exec_checked(c, "set search_path = ''");
    struct reset {
        PGconn* c;
        ~reset() { pq_result(PQexec(c, "reset search_path"), &PQclear); }
    } reset_path{c};
    detail::reader q(c, history, seeds);
    model m;
    detail::read_tables(q, m);
    detail::read_types_and_sequences(q, m);
    detail::read_namespaces(q, m);
    detail::read_functions(q, m);
    detail::read_views(q, m);
    detail::read_table_parts(q, m);
    return m;
}

}  // namespace pgcoro_tools::diff

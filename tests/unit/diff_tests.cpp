// The schema-diff planner (tools/diff/plan.hpp) on hand-made models: dependency order,
// what is commented out, what gets a REVIEW, what is altered in place and what is built
// again. No server; tests/diff/run_cases.sh runs the tool against real databases.
#include "catch.hpp"

#include "diff/plan.hpp"

#include <string>

using namespace pgcoro_tools::diff;

namespace {

column col(std::string name, std::string type, bool not_null = false, std::string def = {}) {
    column c;
    c.name = std::move(name);
    c.type = std::move(type);
    c.not_null = not_null;
    c.default_expr = std::move(def);
    return c;
}

table tbl(std::string name, std::vector<column> cols, std::int64_t order) {
    table t;
    t.name = std::move(name);
    int pos = 0;
    for (auto& c : cols) c.position = ++pos;
    t.columns = std::move(cols);
    t.order = order;
    return t;
}

object obj(kind k, std::string key, std::string owner, std::string create, std::string drop, std::int64_t order) {
    object o;
    o.kind = k;
    o.key = std::move(key);
    o.owner = std::move(owner);
    o.create = create;
    o.definition = std::move(create);
    o.drop = std::move(drop);
    o.order = order;
    return o;
}

/// Rendered text with wrapped comment lines joined again (so a phrase can be searched).
std::string flat(std::string text) {
    for (std::size_t p; (p = text.find("\n--   ")) != std::string::npos;) text.replace(p, 6, " ");
    return text;
}

std::string up(const model& from, const model& to, bool allow = false) { return flat(render(plan(from, to), allow).text); }

std::size_t at(const std::string& text, const std::string& needle) {
    auto p = text.find(needle);
    INFO(text);
    INFO("looking for: " << needle);
    REQUIRE(p != std::string::npos);
    return p;
}

}  // namespace

TEST_CASE("diff: new objects come in dependency order", "[diff]") {
    model to;
    to.tables.push_back(tbl("public.orders", {col("id", "bigint", true), col("tenant_id", "uuid", true)}, 20));
    to.tables.push_back(tbl("public.tenants", {col("id", "uuid", true, "public.uuidv7()")}, 10));
    auto f = obj(kind::function, "public.uuidv7()", "", "CREATE OR REPLACE FUNCTION public.uuidv7() ...",
                 "DROP FUNCTION public.uuidv7();", 5);
    f.comment_target = "FUNCTION public.uuidv7()";
    to.objects.push_back(f);
    to.objects.push_back(obj(kind::foreign_key, "public.orders.orders_tenant_fk", "public.orders",
                             "ALTER TABLE public.orders ADD CONSTRAINT orders_tenant_fk FOREIGN KEY ...;", "", 30));
    to.objects.push_back(obj(kind::constraint, "public.tenants.tenants_pkey", "public.tenants",
                             "ALTER TABLE public.tenants ADD CONSTRAINT tenants_pkey PRIMARY KEY (id);", "", 31));
    to.objects.push_back(obj(kind::index, "public.orders_tenant_idx", "public.orders",
                             "CREATE INDEX orders_tenant_idx ON public.orders (tenant_id);", "", 32));
    to.objects.push_back(obj(kind::policy, "public.orders.p", "public.orders", "CREATE POLICY p ON public.orders;", "", 33));
    to.objects.push_back(obj(kind::schema, "app", "", "CREATE SCHEMA app;", "", 40));
    auto text = up({}, to);
    auto set = at(text, "SET LOCAL check_function_bodies = false;");
    auto schema = at(text, "CREATE SCHEMA app;");
    auto func = at(text, "CREATE OR REPLACE FUNCTION public.uuidv7()");
    auto tenants = at(text, "CREATE TABLE public.tenants");
    auto orders = at(text, "CREATE TABLE public.orders");
    auto pkey = at(text, "ADD CONSTRAINT tenants_pkey");
    auto index = at(text, "CREATE INDEX orders_tenant_idx");
    auto fk = at(text, "ADD CONSTRAINT orders_tenant_fk");
    auto policy = at(text, "CREATE POLICY p");
    CHECK(set < schema);
    CHECK(schema < func);
    CHECK(func < tenants);
    CHECK(tenants < orders);  // the order the schema file made them
    CHECK(orders < pkey);
    CHECK(pkey < index);
    CHECK(index < fk);
    CHECK(fk < policy);
    CHECK(text.find("REVIEW") == std::string::npos);
    CHECK(at(text, "id uuid DEFAULT public.uuidv7() NOT NULL"));

    // The down file drops them again: keys and policies go with their tables; dropping
    // tables is destructive (commented out unless allowed; a down file is written allowed).
    auto back = plan(to, {});
    auto down = flat(render(back, true).text);
    CHECK(flat(render(back, true, file_kind::down).text).find("REVIEW") == std::string::npos);
    CHECK(down.find("DROP POLICY") == std::string::npos);
    CHECK(down.find("DROP CONSTRAINT") == std::string::npos);
    CHECK(at(down, "DROP TABLE public.orders;") < at(down, "DROP TABLE public.tenants;"));
    CHECK(at(down, "DROP TABLE public.tenants;") < at(down, "DROP FUNCTION public.uuidv7();"));
    CHECK(at(down, "REVIEW: drops FUNCTION public.uuidv7(): check that nothing outside"));
    auto guarded = render(back, false);
    guarded.text = flat(guarded.text);
    CHECK(guarded.commented_out == 3);  // and the function drop after them, held back with them
    CHECK(at(guarded.text, "-- DROP TABLE public.orders;"));
    CHECK(at(guarded.text, "-- REVIEW: drops table public.orders and every row in it."));
    CHECK(has_changes(back));
    CHECK_FALSE(has_changes(plan(to, to)));
}

TEST_CASE("diff: columns are altered in place, in an order that works", "[diff]") {
    model from, to;
    from.tables.push_back(tbl("public.t", {col("a", "integer"), col("b", "bigint", true, "0"), col("c", "text"),
                                           col("d", "character varying(10)")}, 1));
    to.tables.push_back(tbl("public.t", {col("a", "bigint", true), col("b", "integer", true, "1"), col("e", "text"),
                                         col("d", "character varying(20)"), col("f", "integer", true)}, 1));
    auto steps = plan(from, to);
    auto text = flat(render(steps, false).text);
    // integer -> bigint widens: no review; bigint -> integer narrows: commented out.
    CHECK(at(text, "ALTER TABLE public.t ALTER COLUMN a TYPE bigint;"));
    CHECK(at(text, "ALTER TABLE public.t ALTER COLUMN a SET NOT NULL;"));
    CHECK(at(text, "-- ALTER TABLE public.t ALTER COLUMN b TYPE integer;"));
    CHECK(at(text, "changes type from bigint to integer"));
    CHECK(at(text, "ALTER TABLE public.t ALTER COLUMN b DROP DEFAULT;") <
          at(text, "ALTER TABLE public.t ALTER COLUMN b SET DEFAULT 1;"));
    CHECK(at(text, "ALTER TABLE public.t ALTER COLUMN d TYPE character varying(20);"));
    // c -> e, both text: a rename, most likely.
    CHECK(at(text, "-- ALTER TABLE public.t DROP COLUMN c;"));
    CHECK(at(text, "RENAME COLUMN c TO e"));
    CHECK(at(text, "ALTER TABLE public.t ADD COLUMN e text;"));
    // NOT NULL without a default on a table that may have rows.
    CHECK(at(text, "NOT NULL without a default: fails while public.t has rows"));
    // e sits before d in the schema file, but is added at the end.
    CHECK(at(text, "PostgreSQL adds columns at the end: e comes after"));
    CHECK(render(steps, true).commented_out == 0);
    // A collation alone: a review, not destructive.
    model cf, ct;
    cf.tables.push_back(tbl("public.c", {col("s", "text")}, 1));
    ct = cf;
    ct.tables[0].columns[0].collation = "pg_catalog.\"C\"";
    auto coll = render(plan(cf, ct), false);
    CHECK(coll.commented_out == 0);
    CHECK(at(flat(coll.text), "changes collation from the default to pg_catalog.\"C\": its sort order"));
    CHECK(at(coll.text, "ALTER TABLE public.c ALTER COLUMN s TYPE text COLLATE pg_catalog.\"C\";"));

    CHECK(detail::widens("smallint", "integer"));
    CHECK(detail::widens("numeric(10,2)", "numeric(12,2)"));
    CHECK_FALSE(detail::widens("numeric(10,2)", "numeric(10,3)"));
    CHECK(detail::widens("numeric(10,2)", "numeric"));
    CHECK(detail::widens("character varying(10)", "text"));
    CHECK_FALSE(detail::widens("text", "character varying(10)"));
    CHECK_FALSE(detail::widens("character(2)", "character(3)"));
    CHECK_FALSE(detail::widens("integer", "smallint"));
}

TEST_CASE("diff: renames, enums, sequences and comments", "[diff]") {
    model from, to;
    from.tables.push_back(tbl("public.people", {col("id", "bigint", true), col("name", "text")}, 1));
    to.tables.push_back(tbl("public.persons", {col("id", "bigint", true), col("name", "text")}, 2));
    sequence s;
    s.name = "public.people_id_seq";
    s.owned_by_table = "public.people";
    s.owned_by = "public.people.id";
    from.sequences.push_back(s);
    from.enums.push_back({"public.state", {"new", "done"}, "", 3});
    to.enums.push_back({"public.state", {"new", "doing", "done", "gone"}, "states", 3});
    from.enums.push_back({"public.level", {"low", "high"}, "", 4});
    to.enums.push_back({"public.level", {"low", "top"}, "", 4});
    from.enums.push_back({"public.mood", {"a", "b", "c"}, "", 5});
    to.enums.push_back({"public.mood", {"c", "a"}, "", 5});
    auto text = up(from, to);
    CHECK(at(text, "looks like a rename of public.people to public.persons"));
    CHECK(at(text, "ALTER TABLE public.people RENAME TO persons;"));
    CHECK(text.find("DROP SEQUENCE") == std::string::npos);  // it goes with its table
    CHECK(at(text, "ALTER TYPE public.state ADD VALUE 'doing' AFTER 'new';") <
          at(text, "ALTER TYPE public.state ADD VALUE 'gone' AFTER 'done';"));
    CHECK(at(text, "COMMENT ON TYPE public.state IS 'states';"));
    CHECK(at(text, "ALTER TYPE public.level RENAME VALUE 'high' TO 'top';"));
    CHECK(at(text, "-- REVIEW: enum public.mood changes from ('a', 'b', 'c') to ('c', 'a')."));
    CHECK(text.find("ALTER TYPE public.mood") == std::string::npos);
    CHECK(has_changes(plan(from, to)));
    // A comment removed: IS NULL.
    CHECK(at(up(to, from), "COMMENT ON TYPE public.state IS NULL;"));
    // Literals are quoted.
    CHECK(sql_literal("it's") == "'it''s'");
}

TEST_CASE("diff: functions are replaced in place unless their shape changes; views are rebuilt", "[diff]") {
    model from, to;
    auto f1 = obj(kind::function, "public.f(integer)", "", "CREATE OR REPLACE FUNCTION public.f(x integer) body1", "DROP FUNCTION public.f(integer);", 1);
    f1.shape = "FUNCTION x integer -> integer\n";
    f1.replace = f1.create;
    auto f2 = f1;
    f2.create = f2.definition = f2.replace = "CREATE OR REPLACE FUNCTION public.f(x integer) body2";
    from.objects.push_back(f1);
    to.objects.push_back(f2);
    auto text = up(from, to);
    CHECK(at(text, "body2"));
    CHECK(text.find("DROP FUNCTION") == std::string::npos);
    auto f3 = f2;
    f3.shape = "FUNCTION x integer -> bigint\n";
    to.objects = {f3};
    text = up(from, to);
    CHECK(at(text, "DROP FUNCTION public.f(integer);") < at(text, "body2"));
    CHECK(at(text, "changes its parameters or result"));

    // A view reading a table whose column changes type is dropped before and made after.
    model vf, vt;
    vf.tables.push_back(tbl("public.t", {col("a", "integer")}, 1));
    vt.tables.push_back(tbl("public.t", {col("a", "bigint")}, 1));
    auto v = obj(kind::view, "public.v", "", "CREATE VIEW public.v AS SELECT a FROM t;", "DROP VIEW public.v;", 2);
    v.depends_on = {"public.t"};
    auto w = obj(kind::view, "public.w", "", "CREATE VIEW public.w AS SELECT a FROM v;", "DROP VIEW public.w;", 3);
    w.depends_on = {"public.v"};
    auto trig = obj(kind::trigger, "public.w.tr", "public.w", "CREATE TRIGGER tr INSTEAD OF INSERT ON public.w ...;",
                    "DROP TRIGGER tr ON public.w;", 4);
    for (auto* m : {&vf, &vt}) {
        m->objects.push_back(v);
        m->objects.push_back(w);
        m->objects.push_back(trig);
    }
    text = up(vf, vt);
    auto drop_w = at(text, "DROP VIEW public.w;");
    auto drop_v = at(text, "DROP VIEW public.v;");
    auto alter = at(text, "ALTER COLUMN a TYPE bigint");
    CHECK(drop_w < drop_v);  // newest first
    CHECK(drop_v < alter);
    CHECK(alter < at(text, "CREATE VIEW public.v"));
    CHECK(at(text, "CREATE VIEW public.v") < at(text, "CREATE VIEW public.w"));
    CHECK(at(text, "CREATE VIEW public.w") < at(text, "CREATE TRIGGER tr"));  // made again with its view
    CHECK(text.find("DROP TRIGGER") == std::string::npos);                    // went with it
    // A view changed where CREATE OR REPLACE can (columns only added) is replaced.
    auto v2 = v;
    v.shape = "a integer\n";
    v.replace = "CREATE OR REPLACE VIEW public.v AS SELECT a FROM t;";
    v2.shape = "a integer\nb integer\n";
    v2.replace = "CREATE OR REPLACE VIEW public.v AS SELECT a, 1 AS b FROM t;";
    v2.definition = "SELECT a, 1 AS b FROM t";
    model rf, rt;
    rf.objects = {v};
    rt.objects = {v2};
    text = up(rf, rt);
    CHECK(at(text, "CREATE OR REPLACE VIEW public.v AS SELECT a, 1 AS b FROM t;"));
    CHECK(text.find("DROP VIEW") == std::string::npos);
}

TEST_CASE("diff: review fixes (enum anchors, drop order, conversions, held drops, policies)", "[diff]") {
    // Values before the first old one, and into an enum without any.
    model ef, et;
    ef.enums.push_back({"public.e", {"c"}, "", 1});
    et.enums.push_back({"public.e", {"a", "b", "c"}, "", 1});
    ef.enums.push_back({"public.z", {}, "", 2});
    et.enums.push_back({"public.z", {"x"}, "", 2});
    auto text = up(ef, et);
    CHECK(at(text, "ALTER TYPE public.e ADD VALUE 'a' BEFORE 'c';") < at(text, "ALTER TYPE public.e ADD VALUE 'b' AFTER 'a';"));
    CHECK(at(text, "ALTER TYPE public.z ADD VALUE 'x';"));

    // Extensions (and every kind) are dropped newest first.
    model xf;
    xf.objects.push_back(obj(kind::extension, "cube", "", "CREATE EXTENSION cube;", "DROP EXTENSION cube;", 1));
    xf.objects.push_back(obj(kind::extension, "earthdistance", "", "CREATE EXTENSION earthdistance;",
                             "DROP EXTENSION earthdistance;", 2));
    text = up(xf, {});
    CHECK(at(text, "DROP EXTENSION earthdistance;") < at(text, "DROP EXTENSION cube;"));

    // An integer into a numeric without room for it is not a widening; numbers and strings
    // convert without USING (which would cut a varchar instead of failing).
    CHECK_FALSE(detail::widens("integer", "numeric(5,0)"));
    CHECK(detail::widens("integer", "numeric(12,2)"));
    CHECK_FALSE(detail::widens("timestamp without time zone", "timestamp with time zone"));
    CHECK_FALSE(detail::widens("character(3)", "text"));
    model vf, vt;
    vf.tables.push_back(tbl("public.t", {col("s", "text", false, "'x'::text"), col("n", "integer"), col("j", "text")}, 1));
    vt.tables.push_back(tbl("public.t", {col("s", "character varying(10)", false, "'x'::character varying"),
                                         col("n", "bigint"), col("j", "jsonb")}, 1));
    auto steps = plan(vf, vt);
    auto held = flat(render(steps, false).text);
    CHECK(at(held, "-- ALTER TABLE public.t ALTER COLUMN s TYPE character varying(10);"));
    CHECK(at(held, "-- ALTER TABLE public.t ALTER COLUMN s SET DEFAULT 'x'::character varying;"));
    CHECK(at(held, "ALTER TABLE public.t ALTER COLUMN n TYPE bigint;"));
    CHECK(at(held, "-- ALTER TABLE public.t ALTER COLUMN j TYPE jsonb USING j::jsonb;"));

    // Once a destructive step is held back, the last drops are too (a type the held-back
    // column uses would refuse to go).
    model df, dt;
    df.enums.push_back({"public.mood", {"a"}, "", 1});
    df.tables.push_back(tbl("public.p", {col("id", "integer"), col("m", "public.mood")}, 2));
    dt.tables.push_back(tbl("public.p", {col("id", "integer")}, 2));
    auto r = render(plan(df, dt), false);
    CHECK(r.commented_out == 2);
    CHECK(at(r.text, "-- (commented out with the destructive steps above, which it may need)\n-- DROP TYPE public.mood;"));
    CHECK(at(render(plan(df, dt), true).text, "\nDROP TYPE public.mood;"));

    // A policy on a table whose column changes type is dropped before and created after.
    model pf, pt;
    pf.tables.push_back(tbl("public.r", {col("owner_id", "integer")}, 1));
    pt.tables.push_back(tbl("public.r", {col("owner_id", "bigint")}, 1));
    auto pol = obj(kind::policy, "public.r.p", "public.r", "CREATE POLICY p ON public.r USING (owner_id = 1);",
                   "DROP POLICY p ON public.r;", 2);
    pf.objects.push_back(pol);
    pt.objects.push_back(pol);
    text = up(pf, pt);
    CHECK(at(text, "DROP POLICY p ON public.r;") < at(text, "ALTER COLUMN owner_id TYPE bigint;"));
    CHECK(at(text, "ALTER COLUMN owner_id TYPE bigint;") < at(text, "CREATE POLICY p ON public.r"));
}

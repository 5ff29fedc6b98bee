// pgcoro-queries' logic without a server: SQL files and their annotations, error
// positions, plans and nullability, the descriptions file, type mapping, generated code.
#include "catch.hpp"

#include "queries/codegen.hpp"
#include "queries/nullability.hpp"

#include <boost/json/src.hpp>  // Boost.JSON header-only, in this translation unit

using namespace pgcoro_tools;
using namespace pgcoro_tools::queries;

namespace {

std::string error_of(auto&& f) {
    try {
        f();
    } catch (const tool_error& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("query files: annotations, statements and their positions", "[queries]") {
    std::string text =
        "-- a header comment\n"
        "\n"
        "-- name: one_tenant :one (slug, name?)\n"
        "select id, name\n"
        "  from tenants where slug = $1 and name = $2;\n"
        "\n"
        "-- name: all_of_them   :many\n"
        "   select 1 as \"x!\"   \n"
        "-- name: gone :execrows ( a )\n"
        "delete from t where a = $1\n";
    auto qs = parse_query_file(text, "q/t.sql");
    REQUIRE(qs.size() == 3);
    CHECK(qs[0].name == "one_tenant");
    CHECK(qs[0].kind == returns::one);
    REQUIRE(qs[0].params.size() == 2);
    CHECK(qs[0].params[0].name == "slug");
    CHECK(!qs[0].params[0].optional);
    CHECK(qs[0].params[1].name == "name");
    CHECK(qs[0].params[1].optional);
    CHECK(qs[0].sql == "select id, name\n  from tenants where slug = $1 and name = $2");
    CHECK(qs[0].line == 3);
    CHECK(qs[0].sql_line == 4);
    CHECK(qs[0].sql_column == 1);
    CHECK(qs[1].kind == returns::many);
    CHECK(!qs[1].params_given);
    CHECK(qs[1].sql == "select 1 as \"x!\"");
    CHECK(qs[1].sql_line == 8);
    CHECK(qs[1].sql_column == 4);
    CHECK(qs[2].kind == returns::execrows);
    CHECK(qs[2].params.size() == 1);

    // A server position (characters, 1-based) maps onto the file: line 2 of the
    // statement is line 5 of the file; on the first line the column is offset.
    CHECK(locate_in_file(qs[0], 22) == "q/t.sql:5:6");
    CHECK(locate_in_file(qs[1], 1) == "q/t.sql:8:4");
    CHECK(locate_in_file(qs[1], 8) == "q/t.sql:8:11");
    // Characters, not bytes.
    auto u = parse_query_file("-- name: u :one\nselect 'ä', nope\n", "u.sql");
    CHECK(locate_in_file(u[0], 13) == "u.sql:2:13");
}

TEST_CASE("query files: every malformed annotation is a file:line error", "[queries]") {
    CHECK(error_of([] { parse_query_file("select 1;\n-- name: a :one\nselect 1", "f.sql"); }) ==
          "f.sql:1:1: error: SQL before the first `-- name:` annotation");
    CHECK_THAT(error_of([] { parse_query_file("-- name: a :maybe\nselect 1", "f.sql"); }),
               Catch::Matchers::StartsWith("f.sql:1:1: error: unknown result kind `:maybe`"));
    CHECK_THAT(error_of([] { parse_query_file("\n-- name: 1a :one\nselect 1", "f.sql"); }),
               Catch::Matchers::StartsWith("f.sql:2:1: error: `1a` is not a C++ identifier"));
    CHECK_THAT(error_of([] { parse_query_file("-- name: a\nselect 1", "f.sql"); }),
               Catch::Matchers::StartsWith("f.sql:1:1: error: the annotation names no result kind"));
    CHECK_THAT(error_of([] { parse_query_file("-- name: a :one (x, x)\nselect $1, $2", "f.sql"); }),
               Catch::Matchers::StartsWith("f.sql:1:1: error: parameter `x` is named twice"));
    CHECK_THAT(error_of([] { parse_query_file("-- name: a :one (x,)\nselect $1", "f.sql"); }),
               Catch::Matchers::StartsWith("f.sql:1:1: error: a parameter name is missing"));
    CHECK_THAT(error_of([] { parse_query_file("-- name: a :one (db)\nselect $1", "f.sql"); }),
               Catch::Matchers::Contains("taken by the generated function"));
    CHECK(error_of([] { parse_query_file("-- name: a :one\n-- only a comment\n", "f.sql"); }) ==
          "f.sql:1:1: error: `a` has no statement");
    CHECK(error_of([] { parse_query_file("-- name: a :one\nselect 1;\nselect 2;\n", "f.sql"); }) ==
          "f.sql:3:1: error: `a` holds more than one statement (one per annotation)");
    // Names the generated code could not use.
    CHECK_THAT(error_of([] { parse_query_file("-- name: delete :exec\nselect 1", "f.sql"); }),
               Catch::Matchers::Contains("`delete` is a C++ keyword"));
    CHECK_THAT(error_of([] { parse_query_file("-- name: sql :exec\nselect 1", "f.sql"); }),
               Catch::Matchers::Contains("taken by the generated code"));
    CHECK_THAT(error_of([] { parse_query_file("-- name: a_row :exec\nselect 1", "f.sql"); }),
               Catch::Matchers::Contains("taken by the generated code"));
    for (const char* p : {"new", "Db", "Token", "pgcoro", "sql"})
        CHECK_THAT(error_of([&] { parse_query_file(std::string("-- name: a :exec (") + p + ")\nselect $1", "f.sql"); }),
                   Catch::Matchers::Contains(std::string("`") + p + "`"));
    // A ';' inside a literal or a dollar quote is not a second statement.
    CHECK(parse_query_file("-- name: a :one\nselect ';', $$;$$", "f.sql").size() == 1);
}

TEST_CASE("plans: outer joins' nullable sides and directly scanned relations", "[queries]") {
    // The shape of EXPLAIN (VERBOSE, FORMAT JSON) for a LEFT JOIN (hash join: the inner
    // side under a Hash node).
    std::string left = R"J([{"Plan": {"Node Type": "Hash Join", "Join Type": "Left", "Output": ["t.slug", "u.email", "(u.email || 'x.y')", "\"T 2\".id"],
        "Plans": [
          {"Node Type": "Seq Scan", "Parent Relationship": "Outer", "Relation Name": "tenants", "Alias": "t"},
          {"Node Type": "Hash", "Parent Relationship": "Inner", "Plans": [
            {"Node Type": "Seq Scan", "Parent Relationship": "Outer", "Relation Name": "users", "Alias": "u"}]},
          {"Node Type": "Seq Scan", "Parent Relationship": "Outer", "Relation Name": "x", "Alias": "T 2"}]}}])J";
    auto f = read_plan(left);
    REQUIRE(f.read);
    CHECK(f.outputs.size() == 4);
    CHECK(output_is_direct(f, 0));
    CHECK(!output_is_direct(f, 1));
    CHECK(!output_is_direct(f, 2));
    CHECK(output_is_direct(f, 3));   // a quoted alias
    CHECK(!output_is_direct(f, 4));  // no such output: unsure

    // RIGHT: the outer side is the nullable one; FULL: both.
    auto right = read_plan(R"J([{"Plan": {"Join Type": "Right", "Output": ["a.x", "b.y"], "Plans": [
        {"Parent Relationship": "Outer", "Relation Name": "ra", "Alias": "a"},
        {"Parent Relationship": "Inner", "Relation Name": "rb", "Alias": "b"}]}}])J");
    CHECK(!output_is_direct(right, 0));
    CHECK(output_is_direct(right, 1));
    auto full = read_plan(R"J([{"Plan": {"Join Type": "Full", "Output": ["a.x", "b.y"], "Plans": [
        {"Parent Relationship": "Outer", "Relation Name": "ra", "Alias": "a"},
        {"Parent Relationship": "Inner", "Relation Name": "rb", "Alias": "b"}]}}])J");
    CHECK(!output_is_direct(full, 0));
    CHECK(!output_is_direct(full, 1));

    // Through a subquery that was not flattened: not a direct scan, so unsure.
    auto sub = read_plan(R"J([{"Plan": {"Node Type": "Subquery Scan", "Alias": "s", "Output": ["s.x"], "Plans": [
        {"Parent Relationship": "Subquery", "Relation Name": "r", "Alias": "r"}]}}])J");
    CHECK(!output_is_direct(sub, 0));
    // An expression naming no relation (a constant, count(*)): unsure.
    auto konst = read_plan(R"J([{"Plan": {"Node Type": "Result", "Output": ["1", "count(*)"]}}])J");
    CHECK(!output_is_direct(konst, 0));
    // One relation: EXPLAIN does not qualify its columns.
    auto single = read_plan(R"J([{"Plan": {"Node Type": "Sort", "Output": ["slug", "name"], "Plans": [
        {"Parent Relationship": "Outer", "Relation Name": "tenants", "Alias": "tenants", "Output": ["slug", "name"]}]}}])J");
    CHECK(output_is_direct(single, 0));
    CHECK(output_is_direct(single, 1));
    // Only a plain column reference is direct: not a pulled-up subquery's placeholder
    // `(t.id)` (NULL under a LEFT JOIN LATERAL even though t is not), not an expression.
    auto exprs = read_plan(R"J([{"Plan": {"Output": ["(t.id)", "t.slug || 'x.y'", "t.\"Id\"", "t.id::text", "t.a.b"],
        "Plans": [{"Parent Relationship": "Outer", "Relation Name": "tenants", "Alias": "t"},
                  {"Parent Relationship": "Inner", "Relation Name": "users", "Alias": "u"}]}}])J");
    CHECK(!output_is_direct(exprs, 0));
    CHECK(!output_is_direct(exprs, 1));
    CHECK(output_is_direct(exprs, 2));
    CHECK(!output_is_direct(exprs, 3));
    CHECK(!output_is_direct(exprs, 4));
    // Unqualified, but through a function scan or with two relations: unsure.
    auto fn = read_plan(R"J([{"Plan": {"Output": ["x"], "Plans": [
        {"Parent Relationship": "Outer", "Relation Name": "t", "Alias": "t"},
        {"Parent Relationship": "Inner", "Node Type": "Function Scan", "Alias": "f"}]}}])J");
    CHECK(!output_is_direct(fn, 0));
    // ROLLUP / CUBE / GROUPING SETS: the summary rows' grouped columns are NULL.
    auto rollup = read_plan(R"J([{"Plan": {"Node Type": "Aggregate", "Output": ["slug", "count(*)"],
        "Grouping Sets": [{"Group Keys": ["slug"]}, {"Group Keys": []}], "Plans": [
        {"Parent Relationship": "Outer", "Relation Name": "tenants", "Alias": "tenants"}]}}])J");
    CHECK(!output_is_direct(rollup, 0));
    // Not a plan at all.
    CHECK(!read_plan("not json").read);
    CHECK(!read_plan("[]").read);
    CHECK(!read_plan(R"J([{"Plan": 3}])J").read);

    CHECK(nullability_mark("total!") == '!');
    CHECK(nullability_mark("first?") == '?');
    CHECK(nullability_mark("!") == 0);
    CHECK(nullability_mark("plain") == 0);
}

namespace {

type_ref ty(std::uint32_t oid, std::string name, char category, std::uint32_t element_oid = 0,
            std::string element_name = "", char element_category = 0) {
    type_ref t;
    t.oid = oid;
    t.name = std::move(name);
    t.category = category;
    t.element_oid = element_oid;
    t.element_name = std::move(element_name);
    t.element_category = element_category;
    return t;
}

descriptions sample() {
    descriptions d;
    d.inputs = "0123456789abcdef";
    query_desc q;
    q.name = "tenant_by_slug";
    q.kind = returns::opt;
    q.source = "tenants.sql";
    q.line = 3;
    q.sql = "select id, slug, \"x\"\nfrom t where slug = $1 -- \"quoted\" \\ ?\?=";
    q.params.push_back({"slug", false, ty(1043, "character varying", 'b')});
    q.columns.push_back({"id", ty(2950, "uuid", 'b'), false, "tenants.id"});
    q.columns.push_back({"slug", ty(25, "text", 'b'), true, ""});
    q.columns.push_back({"tags", ty(1009, "text[]", 'a', 25, "text", 'b'), true, ""});
    d.queries.push_back(q);
    query_desc e;
    e.name = "drop_all";
    e.kind = returns::exec;
    e.source = "x.sql";
    e.line = 1;
    e.sql = "delete from t";
    d.queries.push_back(e);
    return d;
}

}  // namespace

TEST_CASE("descriptions: the file round-trips; a bad one is named", "[queries]") {
    auto d = sample();
    std::string text = write_descriptions(d);
    CHECK(read_descriptions(text, "d.json") == d);
    CHECK(write_descriptions(read_descriptions(text, "d.json")) == text);
    CHECK_THAT(error_of([] { read_descriptions("{", "d.json"); }), Catch::Matchers::StartsWith("d.json: not a"));
    CHECK_THAT(error_of([] { read_descriptions(R"({"generator": "sqlc"})", "d.json"); }),
               Catch::Matchers::Contains("another generator"));
    CHECK_THAT(error_of([] { read_descriptions(R"({"generator": "pgcoro-queries", "format": 99})", "d.json"); }),
               Catch::Matchers::Contains("format 99"));
    // The inputs' digest changes with any file's name or content.
    std::vector<std::pair<std::string, std::string>> qf{{"a.sql", "x"}}, mf{{"1_a.up.sql", "y"}};
    auto base = inputs_digest(qf, mf);
    CHECK(base.size() == 64);
    CHECK(inputs_digest({{"a.sql", "x "}}, mf) != base);
    CHECK(inputs_digest({{"b.sql", "x"}}, mf) != base);
    CHECK(inputs_digest(qf, {{"1_a.up.sql", "z"}}) != base);
    CHECK(inputs_digest(qf, mf) == base);
}

TEST_CASE("type mapping: builtins, arrays, enums, domains' base types and user types", "[queries]") {
    type_overrides none;
    CHECK(map_type(ty(2950, "uuid", 'b'), none).row == "boost::uuids::uuid");
    CHECK(map_type(ty(25, "text", 'b'), none).param == "std::string_view");
    CHECK(map_type(ty(1184, "timestamp with time zone", 'b'), none).row == "pgcoro::timestamptz");
    CHECK(map_type(ty(1007, "integer[]", 'a', 23, "integer", 'b'), none).row == "std::vector<std::int32_t>");
    CHECK(map_type(ty(1007, "integer[]", 'a', 23, "integer", 'b'), none).param == "std::vector<std::int32_t>");
    // An enum reads as its label but sends no type of its own; jsonb likewise.
    auto en = map_type(ty(16400, "action_status", 'e'), none);
    CHECK(en.row == "std::string");
    CHECK(en.param.empty());
    CHECK(map_type(ty(3802, "jsonb", 'b'), none).param.empty());
    // Unknown: nothing.
    CHECK(map_type(ty(16500, "my_composite", 'c'), none).row.empty());
    type_overrides mine{{"action_status", "app::status"}, {"my_composite", "app::point"}};
    CHECK(map_type(ty(16400, "action_status", 'e'), mine).param == "app::status");
    CHECK(map_type(ty(16500, "my_composite", 'c'), mine).row == "app::point");
    CHECK(map_type(ty(16501, "action_status[]", 'a', 16400, "action_status", 'e'), mine).row ==
          "std::vector<app::status>");
    CHECK(is_cpp_keyword("class"));
    CHECK(!is_cpp_keyword("klass"));
}

TEST_CASE("generated code: rows, functions, and errors naming the statement", "[queries]") {
    codegen_options o;
    o.ns = "qs";
    o.queries_dir = "/src/queries";
    auto h = generate_header(sample(), o);
    CHECK_THAT(h, Catch::Matchers::Contains("namespace qs {"));
    CHECK_THAT(h, Catch::Matchers::Contains("struct tenant_by_slug_row {\n    boost::uuids::uuid id;"));
    CHECK_THAT(h, Catch::Matchers::Contains("std::optional<std::string> slug;"));
    CHECK_THAT(h, Catch::Matchers::Contains("std::optional<std::vector<std::string>> tags;"));
    CHECK_THAT(h, Catch::Matchers::Contains(
                      "inline boost::asio::awaitable<std::optional<tenant_by_slug_row>> tenant_by_slug(Db& db, "
                      "std::string_view slug)"));
    CHECK_THAT(h, Catch::Matchers::Contains("inline boost::asio::awaitable<void> drop_all(Db& db)"));
    // The SQL as a literal that cannot break out (quotes, backslashes, trigraphs).
    CHECK_THAT(h, Catch::Matchers::Contains(R"("select id, slug, \"x\"\n")"));
    CHECK_THAT(h, Catch::Matchers::Contains(R"(\"quoted\" \\ \?\?=")"));

    auto bad = sample();
    bad.queries[0].columns[1].type = ty(16500, "my_composite", 'c');
    CHECK_THAT(error_of([&] { generate_header(bad, o); }),
               Catch::Matchers::StartsWith("/src/queries/tenants.sql:3:1: error: column `slug` of `tenant_by_slug` "
                                           "has type my_composite") &&
                   Catch::Matchers::Contains("TYPES \"my_composite=my::type\""));
    bad = sample();
    bad.queries[0].params[0].type = ty(16400, "action_status", 'e');
    CHECK_THAT(error_of([&] { generate_header(bad, o); }),
               Catch::Matchers::Contains("parameter $1 (`slug`) of `tenant_by_slug` has type action_status") &&
                   Catch::Matchers::Contains("$1::text::action_status"));
    bad = sample();
    bad.queries[0].columns[1].name = "?column?";
    CHECK_THAT(error_of([&] { generate_header(bad, o); }), Catch::Matchers::Contains("give it an alias"));
    bad = sample();
    bad.queries[0].columns[1].name = "id";
    CHECK_THAT(error_of([&] { generate_header(bad, o); }), Catch::Matchers::Contains("two columns named `id`"));
    bad = sample();
    bad.queries[0].columns.clear();
    CHECK_THAT(error_of([&] { generate_header(bad, o); }), Catch::Matchers::Contains("annotate it :exec"));
    // Names from the catalog cannot end a comment early or continue it onto the next line.
    auto odd = sample();
    odd.queries[0].columns[0].origin = "\"weird\\\".x\ny";
    auto oh = generate_header(odd, o);
    CHECK_THAT(oh, Catch::Matchers::Contains("from \"weird?\".x?y\n"));
    // A keyword column gets a trailing '_'.
    auto kw = sample();
    kw.queries[0].columns[1].name = "default";
    CHECK_THAT(generate_header(kw, o), Catch::Matchers::Contains(" default_;"));
}

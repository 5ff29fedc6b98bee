// Types the server knows by name (looked up per connection), exact acceptance, rows by
// name, and the types of the second wave (ranges, multi-dimensional arrays, timetz,
// macaddr, bit strings, money, durations, hstore).
#include "support.hpp"

#include <pgcoro/types/composite.hpp>

#include <boost/describe/class.hpp>

#include <algorithm>

using namespace pgtest;
using namespace std::chrono;
using pgcoro::errc;
using std::int32_t;
using std::int64_t;

// This file's types live in a namespace of their own: another test file's `person` with
// the same name would be an ODR violation (the linker keeps one row reader for both).
namespace ct {
enum class feeling { sad, ok, happy };
}  // namespace ct
using ct::feeling;
template <>
struct pgcoro::enum_labels<feeling> {
    static constexpr std::string_view type_name = "feeling";
    static constexpr std::pair<feeling, std::string_view> values[] = {
        {feeling::sad, "sad"}, {feeling::ok, "ok"}, {feeling::happy, "happy"}};
};

namespace ct {
struct described_user {
    int64_t id = 0;
    std::string email;
    std::optional<std::string> name;
};
BOOST_DESCRIBE_STRUCT(described_user, (), (id, email, name))
}  // namespace ct
using ct::described_user;

namespace ct {
struct positional_user {
    int64_t id = 0;
    std::string email;
};
BOOST_DESCRIBE_STRUCT(positional_user, (), (id, email))
}  // namespace ct
using ct::positional_user;
template <>
struct pgcoro::row_mapping<positional_user> {
    static constexpr bool by_name = false;
};

namespace ct {
struct address {
    std::string street;
    std::optional<std::string> city;
    friend bool operator==(const address&, const address&) = default;
};
}  // namespace ct
using ct::address;
template <>
struct pgcoro::composite<address> {
    static constexpr std::string_view type_name = "address";
};

namespace ct {
struct located {  // a composite holding a composite
    address where;
    int32_t floor = 0;
};
}  // namespace ct
using ct::located;
template <>
struct pgcoro::composite<located> {};

namespace ct {
struct person {  // a table's row type, fields by attribute name
    std::vector<address> others;
    std::string name;
    address home;
};
BOOST_DESCRIBE_STRUCT(person, (), (others, name, home))
}  // namespace ct
using ct::person;
template <>
struct pgcoro::composite<person> {};

namespace ct {
struct borrowed {
    std::string_view text;
    std::span<const std::byte> bytes;
};
}  // namespace ct
using ct::borrowed;

namespace {

bool mentions(const pgcoro::error& e, std::string_view what) {
    return std::string_view(e.what()).find(what) != std::string_view::npos;
}

template <class T>
asio::awaitable<T> echo(pgcoro::connection& c, const T& v, std::string sql = "select $1") {
    co_return co_await c.query_one<T>(sql, v);
}

// g++ 12: no braced lists inside a coroutine's co_await expressions (README): here.
const std::vector<std::string> feelings_text = {"sad", "happy"};
const std::vector<feeling> feelings = {feeling::sad, feeling::happy};
const std::vector<int32_t> one_two = {1, 2};
const pgcoro::hstore sample_hstore = {{"k", "v"}, {"none", std::nullopt}, {"", "empty key"}};
const address main_street = {"1 Main St", "Springfield"};
const address nowhere = {"2 Side St", std::nullopt};
using grid = std::vector<std::vector<int32_t>>;
const grid grid_2x3 = {{1, 2, 3}, {4, 5, 6}};
const grid grid_2x2 = {{1, 2}, {3, 4}};
const grid grid_ragged = {{1, 2}, {3}};
const grid grid_hollow = {{}, {}};
const std::vector<std::vector<std::vector<std::optional<int64_t>>>> cube = {{{1, std::nullopt}}, {{3, 4}}};

}  // namespace

TEST_CASE("types known by name are looked up per connection, and accepted exactly", "[types][catalog]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto db = co_await scratch_database::create("pgcoro_catalog");
        auto c = co_await connect(db.url);
        co_await c.execute_script(
            "create extension citext; create extension hstore;"
            "create type feeling as enum ('sad', 'ok', 'happy');"
            "create type other_feeling as enum ('sad', 'ok', 'happy');"
            "create domain positive as int4 check (value > 0);"
            "create table notes (id int8 primary key, who citext not null, f feeling, kv hstore,"
            " fs feeling[], ps positive[])");
        co_await c.execute("insert into notes values (1, 'MiXeD', 'happy', 'a=>1, b=>NULL', '{sad,happy}', '{1,2}')");

        CHECK(co_await c.query_one<std::string>("select who from notes") == "MiXeD");        // citext, by name
        CHECK(co_await c.query_one<std::string>("select f from notes") == "happy");          // any enum
        CHECK(co_await c.query_one<feeling>("select f from notes") == feeling::happy);       // its own enum
        CHECK(co_await c.query_one<std::vector<feeling>>("select fs from notes") == feelings);
        CHECK(co_await c.query_one<std::vector<std::string>>("select fs from notes") == feelings_text);
        CHECK(co_await c.query_one<std::vector<int32_t>>("select ps from notes") == one_two);
        auto kv = co_await c.query_one<pgcoro::hstore>("select kv from notes");
        CHECK(kv.size() == 2);
        CHECK(kv["a"] == "1");
        CHECK(!kv["b"]);

        // Exactness: an extension type's binary form is not text; another enum is not ours.
        auto e1 = co_await expect_error(c.query_one<std::string>("select kv from notes"));
        CHECK(e1.code() == pgcoro::make_error_code(errc::type_mismatch));
        CHECK(mentions(e1, "hstore"));
        auto e2 = co_await expect_error(c.query_one<feeling>("select 'ok'::other_feeling"));
        CHECK(e2.code() == pgcoro::make_error_code(errc::type_mismatch));
        CHECK(mentions(e2, "other_feeling"));
        auto e3 = co_await expect_error(c.query_one<std::vector<std::string>>("select array[1, 2]::positive[]"));
        CHECK(e3.code() == pgcoro::make_error_code(errc::type_mismatch));
        CHECK(mentions(e3, "std::vector<std::string>"));

        // What the result says about its columns.
        auto r = co_await c.query_result("select f, fs, who, kv from notes");
        CHECK(r.column_pg_type(0).name() == "feeling");
        CHECK(r.column_pg_type(0).kind() == pgcoro::type_kind::enumeration);
        CHECK(r.column_pg_type(1).kind() == pgcoro::type_kind::array);
        CHECK(r.column_pg_type(1).element().name() == "feeling");
        CHECK(r.column_pg_type(2).is("public.citext"));
        CHECK(r.column_pg_type(3).display_name() == "hstore");

        // hstore both ways, NULL values and an empty one.
        CHECK(co_await echo(c, sample_hstore, "select $1::hstore") == sample_hstore);
        pgcoro::hstore none;
        CHECK((co_await echo(c, none, "select $1::hstore")).empty());

        // A row stream cannot stop for a lookup: a type it has not seen is a clear error;
        // once the connection has looked it up, streams read it.
        co_await c.execute("create type streamed as enum ('s')");
        {
            auto s = c.stream<std::string>("select 's'::streamed from generate_series(1, 3)");
            std::vector<std::string> batch;
            auto e = co_await expect_error(s.read(batch));
            CHECK(e.code() == pgcoro::make_error_code(errc::type_mismatch));
            CHECK(mentions(e, "row stream"));
        }
        CHECK(co_await c.query_one<std::string>("select 's'::streamed") == "s");
        {
            auto s = c.stream<std::string>("select 's'::streamed from generate_series(1, 3)");
            std::vector<std::string> batch;
            std::size_t total = 0;
            for (;;) {
                std::size_t n = co_await s.read(batch);
                if (n == 0) break;
                total += n;
            }
            CHECK(total == 3);
        }

        // A type made after the connection first looked: looked up when first seen.
        co_await c.execute("create type late as enum ('x')");
        CHECK(co_await c.query_one<std::string>("select 'x'::late") == "x");

        // Many statements in flight, some of a type seen for the first time: each caller
        // gets its own result, in order.
        co_await c.execute("create type later as enum ('y')");
        auto ex = co_await asio::this_coro::executor;
        std::vector<std::string> got(16);
        int done = 0;
        for (int i = 0; i < 16; ++i) {
            asio::co_spawn(ex, [&c, &got, &done, i]() -> asio::awaitable<void> {
                if (i % 2) got[static_cast<std::size_t>(i)] = std::to_string(co_await c.query_one<int32_t>("select $1::int4", i));
                else got[static_cast<std::size_t>(i)] = co_await c.query_one<std::string>("select 'y'::later");
                ++done;
            }, asio::detached);
        }
        asio::steady_timer t(ex);
        while (done < 16) {
            t.expires_after(5ms);
            co_await t.async_wait(asio::use_awaitable);
        }
        for (int i = 0; i < 16; ++i) CHECK(got[static_cast<std::size_t>(i)] == (i % 2 ? std::to_string(i) : "y"));

        // A graceful close waits for the lookup of a result still in flight.
        co_await c.execute("create type while_closing as enum ('z')");
        {
            auto c2 = co_await connect(db.url);
            std::optional<std::string> got;
            asio::co_spawn(ex, [&c2, &got]() -> asio::awaitable<void> {
                got = co_await c2.query_one<std::string>("select 'z'::while_closing from pg_sleep(0.2)");
            }, asio::detached);
            asio::steady_timer wait(ex, 50ms);
            co_await wait.async_wait(asio::use_awaitable);
            co_await c2.close();
            wait.expires_after(50ms);
            co_await wait.async_wait(asio::use_awaitable);
            CHECK(got == "z");
        }

        // A pool's connections look up for themselves.
        {
            auto cfg = pgcoro::pool_config::from_url(db.url);
            cfg.max_size = 2;
            pgcoro::pool p(ex, cfg);
            CHECK(co_await p.query_one<feeling>("select 'sad'::feeling") == feeling::sad);
            CHECK(co_await p.query_one<std::string>("select who from notes") == "MiXeD");
            p.close();
        }
        co_await c.close();
        co_await db.drop();
    });
}

TEST_CASE("rows map onto described structs by column name", "[types][describe][pooler]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto u = co_await c.query_one<described_user>("select 'a@b' as email, null::text as name, 7::int8 as id");
        CHECK(u.id == 7);
        CHECK(u.email == "a@b");
        CHECK(!u.name);
        auto many = co_await c.query<described_user>(
            "select g::text as name, g::int8 as id, 'x' as email from generate_series(1, 3) g order by g");
        REQUIRE(many.size() == 3);
        CHECK(many[2].id == 3);
        CHECK(many[2].name == "3");

        auto missing = co_await expect_error(c.query_one<described_user>("select 1::int8 as id, 'e' as email"));
        CHECK(missing.code() == pgcoro::make_error_code(errc::column_count_mismatch));
        CHECK(mentions(missing, "field \"name\""));
        auto extra = co_await expect_error(
            c.query_one<described_user>("select 1::int8 as id, 'e' as email, 'n' as name, 2 as extra"));
        CHECK(mentions(extra, "\"extra\" is not a field"));
        auto twice = co_await expect_error(
            c.query_one<described_user>("select 1::int8 as id, 'e' as email, 'n' as name, 'm' as name"));
        CHECK(mentions(twice, "two columns named \"name\""));
        auto wrong = co_await expect_error(c.query_one<described_user>("select 'x' as id, 'e' as email, 'n' as name"));
        CHECK(wrong.code() == pgcoro::make_error_code(errc::type_mismatch));
        CHECK(mentions(wrong, "\"id\""));

        // Opted out: by position, names ignored.
        auto p = co_await c.query_one<positional_user>("select 5::int8 as whatever, 'e' as other");
        CHECK(p.id == 5);
        CHECK(p.email == "e");
        co_await c.close();
    });
}

TEST_CASE("ranges and multiranges at their edges", "[types][ranges][pooler]") {
    using pgcoro::range;
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto r1 = co_await c.query_one<range<int32_t>>("select '[1,5]'::int4range");
        CHECK(r1.lower == 1);
        CHECK(r1.upper == 6);  // canonical: [1,6)
        CHECK(r1.lower_inclusive);
        CHECK(!r1.upper_inclusive);
        auto open = co_await c.query_one<range<int64_t>>("select '(,10)'::int8range");
        CHECK(!open.lower);
        CHECK(open.upper == 10);
        auto empty = co_await c.query_one<range<int32_t>>("select 'empty'::int4range");
        CHECK(empty.empty);
        CHECK(co_await c.query_one<bool>("select isempty($1::int4range)", range<int32_t>::make_empty()));

        range<int64_t> big{std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), true, false, false};
        CHECK(co_await echo(c, big) == big);
        range<int64_t> unbounded{std::nullopt, std::nullopt, false, false, false};
        CHECK(co_await echo(c, unbounded) == unbounded);
        CHECK(co_await c.query_one<std::string>("select $1::int8range::text", unbounded) == "(,)");

        range<pgcoro::numeric> nr{pgcoro::numeric("1.5"), pgcoro::numeric("2.25"), false, true, false};
        auto nr2 = co_await echo(c, nr);
        CHECK(nr2 == nr);
        CHECK(co_await c.query_one<std::string>("select $1::numrange::text", nr) == "(1.5,2.25]");

        range<sys_days> dr{sys_days(year(2026) / 1 / 1), sys_days(year(2026) / 2 / 1), true, false, false};
        CHECK(co_await echo(c, dr) == dr);
        range<pgcoro::timestamptz> tr{pgcoro::timestamptz{}, std::nullopt, true, false, false};
        CHECK(co_await echo(c, tr) == tr);
        auto ts = co_await c.query_one<range<pgcoro::timestamp>>("select '[2026-01-01 10:00, infinity)'::tsrange");
        CHECK(ts.upper == pgcoro::timestamp::max());

        auto arr = co_await c.query_one<std::vector<range<int32_t>>>("select array['[1,2)'::int4range, 'empty']");
        REQUIRE(arr.size() == 2);
        CHECK(arr[1].empty);

        pgcoro::multirange<int32_t> m{{range<int32_t>{1, 3, true, false, false}, range<int32_t>{5, 8, true, false, false}}};
        CHECK(co_await echo(c, m) == m);
        auto merged = co_await c.query_one<pgcoro::multirange<int32_t>>("select '{[1,3), [2,6), [10,11)}'::int4multirange");
        REQUIRE(merged.ranges.size() == 2);
        CHECK(merged.ranges[0].upper == 6);
        CHECK((co_await c.query_one<pgcoro::multirange<int64_t>>("select '{}'::int8multirange")).ranges.empty());

        auto e = co_await expect_error(c.query_one<range<int32_t>>("select '[1,2)'::int8range"));
        CHECK(e.code() == pgcoro::make_error_code(errc::type_mismatch));
        co_await c.close();
    });
}

TEST_CASE("multi-dimensional arrays as nested vectors", "[types][arrays][pooler]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        CHECK(co_await echo(c, grid_2x3) == grid_2x3);
        CHECK(co_await c.query_one<std::string>("select $1::text", grid_2x3) == "{{1,2,3},{4,5,6}}");
        CHECK(co_await c.query_one<grid>("select array[[1, 2], [3, 4]]") == grid_2x2);
        CHECK(co_await echo(c, cube) == cube);
        grid nothing;
        CHECK((co_await echo(c, nothing)).empty());

        auto ragged = co_await expect_error(echo(c, grid_ragged));
        CHECK(ragged.code() == pgcoro::make_error_code(errc::encode_error));
        CHECK(mentions(ragged, "rectangular"));
        auto hollow = co_await expect_error(echo(c, grid_hollow));
        CHECK(hollow.code() == pgcoro::make_error_code(errc::encode_error));
        auto flat = co_await expect_error(c.query_one<grid>("select array[1, 2]"));
        CHECK(flat.code() == pgcoro::make_error_code(errc::decode_error));
        CHECK(mentions(flat, "1-dimensional"));
        co_await c.close();
    });
}

TEST_CASE("timetz, macaddr, bit strings, money and durations", "[types][pooler]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        pgcoro::time_tz t{10h + 30min + 15s + 5us, 5h + 30min};
        CHECK(co_await echo(c, t) == t);
        CHECK(co_await c.query_one<std::string>("select $1::text", t) == "10:30:15.000005+05:30");
        auto edge = co_await c.query_one<pgcoro::time_tz>("select '24:00:00-15:59'::timetz");
        CHECK(edge.time == 24h);
        CHECK(edge.utc_offset == -(15h + 59min));

        pgcoro::macaddr mac{{0x08, 0x00, 0x2b, 0x01, 0x02, 0x03}};
        CHECK(co_await echo(c, mac) == mac);
        CHECK(co_await c.query_one<std::string>("select $1::text", mac) == "08:00:2b:01:02:03");
        CHECK(mac.to_string() == "08:00:2b:01:02:03");
        pgcoro::macaddr8 mac8{{1, 2, 3, 4, 5, 6, 7, 0xff}};
        CHECK(co_await echo(c, mac8) == mac8);

        auto bits = co_await c.query_one<pgcoro::bit_string>("select B'101100111'");
        CHECK(bits.to_string() == "101100111");
        CHECK(co_await echo(c, bits) == bits);
        CHECK((co_await c.query_one<pgcoro::bit_string>("select ''::varbit")).bits.empty());
        pgcoro::bit_string four{{true, false, false, true}};  // no braced aggregate inside co_await (README)
        auto four_text = co_await c.query_one<std::string>("select $1::bit(4)::text", four);
        CHECK(four_text == "1001");

        pgcoro::money most{std::numeric_limits<int64_t>::max()};
        CHECK(co_await echo(c, most) == most);
        pgcoro::money cents{1234};
        auto parsed = co_await c.query_one<pgcoro::money>("select '12.34'::money");
        CHECK(parsed == cents);

        CHECK(co_await echo(c, std::chrono::seconds(3600)) == 1h);
        CHECK(co_await c.query_one<std::string>("select $1::text", std::chrono::milliseconds(-1500)) == "-00:00:01.5");
        CHECK(co_await c.query_one<std::chrono::microseconds>("select interval '36 hours 1 microsecond'") == 36h + 1us);
        CHECK(co_await echo(c, std::chrono::nanoseconds(2000)) == 2us);
        auto inexact = co_await expect_error(echo(c, std::chrono::nanoseconds(1500)));
        CHECK(inexact.code() == pgcoro::make_error_code(errc::encode_error));
        auto day = co_await expect_error(c.query_one<std::chrono::seconds>("select interval '1 day'"));
        CHECK(day.code() == pgcoro::make_error_code(errc::decode_error));
        CHECK(mentions(day, "pgcoro::interval"));
        auto coarse = co_await expect_error(c.query_one<std::chrono::hours>("select interval '90 minutes'"));
        CHECK(coarse.code() == pgcoro::make_error_code(errc::decode_error));
        co_await c.close();
    });
}

TEST_CASE("composites as structs: named, anonymous, nested, in arrays, table rows", "[types][composite]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto db = co_await scratch_database::create("pgcoro_composite");
        auto c = co_await connect(db.url);
        co_await c.execute_script(
            "create type address as (street text, city text);"
            "create type located as (\"where\" address, floor int4);"
            "create table people (name text, home address, others address[]);"
            "insert into people values ('Ann', ('1 Main St', 'Springfield'), array[('2 Side St', null)::address]);"
            "create type shorter as (street text)");
        CHECK(co_await c.query_one<address>("select home from people") == main_street);
        CHECK(co_await c.query_one<address>("select row('1 Main St', 'Springfield')") == main_street);  // anonymous
        auto others = co_await c.query_one<std::vector<address>>("select others from people");
        REQUIRE(others.size() == 1);
        CHECK(others[0] == nowhere);
        auto l = co_await c.query_one<located>("select row(home, 3)::located from people");
        CHECK(l.where == main_street);
        CHECK(l.floor == 3);
        auto p = co_await c.query_one<person>("select p from people p");  // the table's row type, by name
        CHECK(p.name == "Ann");
        CHECK(p.home == main_street);
        REQUIRE(p.others.size() == 1);
        CHECK(p.others[0] == nowhere);

        // Sent: the fields' own types are the attributes' types.
        CHECK(co_await c.query_one<std::string>("select ($1::address).street", main_street) == "1 Main St");
        CHECK(co_await c.query_one<address>("select $1::address", nowhere) == nowhere);

        auto e1 = co_await expect_error(c.query_one<address>("select row('x')::shorter"));
        CHECK(e1.code() == pgcoro::make_error_code(errc::type_mismatch));
        auto e2 = co_await expect_error(c.query_one<address>("select row(1, 'x')"));
        CHECK(e2.code() == pgcoro::make_error_code(errc::decode_error));
        CHECK(mentions(e2, "int4"));
        auto e3 = co_await expect_error(c.query_one<address>("select row('x', 'y', 'z')"));
        CHECK(e3.code() == pgcoro::make_error_code(errc::decode_error));
        co_await c.close();
        co_await db.drop();
    });
}

TEST_CASE("string_view and span results borrow from the result", "[types][pooler]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto r = co_await c.query_result("select 'borrowed'::text, '\\x00ff'::bytea");
        CHECK(r.get<std::string_view>(0, 0) == "borrowed");
        auto rows = r.as<borrowed>();
        REQUIRE(rows.size() == 1);
        CHECK(rows[0].text == "borrowed");
        REQUIRE(rows[0].bytes.size() == 2);
        CHECK(rows[0].bytes[1] == std::byte{0xff});
        CHECK(rows[0].text.data() == r.get<std::string_view>(0, 0).data());  // no copy
        co_await c.close();
    });
}

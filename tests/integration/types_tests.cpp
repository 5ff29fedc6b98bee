// Every type through a real server, at its edges; mismatches are clear errors.
#include "support.hpp"

#include <pgcoro/types/json.hpp>
#include <boost/json/src.hpp>  // Boost.JSON header-only, in this translation unit
#include <boost/uuid/uuid_io.hpp>

#include <cmath>
#include <limits>

using namespace pgtest;
using namespace std::chrono;
using pgcoro::errc;
using std::int32_t;
using std::int64_t;

enum class mood { sad, ok, happy };
template <>
struct pgcoro::enum_labels<mood> {
    static constexpr std::pair<mood, std::string_view> values[] = {
        {mood::sad, "sad"}, {mood::ok, "ok"}, {mood::happy, "happy"}};
};

/// A user type whose traits throw their own exception (not pgcoro::value_error).
struct throwing_type {
    std::int32_t v = 0;
};
template <>
struct pgcoro::type_traits<throwing_type> {
    static constexpr oid_t param_oid = oids::int4;
    static bool accepts(oid_t o) noexcept { return o == oids::int4; }
    static void encode(const throwing_type& t, std::string& out) {
        if (t.v < 0) throw std::runtime_error("throwing_type: negative");
        type_traits<std::int32_t>::encode(t.v, out);
    }
    static throwing_type decode(oid_t o, std::string_view b) {
        auto v = type_traits<std::int32_t>::decode(o, b);
        if (v < 0) throw std::runtime_error("throwing_type: negative from the server");
        return {v};
    }
};

namespace {

/// A database of its own for these tests (extensions, types), dropped afterwards.
struct scratch_db {
    std::string name = unique_name("pgcoro_types");
    std::string url;
    scratch_db() {
        run([&](asio::io_context&) -> asio::awaitable<void> {
            auto admin = co_await connect();
            co_await admin.execute("create database " + name);
        });
        std::string u = pgtest::url();
        url = u.substr(0, u.rfind('/') + 1) + name;
    }
    ~scratch_db() {
        try {
            run([&](asio::io_context&) -> asio::awaitable<void> {
                auto admin = co_await connect();
                co_await admin.execute("drop database if exists " + name + " with (force)");
            });
        } catch (...) {
        }
    }
};

// g++ 12 rejects braced lists of string literals inside coroutines: they live here.
const std::vector<std::string> time_zones = {"UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"};
const std::vector<std::string> sample_words = {"a", "", "Grüße", "with,comma", "{brace}"};
const std::vector<std::string> xy = {"x", "y"};

template <class T>
asio::awaitable<T> echo(pgcoro::connection& c, const T& v) {
    co_return co_await c.query_one<T>("select $1", v);
}

}  // namespace

TEST_CASE("numeric keeps every digit", "[types][numeric][pooler]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        std::string thousand(1000, '7');
        std::string big_frac = "0." + std::string(999, '0') + "1";
        std::vector<std::string> values = {"0", "1", "-1", "12345.6789", "0.0001", "-0.00012300", "10000",
                                           "99999999999999999999.99", "NaN", "Infinity", "-Infinity",
                                           thousand, "-" + thousand + ".5", big_frac};
        for (const auto& s : values) {
            INFO(s);
            pgcoro::numeric n(s);
            auto back = co_await echo(c, n);
            CHECK(back == n);
            auto server_text = co_await c.query_one<std::string>("select $1::numeric::text", n);
            CHECK(server_text == n.to_string());
            auto parsed = co_await c.query_one<pgcoro::numeric>("select $1::text::numeric", s);
            CHECK(parsed == n);
        }
        auto nines = co_await c.query_one<pgcoro::numeric>("select repeat('9', 1000)::numeric");
        CHECK(nines.to_string() == std::string(1000, '9'));
        CHECK(pgcoro::numeric("1e-5").to_string() == "0.00001");
        CHECK(pgcoro::numeric("1.5E3").to_string() == "1500");
        CHECK(pgcoro::numeric("-0.000").to_string() == "0.000");
        auto div = co_await c.query_one<pgcoro::numeric>("select 1::numeric / 3");
        CHECK(div.to_string() == "0.33333333333333333333");
        // Conversions refuse to lose information.
        CHECK(pgcoro::numeric("0.1").to_double() == 0.1);
        CHECK(pgcoro::numeric("-2.50").to_double() == -2.5);
        CHECK_THROWS_AS(pgcoro::numeric("0.12345678901234567").to_double(), pgcoro::value_error);
        CHECK_THROWS_AS(div.to_double(), pgcoro::value_error);
        CHECK(pgcoro::numeric("-9223372036854775808").to_int64() == std::numeric_limits<int64_t>::min());
        CHECK(pgcoro::numeric("42.000").to_int64() == 42);
        CHECK_THROWS_AS(pgcoro::numeric("9223372036854775808").to_int64(), pgcoro::value_error);
        CHECK_THROWS_AS(pgcoro::numeric("12.5").to_int64(), pgcoro::value_error);
        CHECK_THROWS_AS(pgcoro::numeric("NaN").to_int64(), pgcoro::value_error);
        CHECK(std::isnan(pgcoro::numeric("NaN").to_double()));
        CHECK(pgcoro::numeric(2.25).to_string() == "2.25");
        CHECK(pgcoro::numeric(int64_t{-7}).to_string() == "-7");
        CHECK_THROWS_AS(pgcoro::numeric("12a"), pgcoro::value_error);
        CHECK_THROWS_AS(pgcoro::numeric(""), pgcoro::value_error);
        CHECK_THROWS_AS(pgcoro::numeric("1.2.3"), pgcoro::value_error);
    });
}

TEST_CASE("text, bytea, uuid, json and inet round-trip", "[types][pooler]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        // bytea with every byte value, NUL included.
        std::vector<std::byte> bytes;
        for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<std::byte>(i));
        auto b = co_await echo(c, bytes);
        CHECK(b == bytes);
        std::vector<unsigned char> three{0, 1, 0xff};  // g++ 12: no braced temporaries in co_await
        auto hex = co_await c.query_one<std::string>("select encode($1, 'hex')", three);
        CHECK(hex == "0001ff");
        auto empty = co_await echo(c, std::vector<std::byte>{});
        CHECK(empty.empty());
        // uuid.
        auto u = pgcoro::new_uuid();
        CHECK(co_await echo(c, u) == u);
        auto text = co_await c.query_one<std::string>("select $1::text", u);
        CHECK(text == boost::uuids::to_string(u));
        auto server_u = co_await c.query_one<boost::uuids::uuid>("select 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid");
        CHECK(boost::uuids::to_string(server_u) == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        auto v7 = pgcoro::new_uuid_v7();
        CHECK((v7.data[6] >> 4) == 7);    // version 7
        CHECK((v7.data[8] & 0xC0) == 0x80);  // RFC variant
        // json / jsonb as text and as boost::json::value.
        auto jt = co_await c.query_one<std::string>("select '{\"a\": [1, 2]}'::jsonb");
        CHECK(jt == "{\"a\": [1, 2]}");
        auto jt2 = co_await c.query_one<std::string>("select '{\"a\":1}'::json");
        CHECK(jt2 == "{\"a\":1}");
        boost::json::value jv = boost::json::parse(R"({"name":"Grüße","n":[1,null,true],"x":1.5})");
        CHECK(co_await echo(c, jv) == jv);
        auto via_json = co_await c.query_one<boost::json::value>("select $1::json", jv);
        CHECK(via_json == jv);
        auto field = co_await c.query_one<std::string>("select $1->>'name'", jv);
        CHECK(field == "Grüße");
        // inet / cidr.
        auto ip = co_await c.query_one<pgcoro::inet>("select '192.168.0.1'::inet");
        CHECK(ip.to_string() == "192.168.0.1");
        auto net = co_await c.query_one<pgcoro::inet>("select '10.0.0.0/8'::cidr");
        CHECK(net.to_string() == "10.0.0.0/8");
        CHECK(net.is_cidr);
        auto v6 = co_await c.query_one<pgcoro::inet>("select '2001:db8::1/64'::inet");
        CHECK(v6.to_string() == "2001:db8::1/64");
        pgcoro::inet mine{boost::asio::ip::make_address("::1"), 128, false};
        CHECK(co_await echo(c, mine) == mine);
        auto mine_text = co_await c.query_one<std::string>("select $1::text", mine);
        CHECK(mine_text == "::1/128");
        // The default prefix is a single host of either family.
        pgcoro::inet host6;
        host6.address = boost::asio::ip::make_address("2001:db8::2");
        auto host6_text = co_await c.query_one<std::string>("select host($1) || '/' || masklen($1)", host6);
        CHECK(host6_text == "2001:db8::2/128");
        auto host6_back = co_await echo(c, host6);
        CHECK(host6_back == host6);
        CHECK(host6_back.prefix_length == 128);
        pgcoro::inet host4;
        host4.address = boost::asio::ip::make_address("192.0.2.7");
        auto host4_len = co_await c.query_one<std::int32_t>("select masklen($1)", host4);
        CHECK(host4_len == 32);
    });
}

TEST_CASE("dates and times at their edges, in several time zones", "[types][time]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        co_await c.execute("set datestyle = 'ISO, YMD'");
        for (auto [d, text] : std::vector<std::pair<sys_days, std::string>>{
                 {sys_days(year(1970) / 1 / 1), "1970-01-01"},
                 {sys_days(year(1969) / 12 / 31), "1969-12-31"},
                 {sys_days(year(1900) / 2 / 28), "1900-02-28"},
                 {sys_days(year(2000) / 1 / 1), "2000-01-01"},
                 {sys_days(year(2038) / 1 / 20), "2038-01-20"},
                 {sys_days(year(9999) / 12 / 31), "9999-12-31"}}) {
            INFO(text);
            CHECK(co_await echo(c, d) == d);
            auto t = co_await c.query_one<std::string>("select $1::text", d);
            CHECK(t == text);
            auto from_server = co_await c.query_one<sys_days>("select $1::date", text);
            CHECK(from_server == d);
        }
        auto pinf = co_await c.query_one<sys_days>("select 'infinity'::date");
        CHECK(pinf == sys_days::max());
        auto ninf_text = co_await c.query_one<std::string>("select $1::text", sys_days::min());
        CHECK(ninf_text == "-infinity");

        // timestamptz: the instant is the same whatever the session's time zone.
        pgcoro::timestamptz t0 = sys_days(year(2038) / 1 / 19) + 3h + 14min + 8s + 123456us;
        for (const std::string& tz : time_zones) {
            INFO(tz);
            co_await c.execute("select set_config('timezone', $1, false)", tz);
            CHECK(co_await echo(c, t0) == t0);
            auto utc = co_await c.query_one<std::string>("select to_char($1 at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')", t0);
            CHECK(utc == "2038-01-19 03:14:08.123456");
            auto parsed = co_await c.query_one<pgcoro::timestamptz>("select '2038-01-19 03:14:08.123456+00'::timestamptz");
            CHECK(parsed == t0);
        }
        co_await c.execute("set timezone = 'UTC'");
        pgcoro::timestamptz old = sys_days(year(1901) / 6 / 30) + 23h + 59min + 59s + 999999us;
        CHECK(co_await echo(c, old) == old);
        auto old_text = co_await c.query_one<std::string>("select $1::text", old);
        CHECK(old_text == "1901-06-30 23:59:59.999999+00");
        auto tinf = co_await c.query_one<pgcoro::timestamptz>("select '-infinity'::timestamptz");
        CHECK(tinf == pgcoro::timestamptz::min());
        CHECK(co_await echo(c, pgcoro::timestamptz::max()) == pgcoro::timestamptz::max());
        auto now_ok = co_await c.query_one<bool>("select abs(extract(epoch from now() - $1)) < 60",
                                                 time_point_cast<microseconds>(system_clock::now()));
        CHECK(now_ok);

        pgcoro::timestamp lt = local_days(year(2024) / 2 / 29) + 12h + 30min + 1us;
        CHECK(co_await echo(c, lt) == lt);
        auto lt_text = co_await c.query_one<std::string>("select $1::text", lt);
        CHECK(lt_text == "2024-02-29 12:30:00.000001");

        for (auto [us, text] : std::vector<std::pair<int64_t, std::string>>{
                 {0, "00:00:00"}, {86399999999, "23:59:59.999999"}, {86400000000, "24:00:00"}}) {
            pgcoro::time_of_day tod{microseconds(us)};
            auto back = co_await echo(c, tod);
            CHECK(back.to_duration() == tod.to_duration());
            auto t = co_await c.query_one<std::string>("select $1::text", tod);
            CHECK(t == text);
        }

        auto iv = co_await c.query_one<pgcoro::interval>("select '1 year 2 mons 3 days 04:05:06.789'::interval");
        CHECK(iv == pgcoro::interval{14, 3, ((4 * 60 + 5) * 60 + 6) * 1000000LL + 789000});
        pgcoro::interval neg{-1, -2, -3};
        CHECK(co_await echo(c, neg) == neg);
    });
}

TEST_CASE("arrays, NULL elements and their errors", "[types][arrays][pooler]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        std::vector<std::optional<int32_t>> with_nulls{1, std::nullopt, 3};
        CHECK(co_await echo(c, with_nulls) == with_nulls);
        auto from_server = co_await c.query_one<std::vector<std::optional<int32_t>>>("select array[1, null, 3]");
        CHECK(from_server == with_nulls);
        std::vector<std::string> words = sample_words;
        CHECK(co_await echo(c, words) == words);
        auto n = co_await c.query_one<int32_t>("select cardinality($1)", words);
        CHECK(n == 5);
        auto empty = co_await c.query_one<std::vector<int64_t>>("select '{}'::int8[]");
        CHECK(empty.empty());
        CHECK((co_await echo(c, std::vector<int64_t>{})).empty());
        std::vector<int32_t> wanted{2, 4, 9};
        auto any = co_await c.query<int32_t>("select g from generate_series(1, 5) g where g = any($1) order by g",
                                             wanted);
        CHECK(any == std::vector<int32_t>{2, 4});
        std::vector<boost::uuids::uuid> ids{pgcoro::new_uuid(), pgcoro::new_uuid()};
        CHECK(co_await echo(c, ids) == ids);
        std::vector<pgcoro::numeric> nums{pgcoro::numeric("1.5"), pgcoro::numeric("-2")};
        CHECK(co_await echo(c, nums) == nums);
        std::vector<pgcoro::timestamptz> times{pgcoro::timestamptz{}, pgcoro::timestamptz::max()};
        CHECK(co_await echo(c, times) == times);
        auto widened = co_await c.query_one<std::vector<int64_t>>("select array[1, 2]::int2[]");
        CHECK(widened == std::vector<int64_t>{1, 2});

        auto e1 = co_await expect_error(c.query_one<std::vector<int32_t>>("select array[1, null]"));
        CHECK(e1.code() == pgcoro::make_error_code(errc::decode_error));
        CHECK(std::string(e1.what()).find("std::optional") != std::string::npos);
        auto e2 = co_await expect_error(c.query_one<std::vector<int32_t>>("select array[[1, 2], [3, 4]]"));
        CHECK(e2.code() == pgcoro::make_error_code(errc::decode_error));
        CHECK(std::string(e2.what()).find("2-dimensional") != std::string::npos);
        auto e3 = co_await expect_error(c.query_one<std::vector<int32_t>>("select array['a']"));
        CHECK(e3.code() == pgcoro::make_error_code(errc::type_mismatch));
        auto e4 = co_await expect_error(c.query_one<std::vector<int32_t>>("select 1"));
        CHECK(e4.code() == pgcoro::make_error_code(errc::type_mismatch));
    });
}

TEST_CASE("enums, citext and structs of many types in a database of their own", "[types]") {
    scratch_db db;
    run([&](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect(db.url);
        co_await c.execute("create extension citext");
        co_await c.execute("create type mood as enum ('sad', 'ok', 'happy')");
        co_await c.execute(
            "create table things (id uuid primary key, name citext not null, m mood, tags text[], "
            "price numeric(12, 2), seen timestamptz, day date, ok bool not null, n int8)");
        auto id = pgcoro::new_uuid_v7();
        std::vector<std::string> tags = xy;
        co_await c.execute("insert into things values ($1, $2, $3, $4, $5, $6, $7, $8, $9)", id, "MiXeD", mood::happy,
                           tags, pgcoro::numeric("19.99"),
                           pgcoro::timestamptz(sys_days(year(2026) / 11 / 21) + 9h), sys_days(year(2026) / 11 / 21),
                           true, std::optional<int64_t>{});
        struct thing {
            boost::uuids::uuid id;
            std::string name;
            std::optional<mood> m;
            std::vector<std::string> tags;
            pgcoro::numeric price;
            std::optional<pgcoro::timestamptz> seen;
            sys_days day;
            bool ok;
            std::optional<int64_t> n;
        };
        auto t = co_await c.query_one<thing>("select * from things where name = $1::citext", "mixed");  // text params need ::citext
        CHECK(t.id == id);
        CHECK(t.name == "MiXeD");
        CHECK(t.m == mood::happy);
        CHECK(t.tags == xy);
        CHECK(t.price.to_string() == "19.99");
        CHECK(t.day == sys_days(year(2026) / 11 / 21));
        CHECK(!t.n);
        auto label = co_await c.query_one<std::string>("select m from things");
        CHECK(label == "happy");
        auto moods = co_await c.query<mood>("select unnest(enum_range(null::mood))");
        CHECK(moods == std::vector<mood>{mood::sad, mood::ok, mood::happy});
        co_await c.execute("alter type mood add value 'ecstatic'");
        auto e = co_await expect_error(c.query_one<mood>("select 'ecstatic'::mood"));
        CHECK(e.code() == pgcoro::make_error_code(errc::decode_error));
        CHECK(std::string(e.what()).find("unknown enum label \"ecstatic\"") != std::string::npos);
        auto e2 = co_await expect_error(c.execute("insert into things (id, name, ok, m) values ($1, 'x', true, $2)",
                                                  pgcoro::new_uuid(), static_cast<mood>(42)));
        CHECK(e2.code() == pgcoro::make_error_code(errc::encode_error));
        CHECK(std::string(e2.what()).find("parameter $2") != std::string::npos);
    });
}

TEST_CASE("a user type's own exceptions become encode_error / decode_error for that call only", "[types]") {
    run([](asio::io_context&) -> asio::awaitable<void> {
        auto c = co_await connect();
        auto e = co_await expect_error(c.query_one<std::int32_t>("select $1::int4", throwing_type{-1}));
        CHECK(e.code() == errc::encode_error);
        CHECK(std::string(e.what()).find("throwing_type: negative") != std::string::npos);
        e = co_await expect_error(c.query_one<throwing_type>("select -5::int4"));
        CHECK(e.code() == errc::decode_error);
        CHECK(std::string(e.what()).find("from the server") != std::string::npos);
        auto fine = co_await c.query_one<throwing_type>("select $1::int4", throwing_type{7});
        CHECK(fine.v == 7);
        // The same through binary COPY, naming the row and field.
        co_await c.execute("create temp table throwing_copy (v int4)");
        std::vector<throwing_type> rows{{1}, {-1}};
        e = co_await expect_error(c.copy_in("throwing_copy (v)", rows));
        CHECK(e.code() == errc::encode_error);
        CHECK(std::string(e.what()).find("row 1, field 0") != std::string::npos);
        co_await c.execute("insert into throwing_copy values (2), (-3)");
        {
            auto reader = co_await c.copy_out<throwing_type>("throwing_copy (v)");
            std::vector<throwing_type> got;
            e = co_await expect_error(reader.read(got));
            CHECK(e.code() == errc::decode_error);
            CHECK(std::string(e.what()).find("from the server") != std::string::npos);
        }
        auto left = co_await c.query_one<std::int64_t>("select count(*) from throwing_copy");
        CHECK(left == 2);
    });
}

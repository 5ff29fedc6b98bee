// Unit tests: no server needed.
#include "support.hpp"
#include "sql_lexer_reference.hpp"

#include <pgcoro/detail/pq.hpp>

#include <cmath>
#include <functional>
#include <random>
#include <limits>

using namespace pgcoro;

TEST_CASE("SQLSTATE codes pack into error_codes and back", "[errors]") {
    for (const char* s : {"00000", "42P01", "23505", "ZZZZZ", "XX000", "57014"}) {
        auto ec = make_sqlstate_error(s);
        CHECK(ec.category() == server_category());
        CHECK(sqlstate_of(ec) == s);
    }
    CHECK(make_sqlstate_error("42p01") == make_error_code(errc::protocol_error));
    CHECK(make_sqlstate_error("4201") == make_error_code(errc::protocol_error));
    CHECK(make_sqlstate_error("42P01").message() == "SQLSTATE 42P01 (undefined_table)");
    CHECK(make_sqlstate_error("42P99").message() == "SQLSTATE 42P99");
    CHECK(sqlstate_of(make_error_code(errc::no_rows)).empty());
    CHECK(make_error_code(errc::connect_timeout).message() == "timed out connecting to the server");
    boost::system::error_code ec = errc::type_mismatch;
    CHECK(ec.category() == client_category());
    diagnostics d;
    d.severity = "ERROR";
    d.sqlstate = "23505";
    d.message = "dup";
    d.detail = "Key (id)=(1)";
    pgcoro::error e(make_sqlstate_error("23505"), d);
    CHECK(std::string(e.what()).find("dup (detail: Key (id)=(1))") == 0);
    CHECK(e.sqlstate() == "23505");
}

TEST_CASE("passwords are found in connection strings and scrubbed from messages", "[redact]") {
    using detail::conninfo_secrets;
    using detail::redact;
    auto s1 = conninfo_secrets("postgresql://bob:s3cr%3At@db.example:5432/app?sslmode=require");
    REQUIRE(!s1.empty());
    CHECK(redact("failed for s3cr%3At here", s1) == "failed for ******** here");
    auto s2 = conninfo_secrets("postgres://bob@h/db?password=hunter2&sslmode=disable");
    CHECK(redact("x hunter2 y", s2) == "x ******** y");
    // key=value quoting: backslash escapes inside single quotes.
    auto s3 = conninfo_secrets("host=h user=bob password = 'it\\'s a \\\\ secret' dbname=d");
    CHECK(redact("bad: it's a \\ secret!", s3) == "bad: ********!");
    CHECK(redact("raw: it\\'s a \\\\ secret!", s3) == "raw: ********!");
    auto s4 = conninfo_secrets("host=h password=plain dbname=d");
    CHECK(redact("plain text plain", s4) == "******** text ********");
    CHECK(conninfo_secrets("host=h dbname=d").empty());
}

namespace {
template <class T>
std::string enc(const T& v) {
    std::string out;
    type_traits<T>::encode(v, out);
    return out;
}
}  // namespace

TEST_CASE("scalar encoders and decoders agree and reject malformed input", "[types]") {
    CHECK(enc<std::int32_t>(0x01020304) == std::string("\x01\x02\x03\x04", 4));
    CHECK(detail::decode_value<std::int32_t>(pg_type(oids::int4), enc<std::int32_t>(-5)) == -5);
    CHECK(detail::decode_value<std::int64_t>(pg_type(oids::int2), enc<std::int16_t>(-7)) == -7);
    CHECK(detail::decode_value<std::int64_t>(pg_type(oids::int8), enc<std::int64_t>(std::numeric_limits<std::int64_t>::min())) ==
          std::numeric_limits<std::int64_t>::min());
    CHECK(detail::decode_value<double>(pg_type(oids::float8), enc(2.5)) == 2.5);
    CHECK(detail::decode_value<double>(pg_type(oids::float4), enc(2.5f)) == 2.5);
    CHECK(std::isnan(detail::decode_value<float>(pg_type(oids::float4), enc(std::numeric_limits<float>::quiet_NaN()))));
    CHECK(detail::decode_value<bool>(pg_type(oids::bool_), enc(true)) == true);

    CHECK_THROWS_AS(detail::decode_value<std::int32_t>(pg_type(oids::int4), std::string_view("\x01\x02\x03", 3)), value_error);
    CHECK_THROWS_AS(detail::decode_value<std::int32_t>(pg_type(oids::int4), std::string_view()), value_error);
    CHECK_THROWS_AS(detail::decode_value<std::int16_t>(pg_type(oids::int2), std::string_view("\x01\x02\x03\x04", 4)), value_error);
    CHECK_THROWS_AS(detail::decode_value<std::int64_t>(pg_type(oids::int8), std::string_view("\x01", 1)), value_error);
    CHECK_THROWS_AS(detail::decode_value<double>(pg_type(oids::float8), std::string_view("\x01\x02\x03\x04", 4)), value_error);
    CHECK_THROWS_AS(detail::decode_value<float>(pg_type(oids::float4), std::string_view("\x01", 1)), value_error);
    CHECK_THROWS_AS(detail::decode_value<bool>(pg_type(oids::bool_), std::string_view("\x02", 1)), value_error);
    CHECK_THROWS_AS(detail::decode_value<bool>(pg_type(oids::bool_), std::string_view("\x01\x00", 2)), value_error);

    CHECK(detail::accepts_type<std::int32_t>(pg_type(oids::int2)));
    CHECK(!detail::accepts_type<std::int32_t>(pg_type(oids::int8)));
    CHECK(!detail::accepts_type<std::int16_t>(pg_type(oids::int4)));
    CHECK(!detail::accepts_type<std::string>(pg_type(oids::int4)));
    CHECK(detail::accepts_type<std::string>(pg_type(oids::varchar)));
    CHECK(type_name_of(oids::timestamptz) == "timestamptz");
    CHECK(type_name_of(123456) == "oid 123456");
}

TEST_CASE("parameters are encoded eagerly with their types and NULLs", "[params]") {
    std::optional<std::int32_t> none;
    std::string s = "abc";
    const char* nul = nullptr;
    auto p = detail::encode_params(std::int16_t{1}, s, "lit", none, std::nullopt, nul, 2.0, true);
    REQUIRE(p.count() == 8);
    CHECK(std::vector<unsigned>(p.types.begin(), p.types.end()) == std::vector<unsigned>{oids::int2, oids::text, oids::text, oids::int4, 0, oids::text,
                                           oids::float8, oids::bool_});
    CHECK(std::vector<int>(p.lengths.begin(), p.lengths.end()) == std::vector<int>{2, 3, 3, 0, 0, 0, 8, 1});
    s = "changed";  // the values were copied when the statement was made
    const char* const* v = p.pointers();
    CHECK(std::string_view(v[1], 3) == "abc");
    CHECK(std::string_view(v[2], 3) == "lit");
    CHECK(v[3] == nullptr);
    CHECK(v[4] == nullptr);
    CHECK(v[5] == nullptr);
    CHECK(std::vector<int>(p.formats.begin(), p.formats.end()) == std::vector<int>(8, 1));
}

namespace {

/// Feeds decode every prefix of a valid encoding and thousands of seeded mutations of it:
/// each must decode or throw value_error, nothing else (and, under ASan/UBSan, no UB).
template <class T>
void hammer(const std::string& valid, oid_t oid) {
    INFO(detail::cpp_type_name<T>() << " from " << type_name_of(oid));
    auto attempt = [&](const std::string& bytes) {
        try {
            (void)detail::decode_value<T>(pg_type(oid), bytes);
        } catch (const value_error&) {
        }
    };
    attempt(valid);
    for (std::size_t n = 0; n < valid.size(); ++n) attempt(valid.substr(0, n));
    std::mt19937 rng(20261121);
    for (int i = 0; i < 3000; ++i) {
        std::string m = valid;
        int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits && !m.empty(); ++e) {
            std::size_t at = rng() % m.size();
            switch (rng() % 4) {
            case 0: m[at] = static_cast<char>(rng()); break;
            case 1: m[at] = static_cast<char>(0xFF); break;
            case 2: m.erase(at, 1 + rng() % 4); break;
            default: m.insert(at, 1, static_cast<char>(rng())); break;
            }
        }
        attempt(m);
    }
}

}  // namespace

TEST_CASE("every decoder survives malformed binary input", "[types][malformed]") {
    using namespace std::chrono;
    hammer<bool>(enc(true), oids::bool_);
    hammer<std::int64_t>(enc<std::int64_t>(-3), oids::int8);
    hammer<std::int64_t>(enc<std::int32_t>(-3), oids::int4);
    hammer<double>(enc(1.5), oids::float8);
    hammer<numeric>(enc(numeric("-12345678.000123")), oids::numeric);
    hammer<numeric>(enc(numeric(std::string(300, '9') + ".5")), oids::numeric);
    hammer<std::string>(enc(std::string("\x01{\"a\":1}")), oids::jsonb);
    hammer<std::vector<std::byte>>(std::string("\0\1\2", 3), oids::bytea);
    hammer<boost::uuids::uuid>(enc(new_uuid()), oids::uuid);
    hammer<std::chrono::sys_days>(enc(sys_days(year(2001) / 2 / 3)), oids::date);
    hammer<timestamptz>(enc(timestamptz(microseconds(123456789))), oids::timestamptz);
    hammer<timestamp>(enc(timestamp(microseconds(-5))), oids::timestamp);
    hammer<time_of_day>(enc(time_of_day(microseconds(1000))), oids::time);
    hammer<interval>(enc(interval{1, 2, 3}), oids::interval);
    hammer<inet>(enc(inet{boost::asio::ip::make_address("10.1.2.3"), 8, false}), oids::inet);
    hammer<inet>(enc(inet{boost::asio::ip::make_address("2001:db8::1"), 64, false}), oids::inet);
    std::vector<std::optional<std::int32_t>> arr{1, std::nullopt, 3};
    hammer<std::vector<std::optional<std::int32_t>>>(enc(arr), 1007);
    hammer<std::vector<std::int32_t>>(enc(arr), 1007);
    std::vector<std::string> words{"ab", "", "c"};
    hammer<std::vector<std::string>>(enc(words), 1009);
    std::vector<numeric> nums{numeric("1.5"), numeric("NaN")};
    hammer<std::vector<numeric>>(enc(nums), 1231);
    std::vector<std::vector<std::optional<std::int64_t>>> grid{{1, std::nullopt}, {3, 4}};
    hammer<std::vector<std::vector<std::optional<std::int64_t>>>>(enc(grid), 1016);
    hammer<range<std::int32_t>>(enc(range<std::int32_t>{1, 9, true, false, false}), oids::int4range);
    hammer<range<numeric>>(enc(range<numeric>{std::nullopt, numeric("2.5"), false, true, false}), oids::numrange);
    hammer<range<timestamptz>>(enc(range<timestamptz>{timestamptz{}, std::nullopt, true, false, false}), oids::tstzrange);
    multirange<std::int64_t> mr{{range<std::int64_t>{1, 2, true, false, false}, range<std::int64_t>{4, 9, true, false, false}}};
    hammer<multirange<std::int64_t>>(enc(mr), 4536);
    hammer<hstore>(enc(hstore{{"a", "1"}, {"b", std::nullopt}}), 0);
    hammer<time_tz>(enc(time_tz{microseconds(5), seconds(-3600)}), oids::timetz);
    hammer<macaddr>(enc(macaddr{{1, 2, 3, 4, 5, 6}}), oids::macaddr);
    hammer<bit_string>(enc(bit_string{{true, false, true, true, false, false, true, false, true}}), oids::varbit);
    hammer<money>(enc(money{-5}), oids::money);
    hammer<seconds>(enc(seconds(90)), oids::interval);
    hammer<nanoseconds>(enc(nanoseconds(7000)), oids::interval);
}

TEST_CASE("built-in types are known by heart; others by the connection's lookup", "[types][catalog]") {
    CHECK(type_name_of(oids::timestamptz) == "timestamptz");
    CHECK(type_name_of(1007) == "int4[]");
    CHECK(pg_type(oids::int8range).kind() == type_kind::range);
    CHECK(pg_type(oids::int8range).element().oid() == oids::int8);
    CHECK(pg_type(4535).element().element().name() == "date");  // datemultirange
    // Every fixed-OID type and its array, the ones pgcoro maps nothing to included.
    CHECK(type_name_of(1017) == "point[]");
    CHECK(pg_type(1017).kind() == type_kind::array);
    CHECK(pg_type(1017).element().oid() == 600);
    CHECK(type_name_of(2210) == "regclass[]");
    CHECK(type_name_of(3221) == "pg_lsn[]");
    CHECK(pg_type(2287).element().name() == "record");  // _record: an array of record
    CHECK(pg_type(2283).kind() == type_kind::pseudo);    // anyelement
    CHECK(!pg_type(16500).known());
    CHECK(pg_type(16500).display_name() == "oid 16500");

    type_catalog cat;
    type_description mood;
    mood.oid = 16500;
    mood.name = "mood";
    mood.schema = "app";
    mood.kind = type_kind::enumeration;
    cat.add(mood);
    type_description moods{16499, "_mood", "app", type_kind::array, 16500, {}, {}};
    cat.add(moods);
    type_description pos{16600, "positive", "public", type_kind::domain, oids::int4, {}, {}};
    cat.add(pos);
    type_description citext{16700, "citext", "public", type_kind::base, 0, {}, {}};
    cat.add(citext);
    CHECK(pg_type(16500, &cat).display_name() == "app.mood");
    CHECK(pg_type(16499, &cat).display_name() == "app.mood[]");
    CHECK(pg_type(16500, &cat).is("app.mood"));
    CHECK(!pg_type(16500, &cat).is("public.mood"));
    CHECK(pg_type(16600, &cat).base().oid() == oids::int4);
    // Exact acceptance: by OID, by kind, by name, and nothing by range.
    CHECK(detail::accepts_type<std::string>(pg_type(16500, &cat)));   // an enum's label
    CHECK(detail::accepts_type<std::string>(pg_type(16700, &cat)));   // citext
    CHECK(!detail::accepts_type<std::string>(pg_type(16600, &cat)));  // a domain's column arrives as its base
    CHECK(!detail::accepts_type<std::string>(pg_type(16800, &cat)));  // not looked up: not text
    CHECK(detail::accepts_type<std::vector<std::string>>(pg_type(16499, &cat)));
    CHECK(!detail::accepts_type<std::vector<std::string>>(pg_type(16500, &cat)));
    CHECK(!detail::accepts_type<hstore>(pg_type(16700, &cat)));
    CHECK(cat.knows(oids::int4));
    CHECK(cat.knows(3614));  // tsvector: made by initdb, never looked up
    CHECK(cat.knows(12000));
    CHECK(cat.knows(16500));
    CHECK(!cat.knows(16800));
    // A cyclic answer (from the network) names itself without recursing forever.
    type_description loop{16900, "_loop", "public", type_kind::array, 16900, {}, {}};
    cat.add(loop);
    CHECK(pg_type(16900, &cat).display_name() == "oid 16900");
}

namespace {
/// A result with the given column types and no rows, as libpq would hand one over.
detail::pgresult_ptr fake_result(std::vector<oid_t> types) {
    detail::pgresult_ptr r(PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK));
    std::vector<PGresAttDesc> attrs(types.size());
    std::vector<std::string> names(types.size());
    for (std::size_t i = 0; i < types.size(); ++i) {
        names[i] = "c" + std::to_string(i);
        attrs[i].name = names[i].data();
        attrs[i].typid = types[i];
        attrs[i].format = 1;
        attrs[i].typlen = -1;
        attrs[i].atttypmod = -1;
    }
    PQsetResultAttrs(r.get(), static_cast<int>(attrs.size()), attrs.data());
    return r;
}
struct fake_op {
    detail::pgresult_ptr result;
    boost::system::error_code ec;
};
}  // namespace

TEST_CASE("the type gate holds results back for one lookup, in order", "[types][catalog]") {
    detail::type_gate<fake_op> gate;
    auto op = [](std::vector<oid_t> types) {
        auto o = std::make_shared<fake_op>();
        o->result = fake_result(std::move(types));
        return o;
    };
    auto a = op({oids::int4});
    CHECK(!gate.hold(a));  // built-in only: completes at once
    auto b = op({oids::int4, 16500});
    fake_op* b_raw = b.get();
    REQUIRE(gate.hold(b));  // kept by the gate (moved from b)
    auto c = op({oids::text});  // behind b: waits too, to keep the order
    fake_op* c_raw = c.get();
    REQUIRE(gate.hold(c));
    auto asked = gate.to_look_up();
    CHECK(asked == std::vector<std::int64_t>{16500});
    CHECK(gate.to_look_up().empty());  // one lookup at a time
    auto d = op({16600});  // a type first seen while the lookup is out
    fake_op* d_raw = d.get();
    REQUIRE(gate.hold(d));
    auto e = op({16600});
    fake_op* e_raw = e.get();
    REQUIRE(gate.hold(e));
    auto failed_op = op({16600});
    failed_op->ec = make_error_code(errc::protocol_error);
    CHECK(!gate.hold(failed_op));  // an error has no columns to read: never waits
    auto taken = gate.take(e_raw);  // its caller gave up
    CHECK(taken.get() == e_raw);
    CHECK(!gate.take(e_raw));
    // The answer describes 16500 only.
    detail::pgresult_ptr answer = fake_result({oids::int8, oids::text, oids::text, oids::text, oids::int8, 1016, 1009});
    auto set = [&](int col, std::string bytes) {
        PQsetvalue(answer.get(), 0, col, bytes.data(), static_cast<int>(bytes.size()));
    };
    std::string s;
    detail::write_be<std::int64_t>(s, 16500);
    set(0, s);
    set(1, "mood");
    set(2, "public");
    set(3, "e");
    s.clear();
    detail::write_be<std::int64_t>(s, 0);
    set(4, s);
    std::string empty_array;
    type_traits<std::vector<std::int64_t>>::encode({}, empty_array);
    set(5, empty_array);
    set(6, empty_array);
    auto ready = gate.on_answer(answer.get());
    REQUIRE(ready.size() == 2);  // b and c; d waits for its own lookup
    CHECK(ready[0].get() == b_raw);
    CHECK(ready[1].get() == c_raw);
    CHECK(pg_type(16500, gate.catalog().get()).name() == "mood");
    CHECK(gate.to_look_up() == std::vector<std::int64_t>{16600});
    auto failed = gate.on_answer(nullptr);  // the lookup failed: go on with what is known
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].get() == d_raw);
    CHECK(!gate.catalog()->knows(16600));  // asked again next time
    CHECK(!gate.holding());
}

TEST_CASE("crafted hostile values are errors, not crashes", "[types][malformed]") {
    auto be32 = [](std::int32_t v) { std::string s; detail::write_be(s, v); return s; };
    auto be16 = [](std::int16_t v) { std::string s; detail::write_be(s, v); return s; };
    using ints = std::vector<std::int32_t>;
    // An array claiming two billion elements with no data.
    std::string huge = be32(1) + be32(0) + be32(23) + be32(0x7FFFFFFF) + be32(1);
    CHECK_THROWS_AS(detail::decode_value<ints>(pg_type(1007), huge), value_error);
    // Negative element count, negative element length, length past the end.
    CHECK_THROWS_AS(detail::decode_value<ints>(pg_type(1007), be32(1) + be32(0) + be32(23) + be32(-1) + be32(1)), value_error);
    CHECK_THROWS_AS(detail::decode_value<ints>(pg_type(1007), be32(1) + be32(0) + be32(23) + be32(1) + be32(1) + be32(-7)), value_error);
    CHECK_THROWS_AS(detail::decode_value<ints>(pg_type(1007), be32(1) + be32(0) + be32(23) + be32(1) + be32(1) + be32(400) + "abcd"), value_error);
    // Wrong element type in the data.
    CHECK_THROWS_AS(detail::decode_value<ints>(pg_type(1007), be32(1) + be32(0) + be32(25) + be32(1) + be32(1) + be32(1) + "x"), value_error);
    // Three dimensions; negative dimensions; bad flags.
    CHECK_THROWS_AS(detail::decode_value<ints>(pg_type(1007), be32(3) + be32(0) + be32(23)), value_error);
    CHECK_THROWS_AS(detail::decode_value<ints>(pg_type(1007), be32(-1) + be32(0) + be32(23)), value_error);
    CHECK_THROWS_AS(detail::decode_value<ints>(pg_type(1007), be32(1) + be32(9) + be32(23)), value_error);
    // numeric: digit out of range, bad sign, extreme weight and scale (valid, bounded).
    CHECK_THROWS_AS(detail::decode_value<numeric>(pg_type(oids::numeric), be16(1) + be16(0) + be16(0) + be16(0) + be16(10000)), value_error);
    CHECK_THROWS_AS(detail::decode_value<numeric>(pg_type(oids::numeric), be16(0) + be16(0) + be16(0x1234) + be16(0)), value_error);
    auto wide = detail::decode_value<numeric>(pg_type(oids::numeric), be16(1) + be16(0x7FFF) + be16(0) + be16(0x3FFF) + be16(1));
    CHECK(wide.to_string().size() == 1 + 0x7FFF * 4 + 1 + 0x3FFF);
    auto tiny = detail::decode_value<numeric>(pg_type(oids::numeric), be16(1) + be16(-0x8000) + be16(0) + be16(0) + be16(1));
    CHECK(tiny.to_string() == "0");
    CHECK_THROWS_AS(detail::decode_value<numeric>(pg_type(oids::numeric), be16(-1) + be16(0) + be16(0) + be16(0)), value_error);
    // Timestamps at the int64 edge that are not the infinities.
    std::string near_max;
    detail::write_be<std::int64_t>(near_max, std::numeric_limits<std::int64_t>::max() - 1);
    CHECK_THROWS_AS(detail::decode_value<timestamptz>(pg_type(oids::timestamptz), near_max), value_error);
    std::string near_min;
    detail::write_be<std::int64_t>(near_min, std::numeric_limits<std::int64_t>::min() + 1);
    CHECK(detail::decode_value<timestamptz>(pg_type(oids::timestamptz), near_min) < timestamptz{});
    // inet with a bad family or prefix.
    CHECK_THROWS_AS(detail::decode_value<inet>(pg_type(oids::inet), std::string("\x07\x20\x00\x04\x01\x02\x03\x04", 8)), value_error);
    CHECK_THROWS_AS(detail::decode_value<inet>(pg_type(oids::inet), std::string("\x02\x21\x00\x04\x01\x02\x03\x04", 8)), value_error);
    // jsonb with an unknown version.
    CHECK_THROWS_AS(detail::decode_value<std::string>(pg_type(oids::jsonb), std::string("\x02{}", 3)), value_error);
}

TEST_CASE("UUIDv7 is time-ordered and unique", "[uuid]") {
    std::vector<boost::uuids::uuid> ids;
    for (int i = 0; i < 20000; ++i) ids.push_back(new_uuid_v7());
    for (std::size_t i = 1; i < ids.size(); ++i) REQUIRE(ids[i - 1] < ids[i]);
    for (const auto& u : ids) {
        REQUIRE((u.data[6] >> 4) == 7);
        REQUIRE((u.data[8] & 0xC0) == 0x80);
    }
    auto ms_now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    std::uint64_t ms = 0;
    for (int i = 0; i < 6; ++i) ms = (ms << 8) | ids.back().data[i];
    CHECK(static_cast<long long>(ms) <= ms_now + 50);
    CHECK(static_cast<long long>(ms) > ms_now - 60000);
    CHECK(new_uuid() != new_uuid());
    CHECK((new_uuid().data[6] >> 4) == 4);
}

// ---- migrations: files, checksums, statements, plans -----------------------------------

namespace {
pgcoro::error migration_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const pgcoro::error& e) {
        return e;
    }
    FAIL("expected a pgcoro::error");
    throw std::logic_error("unreachable");
}

applied_migration applied_row(const migration& m) {
    applied_migration a;
    a.version = m.version;
    a.name = m.name;
    a.checksum = m.up.checksum;
    return a;
}
}  // namespace

TEST_CASE("migration checksums ignore a BOM and CRLF line ends, nothing else", "[migrate]") {
    CHECK(detail::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    auto lf = sql_script::from("1_a.up.sql", "create table t (a int);\nselect 1;\n");
    auto crlf = sql_script::from("1_a.up.sql", "\xEF\xBB\xBF" "create table t (a int);\r\nselect 1;\r\n");
    CHECK(lf.checksum == crlf.checksum);
    CHECK(crlf.sql == lf.sql);
    CHECK(sql_script::from("1_a.up.sql", "create table t (a int);\rselect 1;\n").checksum != lf.checksum);
    CHECK(sql_script::from("1_a.up.sql", "create table t (a int); \nselect 1;\n").checksum != lf.checksum);
    CHECK(sql_script::from("x", "  --  pgcoro:no-transaction \r\ncreate index concurrently i on t (a);").no_transaction);
    CHECK_FALSE(sql_script::from("x", "\n-- pgcoro:no-transaction\nselect 1").no_transaction);
    CHECK_FALSE(lf.no_transaction);
}

TEST_CASE("SQL scripts split into statements the way psql does", "[migrate]") {
    auto st = detail::split_sql(
        "-- comment; not a statement\n"
        "create table \"a;b\" (x text default 'it''s; fine');\n"
        "/* block /* nested; */ still; */ select E'\\'; still a string', $1;\n"
        "create function f() returns int language plpgsql as $body$ begin return 1; end; $body$;\n"
        "create function g() returns int language sql begin atomic select 1; select case when true then 2 end; end;\n"
        "select $$;$$ ;;  \n -- trailing comment only\n");
    REQUIRE(st.size() == 5);
    CHECK(st[0].line == 2);
    CHECK(st[0].text == "create table \"a;b\" (x text default 'it''s; fine')");
    CHECK(st[1].line == 3);
    CHECK(st[1].first_word == "SELECT");
    CHECK(st[2].first_word == "CREATE");
    CHECK(st[2].text.ends_with("$body$"));
    CHECK(st[3].text.ends_with("end; end"));
    CHECK(st[3].line == 5);
    CHECK(st[4].text == "select $$;$$");
    CHECK(detail::split_sql("select 'unterminated; still one").size() == 1);
    CHECK(detail::split_sql("  -- nothing\n/* at all */ ;").empty());
    // A comment between BEGIN and ATOMIC still opens the body.
    auto atomic = detail::split_sql("create function h() returns int begin /* body */ atomic select 1; end;\nselect 2;");
    REQUIRE(atomic.size() == 2);
    CHECK(atomic[1].line == 2);
}

TEST_CASE("the lexer-based splitter and COPY detector agree with the ones before them", "[migrate][pipeline]") {
    auto same = [](const std::string& text) {
        INFO(text);
        auto mine = detail::split_sql(text);
        auto theirs = sql_reference::split_sql(text);
        REQUIRE(mine.size() == theirs.size());
        for (std::size_t k = 0; k < mine.size(); ++k) {
            CHECK(mine[k].text == theirs[k].text);
            CHECK(mine[k].line == theirs[k].line);
            CHECK(mine[k].first_word == theirs[k].first_word);
            CHECK(mine[k].second_word == theirs[k].second_word);
        }
        CHECK(detail::copies_with_client(text) == sql_reference::copies_with_client(text));
        std::size_t i = 0;  // the tokens cover the text, none empty
        while (i < text.size()) {
            auto t = detail::sql_token_at(text, i);
            REQUIRE(!t.text.empty());
            i += t.text.size();
        }
        REQUIRE(i == text.size());
    };
    std::mt19937 rng(12345);
    // Characters that open or close something, and a little else.
    const std::string_view alphabet = "'\"$-/*;()\\\n EeaTt1_\xC3\xA9";
    for (int round = 0; round < 20000; ++round) {
        std::string text;
        for (std::size_t k = rng() % 40; k > 0; --k) text += alphabet[rng() % alphabet.size()];
        same(text);
    }
    // Statements' words, quotes and dollar quotes (no comment between BEGIN and ATOMIC:
    // that one now opens a body, as the server reads it).
    const std::vector<std::string> pieces = {"copy ", "COPY ", "t ", "from ", "to ", "stdin ", "STDOUT ", "(", ")",
                                             ";", "'", "\"", "$$", "$a$", "$1", "\n", "E'", "\\", "create ",
                                             "function ", "begin ", "atomic ", "case ", "end ", "select "};
    for (int round = 0; round < 20000; ++round) {
        std::string text;
        for (std::size_t k = rng() % 16; k > 0; --k) text += pieces[rng() % pieces.size()];
        same(text);
    }
    CHECK(detail::sql_token_at("$1", 0).kind == detail::sql_token_kind::other);
    CHECK(detail::sql_token_at("$a$ x $a$;", 0).text == "$a$ x $a$");
    CHECK(detail::sql_token_at("e'\\'' x'", 0).kind == detail::sql_token_kind::word);
    CHECK(detail::sql_token_at("e'\\'' x'", 1).text == "'\\''");  // an escaped quote inside
    CHECK(detail::sql_token_at("/* a /* b */ c */d", 0).text == "/* a /* b */ c */");
}

TEST_CASE("a transactional migration may not commit or roll back itself", "[migrate]") {
    auto e = migration_error([] { sql_script::from("7_x.up.sql", "create table t (a int);\n\nCOMMIT;\n"); });
    CHECK(e.code() == errc::invalid_migration);
    CHECK(std::string(e.what()).find("7_x.up.sql line 3: COMMIT") != std::string::npos);
    for (const char* bad : {"begin;", "start transaction;", "end;", "rollback;", "abort;", "prepare transaction 'x';"})
        CHECK_THROWS_AS(sql_script::from("1_a.up.sql", bad), pgcoro::error);
    CHECK_NOTHROW(sql_script::from("1_a.up.sql", "savepoint s; select 1; rollback to savepoint s; release s;"));
    CHECK_NOTHROW(sql_script::from("1_a.up.sql", "do $$ begin perform 1; end $$; create function h() returns void "
                                                 "language plpgsql as 'begin commit; end';"));
    CHECK_NOTHROW(sql_script::from("1_a.up.sql", "-- pgcoro:no-transaction\ncommit;"));
}

TEST_CASE("migration sets are read from file names and checked", "[migrate]") {
    std::vector<sql_file> files = {{"20261121000002_b.up.sql", "select 2;"},
                                   {"3_c-x.up.sql", "select 3;"},
                                   {"20261121000002_b.down.sql", "select -2;"},
                                   {"1_a.up.sql", "select 1;"}};
    auto set = migration_set::from_files(files);
    REQUIRE(set.size() == 3);
    CHECK(set.items()[0].version == 1);
    CHECK(set.items()[1].name == "c-x");
    CHECK(set.items()[2].version == 20261121000002);
    CHECK(set.items()[2].down);
    CHECK_FALSE(set.items()[0].down);
    CHECK(set.find(3) == &set.items()[1]);
    CHECK(set.find(2) == nullptr);

    auto bad = [](std::vector<sql_file> f) { return migration_error([&] { migration_set::from_files(f); }); };
    std::vector<sql_file> cases[] = {
        {{"1_a.sql", ""}},                                 // neither up nor down
        {{"a_b.up.sql", ""}},                              // no version
        {{"1.up.sql", ""}},                                // no name
        {{"-1_a.up.sql", ""}},                             // negative
        {{"99999999999999999999_a.up.sql", ""}},           // too big for bigint
        {{"1_a b.up.sql", ""}},                            // space in the name
        {{"1_a.up.sql", ""}, {"1_b.up.sql", ""}},          // version used twice
        {{"2_a.down.sql", ""}},                            // down without up
    };
    for (auto& c : cases) CHECK(bad(c).code() == errc::invalid_migration);
    CHECK(std::string(bad(cases[6]).what()).find("version 1 is used twice") != std::string::npos);
    CHECK(std::string(bad(cases[7]).what()).find("2_a.down.sql has no matching .up.sql") != std::string::npos);

    auto seeds = seed_set::from_files({{"b.sql", "select 1"}, {"a.sql", "select 2"}});
    REQUIRE(seeds.size() == 2);
    CHECK(seeds.items()[0].file == "a.sql");
    CHECK_THROWS_AS(seed_set::from_files({{"a.txt", ""}}), pgcoro::error);
}

TEST_CASE("migration plans refuse drift and respect order, targets and down files", "[migrate]") {
    std::vector<sql_file> files = {{"1_a.up.sql", "select 1"}, {"1_a.down.sql", "select -1"},
                                   {"2_b.up.sql", "select 2"}, {"3_c.up.sql", "select 3"},
                                   {"3_c.down.sql", "select -3"}};
    auto set = migration_set::from_files(files);
    std::vector<applied_migration> none;
    auto all = detail::plan_up(set, none, std::nullopt, false);
    REQUIRE(all.size() == 3);
    CHECK(detail::plan_up(set, none, 2, false).size() == 2);

    std::vector<applied_migration> applied = {applied_row(set.items()[0])};
    CHECK(detail::plan_up(set, applied, std::nullopt, false).front()->version == 2);

    // 3 applied, 2 not: out of order.
    std::vector<applied_migration> gap = {applied_row(set.items()[0]), applied_row(set.items()[2])};
    auto e = migration_error([&] { detail::plan_up(set, gap, std::nullopt, false); });
    CHECK(e.code() == errc::migration_out_of_order);
    CHECK(std::string(e.what()).find("2_b.up.sql") != std::string::npos);
    CHECK(detail::plan_up(set, gap, std::nullopt, true).size() == 1);

    // A changed file: both checksums and the file are named.
    auto changed = applied;
    changed[0].checksum = std::string(64, 'f');
    e = migration_error([&] { detail::check_history(set, changed, false); });
    CHECK(e.code() == errc::migration_checksum_mismatch);
    std::string what = e.what();
    CHECK(what.find("1_a.up.sql") != std::string::npos);
    CHECK(what.find(std::string(64, 'f')) != std::string::npos);
    CHECK(what.find(set.items()[0].up.checksum) != std::string::npos);

    // A version the set does not know.
    auto unknown = applied;
    unknown.push_back(applied_migration{9, "gone", "x", {}, 0});
    CHECK(migration_error([&] { detail::check_history(set, unknown, false); }).code() ==
          errc::migration_unknown_version);
    CHECK_NOTHROW(detail::check_history(set, unknown, true));

    // Down: newest first, a missing down file stops it before anything runs.
    std::vector<applied_migration> three = {applied_row(set.items()[0]), applied_row(set.items()[1]),
                                            applied_row(set.items()[2])};
    auto one = detail::plan_down(set, three, 1, std::nullopt);
    REQUIRE(one.size() == 1);
    CHECK(one[0]->version == 3);
    e = migration_error([&] { detail::plan_down(set, three, 2, std::nullopt); });
    CHECK(e.code() == errc::migration_missing_down);
    CHECK(std::string(e.what()).find("2_b.up.sql") != std::string::npos);
    CHECK(detail::plan_down(set, three, 5, 2).size() == 1);
    CHECK_THROWS_AS(detail::plan_down(set, three, 0, 0), pgcoro::error);
    CHECK(detail::plan_down(set, none, 5, std::nullopt).empty());
}

TEST_CASE("server error positions map to lines and columns", "[migrate]") {
    std::string text = "select 1;\nselect é from\n  nope";
    CHECK(detail::locate(text, 1).line == 1);
    auto l = detail::locate(text, 18);  // é: two bytes, one character
    CHECK(l.line == 2);
    CHECK(l.column == 8);
    CHECK(detail::locate(text, 0).line == 0);
    CHECK(detail::locate(text, 1000).line == 0);
    CHECK(detail::quoted_table("s.t") == "\"s\".\"t\"");
    CHECK_THROWS_AS(detail::quoted_table("x\"; drop"), pgcoro::error);
    CHECK(detail::migration_lock_key("a") != detail::migration_lock_key("b"));
}

TEST_CASE("numeric from any integer type, exactly; inet's default prefix is a single host", "[types]") {
    CHECK(numeric(5LL).to_string() == "5");
    CHECK(numeric(std::numeric_limits<std::uint64_t>::max()).to_string() == "18446744073709551615");
    CHECK(numeric(std::numeric_limits<long long>::min()).to_string() == "-9223372036854775808");
    CHECK(numeric(static_cast<short>(-7)).to_string() == "-7");
    CHECK(numeric(5LL) == numeric("5"));
    inet v6;
    v6.address = boost::asio::ip::make_address("2001:db8::1");
    CHECK(v6.prefix() == 128);
    CHECK(v6.to_string() == "2001:db8::1");
    std::string out;
    type_traits<inet>::encode(v6, out);
    REQUIRE(out.size() == 4 + 16);
    CHECK(static_cast<unsigned char>(out[1]) == 128);
    inet v4;
    v4.address = boost::asio::ip::make_address("10.0.0.1");
    CHECK(v4.prefix() == 32);
    CHECK(type_traits<inet>::decode(oids::inet, out) == v6);
}

namespace {
const std::vector<std::pair<bool, std::string>> client_copy_cases = {
    {true, "COPY t FROM STDIN"},
    {true, "copy t (a, b) from stdin with (format csv)"},
    {true, "  -- c\n copy (select 1) to\n/* x /* nested */ */ stdout"},
    {true, "create table x(); copy x from stdin;"},
    {true, "COPY t TO STDIN"},    // the server takes either word in either direction
    {true, "COPY t FROM STDOUT"},
    {true, "COPY (SELECT a||';'||b FROM t) TO STDOUT"},
    {true, "INSERT INTO t VALUES ('--'); COPY t FROM STDIN"},
    {true, "select $$;$$; copy t from stdin"},
    {true, "COPY \"my table\" FROM STDIN"},
    {true, "COPY t TO\fSTDOUT"},  // a form feed is white space to the server
    {false, "copy t from '/tmp/x'"},
    {false, "copy t to '/tmp/stdout'"},
    {false, "select 'copy' ; select 1 from stdin"},
    {false, "select copy_from_stdin()"},
    {false, ""},
    {false, "COMMENT ON TABLE t IS 'loaded by COPY t FROM STDIN'"},
    {false, "COPY (SELECT * FROM stdin) TO '/f'"},  // a table called stdin
    {false, "copy t from 'stdin'"},
    {false, "select 1 /* unterminated"},
    {false, "select 'unterminated"},
    {false, "select $tag$ unterminated"},
    {false, "copy_t from stdin"},
    {false, "select E'\\'; copy t from stdin'"},
};
}  // namespace

TEST_CASE("COPY with the client is recognised past quotes, comments and parentheses", "[pipeline]") {
    for (const auto& [want, sql] : client_copy_cases) {
        INFO(sql);
        CHECK(pgcoro::detail::copies_with_client(sql) == want);
    }
}

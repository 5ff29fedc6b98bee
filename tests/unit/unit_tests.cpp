// Unit tests: no server needed.
#include "support.hpp"

#include <pgcoro/detail/pq.hpp>

#include <cmath>
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
    CHECK(type_traits<std::int32_t>::decode(oids::int4, enc<std::int32_t>(-5)) == -5);
    CHECK(type_traits<std::int64_t>::decode(oids::int2, enc<std::int16_t>(-7)) == -7);
    CHECK(type_traits<std::int64_t>::decode(oids::int8, enc<std::int64_t>(std::numeric_limits<std::int64_t>::min())) ==
          std::numeric_limits<std::int64_t>::min());
    CHECK(type_traits<double>::decode(oids::float8, enc(2.5)) == 2.5);
    CHECK(type_traits<double>::decode(oids::float4, enc(2.5f)) == 2.5);
    CHECK(std::isnan(type_traits<float>::decode(oids::float4, enc(std::numeric_limits<float>::quiet_NaN()))));
    CHECK(type_traits<bool>::decode(oids::bool_, enc(true)) == true);

    CHECK_THROWS_AS(type_traits<std::int32_t>::decode(oids::int4, std::string_view("\x01\x02\x03", 3)), value_error);
    CHECK_THROWS_AS(type_traits<std::int32_t>::decode(oids::int4, std::string_view()), value_error);
    CHECK_THROWS_AS(type_traits<std::int16_t>::decode(oids::int2, std::string_view("\x01\x02\x03\x04", 4)), value_error);
    CHECK_THROWS_AS(type_traits<std::int64_t>::decode(oids::int8, std::string_view("\x01", 1)), value_error);
    CHECK_THROWS_AS(type_traits<double>::decode(oids::float8, std::string_view("\x01\x02\x03\x04", 4)), value_error);
    CHECK_THROWS_AS(type_traits<float>::decode(oids::float4, std::string_view("\x01", 1)), value_error);
    CHECK_THROWS_AS(type_traits<bool>::decode(oids::bool_, std::string_view("\x02", 1)), value_error);
    CHECK_THROWS_AS(type_traits<bool>::decode(oids::bool_, std::string_view("\x01\x00", 2)), value_error);

    CHECK(type_traits<std::int32_t>::accepts(oids::int2));
    CHECK(!type_traits<std::int32_t>::accepts(oids::int8));
    CHECK(!type_traits<std::int16_t>::accepts(oids::int4));
    CHECK(!type_traits<std::string>::accepts(oids::int4));
    CHECK(type_traits<std::string>::accepts(oids::varchar));
    CHECK(type_name_of(oids::timestamptz) == "timestamptz");
    CHECK(type_name_of(123456) == "oid 123456");
}

TEST_CASE("parameters are encoded eagerly with their types and NULLs", "[params]") {
    std::optional<std::int32_t> none;
    std::string s = "abc";
    const char* nul = nullptr;
    auto p = detail::encode_params(std::int16_t{1}, s, "lit", none, std::nullopt, nul, 2.0, true);
    REQUIRE(p.count() == 8);
    CHECK(p.types == std::vector<unsigned>{oids::int2, oids::text, oids::text, oids::int4, 0, oids::text,
                                           oids::float8, oids::bool_});
    CHECK(p.lengths == std::vector<int>{2, 3, 3, 0, 0, 0, 8, 1});
    s = "changed";  // the values were copied when the statement was made
    const char* const* v = p.pointers();
    CHECK(std::string_view(v[1], 3) == "abc");
    CHECK(std::string_view(v[2], 3) == "lit");
    CHECK(v[3] == nullptr);
    CHECK(v[4] == nullptr);
    CHECK(v[5] == nullptr);
    CHECK(p.formats == std::vector<int>(8, 1));
}

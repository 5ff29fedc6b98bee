// Row streams and COPY as sans-io machines, driven by a scripted fake of libpq; and the
// binary COPY format both ways. No server, no sockets.
#include "catch.hpp"

#include <pgcoro/copy_rows.hpp>
#include <pgcoro/detail/copy_binary.hpp>
#include <pgcoro/detail/copy_machine.hpp>
#include <pgcoro/detail/row_stream_machine.hpp>
#include <pgcoro/types.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

using namespace pgcoro;
using namespace pgcoro::detail;

namespace {

struct bulk_result {
    explicit bulk_result(ExecStatusType s, int r = 0, std::string state = {}, std::uint64_t n = 0)
        : status(s), rows(r), sqlstate(std::move(state)), affected(n) {}
    ExecStatusType status;
    int rows = 0;
    std::string sqlstate;
    std::uint64_t affected = 0;
};
using bulk_ptr = std::unique_ptr<bulk_result>;

/// A fake libpq outside pipeline mode: results and COPY data become readable on arrive().
struct bulk_server {
    std::vector<std::string> sent;
    std::string copy_in;  // the COPY data received
    std::deque<std::optional<bulk_result>> pending, arrived;
    std::deque<std::string> pending_data, arrived_data;
    bool copy_out_open = false;  // get_copy_data: 0 (wait) while open, -1 once closed
    bool copy_out_closing = false;
    int put_full = 0;  // put_copy_data answers 0 this many times
    int unflushed = 0; // flush answers 1 this many times
    bool eof = false;

    void arrive() {
        while (!pending.empty()) {
            arrived.push_back(std::move(pending.front()));
            pending.pop_front();
        }
        while (!pending_data.empty()) {
            arrived_data.push_back(std::move(pending_data.front()));
            pending_data.pop_front();
        }
    }
};

struct bulk_wire {
    using result_type = bulk_ptr;
    std::shared_ptr<bulk_server> s;

    bool send_params(const std::string& sql, encoded_params&) {
        s->sent.push_back("query " + sql);
        return true;
    }
    bool send_simple(const std::string& sql) {
        s->sent.push_back("simple " + sql);
        return true;
    }
    bool send_sync() {
        s->sent.push_back("sync");
        return true;
    }
    bool set_row_mode(int) {
        s->sent.push_back("single-row");
        return true;
    }
    int flush() { return s->unflushed > 0 ? (--s->unflushed, 1) : 0; }
    bool consume_input() { return !s->eof; }
    bool is_busy() { return s->arrived.empty(); }
    result_type next_result() {
        auto r = std::move(s->arrived.front());
        s->arrived.pop_front();
        return r ? std::make_unique<bulk_result>(*r) : nullptr;
    }
    int put_copy_data(std::string_view d) {
        if (s->put_full > 0) {
            --s->put_full;
            return 0;
        }
        s->copy_in.append(d);
        return 1;
    }
    int put_copy_end(const char* error) {
        s->sent.push_back(error ? std::string("copy-fail ") + error : "copy-done");
        return 1;
    }
    int get_copy_data(char** out) {
        if (!s->arrived_data.empty()) {
            std::string& d = s->arrived_data.front();
            *out = static_cast<char*>(std::malloc(d.size()));
            std::memcpy(*out, d.data(), d.size());
            int n = static_cast<int>(d.size());
            s->arrived_data.pop_front();
            return n;
        }
        return s->copy_out_closing ? -1 : 0;
    }
    static void free_copy_data(char* p) noexcept { std::free(p); }
    bool bad() { return s->eof; }
    std::string error_message() { return s->eof ? "server closed the connection unexpectedly" : ""; }

    static ExecStatusType status(const result_type& r) { return r->status; }
    static std::uint64_t affected_rows(const result_type& r) { return r->affected; }
    static diagnostics diagnostics_of(const result_type& r) {
        diagnostics d;
        d.sqlstate = r->sqlstate;
        d.message = "boom";
        return d;
    }
};

struct row_sink {
    std::size_t room = 0;
    std::size_t rows = 0;
    bool refuse = false;
    bool wants_rows() const { return rows < room; }
    bool take(bulk_ptr& r) {
        if (refuse) return false;
        rows += static_cast<std::size_t>(r->rows);
        return true;
    }
};

struct data_sink {
    std::size_t room = 0;
    std::vector<std::string> got;
    bool wants_data() const { return got.size() < room; }
    void take(std::string_view d) { got.emplace_back(d); }
};

}  // namespace

TEST_CASE("row stream: rows only while the sink has room, then the end", "[bulk][stream]") {
    auto s = std::make_shared<bulk_server>();
    bulk_wire w{s};
    row_stream_machine<bulk_wire> m(w);
    encoded_params p;
    m.begin("select i from t", p, 1);
    CHECK(s->sent == std::vector<std::string>{"query select i from t", "sync", "single-row"});
    for (int i = 0; i < 5; ++i) s->pending.push_back(bulk_result{PGRES_SINGLE_TUPLE, 1});
    s->pending.push_back(bulk_result{PGRES_TUPLES_OK, 0});
    s->pending.push_back(std::nullopt);
        s->pending.push_back(bulk_result{PGRES_PIPELINE_SYNC});
    row_sink sink;
    sink.room = 2;
    CHECK(m.wants_read(sink));
    s->arrive();
    m.on_readable(sink);
    CHECK(sink.rows == 2);          // back-pressure: the rest stays buffered
    CHECK(!m.wants_read(sink));     // and the socket is not read
    CHECK(s->arrived.size() == 6);  // 3 rows, the end, NULL, Sync
    sink.room = 100;
    m.advance(sink);
    CHECK(sink.rows == 5);
    CHECK(m.done());
    CHECK(!m.error());
}

TEST_CASE("row stream: COPY with the client is refused before it is sent", "[bulk][stream]") {
    for (const char* sql : {"copy t to stdout", "  COPY (select 1) TO STDOUT (format binary)", "copy t from stdin"}) {
        auto s = std::make_shared<bulk_server>();
        bulk_wire w{s};
        row_stream_machine<bulk_wire> m(w);
        encoded_params p;
        m.begin(sql, p, 1);
        CHECK(s->sent.empty());  // nothing went to the server
        CHECK(m.done());
        CHECK(m.broken().empty());  // the connection goes on
        CHECK(m.error() == pgcoro::errc::invalid_argument);
        CHECK(m.error_diagnostics().message.find("copy_out()") != std::string::npos);
        row_sink sink;
        CHECK(!m.wants_read(sink));
        CHECK(!m.take_cancel_request());
    }
    // COPY to a server file is an ordinary statement.
    auto s = std::make_shared<bulk_server>();
    bulk_wire w{s};
    row_stream_machine<bulk_wire> m(w);
    encoded_params p;
    m.begin("copy t to '/tmp/x'", p, 1);
    CHECK(!s->sent.empty());
    CHECK(!m.done());
}

TEST_CASE("row stream: an error after rows; abandoning asks for one cancel and drains", "[bulk][stream]") {
    auto s = std::make_shared<bulk_server>();
    bulk_wire w{s};
    encoded_params p;
    {
        row_stream_machine<bulk_wire> m(w);
        m.begin("q", p, 1);
        s->pending.push_back(bulk_result{PGRES_SINGLE_TUPLE, 1});
        s->pending.push_back(bulk_result{PGRES_FATAL_ERROR, 0, "22012"});
        s->pending.push_back(std::nullopt);
        s->pending.push_back(bulk_result{PGRES_PIPELINE_SYNC});
        s->arrive();
        row_sink sink;
        sink.room = 10;
        m.on_readable(sink);
        CHECK(sink.rows == 1);
        CHECK(m.done());
        CHECK(m.error() == make_sqlstate_error("22012"));
    }
    {
        row_stream_machine<bulk_wire> m(w);
        m.begin("q", p, 1);
        for (int i = 0; i < 3; ++i) s->pending.push_back(bulk_result{PGRES_SINGLE_TUPLE, 1});
        row_sink sink;
        sink.room = 1;
        s->arrive();
        m.on_readable(sink);
        m.abandon();
        CHECK(m.take_cancel_request());
        CHECK(!m.take_cancel_request());  // once
        CHECK(m.wants_read(sink));        // drains although the sink is full
        m.advance(sink);
        CHECK(sink.rows == 1);            // dropped, not handed over
        s->pending.push_back(bulk_result{PGRES_FATAL_ERROR, 0, "57014"});
        s->pending.push_back(std::nullopt);
        s->pending.push_back(bulk_result{PGRES_PIPELINE_SYNC});
        s->arrive();
        m.on_readable(sink);
        CHECK(m.done());
        CHECK(m.hit_by_cancel());
    }
    {
        row_stream_machine<bulk_wire> m(w);  // a sink refusing rows (a decode error) abandons
        m.begin("q", p, 1);
        s->pending.push_back(bulk_result{PGRES_SINGLE_TUPLE, 1});
        s->arrive();
        row_sink sink;
        sink.room = 5;
        sink.refuse = true;
        m.on_readable(sink);
        CHECK(m.abandoned());
        CHECK(m.take_cancel_request());
    }
    {
        row_stream_machine<bulk_wire> m(w);  // a lost connection
        m.begin("q", p, 1);
        s->eof = true;
        row_sink sink;
        sink.room = 5;
        m.on_readable(sink);
        CHECK(!m.broken().empty());
        CHECK(m.finished());
        s->eof = false;
    }
}

TEST_CASE("COPY in: waits for CopyIn, bounded puts, end, the row count", "[bulk][copy]") {
    auto s = std::make_shared<bulk_server>();
    bulk_wire w{s};
    copy_machine<bulk_wire> m(w, copy_machine<bulk_wire>::direction::in);
    data_sink sink;
    m.begin("COPY t FROM STDIN");
    CHECK(!m.put("early"));  // not copying yet
    s->pending.push_back(bulk_result{PGRES_COPY_IN});
    s->arrive();
    m.on_readable(sink);
    REQUIRE(m.copying());
    CHECK(!m.wants_read(sink));  // nothing to read while sending
    s->unflushed = 1;
    CHECK(m.put("abc"));
    CHECK(m.wants_write());      // libpq's buffer did not all go out
    CHECK(!m.put("def"));        // so no more is taken: memory stays bounded
    m.on_writable();
    CHECK(!m.wants_write());
    s->put_full = 1;
    CHECK(!m.put("def"));        // libpq's buffer full
    CHECK(m.wants_write());
    m.on_writable();
    CHECK(m.put("def"));
    CHECK(m.end());
    CHECK(s->copy_in == "abcdef");
    CHECK(s->sent.back() == "copy-done");
    s->pending.push_back(bulk_result{PGRES_COMMAND_OK, 0, {}, 2});
    s->pending.push_back(std::nullopt);
    s->arrive();
    m.on_readable(sink);
    CHECK(m.done());
    CHECK(m.rows() == 2);
    CHECK(!m.error());
}

TEST_CASE("COPY in: abandoning aborts it on the server; a failing statement reports its error", "[bulk][copy]") {
    auto s = std::make_shared<bulk_server>();
    bulk_wire w{s};
    data_sink sink;
    {
        copy_machine<bulk_wire> m(w, copy_machine<bulk_wire>::direction::in);
        m.begin("COPY t FROM STDIN");
        m.abandon("gone");  // before the server answered: aborted as soon as it does
        s->pending.push_back(bulk_result{PGRES_COPY_IN});
        s->arrive();
        m.on_readable(sink);
        CHECK(s->sent.back() == "copy-fail gone");
        s->pending.push_back(bulk_result{PGRES_FATAL_ERROR, 0, "57014"});
        s->pending.push_back(std::nullopt);
        s->arrive();
        m.on_readable(sink);
        CHECK(m.done());
    }
    {
        copy_machine<bulk_wire> m(w, copy_machine<bulk_wire>::direction::in);
        m.begin("COPY nosuch FROM STDIN");
        s->pending.push_back(bulk_result{PGRES_FATAL_ERROR, 0, "42P01"});
        s->pending.push_back(std::nullopt);
        s->arrive();
        m.on_readable(sink);
        CHECK(m.done());
        CHECK(m.error() == make_sqlstate_error("42P01"));
    }
    {
        copy_machine<bulk_wire> m(w, copy_machine<bulk_wire>::direction::in);
        m.begin("select 1");  // not a COPY
        s->pending.push_back(bulk_result{PGRES_TUPLES_OK});
        s->pending.push_back(std::nullopt);
        s->arrive();
        m.on_readable(sink);
        CHECK(m.done());
        CHECK(m.error() == make_error_code(errc::protocol_error));
    }
}

TEST_CASE("COPY out: rows while the sink has room, then the outcome; abandoning drains", "[bulk][copy]") {
    auto s = std::make_shared<bulk_server>();
    bulk_wire w{s};
    data_sink sink;
    copy_machine<bulk_wire> m(w, copy_machine<bulk_wire>::direction::out);
    m.begin("COPY t TO STDOUT");
    s->pending.push_back(bulk_result{PGRES_COPY_OUT});
    for (int i = 0; i < 4; ++i) s->pending_data.push_back("row" + std::to_string(i) + "\n");
    s->arrive();
    sink.room = 3;
    m.on_readable(sink);
    CHECK(sink.got.size() == 3);
    CHECK(!m.wants_read(sink));  // full: the socket is left alone
    sink.room = 10;
    m.advance(sink);
    CHECK(sink.got.size() == 4);
    CHECK(m.wants_read(sink));
    s->copy_out_closing = true;
    s->pending.push_back(bulk_result{PGRES_COMMAND_OK, 0, {}, 4});
    s->pending.push_back(std::nullopt);
    s->arrive();
    m.on_readable(sink);
    CHECK(m.done());
    CHECK(m.rows() == 4);

    auto s2 = std::make_shared<bulk_server>();
    bulk_wire w2{s2};
    copy_machine<bulk_wire> m2(w2, copy_machine<bulk_wire>::direction::out);
    data_sink sink2;
    m2.begin("COPY t TO STDOUT");
    s2->pending.push_back(bulk_result{PGRES_COPY_OUT});
    s2->pending_data.push_back("a\n");
    s2->arrive();
    m2.on_readable(sink2);  // no room: nothing read
    m2.abandon("gone");
    CHECK(m2.take_cancel_request());
    s2->copy_out_closing = true;
    s2->pending.push_back(bulk_result{PGRES_FATAL_ERROR, 0, "57014"});
    s2->pending.push_back(std::nullopt);
    s2->arrive();
    m2.on_readable(sink2);
    CHECK(sink2.got.empty());
    CHECK(m2.done());
    CHECK(m2.hit_by_cancel());
}

namespace {
struct item {
    std::int64_t id;
    std::optional<std::string> name;
    double price;
};
}  // namespace

TEST_CASE("binary COPY rows: encoded, then parsed back; malformed data is an error", "[bulk][copy]") {
    std::string data;
    append_copy_header(data);
    append_copy_row(data, item{1, "apple", 0.5}, 0);
    const std::size_t first_row_end = data.size();
    append_copy_row(data, item{-2, std::nullopt, 1e300}, 1);
    append_copy_trailer(data);
    CHECK(data.substr(0, 11) == std::string_view("PGCOPY\n\377\r\n\0", 11));

    column_types<item> types;
    types.oid = {pg_type(oids::int8), pg_type(oids::text), pg_type(oids::float8)};
    copy_row_parser<item> parser(types);
    std::vector<item> rows(5);  // elements are reused, the rest dropped by the caller
    REQUIRE(parser.parse(data, rows) == 2);
    CHECK(rows[0].id == 1);
    CHECK(rows[0].name == "apple");
    CHECK(rows[0].price == 0.5);
    CHECK(rows[1].id == -2);
    CHECK(!rows[1].name);
    CHECK(rows[1].price == 1e300);

    // Cut short, at every length but whole rows: an error, never a read past the end.
    for (std::size_t cut = 20; cut < data.size() - 2; ++cut) {
        if (cut == first_row_end) continue;
        copy_row_parser<item> p2(types);
        std::vector<item> out;
        CHECK_THROWS_AS(p2.parse(std::string_view(data).substr(0, cut), out), pgcoro::error);
    }
    copy_row_parser<item> p3(types);
    std::vector<item> out;
    CHECK_THROWS_AS(p3.parse("not a copy", out), pgcoro::error);

    // NULL into a field that is not optional; a field of the wrong length.
    std::string bad;
    append_copy_header(bad);
    write_be<std::int16_t>(bad, 3);
    write_be<std::int32_t>(bad, -1);
    copy_row_parser<item> p4(types);
    try {
        p4.parse(bad, out);
        FAIL("no error");
    } catch (const pgcoro::error& e) {
        CHECK(e.code() == make_error_code(errc::unexpected_null));
    }
    std::string bad2;
    append_copy_header(bad2);
    write_be<std::int16_t>(bad2, 3);
    write_be<std::int32_t>(bad2, 2);
    bad2 += "ab";
    copy_row_parser<item> p5(types);
    CHECK_THROWS_AS(p5.parse(bad2, out), pgcoro::error);
}

TEST_CASE("binary COPY column check: exact types, text into text-like columns", "[bulk][copy]") {
    CHECK(copy_encodes_as<std::int64_t>(pg_type(oids::int8)));
    CHECK(!copy_encodes_as<std::int64_t>(pg_type(oids::int4)));  // an int8's 8 bytes in an int4 column
    CHECK(!copy_encodes_as<std::int64_t>(pg_type(oids::timestamptz)));
    CHECK(copy_encodes_as<std::optional<std::string>>(pg_type(oids::varchar)));
    CHECK(copy_encodes_as<std::string>(pg_type(oids::json)));
    CHECK(!copy_encodes_as<std::string>(pg_type(oids::jsonb)));  // jsonb's binary form has a version byte
    CHECK(copy_encodes_as<timestamptz>(pg_type(oids::timestamptz)));
    CHECK(!copy_encodes_as<timestamptz>(pg_type(oids::timestamp)));
}

TEST_CASE("COPY targets: table, columns, quoted names, a query", "[bulk][copy]") {
    auto t = copy_target::parse("  app.items (id, \"Na(me\")  ");
    CHECK(t.relation == "app.items");
    CHECK(t.columns == "(id, \"Na(me\")");
    CHECK(t.probe_sql() == "select id, \"Na(me\" from app.items as pgcoro_copy where false");
    CHECK(t.copy_sql(true) == "COPY app.items (id, \"Na(me\") FROM STDIN (FORMAT binary)");
    auto q = copy_target::parse("(select 1)");
    CHECK(q.is_query());
    CHECK(q.copy_sql(false) == "COPY (select 1) TO STDOUT (FORMAT binary)");
    auto all = copy_target::parse("\"My Table\"");
    CHECK(all.relation == "\"My Table\"");
    CHECK(all.columns.empty());
    CHECK_THROWS_AS(copy_target::parse("items (a, b"), pgcoro::error);
}

TEST_CASE("review fixes: no cancel once drained, reading while COPY in waits, header flags", "[bulk]") {
    auto s = std::make_shared<bulk_server>();
    bulk_wire w{s};
    encoded_params p;
    row_stream_machine<bulk_wire> m(w);
    m.begin("q", p, 1);
    s->pending.push_back(bulk_result{PGRES_SINGLE_TUPLE, 1});
    s->pending.push_back(bulk_result{PGRES_TUPLES_OK, 0});
    s->pending.push_back(std::nullopt);
    s->pending.push_back(bulk_result{PGRES_PIPELINE_SYNC});
    s->arrive();
    row_sink sink;
    sink.room = 1;
    m.on_readable(sink);
    m.abandon();          // the consumer leaves with the end already buffered
    m.advance(sink);      // drained
    CHECK(m.done());
    CHECK(!m.take_cancel_request());  // so no cancel goes out to hit the next statement

    copy_machine<bulk_wire> c(w, copy_machine<bulk_wire>::direction::in);
    data_sink ds;
    c.begin("COPY t FROM STDIN");
    s->pending.push_back(bulk_result{PGRES_COPY_IN});
    s->arrive();
    c.on_readable(ds);
    REQUIRE(c.copying());
    CHECK(!c.wants_read(ds));
    s->unflushed = 1;
    CHECK(c.put("x"));
    CHECK(c.wants_write());
    CHECK(c.wants_read(ds));  // while the socket is full, notices are read so it drains

    std::string data;
    append_copy_header(data);
    data[11] = 1;  // flag bit 16+ (OIDs included): not a format pgcoro reads
    column_types<std::int64_t> types;
    types.oid = {pg_type(oids::int8)};
    copy_row_parser<std::int64_t> parser(types);
    std::vector<std::int64_t> out;
    CHECK_THROWS_AS(parser.parse(data, out), pgcoro::error);
}

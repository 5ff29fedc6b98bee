// The pipeline state machine driven by a scripted fake of libpq: no server, no sockets.
#include "catch.hpp"

#include <pgcoro/detail/notification_queue.hpp>
#include <pgcoro/detail/pipeline.hpp>
#include <pgcoro/detail/statement_cache.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace pgcoro;
using namespace pgcoro::detail;

namespace {

struct fake_result {
    ExecStatusType status;
    std::string tag;
    std::string sqlstate;
    std::string message;
};
using fake_ptr = std::unique_ptr<fake_result>;

/// What the fake "server" has answered, and what the pipeline sent it.
struct fake_server {
    struct item {
        std::optional<fake_result> result;  // nullopt: the NULL that ends a statement
        std::optional<PGTransactionStatusType> tx_after;
    };
    std::vector<std::string> sent;
    std::deque<item> pending;  // answers not yet arrived
    std::deque<item> arrived;  // readable by next_result()
    PGTransactionStatusType tx = PQTRANS_IDLE;
    bool eof = false;          // the next consume_input fails (server closed)
    bool busy_status = false;  // libpq in pipeline mode: PQTRANS_ACTIVE while anything is queued
    bool in_pipeline = true;
    std::deque<notification> notes;  // readable by next_notification()

    // Scripted answers (they arrive on arrive()).
    fake_server& ok(std::string tag = "SELECT 1") {
        pending.push_back({fake_result{PGRES_TUPLES_OK, std::move(tag), {}, {}}, {}});
        pending.push_back({std::nullopt, {}});
        return *this;
    }
    fake_server& command(std::string tag) {
        pending.push_back({fake_result{PGRES_COMMAND_OK, std::move(tag), {}, {}}, {}});
        pending.push_back({std::nullopt, {}});
        return *this;
    }
    fake_server& error(std::string sqlstate, std::string message = "boom") {
        pending.push_back({fake_result{PGRES_FATAL_ERROR, {}, std::move(sqlstate), std::move(message)}, {}});
        pending.push_back({std::nullopt, {}});
        return *this;
    }
    fake_server& aborted() {
        pending.push_back({fake_result{PGRES_PIPELINE_ABORTED, {}, {}, {}}, {}});
        pending.push_back({std::nullopt, {}});
        return *this;
    }
    fake_server& sync(PGTransactionStatusType after = PQTRANS_IDLE) {
        pending.push_back({fake_result{PGRES_PIPELINE_SYNC, {}, {}, {}}, after});
        return *this;
    }
    fake_server& script_end() {
        pending.push_back({std::nullopt, PQTRANS_IDLE});
        return *this;
    }
    void arrive() {
        while (!pending.empty()) {
            arrived.push_back(std::move(pending.front()));
            pending.pop_front();
        }
    }
    std::size_t count_sent(const std::string& prefix) const {
        std::size_t n = 0;
        for (auto& s : sent) n += s.rfind(prefix, 0) == 0;
        return n;
    }
};

struct fake_wire {
    using result_type = fake_ptr;
    std::shared_ptr<fake_server> s;

    bool send_prepare(const std::string& name, const std::string& sql, const encoded_params&) {
        s->sent.push_back("prepare " + name + " " + sql);
        return true;
    }
    bool send_prepared(const std::string& name, encoded_params&) {
        s->sent.push_back("execute " + name);
        return true;
    }
    bool send_params(const std::string& sql, encoded_params&) {
        s->sent.push_back("query " + sql);
        return true;
    }
    bool send_sync() {
        s->sent.push_back("sync");
        return true;
    }
    bool next_notification(notification& out) {
        if (s->notes.empty()) return false;
        out = std::move(s->notes.front());
        s->notes.pop_front();
        return true;
    }
    bool send_simple(const std::string& sql) {
        s->sent.push_back("script " + sql);
        return !s->in_pipeline;
    }
    bool exit_pipeline() {
        s->in_pipeline = false;
        return true;
    }
    bool enter_pipeline() {
        s->in_pipeline = true;
        return true;
    }
    int flush() { return 0; }
    bool consume_input() { return !s->eof; }
    bool is_busy() { return s->arrived.empty(); }
    result_type next_result() {
        auto it = std::move(s->arrived.front());
        s->arrived.pop_front();
        if (it.tx_after) s->tx = *it.tx_after;
        return it.result ? std::make_unique<fake_result>(*it.result) : nullptr;
    }
    PGTransactionStatusType transaction_status() { return s->busy_status ? PQTRANS_ACTIVE : s->tx; }
    bool bad() { return s->eof; }
    std::string error_message() { return s->eof ? "server closed the connection unexpectedly" : ""; }

    static ExecStatusType status(const result_type& r) { return r->status; }
    static std::string_view command_tag(const result_type& r) { return r->tag; }
    static diagnostics diagnostics_of(const result_type& r) {
        diagnostics d;
        d.severity = "ERROR";
        d.sqlstate = r->sqlstate;
        d.message = r->message;
        return d;
    }
};

struct test_op : basic_op<fake_ptr> {
    using basic_op<fake_ptr>::basic_op;
};
using test_pipeline = pipeline<fake_wire, test_op>;
using op_ptr = std::shared_ptr<test_op>;

struct harness {
    std::shared_ptr<fake_server> server = std::make_shared<fake_server>();
    test_pipeline pipe;
    std::vector<op_ptr> done;  // completed, in order

    explicit harness(std::size_t cache = 16) : pipe(fake_wire{server}, cache, PQTRANS_IDLE) {}

    op_ptr start(std::string sql, op_kind kind = op_kind::statement) {
        auto op = std::make_shared<test_op>(std::move(sql), encoded_params{}, kind);
        pipe.start(op);
        collect();
        return op;
    }
    void read() {
        server->arrive();
        pipe.on_readable();
        collect();
    }
    void collect() {
        for (auto& op : pipe.completed()) done.push_back(op);
        pipe.completed().clear();
    }
};

}  // namespace

TEST_CASE("statement cache: LRU order, eviction hands back the name, recycled nodes", "[pipeline][cache]") {
    statement_cache c(2);
    std::string k1, k2, k3;
    statement_cache::make_key(k1, "select 1", std::vector<unsigned>{});
    statement_cache::make_key(k2, "select $1", std::vector<unsigned>{23});
    statement_cache::make_key(k3, "select $1", std::vector<unsigned>{20});  // same SQL, other parameter type
    CHECK(k2 != k3);
    CHECK(!c.insert(k1, "s1"));
    CHECK(!c.insert(k2, "s2"));
    REQUIRE(c.find(k1));  // k1 is now the most recent
    auto ev = c.insert(k3, "s3");
    REQUIRE(ev);
    CHECK(*ev == "s2");
    CHECK(c.find(k2) == nullptr);
    CHECK(*c.find(k3) == "s3");
    c.erase_name("s1");
    CHECK(c.find(k1) == nullptr);
    CHECK(c.size() == 1);
    c.clear();
    CHECK(c.size() == 0);
    statement_cache off(0);
    CHECK(!off.insert(k1, "x"));
    CHECK(off.find(k1) == nullptr);
}

TEST_CASE("statements pipeline: Prepare once, then Bind/Execute; results complete in order", "[pipeline]") {
    harness h;
    auto a = h.start("select 1");
    auto b = h.start("select 1");
    CHECK(h.server->sent == std::vector<std::string>{"prepare pgcoro_1 select 1", "execute pgcoro_1", "sync",
                                                     "execute pgcoro_1", "sync"});
    CHECK(h.pipe.in_flight() == 2);
    CHECK(h.pipe.wants_read());
    h.server->command("PARSE").ok().sync().ok().sync();
    h.read();
    REQUIRE(h.done.size() == 2);
    CHECK(h.done[0] == a);
    CHECK(h.done[1] == b);
    CHECK(!a->ec);
    CHECK(a->result);
    CHECK(!h.pipe.wants_read());
}

TEST_CASE("COPY with the client as a statement or in a script fails alone and sends nothing", "[pipeline]") {
    harness h;
    auto a = h.start("select 1");
    auto copy_in = h.start("  COPY t (a) FROM STDIN");
    auto copy_out = h.start("create temp table t (a int); copy t to stdout", op_kind::script);
    auto file = h.start("copy t from '/tmp/t.csv'");  // the server's file: an ordinary statement
    REQUIRE(h.done.size() == 2);
    CHECK(h.done[0] == copy_in);
    CHECK(h.done[1] == copy_out);
    CHECK(copy_in->ec == make_error_code(errc::invalid_argument));
    CHECK(copy_in->diag.message.find("copy_in_raw()") != std::string::npos);
    CHECK(copy_out->ec == make_error_code(errc::invalid_argument));
    CHECK(h.server->count_sent("prepare pgcoro_2 copy t from '/tmp/t.csv'") == 1);
    CHECK(h.server->sent.size() == 6);  // a's and file's prepare, execute, sync
    h.server->command("PARSE").ok().sync().command("PARSE").ok().sync();
    h.read();
    REQUIRE(h.done.size() == 4);
    CHECK(!a->ec);
    CHECK(!file->ec);
}

TEST_CASE("a Prepare that fails, followed by the statement's own result", "[pipeline]") {
    harness h;
    auto a = h.start("selec 1");
    auto b = h.start("selec 1");  // uses the name a is preparing
    h.server->error("42601", "syntax error").aborted().sync();
    h.server->error("26000", "prepared statement \"pgcoro_1\" does not exist").sync();
    h.read();
    REQUIRE(h.done.size() == 1);
    CHECK(h.done[0] == a);
    CHECK(a->ec == make_sqlstate_error("42601"));
    CHECK(a->diag.message == "syntax error");
    // b lost its statement to a's failed Prepare: it is prepared anew, and gets the real error.
    CHECK(h.server->count_sent("prepare pgcoro_2 selec 1") == 1);
    h.server->error("42601", "syntax error").aborted().sync();
    h.read();
    REQUIRE(h.done.size() == 2);
    CHECK(h.done[1] == b);
    CHECK(b->ec == make_sqlstate_error("42601"));
    CHECK(h.pipe.cache().size() == 0);
}

TEST_CASE("a cancelled statement that later reaches the head is cancelled on the server then", "[pipeline][cancel]") {
    harness h;
    auto a = h.start("select pg_sleep(1)");
    auto b = h.start("select 2");
    h.pipe.cancel(b);
    h.collect();
    REQUIRE(h.done.size() == 1);
    CHECK(h.done[0] == b);
    CHECK(b->ec == boost::asio::error::operation_aborted);
    CHECK(h.pipe.take_cancels_to_send().empty());  // a runs on the server, not b
    h.server->command("PARSE").ok().sync();
    h.read();
    REQUIRE(h.done.size() == 2);
    CHECK(h.done[1] == a);
    CHECK(!a->ec);
    auto tickets = h.pipe.take_cancels_to_send();
    REQUIRE(tickets.size() == 1);  // now b is the head
    CHECK(h.pipe.pending_cancels() == 1);
    // The cancel hits b: its 57014 goes nowhere (b already completed). The server signals
    // twice per cancel request, so the cancel stays pending until it settles.
    h.server->command("PARSE").error("57014", "canceling statement due to user request").sync();
    h.read();
    CHECK(h.done.size() == 2);
    CHECK(h.pipe.pending_cancels() == 1);
    CHECK(h.pipe.in_flight() == 0);
    h.pipe.on_cancel_delivered(tickets[0]);
    auto c = h.start("select 3");
    h.server->command("PARSE").ok().sync();
    h.read();
    CHECK(!c->ec);
    CHECK(h.pipe.pending_cancels() == 0);
}

TEST_CASE("a cancel that lands on the next caller's statement: it is sent again", "[pipeline][cancel]") {
    harness h;
    auto a = h.start("select pg_sleep(1)");
    auto b = h.start("select 2");
    h.pipe.cancel(a);
    h.collect();
    auto tickets = h.pipe.take_cancels_to_send();
    REQUIRE(tickets.size() == 1);
    // a had finished already; the cancel arrives while b runs.
    h.server->command("PARSE").ok().sync();
    h.server->command("PARSE").error("57014", "canceling statement due to user request").sync();
    h.read();
    REQUIRE(h.done.size() == 1);  // only a's operation_aborted
    CHECK(h.done[0] == a);
    CHECK(h.pipe.resends() == 1);
    CHECK(h.server->count_sent("execute pgcoro_2") == 2);  // b again, its statement cached
    h.server->ok().sync();
    h.read();
    REQUIRE(h.done.size() == 2);
    CHECK(h.done[1] == b);
    CHECK(!b->ec);
    CHECK(b->resends == 1);
}

TEST_CASE("inside a transaction block a cancel's 57014 stands", "[pipeline][cancel]") {
    harness h;
    auto begin = h.start("begin");
    h.server->command("PARSE").command("BEGIN").sync(PQTRANS_INTRANS);
    h.read();
    auto a = h.start("select pg_sleep(1)");
    auto b = h.start("update t set x = 1");
    h.pipe.cancel(a);
    h.collect();
    auto tickets = h.pipe.take_cancels_to_send();
    REQUIRE(tickets.size() == 1);
    h.server->command("PARSE").ok().sync(PQTRANS_INTRANS);
    h.server->command("PARSE").error("57014").sync(PQTRANS_INERROR);
    h.read();
    REQUIRE(h.done.size() == 3);
    CHECK(h.done[2] == b);
    CHECK(b->ec == make_sqlstate_error("57014"));
    CHECK(h.pipe.resends() == 0);
    CHECK(h.pipe.transaction_status() == PQTRANS_INERROR);
}

TEST_CASE("a delivered cancel settles once a later statement's Sync is back", "[pipeline][cancel]") {
    harness h;
    auto a = h.start("select pg_sleep(1)");
    h.pipe.cancel(a);
    auto tickets = h.pipe.take_cancels_to_send();
    REQUIRE(tickets.size() == 1);
    h.server->command("PARSE").ok().sync();  // a finished before the cancel
    h.read();
    h.pipe.on_cancel_delivered(tickets[0]);
    CHECK(h.pipe.pending_cancels() == 1);
    auto b = h.start("select 2");  // sent after delivery: the cancel cannot hit it
    h.server->command("PARSE").ok().sync();
    h.read();
    CHECK(!b->ec);
    CHECK(h.pipe.pending_cancels() == 0);
    // A later 57014 (statement_timeout, pg_cancel_backend) is the caller's own.
    auto c = h.start("select 3");
    h.server->command("PARSE").error("57014", "canceling statement due to statement timeout").sync();
    h.read();
    CHECK(c->ec == make_sqlstate_error("57014"));
}

TEST_CASE("a cancel the backend takes late hits the statement sent after delivery: sent again", "[pipeline][cancel]") {
    harness h;
    auto a = h.start("select pg_sleep(1)");
    h.pipe.cancel(a);
    auto tickets = h.pipe.take_cancels_to_send();
    REQUIRE(tickets.size() == 1);
    h.server->command("PARSE").ok().sync();  // a finished; the signal came after its last check
    h.read();
    h.pipe.on_cancel_delivered(tickets[0]);
    auto b = h.start("select 2");  // sent after delivery, read from the backend's buffer
    h.server->command("PARSE").error("57014", "canceling statement due to user request").sync();
    h.read();
    CHECK(!b->completed);  // not failed: sent again
    CHECK(h.pipe.resends() == 1);
    h.server->ok().sync();
    h.read();
    CHECK(b->completed);
    CHECK(!b->ec);
    CHECK(h.pipe.pending_cancels() == 0);
}

TEST_CASE("cancel ledger: tickets, two hits per request, settling, deliveries in any order", "[pipeline][cancel]") {
    cancel_ledger l;
    l.request();
    l.request();
    auto t = l.take_to_send();
    REQUIRE(t.size() == 2);
    CHECK(l.take_to_send().empty());
    CHECK(l.pending() == 2);
    CHECK(!l.all_delivered());
    // The second is delivered first (libpq 17 cancels run side by side).
    l.delivered(t[1], 10);
    CHECK(l.pending() == 2);
    // A hit goes to the delivered one, the soonest to settle.
    CHECK(l.take_hit());
    l.settle(9);
    CHECK(l.pending() == 2);  // statement 9 was sent before delivery: nothing settles
    l.settle(10);
    CHECK(l.pending() == 1);  // the second settled with one hit unused
    // The first: two hits while on its way, then it is gone; its late delivery finds nothing.
    CHECK(l.take_hit());
    CHECK(l.take_hit());
    CHECK(l.pending() == 0);
    CHECK(!l.take_hit());  // a 57014 now is not pgcoro's doing
    l.request();
    auto u = l.take_to_send();
    REQUIRE(u.size() == 1);
    l.delivered(t[0], 20);  // late: must not mark the new request delivered
    CHECK(!l.all_delivered());
    l.settle(30);
    CHECK(l.pending() == 1);
    l.delivered(u[0], 31);
    CHECK(l.all_delivered());
    l.settle(31);
    CHECK(l.pending() == 0);
    l.request_untracked();
    CHECK(l.take_to_send().size() == 1);
    CHECK(l.pending() == 0);
}

// Found by the pool's cancellation storm: a cancel whose two hits came in before its
// delivery was forgotten; its delivery then marked the *next* cancel delivered, which
// settled while still on its way, and that one's hit failed a caller who cancelled nothing.
TEST_CASE("deliveries are matched by ticket, not by order: a used-up cancel's delivery settles no other", "[pipeline][cancel]") {
    harness h;
    auto a = h.start("select pg_sleep(1)");
    auto b = h.start("select 2");
    auto c = h.start("select 3");
    h.pipe.cancel(a);
    h.collect();
    auto first = h.pipe.take_cancels_to_send();
    REQUIRE(first.size() == 1);
    // The server signals twice: a and b are both hit before the delivery is reported.
    h.server->command("PARSE").error("57014").sync();
    h.server->command("PARSE").error("57014").sync();
    h.read();
    CHECK(!b->completed);  // b goes again
    CHECK(h.pipe.pending_cancels() == 0);  // the first cancel's hits are used up
    h.pipe.cancel(c);  // c is the head now: a second cancel goes out
    h.collect();
    auto second = h.pipe.take_cancels_to_send();
    REQUIRE(second.size() == 1);
    CHECK(second[0] != first[0]);
    CHECK(h.pipe.pending_cancels() == 1);
    h.server->command("PARSE").ok().sync();  // c finished before its cancel
    h.read();
    h.pipe.on_cancel_delivered(first[0]);  // the first request's EOF, late
    auto d = h.start("select 4");
    h.server->ok().sync();  // b, sent again: its Sync must not settle the second cancel
    h.server->command("PARSE").ok().sync();  // d: sent after the *first* delivery only
    h.read();
    CHECK(b->completed);
    CHECK(!b->ec);
    CHECK(!d->ec);
    CHECK(h.pipe.pending_cancels() == 1);  // the second is still on its way
    auto e = h.start("select 5");
    h.server->command("PARSE").error("57014").sync();  // the second cancel lands on e
    h.read();
    CHECK(!e->completed);  // put down to pgcoro's cancel: sent again
    h.pipe.on_cancel_delivered(second[0]);
    h.server->ok().sync();
    h.read();
    CHECK(e->completed);
    CHECK(!e->ec);
}

TEST_CASE("a script between pipelined statements runs alone, in order", "[pipeline][script]") {
    harness h;
    auto a = h.start("select 1");
    auto s = h.start("create table t (x int); insert into t values (1)", op_kind::script);
    auto b = h.start("select 2");
    CHECK(h.server->count_sent("script") == 0);  // waits for a
    CHECK(h.server->count_sent("prepare pgcoro_2") == 0);  // b waits behind the script
    h.server->command("PARSE").ok().sync();
    h.read();
    CHECK(h.server->count_sent("script") == 1);
    CHECK(!h.server->in_pipeline);
    h.server->command("CREATE TABLE").command("INSERT 0 1").script_end();
    h.read();
    CHECK(h.server->in_pipeline);
    CHECK(h.server->count_sent("prepare pgcoro_2 select 2") == 1);
    REQUIRE(h.done.size() == 2);
    CHECK(h.done[1] == s);
    CHECK(!s->ec);
    CHECK(h.pipe.session_changed());
    h.server->command("PARSE").ok().sync();
    h.read();
    REQUIRE(h.done.size() == 3);
    CHECK(h.done[2] == b);
}

TEST_CASE("a script waits for pending cancels to settle", "[pipeline][script][cancel]") {
    harness h;
    auto a = h.start("select pg_sleep(1)");
    h.pipe.cancel(a);
    auto tickets = h.pipe.take_cancels_to_send();
    REQUIRE(tickets.size() == 1);
    auto s = h.start("select 1; select 2", op_kind::script);
    h.server->command("PARSE").error("57014").sync();
    h.read();
    // The cancel may still signal again: the script waits until it has settled.
    CHECK(h.server->count_sent("script") == 0);
    h.pipe.on_cancel_delivered(tickets[0]);
    CHECK(h.server->sent.back() == "sync");  // a bare Sync settles it
    h.server->sync();
    h.read();
    CHECK(h.pipe.pending_cancels() == 0);
    CHECK(h.server->count_sent("script") == 1);
    h.server->ok().ok().script_end();
    h.read();
    CHECK(!s->ec);

    auto b = h.start("select pg_sleep(1)");
    h.pipe.cancel(b);
    tickets = h.pipe.take_cancels_to_send();
    REQUIRE(tickets.size() == 1);
    h.server->command("PARSE").ok().sync();  // b finished first: the cancel is still out
    h.read();
    auto s2 = h.start("select 3", op_kind::script);
    CHECK(h.server->count_sent("script") == 1);  // not yet: the cancel is undelivered
    h.pipe.on_cancel_delivered(tickets[0]);
    CHECK(h.server->sent.back() == "sync");  // a bare Sync settles it
    CHECK(h.server->count_sent("script") == 1);
    h.server->sync();
    h.read();
    CHECK(h.pipe.pending_cancels() == 0);
    CHECK(h.server->count_sent("script") == 2);
    h.server->ok().script_end();
    h.read();
    CHECK(!s2->ec);
}

TEST_CASE("evicting a statement still in flight: it finishes, then DEALLOCATE runs", "[pipeline][cache]") {
    harness h(1);
    auto a = h.start("select 1");
    auto b = h.start("select 2");  // evicts pgcoro_1 while a still uses it
    CHECK(h.server->sent == std::vector<std::string>{"prepare pgcoro_1 select 1", "execute pgcoro_1", "sync",
                                                     "query DEALLOCATE pgcoro_1", "sync",
                                                     "prepare pgcoro_2 select 2", "execute pgcoro_2", "sync"});
    h.server->command("PARSE").ok().sync();
    h.server->command("DEALLOCATE").sync();
    h.server->command("PARSE").ok().sync();
    h.read();
    REQUIRE(h.done.size() == 2);
    CHECK(!a->ec);
    CHECK(!b->ec);
    CHECK(!h.pipe.session_changed());  // pgcoro's own DEALLOCATE changes no session state
    CHECK(h.pipe.in_flight() == 0);
}

TEST_CASE("the server closing the connection mid-pipeline: FATAL, then the end", "[pipeline][broken]") {
    harness h;
    auto a = h.start("select pg_sleep(10)");
    auto b = h.start("select 2");
    auto s = h.start("select 3", op_kind::script);
    h.server->command("PARSE").error("57P01", "terminating connection due to administrator command");
    h.read();
    CHECK(h.done.empty());
    h.server->eof = true;
    h.read();
    REQUIRE(h.done.size() == 3);
    CHECK(a->ec == make_sqlstate_error("57P01"));  // it had its answer
    CHECK(b->ec == make_error_code(errc::connection_broken));
    CHECK(s->ec == make_error_code(errc::connection_broken));
    CHECK(h.pipe.current_state() == test_pipeline::state::broken);
    auto c = h.start("select 4");
    CHECK(c->ec == make_error_code(errc::connection_broken));
    CHECK(!h.pipe.wants_read());
}

TEST_CASE("DEALLOCATE ALL and DISCARD ALL are noticed", "[pipeline][cache]") {
    for (std::string tag : {"DEALLOCATE ALL", "DISCARD ALL"}) {
        harness h;
        h.start("select 1");
        h.server->command("PARSE").ok().sync();
        h.read();
        CHECK(h.pipe.cache().size() == 1);
        h.start(tag);
        h.server->command("PARSE").command(tag).sync();
        h.read();
        CHECK(h.pipe.cache().size() == 0);
        CHECK(h.pipe.session_changed());
        h.start("select 1");
        CHECK(h.server->count_sent("prepare") == 3);  // prepared anew
    }
}

TEST_CASE("a statement dropped behind pgcoro's back (26000) is prepared again", "[pipeline][cache]") {
    harness h;
    h.start("select 1");
    h.server->command("PARSE").ok().sync();
    h.read();
    auto b = h.start("select 1");
    h.server->error("26000", "prepared statement \"pgcoro_1\" does not exist").sync();
    h.read();
    CHECK(h.server->count_sent("prepare pgcoro_2 select 1") == 1);
    h.server->command("PARSE").ok().sync();
    h.read();
    CHECK(!b->ec);
    CHECK(b->resends == 1);
}

TEST_CASE("close waits for what is in flight; shutdown fails it at once", "[pipeline][close]") {
    harness h;
    auto a = h.start("select 1");
    h.pipe.close();
    CHECK(h.pipe.current_state() == test_pipeline::state::closing);
    auto b = h.start("select 2");
    CHECK(b->ec == make_error_code(errc::connection_closed));
    h.server->command("PARSE").ok().sync();
    h.read();
    CHECK(!a->ec);
    CHECK(h.pipe.current_state() == test_pipeline::state::closed);

    harness h2;
    auto c = h2.start("select pg_sleep(5)");
    h2.pipe.shutdown();
    h2.collect();
    CHECK(c->ec == make_error_code(errc::connection_closed));
    CHECK(h2.pipe.take_cancels_to_send().size() == 1);  // the server stops it too
}

TEST_CASE("the transaction status is followed through the pipeline when libpq says ACTIVE", "[pipeline][cancel]") {
    harness h;
    h.server->busy_status = true;
    h.start("BEGIN");
    h.server->command("PARSE").command("BEGIN").sync();
    h.read();
    CHECK(h.pipe.transaction_status() == PQTRANS_INTRANS);
    h.start("savepoint a");
    h.server->command("PARSE").command("SAVEPOINT").sync();
    h.start("select x");
    h.server->command("PARSE").error("42703").sync();
    h.read();
    CHECK(h.pipe.transaction_status() == PQTRANS_INERROR);
    h.start("rollback to savepoint a");
    h.server->command("PARSE").command("ROLLBACK").sync();
    h.read();
    CHECK(h.pipe.transaction_status() == PQTRANS_INTRANS);
    // A cancel's 57014 inside the block stands.
    auto a = h.start("select pg_sleep(1)");
    auto b = h.start("select 2");
    h.pipe.cancel(a);
    h.collect();
    auto tickets = h.pipe.take_cancels_to_send();
    REQUIRE(tickets.size() == 1);
    h.server->command("PARSE").ok().sync();
    h.server->command("PARSE").error("57014").sync();
    h.read();
    CHECK(b->completed);
    CHECK(b->ec == make_sqlstate_error("57014"));
    CHECK(h.pipe.transaction_status() == PQTRANS_INERROR);
    h.start("  /* done */ ROLLBACK");
    h.server->command("PARSE").command("ROLLBACK").sync();
    h.read();
    CHECK(h.pipe.transaction_status() == PQTRANS_IDLE);
    // Outside the block again: a stray 57014 gets the statement sent again, but never a
    // COMMIT (it may have ended a transaction).
    auto c = h.start("select pg_sleep(1)");
    auto d = h.start("select 3");
    h.pipe.cancel(c);
    h.collect();
    tickets = h.pipe.take_cancels_to_send();
    REQUIRE(tickets.size() == 1);
    h.server->ok().sync();
    h.server->command("PARSE").error("57014").sync();
    h.read();
    CHECK(!d->completed);
    CHECK(h.pipe.resends() == 1);
    h.server->ok().sync();
    h.read();
    CHECK(d->completed);
    CHECK(!d->ec);
    auto e = h.start("select pg_sleep(1)");
    auto f = h.start("commit");
    h.pipe.cancel(e);
    h.collect();
    tickets = h.pipe.take_cancels_to_send();
    REQUIRE(tickets.size() == 1);
    h.server->ok().sync();
    h.server->command("PARSE").error("57014").sync();
    h.read();
    CHECK(f->ec == make_sqlstate_error("57014"));
}

TEST_CASE("a watched pipeline reads while idle: notifications in order, then the server going away", "[pipeline][notify]") {
    harness h;
    CHECK(!h.pipe.wants_read());
    h.pipe.watch(true);
    CHECK(h.pipe.wants_read());
    h.server->notes.push_back({"jobs", "1", 42});
    h.server->notes.push_back({"Jobs \"x\"", std::string(7999, 'p'), 42});
    h.pipe.on_readable();
    REQUIRE(h.pipe.notifications().size() == 2);
    CHECK(h.pipe.notifications()[0].channel == "jobs");
    CHECK(h.pipe.notifications()[0].payload == "1");
    CHECK(h.pipe.notifications()[0].backend_pid == 42);
    CHECK(h.pipe.notifications()[1].channel == "Jobs \"x\"");
    CHECK(h.pipe.notifications()[1].payload.size() == 7999);
    h.pipe.notifications().clear();
    // Between a statement's results too.
    auto a = h.start("select 1");
    h.server->notes.push_back({"jobs", "2", 43});
    h.server->command("PARSE").ok().sync();
    h.read();
    CHECK(!a->ec);
    REQUIRE(h.pipe.notifications().size() == 1);
    CHECK(h.pipe.notifications()[0].payload == "2");
    h.pipe.notifications().clear();
    // The last notifications before the end of the stream are kept; then it is broken.
    h.server->notes.push_back({"jobs", "3", 43});
    h.server->eof = true;
    h.pipe.on_readable();
    CHECK(h.pipe.notifications().size() == 1);
    CHECK(h.pipe.current_state() == test_pipeline::state::broken);
    CHECK(!h.pipe.wants_read());
}

TEST_CASE("notification queue: bounded, gaps after the ones kept, consecutive gaps merged", "[notify]") {
    notification_queue q(3);
    for (int i = 0; i < 5; ++i) q.push({"c", std::to_string(i), 1});
    CHECK(q.size() == 3);
    q.push_gap();  // a reconnect on top of the overflow: still one gap
    auto a = q.pop();
    REQUIRE(a);
    CHECK(a->payload == "0");
    q.push({"c", "5", 1});  // room again: kept, after the gap
    CHECK(q.pop()->payload == "1");
    CHECK(q.pop()->payload == "2");
    CHECK(!q.pop());  // the gap: 3 and 4 were dropped
    CHECK(q.pop()->payload == "5");
    CHECK(q.empty());
    CHECK(q.size() == 0);
    q.push_gap();
    q.push_gap();
    CHECK(!q.pop());
    CHECK(q.empty());
    notification_queue zero(0);  // a limit of 0 keeps one
    zero.push({"c", "x", 1});
    CHECK(zero.size() == 1);
}

TEST_CASE("an exclusive op (COPY, row stream) runs alone: drained before, held after", "[pipeline][exclusive]") {
    harness h;
    auto a = h.start("select 1");
    auto x = h.start("COPY t FROM STDIN", op_kind::exclusive);
    auto b = h.start("select 2");
    CHECK(!h.pipe.exclusive_op());  // waits for the pipeline to drain
    h.server->ok().sync();
    h.read();
    REQUIRE(h.pipe.exclusive_op() == x);
    CHECK(!h.server->in_pipeline);
    CHECK(!h.pipe.wants_read());  // the driver's machine reads now
    auto c = h.start("select 3");  // held too
    CHECK(h.server->count_sent("query select 2") + h.server->count_sent("execute") == 1);  // only "select 1" went out
    h.pipe.cancel_exclusive();
    auto tickets = h.pipe.take_cancels_to_send();
    REQUIRE(tickets.size() == 1);
    h.pipe.on_cancel_delivered(tickets[0]);
    h.pipe.end_exclusive(true);  // its 57014 was that cancel's
    CHECK(!h.pipe.exclusive_op());
    CHECK(h.server->in_pipeline);
    CHECK(h.pipe.pending_cancels() == 1);  // settles with the next statement's Sync
    CHECK(h.pipe.in_flight() == 2);        // select 2 and select 3, in order
    h.server->ok().sync().ok().sync();
    h.read();
    REQUIRE(h.done.size() == 3);
    CHECK(h.done[0] == a);
    CHECK(h.done[1] == b);
    CHECK(h.done[2] == c);
    CHECK(h.pipe.pending_cancels() == 0);
}

TEST_CASE("an exclusive op abandoned while it waits is dropped; a broken connection fails it", "[pipeline][exclusive]") {
    harness h;
    auto a = h.start("select 1");
    auto x = h.start("COPY t FROM STDIN", op_kind::exclusive);
    h.pipe.cancel(x);
    h.collect();
    REQUIRE(h.done.size() == 1);
    CHECK(h.done[0] == x);
    CHECK(h.done[0]->ec == boost::asio::error::operation_aborted);
    h.server->ok().sync();
    h.read();
    CHECK(!h.pipe.exclusive_op());
    CHECK(h.server->in_pipeline);

    auto y = h.start("COPY t TO STDOUT", op_kind::exclusive);
    REQUIRE(h.pipe.exclusive_op() == y);
    h.pipe.break_connection("gone");
    h.collect();
    CHECK(h.done.back() == y);
    CHECK(y->ec == make_error_code(errc::connection_broken));
    CHECK(!h.pipe.exclusive_op());
}

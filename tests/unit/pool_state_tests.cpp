// The pool's state machine on a fake clock with fake connections: no server, no sleep.
#include "catch.hpp"

#include <pgcoro/detail/pool_state.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

struct fake_clock {
    using duration = std::chrono::nanoseconds;
    using rep = duration::rep;
    using period = duration::period;
    using time_point = std::chrono::time_point<fake_clock>;
    static constexpr bool is_steady = true;
};

struct fake_conn {
    int pid = 0;
    bool open = true;
    bool dirty = false;
    bool is_open() const noexcept { return open; }
    bool needs_reset() const noexcept { return dirty; }
    int backend_pid() const noexcept { return pid; }
};

using state = pgcoro::detail::pool_state<fake_clock, fake_conn, int>;
using kind = pgcoro::detail::request_kind;
using status = pgcoro::detail::slot_status;
using type = state::action::type;

/// A pool state machine, the time, and what it asked for.
struct rig {
    state st;
    fake_clock::time_point now{std::chrono::hours(1)};
    int next_pid = 100;

    explicit rig(pgcoro::pool_config cfg, std::uint64_t seed = 1) : st(std::move(cfg), seed) {}

    static pgcoro::pool_config config(std::size_t min, std::size_t max, std::size_t depth = 1) {
        pgcoro::pool_config c;
        c.conninfo = "host=fake";
        c.min_size = min;
        c.max_size = max;
        c.pipeline_depth = depth;
        return c;
    }

    std::vector<state::action> take() {
        std::vector<state::action> out;
        std::swap(out, st.actions());
        return out;
    }
    static std::vector<state::action> only(const std::vector<state::action>& v, type t) {
        std::vector<state::action> out;
        for (auto& a : v)
            if (a.what == t) {
                state::action c;  // a copy, without the connection a close carries
                c.what = a.what, c.target = a.target, c.request = a.request, c.ping = a.ping;
                c.ec = a.ec, c.message = a.message, c.event = a.event, c.pid = a.pid;
                out.push_back(std::move(c));
            }
        return out;
    }
    void advance(fake_clock::duration d) { now += d; }

    /// Answers every `connect` in `acts` with a new connection; returns what followed.
    std::vector<state::action> connect_all(const std::vector<state::action>& acts) {
        std::vector<state::action> out;
        for (auto& a : acts)
            if (a.what == type::connect) {
                st.connected(a.target, fake_conn{next_pid++}, now);
                for (auto& b : take()) out.push_back(std::move(b));
            }
        return out;
    }
    /// Starts with min_size connections open.
    void start_connected() {
        st.start(now);
        auto acts = take();
        connect_all(acts);
    }
};

}  // namespace

TEST_CASE("pool state: min_size opened at start, counters derived from statuses", "[unit][pool]") {
    rig r(rig::config(2, 4));
    r.st.start(r.now);
    auto acts = r.take();
    REQUIRE(rig::only(acts, type::connect).size() == 2);
    CHECK(r.st.stats().size == 2);
    CHECK(r.st.stats().connecting == 2);
    auto after = r.connect_all(acts);
    CHECK(rig::only(after, type::event).size() == 2);  // connected
    auto s = r.st.stats();
    CHECK(s.size == 2);
    CHECK(s.idle == 2);
    CHECK(s.in_use == 0);
    CHECK(s.connecting == 0);
}

TEST_CASE("pool state: requests are served in order; timeouts say why", "[unit][pool]") {
    rig r(rig::config(0, 1));
    r.st.start(r.now);
    CHECK(r.take().empty());
    CHECK(r.st.acquire(1, kind::session, r.now) == nullptr);
    auto acts = r.take();
    REQUIRE(rig::only(acts, type::connect).size() == 1);
    CHECK(r.st.acquire(2, kind::alone, r.now) == nullptr);
    CHECK(r.st.acquire(3, kind::shared, r.now) == nullptr);
    CHECK(rig::only(r.take(), type::connect).empty());  // max_size 1: one connect only
    r.advance(5ms);
    auto granted = r.connect_all(acts);
    auto grants = rig::only(granted, type::grant);
    REQUIRE(grants.size() == 1);
    CHECK(grants[0].request == 1);
    auto* slot = grants[0].target;
    CHECK(slot->status == status::lent);
    CHECK(r.st.stats().waiting == 2);

    // Session use: reset when it comes back, then the next in line gets it.
    r.st.release(slot, r.now);
    auto back = r.take();
    REQUIRE(rig::only(back, type::reset).size() == 1);
    CHECK(slot->status == status::resetting);
    r.st.reset_done(slot, true, r.now);
    grants = rig::only(r.take(), type::grant);
    REQUIRE(grants.size() == 1);
    CHECK(grants[0].request == 2);

    // Request 3 times out: acquire_timeout after it asked.
    auto deadline = r.now - 5ms + r.st.config().acquire_timeout;
    CHECK(r.st.next_wakeup() <= deadline);
    r.st.on_timer(deadline - 1ms);
    CHECK(rig::only(r.take(), type::fail).empty());
    r.now = deadline;
    r.st.on_timer(r.now);
    auto fails = rig::only(r.take(), type::fail);
    REQUIRE(fails.size() == 1);
    CHECK(fails[0].request == 3);
    CHECK(fails[0].ec == make_error_code(pgcoro::errc::pool_timeout));
    CHECK(fails[0].message.find("timed out after 5000 ms") != std::string::npos);
    CHECK(r.st.stats().timeouts == 1);
    CHECK(r.st.stats().waiting == 0);
}

TEST_CASE("pool state: helper statements share connections only when none is idle", "[unit][pool][share]") {
    rig r(rig::config(2, 2, 4));
    r.start_connected();
    auto* a = r.st.acquire(1, kind::shared, r.now);
    auto* b = r.st.acquire(2, kind::shared, r.now);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a != b);  // spread first
    for (int i = 3; i <= 8; ++i) REQUIRE(r.st.acquire(i, kind::shared, r.now));
    CHECK(a->sharers == 4);
    CHECK(b->sharers == 4);
    CHECK(r.st.stats().shared == 2);
    CHECK(r.st.acquire(9, kind::shared, r.now) == nullptr);  // full: waits
    CHECK(r.st.stats().waiting == 1);
    r.take();
    r.st.release(a, r.now);
    auto grants = rig::only(r.take(), type::grant);
    REQUIRE(grants.size() == 1);
    CHECK(grants[0].request == 9);
    CHECK(grants[0].target == a);
    // A request that needs a connection to itself waits for one to drain, and the
    // shared requests behind it wait behind it (nobody passes an older request).
    CHECK(r.st.acquire(10, kind::session, r.now) == nullptr);
    CHECK(r.st.acquire(11, kind::shared, r.now) == nullptr);
    r.st.release(b, r.now);
    CHECK(rig::only(r.take(), type::grant).empty());
    for (int i = 0; i < 3; ++i) r.st.release(b, r.now);
    grants = rig::only(r.take(), type::grant);
    REQUIRE(grants.size() == 1);
    CHECK(grants[0].request == 10);
    CHECK(grants[0].target == b);
    CHECK(b->status == status::lent);
    r.st.release(a, r.now);  // a had 4 sharers: now room for 11
    grants = rig::only(r.take(), type::grant);
    REQUIRE(grants.size() == 1);
    CHECK(grants[0].request == 11);
    CHECK(grants[0].target == a);
}

TEST_CASE("pool state: depth 1 never shares; session statements never share", "[unit][pool][share]") {
    rig r(rig::config(1, 1, 1));
    r.start_connected();
    REQUIRE(r.st.acquire(1, kind::shared, r.now));
    CHECK(r.st.acquire(2, kind::shared, r.now) == nullptr);

    rig d(rig::config(1, 1, 8));
    d.start_connected();
    auto* s = d.st.acquire(1, kind::shared, d.now);
    REQUIRE(s);
    CHECK(d.st.acquire(2, kind::alone, d.now) == nullptr);
    d.st.release(s, d.now);
    auto grants = rig::only(d.take(), type::grant);
    REQUIRE(grants.size() == 1);
    CHECK(grants[0].target->status == status::lent);
}

TEST_CASE("pool state: a busy pool grows while it may; a stalled connection is not joined", "[unit][pool][share]") {
    rig r(rig::config(1, 3, 8));
    r.start_connected();
    auto* a = r.st.acquire(1, kind::shared, r.now);
    REQUIRE(a);
    CHECK(r.take().empty());
    REQUIRE(r.st.acquire(2, kind::shared, r.now) == a);  // joins, and the pool grows
    auto acts = r.take();
    REQUIRE(rig::only(acts, type::connect).size() == 1);
    REQUIRE(r.st.acquire(3, kind::shared, r.now) == a);  // one connect at a time
    CHECK(rig::only(r.take(), type::connect).empty());
    r.connect_all(acts);
    auto* b = r.st.acquire(4, kind::shared, r.now);
    CHECK(b != a);  // the new, idle one

    // Stalled: `a` has had no result for longer than pipeline_stall_after.
    r.advance(r.st.config().pipeline_stall_after + 1ms);
    r.st.release(b, r.now);  // b makes progress, goes idle
    r.take();
    r.advance(2ms);          // b idle for 2 ms: it needs a probe before it is lent
    CHECK(r.st.acquire(5, kind::shared, r.now) == nullptr);
    auto checks = rig::only(r.take(), type::check);
    REQUIRE(checks.size() == 1);
    CHECK(checks[0].target == b);
    CHECK_FALSE(checks[0].ping);  // idle less than health_check_after: a probe only
    r.st.checked(b, true, r.now);
    auto grants = rig::only(r.take(), type::grant);
    REQUIRE(grants.size() == 1);
    CHECK(grants[0].target == b);
    // a's result comes in: it is joinable again. a still carries more than its share
    // (2 of 3), so the least loaded one is chosen; then a, just left and within its
    // share, is followed (the statement joins the batch a is sending anyway).
    r.st.release(a, r.now);
    CHECK(r.st.acquire(6, kind::shared, r.now) == b);
    CHECK(r.st.acquire(7, kind::shared, r.now) == a);
    r.st.release(b, r.now);  // b: 1, a: 3
    CHECK(r.st.acquire(8, kind::shared, r.now) == b);
}

TEST_CASE("pool state: a connect that ends after close() is no failure", "[unit][pool][close]") {
    rig r(rig::config(1, 2));
    r.st.start(r.now);
    auto acts = r.take();
    REQUIRE(acts.size() == 1);
    r.st.close();
    (void)r.take();
    r.st.connect_failed(acts[0].target, "the connect was cancelled", r.now);
    CHECK(r.st.stats().connect_failures == 0);
    CHECK(r.st.stats().size == 0);
    CHECK(rig::only(r.take(), type::connect).empty());
}

TEST_CASE("pool state: reconnect backoff doubles, resets on success", "[unit][pool][backoff]") {
    auto cfg = rig::config(1, 2);
    cfg.reconnect_backoff_initial = 100ms;
    cfg.reconnect_backoff_max = 300ms;
    rig r(cfg);
    r.st.start(r.now);
    auto acts = r.take();
    REQUIRE(acts.size() == 1);
    r.st.connect_failed(acts[0].target, "refused", r.now);
    auto after = r.take();
    CHECK(rig::only(after, type::connect).empty());
    CHECK(r.st.stats().connect_failures == 1);
    CHECK(r.st.next_wakeup() == r.now + 100ms);
    CHECK(r.st.acquire(1, kind::alone, r.now) == nullptr);
    CHECK(rig::only(r.take(), type::connect).empty());  // still backing off
    r.advance(100ms);
    r.st.on_timer(r.now);
    acts = rig::only(r.take(), type::connect);
    REQUIRE(acts.size() == 1);  // one for the waiter covers min_size too
    r.st.connect_failed(acts[0].target, "refused again", r.now);
    r.take();
    CHECK(r.st.next_wakeup() == r.now + 200ms);
    r.advance(200ms);
    r.st.on_timer(r.now);
    acts = rig::only(r.take(), type::connect);
    REQUIRE(acts.size() == 1);
    r.st.connect_failed(acts[0].target, "refused a third time", r.now);
    r.take();
    CHECK(r.st.next_wakeup() == r.now + 300ms);  // capped at max
    r.advance(300ms);
    r.st.on_timer(r.now);
    acts = r.take();
    auto grants = rig::only(r.connect_all(acts), type::grant);
    REQUIRE(grants.size() == 1);
    // Success resets the backoff: the next failure waits the initial 100 ms.
    r.st.release(grants[0].target, r.now);
    r.take();
    grants[0].target->conn->open = false;
    r.st.acquire(2, kind::alone, r.now);
    acts = rig::only(r.take(), type::connect);
    REQUIRE(acts.size() == 1);  // the broken idle one closed, another opened
    r.st.connect_failed(acts[0].target, "refused", r.now);
    r.take();
    CHECK(r.st.next_wakeup() == r.now + 100ms);
}

TEST_CASE("pool state: lifetimes with jitter, idle timeout down to min_size", "[unit][pool][upkeep]") {
    auto cfg = rig::config(1, 3);
    cfg.max_lifetime = 1000ms;
    cfg.lifetime_jitter = 0.2;
    cfg.idle_timeout = 400ms;
    rig r(cfg, 42);
    r.start_connected();
    auto* a = r.st.acquire(1, kind::alone, r.now);
    auto* b = r.st.acquire(2, kind::alone, r.now);
    auto grants = rig::only(r.connect_all(r.take()), type::grant);
    REQUIRE(a);
    CHECK(b == nullptr);
    REQUIRE(grants.size() == 1);
    b = grants[0].target;
    // Expiry: between 800 and 1000 ms after creation.
    CHECK(a->expires - a->created <= 1000ms);
    CHECK(a->expires - a->created >= 800ms);
    r.st.release(a, r.now);
    r.st.release(b, r.now);
    r.take();
    CHECK(r.st.stats().size == 2);
    CHECK(r.st.stats().idle == 2);
    // Idle timeout: closes idle connections beyond min_size, not below.
    r.advance(450ms);
    r.st.on_timer(r.now);
    auto acts = r.take();
    CHECK(rig::only(acts, type::close).size() == 1);
    CHECK(r.st.stats().size == 1);
    CHECK(r.st.stats().discarded == 1);
    // Lifetimes: everything old enough is replaced, min_size kept.
    r.advance(1000ms);
    r.st.on_timer(r.now);
    acts = r.take();
    CHECK(r.st.stats().size == 1);
    CHECK(rig::only(acts, type::connect).size() == 1);
    bool said_lifetime = false;
    for (auto& e : rig::only(acts, type::event)) said_lifetime |= e.message == "reached its max_lifetime";
    CHECK(said_lifetime);
}

TEST_CASE("pool state: a lent connection past its lifetime is closed when it comes back", "[unit][pool][upkeep]") {
    auto cfg = rig::config(1, 1);
    cfg.max_lifetime = 1000ms;
    cfg.lifetime_jitter = 0;
    rig r(cfg);
    r.start_connected();
    auto* a = r.st.acquire(1, kind::alone, r.now);
    REQUIRE(a);
    r.advance(1500ms);
    r.st.release(a, r.now);
    auto acts = r.take();
    CHECK(rig::only(acts, type::close).size() == 1);
    CHECK(rig::only(acts, type::connect).size() == 1);  // min_size
}

TEST_CASE("pool state: health checks, resets and broken connections", "[unit][pool][health]") {
    auto cfg = rig::config(1, 1);
    cfg.health_check_after = 1000ms;
    rig r(cfg);
    r.start_connected();
    r.advance(1500ms);
    CHECK(r.st.acquire(1, kind::alone, r.now) == nullptr);
    auto checks = rig::only(r.take(), type::check);
    REQUIRE(checks.size() == 1);
    CHECK(checks[0].ping);  // idle longer than health_check_after: a round trip
    r.st.checked(checks[0].target, false, r.now);
    auto acts = r.take();
    CHECK(rig::only(acts, type::close).size() == 1);
    auto grants = rig::only(r.connect_all(acts), type::grant);
    REQUIRE(grants.size() == 1);
    auto* s = grants[0].target;

    // An alone helper that changed the session: reset; a failed reset closes it.
    s->conn->dirty = true;
    r.st.release(s, r.now);
    REQUIRE(rig::only(r.take(), type::reset).size() == 1);
    r.st.reset_done(s, false, r.now);
    acts = r.take();
    CHECK(rig::only(acts, type::close).size() == 1);
    r.connect_all(acts);
    CHECK(r.st.stats().size == 1);

    // return_without_reset: a session use with nothing to reset goes straight back.
    auto* t = r.st.acquire(2, kind::session, r.now);
    REQUIRE(t);
    r.st.release(t, r.now, true);
    CHECK(rig::only(r.take(), type::reset).empty());
    CHECK(t->status == status::idle);
    // ... but what the connection reports still counts.
    t = r.st.acquire(3, kind::session, r.now);
    REQUIRE(t);
    t->conn->dirty = true;
    r.st.release(t, r.now, true);
    CHECK(rig::only(r.take(), type::reset).size() == 1);
    t->conn->dirty = false;
    r.st.reset_done(t, true, r.now);
    r.take();

    // Broken while lent: dropped and replaced.
    t = r.st.acquire(4, kind::alone, r.now);
    REQUIRE(t);
    t->conn->open = false;
    r.st.release(t, r.now);
    acts = r.take();
    CHECK(rig::only(acts, type::close).size() == 1);
    CHECK(rig::only(acts, type::connect).size() == 1);
}

TEST_CASE("pool state: cancelled requests leave the queue; close fails the rest", "[unit][pool][close]") {
    rig r(rig::config(1, 1));
    r.start_connected();
    auto* s = r.st.acquire(1, kind::alone, r.now);
    REQUIRE(s);
    for (int i = 2; i <= 5; ++i) CHECK(r.st.acquire(i, kind::alone, r.now) == nullptr);
    auto gone = r.st.cancel([](int q) { return q == 3; });
    REQUIRE(gone);
    CHECK(*gone == 3);
    CHECK_FALSE(r.st.cancel([](int q) { return q == 3; }));
    CHECK(r.st.stats().waiting == 3);
    r.st.release(s, r.now);
    auto grants = rig::only(r.take(), type::grant);
    REQUIRE(grants.size() == 1);
    CHECK(grants[0].request == 2);
    r.st.close();
    auto fails = rig::only(r.take(), type::fail);
    REQUIRE(fails.size() == 2);
    CHECK(fails[0].request == 4);
    CHECK(fails[1].request == 5);
    CHECK(fails[0].ec == make_error_code(pgcoro::errc::pool_closed));
    r.st.release(s, r.now);  // the lent one closes as it comes back
    CHECK(rig::only(r.take(), type::close).size() == 1);
    CHECK(r.st.stats().size == 0);
    CHECK(r.st.acquire(6, kind::alone, r.now) == nullptr);
    fails = rig::only(r.take(), type::fail);
    REQUIRE(fails.size() == 1);
    CHECK(fails[0].request == 6);
    CHECK(r.st.next_wakeup() == fake_clock::time_point::max());
}

TEST_CASE("pool state: 10,000 random operations keep the counters consistent", "[unit][pool][model]") {
    // A seeded random walk over every input; after each step the derived counters must
    // match a recount of the slots, every request is answered once, nothing is lost.
    rig r(rig::config(2, 6, 4), 7);
    r.start_connected();
    std::mt19937 rng(12345);
    std::vector<state::slot*> lent;  // one entry per grant (shared slots appear per sharer)
    std::vector<state::action> pending;  // connects, checks and resets to answer
    int next_request = 1, answered = 0, asked = 0;
    auto absorb = [&](std::vector<state::action> acts) {
        for (auto& a : acts) {
            if (a.what == type::grant) lent.push_back(a.target), ++answered;
            else if (a.what == type::fail) ++answered;
            else if (a.what == type::connect || a.what == type::check || a.what == type::reset) pending.push_back(std::move(a));
        }
    };
    for (int step = 0; step < 10000; ++step) {
        r.advance(std::chrono::microseconds(rng() % 3000));
        switch (rng() % 6) {
        case 0:
        case 1: {
            ++asked;
            auto k = static_cast<kind>(rng() % 3);
            if (auto* s = r.st.acquire(next_request++, k, r.now)) lent.push_back(s), ++answered;
            break;
        }
        case 2:
            if (!lent.empty()) {
                std::size_t i = rng() % lent.size();
                auto* s = lent[i];
                lent.erase(lent.begin() + static_cast<std::ptrdiff_t>(i));
                if (rng() % 10 == 0) s->conn->open = false;
                r.st.release(s, r.now, rng() % 2 == 0);
            }
            break;
        case 3:
            if (!pending.empty()) {
                auto a = std::move(pending.front());
                pending.erase(pending.begin());
                bool ok = rng() % 8 != 0;
                if (a.what == type::connect) {
                    if (ok) r.st.connected(a.target, fake_conn{r.next_pid++}, r.now);
                    else r.st.connect_failed(a.target, "refused", r.now);
                } else if (a.what == type::check) {
                    r.st.checked(a.target, ok, r.now);
                } else {
                    r.st.reset_done(a.target, ok, r.now);
                }
            }
            break;
        case 4:
            r.st.on_timer(r.now);
            break;
        case 5:
            if (r.st.stats().waiting > 0 && rng() % 4 == 0) {
                int victim = next_request - 1 - static_cast<int>(rng() % 5);
                if (r.st.cancel([&](int q) { return q == victim; })) ++answered;
            }
            break;
        }
        absorb(r.take());
        auto s = r.st.stats();
        REQUIRE(s.size <= 6);
        REQUIRE(s.idle + s.in_use + s.connecting == s.size);
        REQUIRE(answered + static_cast<int>(s.waiting) == asked);
    }
}

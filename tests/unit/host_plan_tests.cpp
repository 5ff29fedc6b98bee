// Unit tests of the multi-host connect plan (detail/host_plan.hpp) and network_options:
// no server.
#include "support.hpp"

#include <pgcoro/detail/host_plan.hpp>

#include <algorithm>
#include <random>

using namespace pgcoro::detail;

TEST_CASE("target_session_attrs values parse as libpq spells them", "[hosts]") {
    CHECK(parse_session_target("") == session_target::any);
    CHECK(parse_session_target("any") == session_target::any);
    CHECK(parse_session_target("read-write") == session_target::read_write);
    CHECK(parse_session_target("read-only") == session_target::read_only);
    CHECK(parse_session_target("primary") == session_target::primary);
    CHECK(parse_session_target("standby") == session_target::standby);
    CHECK(parse_session_target("prefer-standby") == session_target::prefer_standby);
    CHECK_FALSE(parse_session_target("read_write"));
    CHECK_FALSE(parse_session_target("Primary"));
}

TEST_CASE("a session matches target_session_attrs as libpq decides", "[hosts]") {
    session_facts primary{false, false}, ro_primary{false, true}, standby{true, true};
    CHECK(session_matches(session_target::any, standby));
    CHECK(session_matches(session_target::read_write, primary));
    CHECK_FALSE(session_matches(session_target::read_write, ro_primary));  // default_transaction_read_only
    CHECK_FALSE(session_matches(session_target::read_write, standby));
    CHECK(session_matches(session_target::read_only, ro_primary));
    CHECK(session_matches(session_target::read_only, standby));
    CHECK_FALSE(session_matches(session_target::read_only, primary));
    CHECK(session_matches(session_target::primary, ro_primary));
    CHECK_FALSE(session_matches(session_target::primary, standby));
    CHECK(session_matches(session_target::standby, standby));
    CHECK_FALSE(session_matches(session_target::standby, ro_primary));
    CHECK_FALSE(session_matches(session_target::prefer_standby, primary));
    CHECK(session_matches(session_target::prefer_standby, primary, /*second_pass=*/true));
    CHECK(session_matches(session_target::prefer_standby, standby));
}

TEST_CASE("host lists pair up as libpq pairs them", "[hosts]") {
    auto e = host_entries("a,b,c", "", "5432,5433,5434");
    REQUIRE(e);
    REQUIRE(e->size() == 3);
    CHECK((*e)[1].host == "b");
    CHECK((*e)[1].port == "5433");
    CHECK((*e)[2].label() == "c:5434");

    auto one_port = host_entries("a,b", "10.0.0.1,10.0.0.2", "6000");
    REQUIRE(one_port);
    CHECK((*one_port)[1].port == "6000");
    CHECK((*one_port)[1].hostaddr == "10.0.0.2");
    CHECK((*one_port)[1].label() == "b (10.0.0.2):6000");

    auto defaults = host_entries("", "", "");
    REQUIRE(defaults);
    CHECK(defaults->size() == 1);

    auto addr_only = host_entries("", "127.0.0.1,127.0.0.2", "");
    REQUIRE(addr_only);
    CHECK((*addr_only)[1].label() == "127.0.0.2");

    CHECK_FALSE(host_entries("a,b", "", "1,2,3"));       // libpq reports these itself
    CHECK_FALSE(host_entries("a,b", "10.0.0.1", ""));
}

TEST_CASE("load_balance_hosts=random shuffles hosts, and each name's addresses among themselves", "[hosts]") {
    std::vector<host_entry> base;
    for (int h = 0; h < 4; ++h)
        for (int a = 0; a < 3; ++a)
            base.push_back(host_entry{"h" + std::to_string(h), "10.0." + std::to_string(h) + "." + std::to_string(a), "5432"});
    std::mt19937 rng(7);
    bool moved = false;
    for (int round = 0; round < 20; ++round) {
        auto e = base;
        shuffle_hosts(e, rng);
        REQUIRE(e.size() == base.size());
        // Each name's addresses stay together, and every entry is still there.
        std::vector<std::string> seen_hosts;
        for (std::size_t i = 0; i < e.size(); ++i)
            if (i == 0 || e[i].host != e[i - 1].host) seen_hosts.push_back(e[i].host);
        CHECK(seen_hosts.size() == 4);
        auto sorted = e;
        auto key = [](const host_entry& x) { return x.hostaddr; };
        std::sort(sorted.begin(), sorted.end(), [&](auto& a, auto& b) { return key(a) < key(b); });
        for (std::size_t i = 0; i < e.size(); ++i) CHECK(sorted[i].hostaddr == base[i].hostaddr);
        moved = moved || e[0].hostaddr != base[0].hostaddr;
    }
    CHECK(moved);
}

TEST_CASE("the walk tries each host once, prefer-standby twice", "[hosts]") {
    host_walk plain(3, session_target::read_write);
    std::vector<std::size_t> seen;
    while (auto a = plain.next()) {
        CHECK_FALSE(a->second_pass);
        seen.push_back(a->host);
    }
    CHECK(seen == std::vector<std::size_t>{0, 1, 2});

    host_walk prefer(2, session_target::prefer_standby);
    std::vector<std::pair<std::size_t, bool>> tries;
    while (auto a = prefer.next()) tries.emplace_back(a->host, a->second_pass);
    CHECK(tries == std::vector<std::pair<std::size_t, bool>>{{0, false}, {1, false}, {0, true}, {1, true}});
}

TEST_CASE("each host's budget: its own, libpq's, or a share of the whole", "[hosts]") {
    using std::chrono::milliseconds;
    CHECK(host_walk::host_budget(milliseconds(300), milliseconds(10000), 2) == milliseconds(300));
    CHECK(host_walk::host_budget(std::nullopt, milliseconds(10000), 4) == milliseconds(2500));
    CHECK_FALSE(host_walk::host_budget(std::nullopt, milliseconds(10000), 1));  // the whole budget
    CHECK_FALSE(host_walk::host_budget(std::nullopt, std::nullopt, 3));         // no limit at all
}

TEST_CASE("network_options refuses values that cannot work, naming the field", "[hosts][config]") {
    pgcoro::network_options n;
    CHECK_NOTHROW(n.validate("pool_config"));
    n.read_timeout = std::chrono::milliseconds(0);
    try {
        n.validate("pool_config");
        FAIL("accepted a zero read_timeout");
    } catch (const pgcoro::error& e) {
        CHECK(e.code() == pgcoro::make_error_code(pgcoro::errc::invalid_config));
        CHECK(std::string(e.what()).find("network.read_timeout") != std::string::npos);
    }
    n.read_timeout.reset();
    n.keepalives_count = -1;
    CHECK_THROWS_AS(n.validate("x"), pgcoro::error);
    pgcoro::pool_config cfg = pgcoro::pool_config::from_url("postgresql://h/db");
    cfg.network.host_timeout = std::chrono::milliseconds(-5);
    CHECK_THROWS_AS(cfg.validate(), pgcoro::error);
}

// tests/network_support.hpp — what the network, replica and failover tests share.
#pragma once

#include "fault_proxy.hpp"
#include "support.hpp"

namespace pgtest {

using namespace std::chrono_literals;

/// The fixture cluster's URL with its port replaced by `port` (a proxy in front of it).
inline std::string via_port(unsigned short port) {
    std::string u = url();
    std::size_t colon = u.rfind(':', u.find('/', u.find("@")));
    return u.substr(0, colon + 1) + std::to_string(port) + u.substr(u.find('/', colon));
}

inline unsigned short fixture_port() {
    return static_cast<unsigned short>(std::stoi(read_first_line(std::string(PGCORO_TEST_STATE_DIR) + "/port")));
}

inline asio::awaitable<void> nap(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(asio::use_awaitable);
}

inline asio::awaitable<pgcoro::connection> connect_with(std::string conninfo, pgcoro::connect_options o = {}) {
    auto ex = co_await asio::this_coro::executor;
    co_return co_await pgcoro::connection::connect(ex, std::move(conninfo), std::move(o));
}

/// `select 1` through `db` until `n` calls succeeded or `limit` passed, pausing 50 ms after
/// each failure; how many succeeded.
inline asio::awaitable<int> successes_within(pgcoro::pool& db, int n, std::chrono::seconds limit) {
    auto start = std::chrono::steady_clock::now();
    int ok = 0;
    while (ok < n && std::chrono::steady_clock::now() - start < limit) {
        bool failed = false;
        try {
            ok += co_await db.query_one<int32_t>("select 1");
        } catch (const pgcoro::error&) {
            failed = true;
        }
        if (failed) co_await nap(50ms);
    }
    co_return ok;
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// One TLS cluster for the TLS cases (started on first use, stopped at exit).
inline own_cluster& tls_cluster() {
    static own_cluster c("tls");
    return c;
}

/// One primary with one streaming standby.
struct replica_pair {
    own_cluster primary;
    own_cluster standby{standby_of, primary};
};
inline replica_pair& replicas() {
    static replica_pair p;
    return p;
}

/// 127.0.0.1 once per port of `ports` ("p1,p2"). (A string, not a braced list: g++ 12
/// miscompiles a braced temporary inside a co_await expression.)
inline std::string hosts_params(const std::string& ports, const std::string& password, const std::string& extra = "") {
    std::string hosts = "127.0.0.1";
    for (char ch : ports)
        if (ch == ',') hosts += ",127.0.0.1";
    return "host=" + hosts + " port=" + ports + " user=pgcoro dbname=postgres password=" + password + " " + extra;
}


}  // namespace pgtest

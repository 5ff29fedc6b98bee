// pgcoro/detail/connect.hpp — PQconnectStart/PQconnectPoll driven by Asio, with a deadline.
#pragma once

#include <pgcoro/detail/host_plan.hpp>
#include <pgcoro/detail/pq.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/network_options.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

namespace pgcoro::detail {

inline std::string join_commas(const std::vector<std::string>& v) {
    std::string s;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) s.push_back(',');
        s += v[i];
    }
    return s;
}

/// The parsed connection string as keyword/value pairs libpq takes back.
struct conn_params {
    std::vector<std::string> keys, values;

    std::optional<std::string> get(std::string_view k) const {
        for (std::size_t i = 0; i < keys.size(); ++i)
            if (keys[i] == k) return values[i];
        return std::nullopt;
    }
    void erase(std::string_view k) {
        for (std::size_t i = 0; i < keys.size(); ++i)
            if (keys[i] == k) {
                keys.erase(keys.begin() + static_cast<std::ptrdiff_t>(i));
                values.erase(values.begin() + static_cast<std::ptrdiff_t>(i));
                return;
            }
    }
    void set(const std::string& k, std::string v) {
        for (std::size_t i = 0; i < keys.size(); ++i)
            if (keys[i] == k) { values[i] = std::move(v); return; }
        keys.push_back(k);
        values.push_back(std::move(v));
    }
};

inline conn_params parse_conninfo(const std::string& conninfo, const std::vector<std::string>& secrets) {
    char* err = nullptr;
    conninfo_ptr opts(PQconninfoParse(conninfo.c_str(), &err));
    if (!opts) {
        std::string msg = err ? err : "out of memory";
        if (err) PQfreemem(err);
        while (!msg.empty() && msg.back() == '\n') msg.pop_back();
        throw pgcoro::error(make_error_code(errc::invalid_conninfo), redact(msg, secrets));
    }
    conn_params p;
    for (PQconninfoOption* o = opts.get(); o->keyword; ++o) {
        if (o->val) {
            p.keys.emplace_back(o->keyword);
            p.values.emplace_back(o->val);
        }
    }
    return p;
}

/// The service file libpq would read for `service` (PGSERVICEFILE, ~/.pg_service.conf,
/// then PGSYSCONFDIR or the usual system directories), merged into p for every keyword
/// p does not set, as libpq does; so that host names from a service file are resolved
/// here too, never by libpq on the io_context's thread. Nothing found: p is unchanged
/// (libpq reports a missing service itself).
inline void merge_service_file(conn_params& p) {
    std::string service;
    if (auto s = p.get("service")) service = *s;
    else if (const char* e = std::getenv("PGSERVICE")) service = e;
    if (service.empty()) return;
    std::vector<std::string> files;
    if (const char* f = std::getenv("PGSERVICEFILE")) files.emplace_back(f);
    else if (const char* home = std::getenv("HOME")) files.push_back(std::string(home) + "/.pg_service.conf");
    if (const char* d = std::getenv("PGSYSCONFDIR")) files.push_back(std::string(d) + "/pg_service.conf");
    for (const char* d : {"/etc/postgresql-common", "/etc/sysconfig/pgsql", "/usr/local/pgsql/etc", "/etc"})
        files.push_back(std::string(d) + "/pg_service.conf");
    auto trim = [](std::string_view v) {
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r')) v.remove_suffix(1);
        return v;
    };
    for (const auto& file : files) {
        std::ifstream in(file);
        if (!in) continue;
        bool in_section = false, found = false;
        for (std::string line; std::getline(in, line);) {
            std::string_view l = trim(line);
            if (l.empty() || l.front() == '#') continue;
            if (l.front() == '[') {
                in_section = l.size() > 2 && l.back() == ']' && l.substr(1, l.size() - 2) == service;
                found = found || in_section;
                continue;
            }
            std::size_t eq = l.find('=');
            if (!in_section || eq == std::string_view::npos) continue;
            std::string key(trim(l.substr(0, eq)));
            if (!p.get(key)) p.set(key, std::string(trim(l.substr(eq + 1))));
        }
        if (found) return;  // libpq, too, stops at the first file that has the service
    }
}

/// libpq's connect_timeout (from the string or PGCONNECT_TIMEOUT): seconds per host (per
/// address) tried, at least 2, as libpq applies it; unset or 0: none.
inline std::optional<std::chrono::milliseconds> libpq_host_timeout(const conn_params& p) {
    std::string v;
    if (auto t = p.get("connect_timeout")) v = *t;
    else if (const char* e = std::getenv("PGCONNECT_TIMEOUT")) v = e;
    int seconds = std::atoi(v.c_str());
    if (seconds <= 0) return std::nullopt;
    return std::chrono::seconds(std::max(seconds, 2));
}

/// libpq resolves host names inside PQconnectStart/PQconnectPoll with a blocking
/// getaddrinfo. Resolve them here with Asio's resolver instead and hand libpq numeric
/// `hostaddr`s (keeping `host` for TLS verification and messages). A name with several
/// addresses becomes several entries, tried in order as libpq would.
inline boost::asio::awaitable<void> resolve_hosts(boost::asio::any_io_executor ex, conn_params& p,
                                                  const std::vector<std::string>& secrets,
                                                  std::chrono::steady_clock::time_point deadline) {
    using namespace boost::asio::experimental::awaitable_operators;
    if (auto ha = p.get("hostaddr"); (ha && !ha->empty()) || std::getenv("PGHOSTADDR")) co_return;
    std::string host_list;
    if (auto h = p.get("host")) host_list = *h;
    else if (const char* e = std::getenv("PGHOST")) host_list = e;
    if (host_list.empty()) co_return;

    std::vector<std::string> hosts = split_list(host_list);
    std::string port_list;
    if (auto pt = p.get("port")) port_list = *pt;
    else if (const char* e = std::getenv("PGPORT")) port_list = e;
    std::vector<std::string> ports = port_list.empty() ? std::vector<std::string>{} : split_list(port_list);
    if (!ports.empty() && ports.size() != 1 && ports.size() != hosts.size()) co_return;  // libpq reports it

    bool any_name = false;
    for (auto& h : hosts) {
        boost::system::error_code ec;
        if (!h.empty() && h[0] != '/' && h[0] != '@') {
            (void)boost::asio::ip::make_address(h, ec);
            if (ec) any_name = true;
        }
    }
    if (!any_name) co_return;

    std::vector<std::string> out_hosts, out_addrs, out_ports;
    std::string last_error;
    boost::asio::ip::tcp::resolver resolver(ex);
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        const std::string& h = hosts[i];
        std::string port = ports.empty() ? "" : ports.size() == 1 ? ports[0] : ports[i];
        boost::system::error_code ec;
        bool is_socket = h.empty() || h[0] == '/' || h[0] == '@';
        bool is_numeric = !is_socket && (boost::asio::ip::make_address(h, ec), !ec);
        if (is_socket || is_numeric) {
            out_hosts.push_back(h);
            out_addrs.push_back(is_numeric ? h : "");
            out_ports.push_back(port);
            continue;
        }
        // Bounded by the connect timeout like the rest of the connect.
        boost::asio::steady_timer limit(ex);
        limit.expires_at(deadline);
        auto r = co_await (resolver.async_resolve(h, "", boost::asio::as_tuple(boost::asio::use_awaitable)) ||
                           limit.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable)));
        if (r.index() == 1) {
            auto [tec] = std::get<1>(r);
            if (tec == boost::asio::error::operation_aborted) throw pgcoro::error(tec, "the connect was cancelled");
            throw pgcoro::error(make_error_code(errc::connect_timeout),
                                "timed out resolving \"" + h + "\" (the connect timeout)");
        }
        auto [rec, results] = std::get<0>(r);
        if (rec == boost::asio::error::operation_aborted) throw pgcoro::error(rec, "the connect was cancelled");
        if (rec) {
            last_error = "could not translate host name \"" + h + "\" to address: " + rec.message();
            continue;
        }
        std::vector<std::string> seen;
        for (const auto& entry : results) {
            std::string a = entry.endpoint().address().to_string();
            bool dup = false;
            for (auto& s : seen) dup = dup || s == a;
            if (dup) continue;
            seen.push_back(a);
            out_hosts.push_back(h);
            out_addrs.push_back(a);
            out_ports.push_back(port);
        }
    }
    if (out_hosts.empty())
        throw pgcoro::error(make_error_code(errc::connect_failed), redact(last_error, secrets));
    p.set("host", join_commas(out_hosts));
    p.set("hostaddr", join_commas(out_addrs));
    bool any_port = false;
    for (auto& pt : out_ports) any_port = any_port || !pt.empty();
    if (any_port) p.set("port", join_commas(out_ports));
}

/// Stops watching a descriptor without closing it (it belongs to libpq). A named type:
/// g++ 12 crashes on a local struct inside a coroutine.
struct descriptor_releaser {
    boost::asio::posix::stream_descriptor& s;
    ~descriptor_releaser() {
        if (s.is_open()) (void)s.release();
    }
};

/// Waits until libpq's socket `fd` is ready for `what`; false when `deadline` came first.
/// Throws on cancellation (operation_aborted) and on a failed wait.
inline boost::asio::awaitable<bool> wait_socket(boost::asio::any_io_executor ex, int fd,
                                                boost::asio::posix::stream_descriptor::wait_type what,
                                                std::chrono::steady_clock::time_point deadline) {
    using namespace boost::asio::experimental::awaitable_operators;
    namespace asio = boost::asio;
    // libpq may open a new socket between polls (next address, SSL retry): watch the
    // current one afresh each time, and never let Asio close it.
    asio::posix::stream_descriptor sd(ex);
    sd.assign(fd);
    descriptor_releaser guard{sd};
    asio::steady_timer timer(ex);
    timer.expires_at(deadline);
    // Both waits report errors as values: `||` completes on the first *success*, so a
    // throwing side would make a cancelled connect surface as multiple_exceptions.
    auto r = co_await (sd.async_wait(what, asio::as_tuple(asio::use_awaitable)) ||
                       timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    auto [ec] = r.index() == 0 ? std::get<0>(r) : std::get<1>(r);
    if (ec == asio::error::operation_aborted) throw pgcoro::error(ec, "the connect was cancelled");
    if (ec) throw pgcoro::error(make_error_code(errc::connect_failed), "waiting on the socket failed: " + ec.message());
    co_return r.index() == 0;
}

inline pgcoro::error connect_timed_out(std::chrono::steady_clock::time_point started, const std::string& where) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    return pgcoro::error(make_error_code(errc::connect_timeout),
                         "timed out after " + std::to_string(ms.count()) + " ms connecting to " + where);
}

/// One libpq connect (PQconnectStartParams + PQconnectPoll) by `deadline`; the PGconn
/// returned is connected, not yet in pipeline mode.
inline boost::asio::awaitable<pgconn_ptr> connect_once(boost::asio::any_io_executor ex, const conn_params& params,
                                                       const std::vector<std::string>& secrets,
                                                       std::chrono::steady_clock::time_point deadline,
                                                       std::string where) {
    namespace asio = boost::asio;
    auto started = std::chrono::steady_clock::now();
    std::vector<const char*> keys, values;
    for (std::size_t i = 0; i < params.keys.size(); ++i) {
        keys.push_back(params.keys[i].c_str());
        values.push_back(params.values[i].c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    pgconn_ptr conn(PQconnectStartParams(keys.data(), values.data(), 0));
    if (!conn) throw pgcoro::error(make_error_code(errc::connect_failed), "out of memory");
    auto failed = [&] {
        return pgcoro::error(make_error_code(errc::connect_failed), redact(conn_error_message(conn.get()), secrets));
    };
    if (PQstatus(conn.get()) == CONNECTION_BAD) throw failed();
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) throw failed();
        int fd = PQsocket(conn.get());
        if (fd < 0) throw failed();
        auto what = st == PGRES_POLLING_READING ? asio::posix::stream_descriptor::wait_read
                                                : asio::posix::stream_descriptor::wait_write;
        if (!co_await wait_socket(ex, fd, what, deadline)) throw connect_timed_out(started, where);
        st = PQconnectPoll(conn.get());
    }
    co_return conn;
}

/// Asks a new session what target_session_attrs needs to know (one round trip, before
/// pipeline mode), by `deadline`.
inline boost::asio::awaitable<session_facts> query_session(boost::asio::any_io_executor ex, PGconn* c,
                                                           std::chrono::steady_clock::time_point deadline,
                                                           const std::string& where) {
    namespace asio = boost::asio;
    using sd = asio::posix::stream_descriptor;
    auto started = std::chrono::steady_clock::now();
    auto failed = [&](std::string m) {
        while (!m.empty() && m.back() == '\n') m.pop_back();
        return pgcoro::error(make_error_code(errc::connect_failed),
                             where + ": checking target_session_attrs failed: " + m);
    };
    if (PQsetnonblocking(c, 1) != 0 ||
        !PQsendQuery(c, "SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.current_setting('transaction_read_only')"))
        throw failed(conn_error_message(c));
    for (int f; (f = PQflush(c)) != 0;) {
        if (f < 0) throw failed(conn_error_message(c));
        if (!co_await wait_socket(ex, PQsocket(c), sd::wait_write, deadline)) throw connect_timed_out(started, where);
    }
    std::optional<session_facts> facts;
    std::string error;
    for (;;) {
        while (PQisBusy(c)) {
            if (!co_await wait_socket(ex, PQsocket(c), sd::wait_read, deadline)) throw connect_timed_out(started, where);
            if (!PQconsumeInput(c)) throw failed(conn_error_message(c));
        }
        pgresult_ptr r(PQgetResult(c));
        if (!r) break;
        if (PQresultStatus(r.get()) == PGRES_TUPLES_OK && PQntuples(r.get()) == 1 && PQnfields(r.get()) == 2)
            facts = session_facts{std::string_view(PQgetvalue(r.get(), 0, 0)) == "t",
                                  std::string_view(PQgetvalue(r.get(), 0, 1)) == "on"};
        else if (const char* m = PQresultErrorMessage(r.get()); m && *m)
            error = m;
    }
    if (!facts) throw failed(error.empty() ? "unexpected answer" : error);
    co_return *facts;
}

/// Connects without blocking; the returned PGconn is non-blocking and in pipeline mode.
/// timeout: the whole connect (all hosts); when unset, libpq's connect_timeout (from the
/// connection string or PGCONNECT_TIMEOUT) per host tried, 0 or absent meaning none.
/// With several hosts (or target_session_attrs), pgcoro tries them itself in libpq's
/// order, each within its own budget (network_options::host_timeout), and checks
/// target_session_attrs itself; a failure names every host and why it was passed over.
inline boost::asio::awaitable<pgconn_ptr> connect_pq(boost::asio::any_io_executor ex, std::string conninfo,
                                                     std::optional<std::chrono::milliseconds> timeout,
                                                     network_options net = {}) {
    namespace asio = boost::asio;
    using clock = std::chrono::steady_clock;

    const std::vector<std::string> secrets = conninfo_secrets(conninfo);
    // Partial and total cancellation too, not only terminal.
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    conn_params params = parse_conninfo(conninfo, secrets);
    merge_service_file(params);
    if (net.keepalives_idle) params.set("keepalives_idle", std::to_string(net.keepalives_idle->count()));
    if (net.keepalives_interval) params.set("keepalives_interval", std::to_string(net.keepalives_interval->count()));
    if (net.keepalives_count) params.set("keepalives_count", std::to_string(*net.keepalives_count));
    if (net.tcp_user_timeout) params.set("tcp_user_timeout", std::to_string(net.tcp_user_timeout->count()));

    auto started = clock::now();
    const std::optional<std::chrono::milliseconds> libpq_per_host = libpq_host_timeout(params);
    auto deadline = timeout ? started + *timeout : clock::time_point::max();
    // Name lookups: within the caller's timeout, else within libpq's per-host one. (In a
    // local: g++ 12 evaluates both arms of a ?: inside a co_await expression.)
    auto lookup_deadline = deadline;
    if (!timeout && libpq_per_host) lookup_deadline = started + *libpq_per_host;
    co_await resolve_hosts(ex, params, secrets, lookup_deadline);

    std::string target_text;
    if (auto t = params.get("target_session_attrs")) target_text = *t;
    else if (const char* e = std::getenv("PGTARGETSESSIONATTRS")) target_text = e;
    std::optional<session_target> target = parse_session_target(target_text);
    if (!target)
        throw pgcoro::error(make_error_code(errc::invalid_conninfo),
                            "invalid target_session_attrs value: \"" + target_text + "\"");
    params.set("target_session_attrs", "any");  // checked here, host by host

    auto listed = [&](const char* key, const char* env) {
        if (auto v = params.get(key)) return *v;
        const char* e = std::getenv(env);
        return std::string(e ? e : "");
    };
    auto entries = host_entries(listed("host", "PGHOST"), listed("hostaddr", "PGHOSTADDR"), listed("port", "PGPORT"));
    if (!entries) entries.emplace(1);  // lists that disagree: libpq says so
    // libpq >= 16 (older ones refuse the keyword when parsing).
    if (auto lb = params.get("load_balance_hosts"); lb && *lb == "random") {
        std::random_device rd;
        std::mt19937 rng(rd());
        shuffle_hosts(*entries, rng);
    }
    bool alone = entries->size() == 1;
    if (!timeout && libpq_per_host) {  // libpq's rule: each host (address) its timeout
        timeout = *libpq_per_host * static_cast<long>(entries->size());
        deadline = clock::now() + *timeout;
    }
    auto budget = host_walk::host_budget(net.host_timeout ? net.host_timeout : libpq_per_host, timeout, entries->size());

    std::vector<std::string> failures;
    std::exception_ptr only_failure;
    bool all_timeouts = true;
    host_walk walk(entries->size(), *target);
    const host_entry* turned_down = nullptr;  // the other addresses of its name are skipped, as libpq does
    bool second_pass = false;
    while (auto at = walk.next()) {
        if (clock::now() >= deadline) break;
        const host_entry& e = (*entries)[at->host];
        if (at->second_pass != second_pass) {  // prefer-standby's second pass: every host again
            second_pass = true;
            turned_down = nullptr;
        }
        if (turned_down && turned_down != &e && !e.host.empty() && e.host == turned_down->host &&
            e.port == turned_down->port)
            continue;
        turned_down = nullptr;
        conn_params one = params;
        if (!alone) {
            one.set("host", e.host);
            one.set("hostaddr", e.hostaddr);
            one.set("port", e.port);
        }
        std::string where = alone ? std::string("the server") : e.label();
        auto attempt_deadline = budget && clock::now() + *budget < deadline ? clock::now() + *budget : deadline;
        try {
            pgconn_ptr conn = co_await connect_once(ex, one, secrets, attempt_deadline, where);
            bool fits = true;
            if (*target != session_target::any) {  // (no co_await inside || for g++ 12)
                session_facts facts = co_await query_session(ex, conn.get(), attempt_deadline, where);
                fits = session_matches(*target, facts, at->second_pass);
            }
            if (fits) {
                if (PQsetnonblocking(conn.get(), 1) != 0 || PQenterPipelineMode(conn.get()) != 1)
                    throw pgcoro::error(make_error_code(errc::connect_failed),
                                        redact(conn_error_message(conn.get()), secrets));
                co_return conn;
            }
            all_timeouts = false;
            turned_down = &e;
            failures.push_back(e.label() + ": " + session_mismatch_reason(*target));
        } catch (const pgcoro::error& err) {
            if (err.code() == asio::error::operation_aborted) throw;
            if (alone) only_failure = std::current_exception();
            all_timeouts = all_timeouts && err.code() == make_error_code(errc::connect_timeout);
            std::string m = err.what();
            failures.push_back(m.find(e.hostaddr.empty() ? e.host : e.hostaddr) != std::string::npos || e.label().empty()
                                   ? m
                                   : e.label() + ": " + m);
        }
    }
    if (only_failure && failures.size() == 1) std::rethrow_exception(only_failure);
    bool out_of_time = clock::now() >= deadline;
    std::string msg = out_of_time ? connect_timed_out(started, "any host").what() : std::string("no host would do");
    for (auto& f : failures) msg += "; " + f;
    throw pgcoro::error(make_error_code(out_of_time || (all_timeouts && !failures.empty()) ? errc::connect_timeout
                                                                                            : errc::connect_failed),
                        redact(msg, secrets));
}

}  // namespace pgcoro::detail

// pgcoro/detail/connect.hpp — PQconnectStart/PQconnectPoll driven by Asio, with a deadline.
#pragma once

#include <pgcoro/detail/pq.hpp>
#include <pgcoro/error.hpp>

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
#include <fstream>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

namespace pgcoro::detail {

inline std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        std::size_t p = s.find(',', start);
        out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
        if (p == std::string::npos) break;
        start = p + 1;
    }
    return out;
}

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

/// The connect budget when the caller set none: libpq's connect_timeout (or
/// PGCONNECT_TIMEOUT), seconds per host, at least 2, as libpq applies it.
inline std::optional<std::chrono::milliseconds> default_connect_timeout(const conn_params& p) {
    std::string v;
    if (auto t = p.get("connect_timeout")) v = *t;
    else if (const char* e = std::getenv("PGCONNECT_TIMEOUT")) v = e;
    int seconds = std::atoi(v.c_str());
    if (seconds <= 0) return std::nullopt;
    std::size_t hosts = 1;
    if (auto h = p.get("host"); h && !h->empty()) hosts = split_commas(*h).size();
    return std::chrono::seconds(std::max(seconds, 2) * static_cast<int>(hosts));
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

    std::vector<std::string> hosts = split_commas(host_list);
    std::string port_list;
    if (auto pt = p.get("port")) port_list = *pt;
    else if (const char* e = std::getenv("PGPORT")) port_list = e;
    std::vector<std::string> ports = port_list.empty() ? std::vector<std::string>{} : split_commas(port_list);
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

/// Connects without blocking; the returned PGconn is non-blocking and in pipeline mode.
/// timeout: the whole connect (all hosts); when unset, libpq's connect_timeout (from the
/// connection string or PGCONNECT_TIMEOUT) per host tried, 0 or absent meaning none.
inline boost::asio::awaitable<pgconn_ptr> connect_pq(boost::asio::any_io_executor ex,
                                                     std::string conninfo,
                                                     std::optional<std::chrono::milliseconds> timeout) {
    using namespace boost::asio::experimental::awaitable_operators;
    namespace asio = boost::asio;

    const std::vector<std::string> secrets = conninfo_secrets(conninfo);
    // Partial and total cancellation too, not only terminal.
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    conn_params params = parse_conninfo(conninfo, secrets);
    merge_service_file(params);
    auto started = std::chrono::steady_clock::now();
    if (!timeout) timeout = default_connect_timeout(params);
    auto deadline = timeout ? started + *timeout : std::chrono::steady_clock::time_point::max();
    co_await resolve_hosts(ex, params, secrets, deadline);

    std::vector<const char*> keys, values;
    for (std::size_t i = 0; i < params.keys.size(); ++i) {
        keys.push_back(params.keys[i].c_str());
        values.push_back(params.values[i].c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    pgconn_ptr conn(PQconnectStartParams(keys.data(), values.data(), 0));
    if (!conn) throw pgcoro::error(make_error_code(errc::connect_failed), "out of memory");
    if (PQstatus(conn.get()) == CONNECTION_BAD)
        throw pgcoro::error(make_error_code(errc::connect_failed),
                            redact(conn_error_message(conn.get()), secrets));

    asio::steady_timer timer(ex);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED)
            throw pgcoro::error(make_error_code(errc::connect_failed),
                                redact(conn_error_message(conn.get()), secrets));
        int fd = PQsocket(conn.get());
        if (fd < 0)
            throw pgcoro::error(make_error_code(errc::connect_failed),
                                redact(conn_error_message(conn.get()), secrets));
        // libpq may open a new socket between polls (next host, SSL retry): watch the
        // current one afresh each time, and never let Asio close it.
        asio::posix::stream_descriptor sd(ex);
        sd.assign(fd);
        descriptor_releaser guard{sd};
        auto what = st == PGRES_POLLING_READING ? asio::posix::stream_descriptor::wait_read
                                                : asio::posix::stream_descriptor::wait_write;
        timer.expires_at(deadline);
        // Both waits report errors as values: `||` completes on the first *success*, so a
        // throwing side would make a cancelled connect surface as multiple_exceptions.
        auto r = co_await (sd.async_wait(what, asio::as_tuple(asio::use_awaitable)) ||
                           timer.async_wait(asio::as_tuple(asio::use_awaitable)));
        auto [ec] = r.index() == 0 ? std::get<0>(r) : std::get<1>(r);
        if (ec == asio::error::operation_aborted)
            throw pgcoro::error(ec, "the connect was cancelled");
        if (ec)
            throw pgcoro::error(make_error_code(errc::connect_failed), "waiting on the socket failed: " + ec.message());
        if (r.index() == 1) {
            throw pgcoro::error(make_error_code(errc::connect_timeout),
                                "timed out after " +
                                    std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       std::chrono::steady_clock::now() - started)
                                                       .count()) +
                                    " ms connecting to the server");
        }
        (void)sd.release();
        st = PQconnectPoll(conn.get());
    }

    if (PQsetnonblocking(conn.get(), 1) != 0 || PQenterPipelineMode(conn.get()) != 1)
        throw pgcoro::error(make_error_code(errc::connect_failed),
                            redact(conn_error_message(conn.get()), secrets));
    co_return conn;
}

}  // namespace pgcoro::detail

// pgcoro/detail/host_plan.hpp — which host to try next, and whether a session will do:
// the multi-host part of a connect, without I/O (connect.hpp drives it).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgcoro::detail {

/// libpq's target_session_attrs, checked by pgcoro itself (so that each host gets a
/// deadline of its own).
enum class session_target { any, read_write, read_only, primary, standby, prefer_standby };

inline std::optional<session_target> parse_session_target(std::string_view v) {
    if (v.empty() || v == "any") return session_target::any;
    if (v == "read-write") return session_target::read_write;
    if (v == "read-only") return session_target::read_only;
    if (v == "primary") return session_target::primary;
    if (v == "standby") return session_target::standby;
    if (v == "prefer-standby") return session_target::prefer_standby;
    return std::nullopt;
}

/// What a connected session reported: pg_is_in_recovery() and transaction_read_only.
struct session_facts {
    bool in_recovery = false;
    bool read_only = false;
};

/// Whether a session satisfies `target` (prefer_standby: in its first pass, which wants
/// a standby; `second_pass` takes any session).
inline bool session_matches(session_target target, session_facts f, bool second_pass = false) {
    switch (target) {
    case session_target::any: return true;
    case session_target::read_write: return !f.read_only && !f.in_recovery;
    case session_target::read_only: return f.read_only || f.in_recovery;
    case session_target::primary: return !f.in_recovery;
    case session_target::standby: return f.in_recovery;
    case session_target::prefer_standby: return second_pass || f.in_recovery;
    }
    return false;
}

/// Why a session was turned down, for the error message.
inline const char* session_mismatch_reason(session_target target) {
    switch (target) {
    case session_target::read_write: return "session is read-only";
    case session_target::read_only: return "session is not read-only";
    case session_target::primary: return "server is in hot standby mode";
    case session_target::standby:
    case session_target::prefer_standby: return "server is not in hot standby mode";
    default: return "session does not match target_session_attrs";
    }
}

/// One host to try: `host` (name or socket directory, kept for TLS verification and
/// messages), `hostaddr` (numeric, may be empty), `port` (may be empty).
struct host_entry {
    std::string host, hostaddr, port;

    std::string label() const {
        std::string h = host.empty() ? hostaddr : host;
        if (!hostaddr.empty() && !host.empty() && hostaddr != host) h += " (" + hostaddr + ")";
        return port.empty() ? h : h + ":" + port;
    }
};

inline std::vector<std::string> split_list(std::string_view s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        std::size_t p = s.find(',', start);
        out.emplace_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
        if (p == std::string_view::npos) break;
        start = p + 1;
    }
    return out;
}

/// The hosts libpq would try, in order, from the (already resolved) host, hostaddr and
/// port lists; none of them set: one entry with libpq's defaults. std::nullopt when the
/// lists' lengths disagree (libpq reports that itself).
inline std::optional<std::vector<host_entry>> host_entries(std::string_view hosts, std::string_view addrs,
                                                           std::string_view ports) {
    std::vector<std::string> h = hosts.empty() ? std::vector<std::string>{} : split_list(hosts);
    std::vector<std::string> a = addrs.empty() ? std::vector<std::string>{} : split_list(addrs);
    std::vector<std::string> p = ports.empty() ? std::vector<std::string>{} : split_list(ports);
    std::size_t n = std::max({h.size(), a.size(), std::size_t{1}});
    if ((!h.empty() && h.size() != n) || (!a.empty() && a.size() != n)) return std::nullopt;
    if (p.size() > 1 && p.size() != n) return std::nullopt;
    std::vector<host_entry> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (!h.empty()) out[i].host = h[i];
        if (!a.empty()) out[i].hostaddr = a[i];
        if (!p.empty()) out[i].port = p.size() == 1 ? p[0] : p[i];
    }
    return out;
}

/// libpq >= 16's load_balance_hosts=random: the hosts in random order, and the addresses
/// of each name in random order among themselves (consecutive entries with the same
/// host and port are one name's addresses, as resolve_hosts lays them out).
template <class Rng>
void shuffle_hosts(std::vector<host_entry>& entries, Rng& rng) {
    std::vector<std::vector<host_entry>> groups;
    for (auto& e : entries) {
        if (groups.empty() || e.host.empty() || groups.back().front().host != e.host ||
            groups.back().front().port != e.port)
            groups.emplace_back();
        groups.back().push_back(std::move(e));
    }
    std::shuffle(groups.begin(), groups.end(), rng);
    entries.clear();
    for (auto& g : groups) {
        std::shuffle(g.begin(), g.end(), rng);
        for (auto& e : g) entries.push_back(std::move(e));
    }
}

/// The order of attempts: every host once, and for prefer-standby (when the first pass
/// found no standby) every host once more, taking any session.
class host_walk {
public:
    struct attempt {
        std::size_t host;
        bool second_pass;
    };

    host_walk(std::size_t hosts, session_target target) : hosts_(hosts), target_(target) {}

    std::optional<attempt> next() {
        std::size_t passes = target_ == session_target::prefer_standby ? 2 : 1;
        if (i_ >= hosts_ * passes) return std::nullopt;
        attempt a{i_ % hosts_, i_ >= hosts_};
        ++i_;
        return a;
    }

    /// The time one attempt may take: `per_host` when set, else an equal share of
    /// `total` (when set and there are several hosts), else no limit of its own.
    static std::optional<std::chrono::milliseconds> host_budget(std::optional<std::chrono::milliseconds> per_host,
                                                                std::optional<std::chrono::milliseconds> total,
                                                                std::size_t hosts) {
        if (per_host) return per_host;
        if (total && hosts > 1) return std::max(*total / static_cast<long>(hosts), std::chrono::milliseconds(1));
        return std::nullopt;
    }

private:
    std::size_t hosts_;
    session_target target_;
    std::size_t i_ = 0;
};

}  // namespace pgcoro::detail

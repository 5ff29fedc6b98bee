// The pool benchmark's baselines and bookkeeping: raw libpq loops, pgbench and
// postgres.js runs, medians, the table and the JSON.
#pragma once

#include "bench_common.hpp"

#include <libpq-fe.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

using clk = std::chrono::steady_clock;

struct measurement {
    double qps = 0, cpu_us = 0;  // statements per second, client CPU per statement
    long errors = 0;
    static measurement of(long n, double secs, double cpu, long errors) {
        measurement m;
        m.qps = secs > 0 ? static_cast<double>(n) / secs : 0;
        m.cpu_us = n > 0 ? cpu * 1e6 / static_cast<double>(n) : 0;
        m.errors = errors + (n == 0 ? 1 : 0);
        return m;
    }
};

inline double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct series {
    std::string name;
    std::vector<measurement> runs;
    void add(measurement m) { runs.push_back(m); }
    long errors() const {
        long e = 0;
        for (auto& m : runs) e += m.errors;
        return e;
    }
    std::vector<double> qps() const {
        std::vector<double> v;
        for (auto& m : runs) v.push_back(m.qps);
        return v;
    }
    std::vector<double> cpu() const {
        std::vector<double> v;
        for (auto& m : runs) v.push_back(m.cpu_us);
        return v;
    }
    std::string qps_range() const {
        auto v = qps();
        if (v.empty()) return "-";
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.1f-%.1f k", *std::min_element(v.begin(), v.end()) / 1e3,
                      *std::max_element(v.begin(), v.end()) / 1e3);
        return buf;
    }
};

/// Median over runs of a.qps[i] / b.qps[i] (runs interleaved, so paired).
inline double median_ratio(const series& a, const series& b) {
    std::vector<double> r;
    for (std::size_t i = 0; i < std::min(a.runs.size(), b.runs.size()); ++i)
        if (b.runs[i].qps > 0) r.push_back(a.runs[i].qps / b.runs[i].qps);
    return median(r);
}
inline double median_cpu_ratio(const series& a, const series& b) {
    std::vector<double> r;
    for (std::size_t i = 0; i < std::min(a.runs.size(), b.runs.size()); ++i)
        if (b.runs[i].cpu_us > 0) r.push_back(a.runs[i].cpu_us / b.runs[i].cpu_us);
    return median(r);
}

struct report {
    struct shape {
        int n, c;
        std::vector<series> s;
    };
    std::vector<shape> shapes;
    std::vector<std::pair<std::string, double>> extras;

    series& get(const std::string& name, int n, int c) {
        auto it = std::find_if(shapes.begin(), shapes.end(), [&](const shape& x) { return x.n == n && x.c == c; });
        if (it == shapes.end()) {
            shapes.push_back({n, c, {}});
            it = shapes.end() - 1;
            it->s.reserve(16);
        }
        for (auto& x : it->s)
            if (x.name == name) return x;
        it->s.push_back(series{name, {}});
        return it->s.back();
    }
    void extra(const std::string& k, double v) { extras.emplace_back(k, v); }

    void print_shape(int n, int c) const {
        for (auto& sh : shapes) {
            if (sh.n != n || sh.c != c) continue;
            std::printf("\n%d connections, %d callers\n", n, c);
            std::printf("  %-26s %16s %12s %14s %12s\n", "", "q/s (min-max)", "CPU us/q", "pgcoro q/s x", "CPU x");
            const series& pg = sh.s.front();
            for (auto& x : sh.s) {
                if (x.runs.empty()) continue;
                std::printf("  %-26s %16s %12.2f", x.name.c_str(), x.qps_range().c_str(), median(x.cpu()));
                if (&x != &pg) std::printf(" %13.2fx %11.2fx", median_ratio(pg, x), median_cpu_ratio(pg, x));
                std::printf("\n");
            }
        }
    }

    /// For the chart: one row per shape, median thousands of statements/s per series.
    void write_tsv(const std::string& path) const {
        FILE* f = std::fopen(path.c_str(), "w");
        if (!f) return;
        const char* names[] = {"pgcoro", "raw libpq pipelined", "postgres.js"};
        std::fprintf(f, "shape\tpgcoro\traw-libpq-pipelined\tpostgres.js\n");
        for (auto& sh : shapes) {
            std::fprintf(f, "\"%d / %d\"", sh.n, sh.c);
            for (const char* name : names) {
                double v = 0;
                for (auto& x : sh.s)
                    if (x.name == name) v = median(x.qps()) / 1e3;
                std::fprintf(f, "\t%.1f", v);
            }
            std::fprintf(f, "\n");
        }
        std::fclose(f);
    }

    void write_json(const std::string& path) const {
        FILE* f = std::fopen(path.c_str(), "w");
        if (!f) return;
        std::fprintf(f, "{\n  \"shapes\": [\n");
        for (std::size_t i = 0; i < shapes.size(); ++i) {
            auto& sh = shapes[i];
            std::fprintf(f, "    {\"connections\": %d, \"callers\": %d, \"series\": [\n", sh.n, sh.c);
            for (std::size_t j = 0; j < sh.s.size(); ++j) {
                auto& x = sh.s[j];
                std::fprintf(f, "      {\"name\": \"%s\", \"median_qps\": %.0f, \"median_cpu_us\": %.3f, \"ratio\": %.3f, \"qps\": [",
                             x.name.c_str(), median(x.qps()), median(x.cpu()), j ? median_ratio(sh.s.front(), x) : 1.0);
                for (std::size_t k = 0; k < x.runs.size(); ++k) std::fprintf(f, "%s%.0f", k ? ", " : "", x.runs[k].qps);
                std::fprintf(f, "]}%s\n", j + 1 < sh.s.size() ? "," : "");
            }
            std::fprintf(f, "    ]}%s\n", i + 1 < shapes.size() ? "," : "");
        }
        std::fprintf(f, "  ],\n  \"extra\": {");
        for (std::size_t i = 0; i < extras.size(); ++i)
            std::fprintf(f, "%s\"%s\": %.3f", i ? ", " : "", extras[i].first.c_str(), extras[i].second);
        std::fprintf(f, "}\n}\n");
        std::fclose(f);
    }
};

struct bench_args {
    double seconds = 1;
    int runs = 5;
    std::vector<int> connections{4, 16};
    std::vector<int> callers{4, 64, 256, 10000};
    std::string json, postgresjs, pgbench = "/usr/lib/postgresql/15/bin/pgbench";
    bool only_pgcoro = false, only_raw = false;  // for profiling one side
    std::size_t depth = 0;  // pgcoro's pipeline_depth; 0: the default
    int threads = 1;        // pgcoro's io_context threads in the shapes (profiling)

    static std::vector<int> list(const char* s) {
        std::vector<int> v;
        std::stringstream in(s);
        std::string item;
        while (std::getline(in, item, ',')) v.push_back(std::atoi(item.c_str()));
        return v;
    }
    static bench_args parse(int argc, char** argv) {
        bench_args a;
        for (int i = 1; i < argc; ++i) {
            std::string_view k = argv[i];
            const char* v = i + 1 < argc ? argv[i + 1] : "";
            if (k == "--quick") {
                a.seconds = 0.3, a.runs = 1, a.connections = {2}, a.callers = {2, 32};
                continue;
            }
            if (k == "--only-pgcoro" || k == "--only-raw") {
                (k == "--only-raw" ? a.only_raw : a.only_pgcoro) = true;
                continue;
            }
            ++i;
            if (k == "--seconds") a.seconds = std::atof(v);
            else if (k == "--runs") a.runs = std::atoi(v);
            else if (k == "--connections") a.connections = list(v);
            else if (k == "--callers") a.callers = list(v);
            else if (k == "--json") a.json = v;
            else if (k == "--postgresjs") a.postgresjs = v;
            else if (k == "--pgbench") a.pgbench = v;
            else if (k == "--depth") a.depth = static_cast<std::size_t>(std::atoi(v));
            else if (k == "--threads") a.threads = std::max(1, std::atoi(v));
        }
        if (access(a.pgbench.c_str(), X_OK) != 0) a.pgbench = "pgbench";
        return a;
    }
};

// ---- raw libpq ------------------------------------------------------------------------

/// N connections, `total` statements in flight in all; pipelined (a Sync after each
/// statement) or one at a time per connection without pipeline mode (total == N then).
inline measurement run_raw(const std::string& url, int n, int total, double seconds, bool pipelined) {
    struct rc {
        PGconn* c = nullptr;
        int in_flight = 0, to_send = 0;
        std::int32_t sent = 0, received = 0;  // results come back in the order sent
    };
    std::vector<rc> conns(static_cast<std::size_t>(n));
    long errors = 0, done = 0;
    for (auto& x : conns) {
        x.c = PQconnectdb(url.c_str());
        PGresult* r = PQstatus(x.c) == CONNECTION_OK ? PQprepare(x.c, "s", "select $1::int", 1, nullptr) : nullptr;
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
            std::fprintf(stderr, "raw libpq: %s\n", PQerrorMessage(x.c));
            PQclear(r);
            for (auto& y : conns) PQfinish(y.c);
            return measurement::of(0, 0, 0, 1);
        }
        PQclear(r);
        PQsetnonblocking(x.c, 1);
        if (pipelined) PQenterPipelineMode(x.c);
    }
    auto send = [&](rc& x) {
        std::uint32_t be = htonl(static_cast<std::uint32_t>(x.sent++));
        const char* values[1] = {reinterpret_cast<const char*>(&be)};
        int lengths[1] = {4}, formats[1] = {1};
        if (!PQsendQueryPrepared(x.c, "s", 1, values, lengths, formats, 1)) ++errors;
        if (pipelined && !PQpipelineSync(x.c)) ++errors;
        ++x.in_flight;
    };
    auto t0 = clk::now();
    double cpu0 = cpu_seconds();
    auto until = t0 + std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(seconds));
    std::vector<pollfd> fds(conns.size());
    bool sending = true;
    long counted = 0;
    double cpu_end = 0;
    clk::time_point t_end;
    auto check = [&](rc& x, PGresult* r) {
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQgetlength(r, 0, 0) == 4) {
            std::uint32_t be;
            std::memcpy(&be, PQgetvalue(r, 0, 0), 4);
            if (static_cast<std::int32_t>(ntohl(be)) != x.received) ++errors;
        } else {
            ++errors;
        }
    };
    auto one_done = [&](rc& x) {
        --x.in_flight;
        ++done;
        ++x.received;
        if (sending && clk::now() >= until) {
            sending = false;
            counted = done;
            t_end = clk::now();
            cpu_end = cpu_seconds();
        }
        if (sending) ++x.to_send;
    };
    // New statements for the results just read go out together: libpq 15 flushes at
    // every Sync, so the socket is corked meanwhile (what pgcoro does too) and the
    // kernel sends full segments.
    auto send_batch = [&](rc& x) {
        if (x.to_send == 0) return;
        int on = 1, off = 0;
        bool cork = x.to_send > 1;
        if (cork) setsockopt(PQsocket(x.c), IPPROTO_TCP, TCP_CORK, &on, sizeof on);
        for (; x.to_send > 0; --x.to_send) send(x);
        if (cork) setsockopt(PQsocket(x.c), IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    };
    for (int i = 0; i < total; ++i) ++conns[static_cast<std::size_t>(i % n)].to_send;
    for (auto& x : conns) send_batch(x);
    for (;;) {
        bool any = false;
        for (std::size_t j = 0; j < conns.size(); ++j) {
            int fl = PQflush(conns[j].c);
            fds[j] = {PQsocket(conns[j].c), static_cast<short>(conns[j].in_flight ? POLLIN | (fl == 1 ? POLLOUT : 0) : 0), 0};
            any |= conns[j].in_flight > 0;
        }
        if (!any) break;
        if (poll(fds.data(), fds.size(), 5000) <= 0) {
            ++errors;
            break;
        }
        for (std::size_t j = 0; j < conns.size(); ++j) {
            rc& x = conns[j];
            if (!(fds[j].revents & (POLLIN | POLLERR | POLLHUP))) continue;
            if (!PQconsumeInput(x.c)) {
                ++errors;
                x.in_flight = 0;
                continue;
            }
            while (x.in_flight > 0 && !PQisBusy(x.c)) {
                PGresult* r = PQgetResult(x.c);
                if (pipelined) {
                    if (!r) continue;  // the end of one statement's results
                    if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) one_done(x);
                    else check(x, r);
                } else {
                    if (!r) {
                        one_done(x);
                        continue;
                    }
                    check(x, r);
                }
                PQclear(r);
            }
            send_batch(x);
        }
    }
    for (auto& x : conns) PQfinish(x.c);
    if (sending) {
        counted = done;
        t_end = clk::now();
        cpu_end = cpu_seconds();
    }
    return measurement::of(counted, std::chrono::duration<double>(t_end - t0).count(), cpu_end - cpu0, errors);
}

// ---- other processes -------------------------------------------------------------------

/// Runs argv, returns its standard output; `cpu` gets the child's user + system time.
inline std::string run_process(const std::vector<std::string>& args, double& cpu) {
    int out[2];
    cpu = 0;
    if (pipe(out) != 0) return {};
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execvp(argv[0], argv.data());
        _exit(127);
    }
    close(out[1]);
    std::string text;
    char buf[4096];
    for (ssize_t k; (k = read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(k));
    close(out[0]);
    int status = 0;
    rusage u{};
    if (pid > 0 && wait4(pid, &status, 0, &u) == pid)
        cpu = static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
              static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return {};
    return text;
}

inline double number_after(const std::string& text, const std::string& key) {
    auto p = text.find(key);
    return p == std::string::npos ? -1 : std::atof(text.c_str() + p + key.size());
}

/// pgbench -M prepared, N clients, J threads, the same statement; CPU of the whole
/// pgbench process (connection set-up included, a few ms) per statement.
inline measurement run_pgbench(const std::string& pgbench, const std::string& url, int n, int j, double seconds) {
    char path[] = "/tmp/pgcoro-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return measurement::of(0, 0, 0, 1);
    std::string script = "\\set x random(1, 1000000)\nselect :x::int;\n";
    bool ok = write(fd, script.data(), script.size()) == static_cast<ssize_t>(script.size());
    close(fd);
    int secs = std::max(1, static_cast<int>(std::lround(seconds)));
    double cpu = 0;
    std::string out = ok ? run_process({pgbench, "-n", "-M", "prepared", "-c", std::to_string(n), "-j", std::to_string(j),
                                        "-T", std::to_string(secs), "-f", path, url},
                                       cpu)
                         : "";
    unlink(path);
    double tps = number_after(out, "tps = ");
    double count = number_after(out, "actually processed: ");
    if (tps <= 0 || count <= 0) return measurement::of(0, 0, 0, 1);
    measurement m;
    m.qps = tps;
    m.cpu_us = cpu * 1e6 / count;
    return m;
}

/// postgres.js (benchmarks/postgresjs/bench.mjs copied into `dir`, with node_modules
/// there): it measures itself and prints {"qps": ..., "cpu_us": ...}.
inline measurement run_postgresjs(const std::string& dir, const std::string& url, int n, int c, double seconds) {
    double cpu = 0;
    std::string out = run_process({"node", dir + "/bench.mjs", url, std::to_string(n), std::to_string(c),
                                   std::to_string(seconds)},
                                  cpu);
    measurement m;
    m.qps = number_after(out, "\"qps\":");
    m.cpu_us = number_after(out, "\"cpu_us\":");
    if (m.qps <= 0) {
        std::fprintf(stderr, "postgres.js run failed\n");
        return measurement::of(0, 0, 0, 1);
    }
    return m;
}

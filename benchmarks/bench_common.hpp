// What the benchmarks share: client CPU time, medians, failing loudly, and the six-column
// row (int4, int8, text, float8, timestamptz, bool) the decode and stream benchmarks read.
#pragma once

#include <pgcoro/types.hpp>

#include <libpq-fe.h>

#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

/// User + system CPU seconds of this process (or RUSAGE_CHILDREN).
inline double cpu_seconds(int who = RUSAGE_SELF) {
    rusage u{};
    getrusage(who, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

inline double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

[[noreturn]] inline void die(const char* what, PGconn* c) {
    std::fprintf(stderr, "%s: %s\n", what, c ? PQerrorMessage(c) : "");
    std::exit(1);
}

/// One row of wide_rows_sql().
struct wide_row {
    std::int32_t id;
    std::int64_t amount;
    std::string name;
    double score;
    pgcoro::timestamptz at;
    bool flag;
};

/// `rows` rows of (int4, int8, text, float8, timestamptz, bool), made by the server.
inline std::string wide_rows_sql(long rows) {
    return "select g::int4, g::int8 * 1000, 'name-' || g, g * 0.5::float8, "
           "'2026-01-01'::timestamptz + g * interval '1 second', g % 2 = 0 "
           "from generate_series(1, " + std::to_string(rows) + ") g";
}

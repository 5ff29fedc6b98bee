// Teaching pgcoro a type it does not ship: PostgreSQL's geometric `point` (OID 600,
// binary form: two big-endian float8) as a C++ struct. Specialise pgcoro::type_traits
// with the members documented in <pgcoro/types/traits.hpp>; the type then works as a
// parameter, a column, a struct field, an std::optional and a std::vector element.
//
//   DATABASE_URL=postgresql://... ./pgcoro_custom_type
#include <pgcoro/pgcoro.hpp>

#include <boost/asio.hpp>

#include <bit>
#include <cstdio>
#include <cstring>

namespace asio = boost::asio;

struct point {
    double x = 0, y = 0;
    friend bool operator==(const point&, const point&) = default;
};

template <>
struct pgcoro::type_traits<point> {
    static constexpr std::string_view cpp_name = "point";
    static constexpr pgcoro::oid_t param_oid = 600;  // point
    static constexpr pgcoro::oid_t array_oid = 1017;  // point[]
    static bool accepts(pgcoro::oid_t oid) noexcept { return oid == 600; }

    static void encode(const point& p, std::string& out) {
        put(out, p.x);
        put(out, p.y);
    }
    static point decode(pgcoro::oid_t, std::string_view bytes) {
        // Bytes come from the network: check before reading.
        if (bytes.size() != 16) throw pgcoro::value_error("point: expected 16 bytes");
        return {get(bytes.data()), get(bytes.data() + 8)};
    }

private:
    static void put(std::string& out, double d) {
        auto u = std::bit_cast<std::uint64_t>(d);
        for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(u >> shift));
    }
    static double get(const char* p) {
        std::uint64_t u = 0;
        for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<unsigned char>(p[i]);
        return std::bit_cast<double>(u);
    }
};

struct place {
    std::string name;
    point where;
    std::optional<point> previous;
};

asio::awaitable<void> demo(std::string url) {
    auto ex = co_await asio::this_coro::executor;
    auto conn = co_await pgcoro::connection::connect(ex, url);
    point p{1.5, -2.25};
    auto back = co_await conn.query_one<point>("select $1", p);
    std::printf("round trip: (%g, %g) %s\n", back.x, back.y, back == p ? "ok" : "MISMATCH");
    auto dist = co_await conn.query_one<double>("select $1 <-> point(0, 0)", p);
    std::printf("distance from origin: %.4f\n", dist);
    auto places = co_await conn.query<place>(
        "select 'home', point(1, 2), null::point union all select 'work', point(3, 4), point(1, 2)");
    for (const auto& pl : places)
        std::printf("%s at (%g, %g)%s\n", pl.name.c_str(), pl.where.x, pl.where.y, pl.previous ? ", moved" : "");
    std::vector<point> path{{0, 0}, {1, 1}};
    auto n = co_await conn.query_one<std::int32_t>("select cardinality($1)", path);
    std::printf("path of %d points\n", n);
    // point[] comes back as std::vector<point> (std::vector<std::optional<point>> when it
    // may hold NULLs).
    auto ring = co_await conn.query_one<std::vector<point>>("select array[point(0, 0), point(1, 1), $1]", p);
    std::printf("ring of %zu points, the last (%g, %g)\n", ring.size(), ring.back().x, ring.back().y);
    if (back != p || places.size() != 2 || n != 2 || ring.size() != 3 || ring.back() != p)
        throw std::runtime_error("custom type example failed");
}

int main() {
    const char* url = std::getenv("DATABASE_URL");
    if (!url) {
        std::fprintf(stderr, "set DATABASE_URL\n");
        return 2;
    }
    asio::io_context io;
    int rc = 0;
    asio::co_spawn(io, demo(url), [&](std::exception_ptr e) {
        if (!e) return;
        try { std::rethrow_exception(e); } catch (const std::exception& x) { std::fprintf(stderr, "error: %s\n", x.what()); }
        rc = 1;
    });
    io.run();
    return rc;
}

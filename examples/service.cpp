// A small HTTP service on Boost.Beast that keeps its data in PostgreSQL through pgcoro.
//
//   DATABASE_URL=postgresql://... PORT=8080 ./pgcoro_service
//   curl localhost:8080/health
//   curl -XPOST localhost:8080/tenants -d '{"slug":"acme","name":"Acme"}'
//   curl localhost:8080/tenants
//
// A pgcoro::pool configured from the environment (DATABASE_URL, PGCORO_DB_MAX_CONNECTIONS,
// ...), waited for at startup, with a slow statement log. It prepares its schema at
// startup (CREATE ... IF NOT EXISTS).
// `--self-test` starts the service on a free port, drives each route through a real HTTP
// client, checks the answers and exits 0 or 1 (CTest runs it that way).
#include <pgcoro/pgcoro.hpp>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/json/src.hpp>  // Boost.JSON header-only, in this one translation unit

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace pg = pgcoro;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

std::string env_or(const char* name, std::string fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : fallback;
}

asio::awaitable<void> prepare_schema(pg::pool& db) {
    co_await db.execute(
        "create table if not exists tenants ("
        "  id uuid primary key default gen_random_uuid(),"
        "  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),"
        "  name text,"
        "  is_active boolean not null default true,"
        "  created_at timestamptz not null default now())");
}

struct tenant_row {
    std::string id;
    std::string slug;
    std::optional<std::string> name;
    bool is_active;
    std::string created_at;
};

json::object to_json(const tenant_row& t) {
    json::object o;
    o["id"] = t.id;
    o["slug"] = t.slug;
    o["name"] = t.name ? json::value(*t.name) : json::value(nullptr);
    o["is_active"] = t.is_active;
    o["created_at"] = t.created_at;
    return o;
}

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

response reply(const request& req, http::status status, const json::value& body) {
    response res(status, req.version());
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = json::serialize(body) + "\n";
    res.prepare_payload();
    return res;
}

json::object error_body(std::string_view message) {
    json::object o;
    o["error"] = message;
    return o;
}

asio::awaitable<response> handle(pg::pool& db, const request& req) {
    try {
        std::string_view target = req.target();
        if (req.method() == http::verb::get && target == "/health") {
            auto p = co_await db.ping();
            auto s = db.stats();
            json::object o;
            o["status"] = "ok";
            o["server_version"] = p.server_version;
            o["latency_us"] = p.latency.count();
            o["pool"] = json::object{{"size", s.size}, {"idle", s.idle}, {"in_use", s.in_use}, {"waiting", s.waiting},
                                     {"timeouts", s.timeouts}, {"connect_failures", s.connect_failures}};
            co_return reply(req, http::status::ok, o);
        }
        if (req.method() == http::verb::get && target == "/tenants") {
            auto rows = co_await db.query<tenant_row>(
                "select id::text, slug, name, is_active, created_at::text from tenants order by created_at, slug");
            json::array arr;
            for (const auto& t : rows) arr.push_back(to_json(t));
            co_return reply(req, http::status::ok, arr);
        }
        if (req.method() == http::verb::post && target == "/tenants") {
            boost::system::error_code jec;
            json::value body = json::parse(req.body(), jec);
            if (jec || !body.is_object() || !body.as_object().contains("slug") ||
                !body.as_object().at("slug").is_string())
                co_return reply(req, http::status::bad_request, error_body("expected {\"slug\": \"...\", \"name\": \"...\"}"));
            const auto& o = body.as_object();
            std::string slug(o.at("slug").as_string());
            std::optional<std::string> name;
            if (o.contains("name") && o.at("name").is_string()) name = std::string(o.at("name").as_string());
            try {
                auto t = co_await db.query_one<tenant_row>(
                    "insert into tenants (slug, name) values ($1, $2) "
                    "returning id::text, slug, name, is_active, created_at::text",
                    slug, name);
                co_return reply(req, http::status::created, to_json(t));
            } catch (const pg::error& e) {
                if (e.sqlstate() == "23505") co_return reply(req, http::status::conflict, error_body("slug already taken"));
                if (e.sqlstate() == "23514") co_return reply(req, http::status::bad_request, error_body("invalid slug"));
                throw;
            }
        }
        co_return reply(req, http::status::not_found, error_body("no such route"));
    } catch (const pg::error& e) {
        std::fprintf(stderr, "database error: %s\n", e.what());
        co_return reply(req, http::status::service_unavailable, error_body("database unavailable"));
    }
}

asio::awaitable<void> serve_client(pg::pool& db, tcp::socket sock) {
    beast::flat_buffer buf;
    for (;;) {
        request req;
        auto [rec, n] = co_await http::async_read(sock, buf, req, asio::as_tuple(asio::use_awaitable));
        if (rec) co_return;  // closed or malformed: drop the connection
        response res = co_await handle(db, req);
        auto [wec, m] = co_await http::async_write(sock, res, asio::as_tuple(asio::use_awaitable));
        if (wec || !res.keep_alive()) co_return;
    }
}

asio::awaitable<void> accept_loop(pg::pool& db, tcp::acceptor& acceptor) {
    for (;;) {
        auto [ec, sock] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;  // closed: shutting down
        asio::co_spawn(acceptor.get_executor(), serve_client(db, std::move(sock)), asio::detached);
    }
}

// ---- self-test: a real HTTP client against the running service ----------------------

asio::awaitable<std::pair<int, std::string>> call(unsigned short port, http::verb verb, std::string target,
                                                  std::string body = {}) {
    auto ex = co_await asio::this_coro::executor;
    tcp::socket s(ex);
    co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, asio::use_awaitable);
    request req(verb, target, 11);
    req.set(http::field::host, "localhost");
    req.body() = std::move(body);
    req.prepare_payload();
    co_await http::async_write(s, req, asio::use_awaitable);
    beast::flat_buffer buf;
    response res;
    co_await http::async_read(s, buf, res, asio::use_awaitable);
    co_return std::pair<int, std::string>{static_cast<int>(res.result_int()), res.body()};
}

asio::awaitable<bool> self_test(unsigned short port) {
    bool ok = true;
    auto expect = [&](const char* what, const std::pair<int, std::string>& r, int status, std::string_view needle) {
        bool good = r.first == status && r.second.find(needle) != std::string::npos;
        std::printf("%s %-28s -> %d %s", good ? "ok  " : "FAIL", what, r.first, r.second.c_str());
        ok = ok && good;
    };
    expect("GET /health", co_await call(port, http::verb::get, "/health"), 200, "\"status\":\"ok\"");
    expect("POST /tenants acme", co_await call(port, http::verb::post, "/tenants", R"({"slug":"acme","name":"Acme"})"),
           201, "\"slug\":\"acme\"");
    expect("POST /tenants acme again", co_await call(port, http::verb::post, "/tenants", R"({"slug":"acme"})"), 409,
           "taken");
    expect("POST /tenants bad slug", co_await call(port, http::verb::post, "/tenants", R"({"slug":"Not OK"})"), 400,
           "invalid");
    expect("POST /tenants bad json", co_await call(port, http::verb::post, "/tenants", "{oops"), 400, "expected");
    expect("GET /tenants", co_await call(port, http::verb::get, "/tenants"), 200, "\"name\":\"Acme\"");
    expect("GET /nope", co_await call(port, http::verb::get, "/nope"), 404, "no such route");
    co_return ok;
}

}  // namespace

int main(int argc, char** argv) {
    bool testing = argc > 1 && std::string_view(argv[1]) == "--self-test";
    if (env_or("DATABASE_URL", env_or("PGCORO_DATABASE_URL", "")).empty()) {
        std::fprintf(stderr, "set DATABASE_URL (scripts/run-example.sh starts a throwaway PostgreSQL for you)\n");
        return 2;
    }
    asio::io_context io;
    // DATABASE_URL, PGCORO_DB_MAX_CONNECTIONS, ... (a bad value stops here, named).
    pg::pool_config cfg;
    try {
        cfg = pg::pool_config::from_env();
    } catch (const pg::error& e) {
        std::fprintf(stderr, "configuration: %s\n", e.what());
        return 2;
    }
    // The self-test works in a schema of its own (every pooled connection's search_path)
    // and drops it afterwards.
    std::string schema = testing ? "pgcoro_service_test_" + std::to_string(::getpid()) : "";
    if (testing)
        cfg.conninfo += std::string(cfg.conninfo.find('?') == std::string::npos ? "?" : "&") +
                        "options=-c%20search_path%3D" + schema;
    cfg.observer = std::make_shared<pg::slow_statement_log>(
        std::chrono::milliseconds(200), [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
    pg::pool db(io.get_executor(), cfg);
    tcp::acceptor acceptor(io);
    int rc = 0;

    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        // Services and databases start in any order: wait (with backoff) for it.
        co_await db.wait_ready(std::chrono::seconds(30));
        if (testing) co_await db.execute("create schema if not exists " + schema);
        co_await prepare_schema(db);
        std::string host = env_or("HOST", "127.0.0.1");
        auto port = static_cast<unsigned short>(testing ? 0 : std::stoi(env_or("PORT", "8080")));
        tcp::endpoint ep(asio::ip::make_address(host), port);
        acceptor.open(ep.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(ep);
        acceptor.listen();
        std::printf("pgcoro service listening on http://%s:%u\n", host.c_str(), acceptor.local_endpoint().port());
        std::fflush(stdout);
        asio::co_spawn(io, accept_loop(db, acceptor), asio::detached);
        if (testing) {
            bool ok = co_await self_test(acceptor.local_endpoint().port());
            acceptor.close();
            co_await db.execute("drop schema " + schema + " cascade");
            db.close();
            rc = ok ? 0 : 1;
            io.stop();
        }
    }, [&](std::exception_ptr e) {
        if (!e) return;
        try { std::rethrow_exception(e); } catch (const std::exception& x) { std::fprintf(stderr, "fatal: %s\n", x.what()); }
        rc = 1;
        io.stop();
    });

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int) {
        if (ec) return;
        std::printf("shutting down\n");
        acceptor.close();
        db.close();
        io.stop();
    });
    io.run();
    return rc;
}

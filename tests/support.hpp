// Shared helpers for pgcoro's tests.
#pragma once

#include "catch.hpp"

#include <pgcoro/migrator.hpp>
#include <pgcoro/pgcoro.hpp>

#include <boost/asio.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace pgtest {

namespace asio = boost::asio;
using namespace std::chrono_literals;

inline std::string read_first_line(const std::string& path) {
    std::ifstream f(path);
    std::string line;
    std::getline(f, line);
    return line;
}

/// CTest's integration_pgbouncer sets PGCORO_TEST_VIA_POOLER to the state directory of a
/// transaction-mode PgBouncer in front of the fixture's cluster, and runs the [pooler]
/// tests: url() and app_url() then go through it, and connect() and the tests' pool
/// settings use pooler_safe.
inline const char* pooler_state() {
    const char* s = std::getenv("PGCORO_TEST_VIA_POOLER");
    return s && *s ? s : nullptr;
}

/// The superuser URL: PGCORO_TEST_DATABASE_URL, else the CTest fixture's cluster.
inline std::string url() {
    if (const char* p = pooler_state()) return read_first_line(std::string(p) + "/url");
    if (const char* u = std::getenv("PGCORO_TEST_DATABASE_URL"); u && *u) return u;
    std::string u = read_first_line(std::string(PGCORO_TEST_STATE_DIR) + "/url");
    if (u.empty())
        FAIL("no test database: set PGCORO_TEST_DATABASE_URL or run through ctest (the "
             "cluster_start fixture writes " PGCORO_TEST_STATE_DIR "/url)");
    return u;
}

/// The non-superuser role's URL (PGCORO_TEST_APP_DATABASE_URL or the fixture's).
inline std::string app_url() {
    if (const char* p = pooler_state()) return read_first_line(std::string(p) + "/app_url");
    if (const char* u = std::getenv("PGCORO_TEST_APP_DATABASE_URL"); u && *u) return u;
    return read_first_line(std::string(PGCORO_TEST_STATE_DIR) + "/app_url");
}

/// Runs the coroutine made by make(io) on a fresh io_context (this thread) and rethrows
/// whatever it threw; fails when it has not finished within `limit`.
template <class Make>
void run(Make&& make, std::chrono::steady_clock::duration limit = 60s) {
    asio::io_context io;
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(io, make(io), [&](std::exception_ptr e) {
        error = e;
        done = true;
    });
    io.run_for(limit);
    if (!done) FAIL("the test coroutine did not finish in time");
    if (error) std::rethrow_exception(error);
}

/// A name unique to this process and call, for schemas and tables.
inline std::string unique_name(const std::string& prefix) {
    static std::atomic<int> counter{0};
    return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
}

inline asio::awaitable<pgcoro::connection> connect(std::string u = url()) {
    auto ex = co_await asio::this_coro::executor;
    pgcoro::connect_options o;
    o.pooler_safe = pooler_state() != nullptr;
    co_return co_await pgcoro::connection::connect(ex, std::move(u), std::move(o));
}

/// The error a coroutine threw, or a failed test when it threw none.
template <class Awaitable>
asio::awaitable<pgcoro::error> expect_error(Awaitable a) {
    try {
        co_await std::move(a);
    } catch (const pgcoro::error& e) {
        co_return e;
    }
    FAIL("expected a pgcoro::error, got none");
    throw std::logic_error("unreachable");
}

/// `url` with its database name replaced (URL form: scheme://authority/dbname?params).
inline std::string with_dbname(const std::string& url, const std::string& db) {
    std::size_t scheme = url.find("://");
    if (scheme == std::string::npos) return url + " dbname=" + db;  // key=value form
    std::size_t host_end = std::min(url.find('/', scheme + 3), url.find('?', scheme + 3));
    std::size_t query = url.find('?', scheme + 3);
    std::string head = url.substr(0, host_end);
    std::string tail = query == std::string::npos ? "" : url.substr(query);
    return head + "/" + db + tail;
}

/// A database of its own for one test, owned by the non-superuser role; dropped by drop().
struct scratch_database {
    std::string name;
    std::string url;      ///< as the superuser
    std::string app_url;  ///< as the non-superuser owner

    static asio::awaitable<scratch_database> create(const std::string& prefix) {
        scratch_database d;
        d.name = unique_name(prefix);
        auto admin = co_await connect();
        std::string owner = co_await admin.query_one<std::string>(
            "select coalesce((select rolname from pg_roles where rolname = 'pgcoro_app'), current_user)");
        co_await admin.execute_script("create database " + d.name + " owner " + owner);
        d.url = with_dbname(pgtest::url(), d.name);
        std::string app = pgtest::app_url();
        d.app_url = with_dbname(app.empty() ? pgtest::url() : app, d.name);
        co_return d;
    }
    asio::awaitable<void> drop() const {
        auto admin = co_await connect();
        co_await admin.execute_script("drop database if exists " + name + " with (force)");
    }
};

/// A finished child process: its exit code (-1: killed by a signal) and its output.
struct process_result {
    int code = -1;
    std::string output;  ///< stdout and stderr together
};

/// A started child process whose stdout and stderr go to a temporary file.
class child_process {
public:
    child_process(std::vector<std::string> argv, const std::vector<std::string>& extra_env = {}) {
        out_ = std::filesystem::temp_directory_path() / unique_name("pgcoro_child_out");
        // extra_env ("NAME=value") replaces what the environment has of the same name.
        std::vector<std::string> env;
        for (char** e = environ; *e; ++e) {
            std::string_view v(*e);
            bool replaced = std::any_of(extra_env.begin(), extra_env.end(), [&](const std::string& x) {
                return v.substr(0, v.find('=') + 1) == std::string_view(x).substr(0, x.find('=') + 1);
            });
            if (!replaced) env.emplace_back(*e);
        }
        for (const auto& e : extra_env) env.push_back(e);
        std::vector<char*> args, envp;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        for (auto& e : env) envp.push_back(e.data());
        envp.push_back(nullptr);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
        int rc = posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), envp.data());
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) FAIL("cannot start " << argv[0] << ": " << std::strerror(rc));
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process() {
        if (pid_ > 0) wait();
    }

    process_result wait() {
        process_result r;
        int status = 0;
        if (pid_ > 0 && waitpid(pid_, &status, 0) == pid_ && WIFEXITED(status)) r.code = WEXITSTATUS(status);
        pid_ = -1;
        std::ifstream in(out_);
        std::ostringstream ss;
        ss << in.rdbuf();
        r.output = ss.str();
        std::error_code ec;
        std::filesystem::remove(out_, ec);
        return r;
    }

private:
    pid_t pid_ = -1;
    std::filesystem::path out_;
};

inline process_result run_process(std::vector<std::string> argv, const std::vector<std::string>& extra_env = {}) {
    child_process p(std::move(argv), extra_env);
    return p.wait();
}

/// A temporary directory, removed with everything in it at the end of the scope.
class temp_dir {
public:
    explicit temp_dir(const std::string& prefix)
        : path_(std::filesystem::temp_directory_path() / unique_name(prefix)) {
        std::filesystem::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::filesystem::path& path() const { return path_; }
    void write(const std::string& name, const std::string& content) const {
        std::ofstream(path_ / name, std::ios::binary) << content;
    }

private:
    std::filesystem::path path_;
};

// Literal concatenation: g++ 12 -O2 warns falsely (array-bounds) on std::string + "...".
inline std::string script() { return PGCORO_SOURCE_DIR "/scripts/pg-cluster.sh"; }

/// A cluster of its own, for tests that stop and start the server (or need TLS, or a
/// standby).
struct standby_of_t {};
inline constexpr standby_of_t standby_of{};
struct bouncer_for_t {};
inline constexpr bouncer_for_t bouncer_for{};

struct own_cluster {
    std::string state = std::string(PGCORO_TEST_STATE_DIR) + "-" + unique_name("own");
    std::string url;
    /// mode: "" or "tls" (pg-cluster.sh start STATE_DIR tls).
    explicit own_cluster(const std::string& mode = "") {
        REQUIRE(std::system((script() + " start " + state + " " + mode + " >/dev/null").c_str()) == 0);
        url = read_first_line(state + "/url");
    }
    /// A streaming standby of `primary` (pg_basebackup -R).
    own_cluster(standby_of_t, const own_cluster& primary) {
        REQUIRE(std::system((script() + " standby " + state + " " + primary.state + " >/dev/null").c_str()) == 0);
        url = read_first_line(state + "/url");
    }
    /// PgBouncer (mode: session or transaction) in front of the cluster at `target_state`.
    own_cluster(bouncer_for_t, const std::string& target_state, const std::string& mode) {
        REQUIRE(std::system((script() + " bouncer " + state + " " + target_state + " " + mode + " >/dev/null").c_str()) ==
                0);
        url = read_first_line(state + "/url");
    }
    std::string app_url() const { return read_first_line(state + "/app_url"); }
    ~own_cluster() { (void)std::system((script() + " stop " + state + " >/dev/null 2>&1").c_str()); }
    own_cluster(const own_cluster&) = delete;
    own_cluster& operator=(const own_cluster&) = delete;
    void halt() { REQUIRE(std::system((script() + " halt " + state).c_str()) == 0); }
    void resume() { REQUIRE(std::system((script() + " resume " + state).c_str()) == 0); }
    void crash() { REQUIRE(std::system((script() + " crash " + state).c_str()) == 0); }
    void promote() { REQUIRE(std::system((script() + " promote " + state).c_str()) == 0); }
    std::string port() const { return read_first_line(state + "/port"); }
    /// The superuser's password (from the URL).
    std::string password() const {
        std::size_t a = url.find("://pgcoro:") + 10, b = url.find('@', a);
        return url.substr(a, b - a);
    }
    /// `key=value` parameters for the superuser on this cluster's port, plus `extra`.
    std::string params(const std::string& extra = "") const {
        return "host=127.0.0.1 port=" + port() + " user=pgcoro dbname=postgres password=" + password() + " " + extra;
    }
    std::string tls_file(const std::string& name) const { return state + "/tls/" + name; }
};

}  // namespace pgtest

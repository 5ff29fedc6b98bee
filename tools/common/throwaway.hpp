// tools/common/throwaway.hpp — throwaway databases for the build-time tools
// (pgcoro-queries describes statements in one; schema diffs compare two): temporary
// databases created and dropped on a server given by URL, or a whole temporary cluster
// of the tool's own (initdb + postgres on a Unix socket in a temp dir, no TCP port) when
// none is given. Synchronous on purpose: these run in command-line tools, never on an
// io_context thread of a service.
#pragma once

#include <libpq-fe.h>

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pgcoro_tools {

/// A failure the tool reports as it is (no stack of context needed).
struct tool_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

namespace detail {
/// The signals after which a tool still stops its own server and deletes its directory.
inline constexpr int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/// Holds the fatal signals back while alive: a child's pid and the handler's record of it
/// change together, and a cleanup already under way finishes before a handler runs.
class fatal_signals_held {
public:
    fatal_signals_held() {
        sigset_t set;
        sigemptyset(&set);
        for (int sig : fatal_signals) sigaddset(&set, sig);
        sigprocmask(SIG_BLOCK, &set, &old_);
    }
    ~fatal_signals_held() { sigprocmask(SIG_SETMASK, &old_, nullptr); }
    fatal_signals_held(const fatal_signals_held&) = delete;
    fatal_signals_held& operator=(const fatal_signals_held&) = delete;
    const sigset_t& previous() const { return old_; }

private:
    sigset_t old_;
};

/// The program run_program() is waiting for, leader of its own process group (a signal
/// handler kills the group first: initdb would go on writing into a directory the handler
/// deletes).
inline std::atomic<pid_t> running_child{0};
}  // namespace detail

/// Who a child runs as: as root, the throwaway cluster belongs to `postgres` (PostgreSQL
/// refuses root). Copied out of getpwnam() before the fork.
struct run_as {
    std::string user;
    uid_t uid = 0;
    gid_t gid = 0;
};

/// Starts a program (no shell) as the leader of a process group of its own, in `dir`, as
/// `owner` when given, stdin from /dev/null, its output appended to `log`. Called with the
/// fatal signals held (`held`): the child puts back the default handlers before it lets
/// them through, so a signal meant for the tool never runs the tool's cleanup in the child.
inline pid_t spawn_program(const std::vector<std::string>& argv, const std::string& log, const run_as* owner,
                           const std::string& dir, const detail::fatal_signals_held& held) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) throw tool_error(std::string("fork: ") + std::strerror(errno));
    if (pid > 0) return pid;
    // The child. (The tools are single-threaded when they start programs, so what follows
    // may allocate and format.)
    for (int sig : detail::fatal_signals) std::signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, &held.previous(), nullptr);
    setpgid(0, 0);  // a group of its own: a signal handler can stop it with its children
    if (int in = open("/dev/null", O_RDONLY); in >= 0) {
        dup2(in, 0);
        close(in);
    }
    if (int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644); fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    if (owner && (initgroups(owner->user.c_str(), owner->gid) != 0 || setgid(owner->gid) != 0 ||
                  setuid(owner->uid) != 0)) {
        std::fprintf(stderr, "cannot become %s: %s\n", owner->user.c_str(), std::strerror(errno));
        _exit(127);
    }
    if (!dir.empty() && chdir(dir.c_str()) != 0) {
        std::fprintf(stderr, "cannot enter %s: %s\n", dir.c_str(), std::strerror(errno));
        _exit(127);
    }
    execv(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
}

/// Runs a program to its end (see spawn_program(); `argv[0]` an absolute path) and returns
/// its exit status (128 + signal when it was killed, 127 when it could not be started).
/// A fatal signal meanwhile kills its whole process group.
inline int run_program(const std::vector<std::string>& argv, const std::string& log, const run_as* owner = nullptr,
                       const std::string& dir = {}) {
    pid_t pid = 0;
    {
        detail::fatal_signals_held held;
        pid = spawn_program(argv, log, owner, dir, held);
        detail::running_child = pid;
    }
    // Waited for without reaping, so the handler never kills a group whose id was reused.
    siginfo_t info{};
    while (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0)
        if (errno != EINTR) {
            detail::running_child = 0;
            throw tool_error(std::string("waitid: ") + std::strerror(errno));
        }
    detail::fatal_signals_held held;
    detail::running_child = 0;
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/// A whole file, as bytes.
inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw tool_error("cannot read " + p.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

/// A conninfo value quoted for a key=value string.
inline std::string quote_conninfo(std::string_view v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

/// `conninfo` (a URL or key=value string) with its database replaced, as key=value.
inline std::string with_database(const std::string& conninfo, std::string_view dbname) {
    char* err = nullptr;
    PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
    if (!opts) {
        std::string msg = err ? err : "out of memory";
        PQfreemem(err);
        throw tool_error("the database URL does not parse: " + msg);
    }
    std::string out;
    for (PQconninfoOption* o = opts; o->keyword; ++o) {
        if (std::string_view(o->keyword) == "dbname" || !o->val) continue;
        out += std::string(o->keyword) + "=" + quote_conninfo(o->val) + " ";
    }
    PQconninfoFree(opts);
    return out + "dbname=" + quote_conninfo(dbname);
}

/// A libpq connection, closed on destruction.
using pq_conn = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using pq_result = std::unique_ptr<PGresult, decltype(&PQclear)>;

inline pq_conn connect_blocking(const std::string& conninfo, std::string_view what) {
    pq_conn c(PQconnectdb(conninfo.c_str()), &PQfinish);
    if (!c || PQstatus(c.get()) != CONNECTION_OK)
        throw tool_error("cannot connect to " + std::string(what) + ": " +
                         (c ? std::string(PQerrorMessage(c.get())) : std::string("out of memory")));
    return c;
}

/// Runs one command; throws with the server's message when it fails.
inline void exec_checked(PGconn* c, const std::string& sql) {
    pq_result r(PQexec(c, sql.c_str()), &PQclear);
    auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        throw tool_error(sql + ": " + PQresultErrorMessage(r.get()));
}

/// Where the server binaries are: $PGCORO_PG_BIN, the Debian layout
/// (/usr/lib/postgresql/N/bin, newest first), or initdb on PATH; an absolute path.
inline std::filesystem::path find_pg_bin() {
    namespace fs = std::filesystem;
    auto has = [](const fs::path& d) {
        std::error_code ec;
        return fs::exists(d / "initdb", ec) && fs::exists(d / "postgres", ec);
    };
    if (const char* e = std::getenv("PGCORO_PG_BIN"); e && *e) {
        if (has(e)) return fs::absolute(e);
        throw tool_error(std::string("PGCORO_PG_BIN=") + e + " holds no initdb and postgres");
    }
    for (int v = 20; v >= 13; --v) {
        fs::path d = "/usr/lib/postgresql/" + std::to_string(v) + "/bin";
        if (has(d)) return d;
    }
    if (const char* path = std::getenv("PATH")) {
        std::string_view p(path);
        while (!p.empty()) {
            auto colon = p.find(':');
            fs::path d(std::string(p.substr(0, colon)));
            if (!d.empty() && has(d)) return fs::absolute(d);
            if (colon == std::string_view::npos) break;
            p.remove_prefix(colon + 1);
        }
    }
    throw tool_error("no PostgreSQL server binaries (initdb, postgres) for a throwaway cluster: install the "
                     "server, set PGCORO_PG_BIN, or name a server to use with a database URL");
}

namespace detail {

/// What a fatal signal (Ctrl-C in a build, a CI timeout) must still undo: the own
/// cluster's server and its directory. Prepared in full before it is published; the
/// handler only signals, forks, execs and waits (async-signal-safe).
struct emergency_cleanup {
    std::atomic<pid_t> server{0};  // the postmaster, a child of the tool
    std::vector<std::string> remove;  // rm -rf DIR, the program's absolute path first
    std::vector<char*> remove_argv;
};
inline std::atomic<emergency_cleanup*> emergency{nullptr};

/// Stops a throwaway postmaster and reaps it. `how`: SIGQUIT (immediate shutdown) once
/// the tool's own connections are closed; SIGINT (fast: a checkpoint first, a few hundred
/// ms) from a signal handler, while they may still be open: an immediate shutdown then
/// leaves the server's SysV shared memory segment behind.
inline void stop_server(pid_t pid, int how) {
    kill(pid, how);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

inline void on_fatal_signal(int sig) {
    if (pid_t child = running_child.exchange(0); child > 0) {
        // Its whole group (initdb's own postgres too): asked first, so the postgres
        // processes exit through their cleanup (a SIGKILLed one leaves its SysV shared
        // memory segment behind); killed after 3 s.
        kill(-child, SIGTERM);
        for (int waited_ms = 0; waitpid(child, nullptr, WNOHANG) == 0; waited_ms += 10) {
            if (waited_ms == 3000) kill(-child, SIGKILL);
            timespec ten_ms{0, 10'000'000};
            nanosleep(&ten_ms, nullptr);
        }
        kill(-child, SIGKILL);  // what is left of the group
    }
    if (emergency_cleanup* e = emergency.exchange(nullptr)) {
        if (pid_t server = e->server.exchange(0); server > 0) stop_server(server, SIGINT);
        if (pid_t p = fork(); p == 0) {
            execv(e->remove_argv[0], e->remove_argv.data());
            _exit(127);
        } else if (p > 0) {
            while (waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
            }
        }
    }
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

/// `name` found on PATH (or in the usual system directories), as an absolute path; "".
inline std::string absolute_program(const std::string& name) {
    std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
    path += ":/usr/sbin:/sbin:/usr/bin:/bin";
    std::size_t p = 0;
    while (p <= path.size()) {
        auto colon = path.find(':', p);
        std::string dir = path.substr(p, colon == std::string::npos ? std::string::npos : colon - p);
        if (!dir.empty() && dir[0] == '/' && access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
        if (colon == std::string::npos) break;
        p = colon + 1;
    }
    return {};
}

}  // namespace detail

/// A server to make throwaway databases on: the one a URL names, or a temporary cluster
/// of its own. Every database it made is dropped, and its own cluster stopped and
/// deleted, when it is destroyed, or when a fatal signal (SIGINT, SIGTERM, SIGHUP,
/// SIGQUIT) ends the tool.
class throwaway_server {
public:
    /// `admin_url` empty: start a cluster of its own. Otherwise the URL of a role that may
    /// create databases (it is not printed: it may hold a password).
    explicit throwaway_server(std::string admin_url) : admin_(std::move(admin_url)) {
        try {
            if (admin_.empty()) start_cluster();
            where_ = own_dir_.empty() ? describe_url(admin_) : "a throwaway cluster in " + own_dir_.string();
        } catch (...) {
            cleanup();
            throw;
        }
    }
    throwaway_server(const throwaway_server&) = delete;
    throwaway_server& operator=(const throwaway_server&) = delete;

    ~throwaway_server() { cleanup(); }

    /// Creates an empty database (from template0) and returns its key=value conninfo.
    std::string new_database(std::string_view purpose) {
        std::random_device rd;
        std::string name = "pgcoro_tmp_" + std::string(purpose) + "_" + std::to_string(getpid()) + "_" +
                           std::to_string(rd() % 1000000);
        auto c = connect_blocking(admin_, where_);
        exec_checked(c.get(), "create database \"" + name + "\" template template0 encoding 'UTF8'");
        made_.push_back(name);
        return with_database(admin_, name);
    }

    /// Where the databases are, for messages (never the password).
    const std::string& where() const { return where_; }

private:
    void cleanup() noexcept {
        if (own_dir_.empty()) {  // an own cluster goes as a whole
            try {
                if (!made_.empty()) {
                    pq_conn c(PQconnectdb(admin_.c_str()), &PQfinish);
                    if (c && PQstatus(c.get()) == CONNECTION_OK)
                        for (const auto& db : made_) {
                            // WITH (FORCE) needs PostgreSQL 13; older servers take the plain form.
                            pq_result r(PQexec(c.get(), ("drop database if exists \"" + db + "\" with (force)").c_str()),
                                        &PQclear);
                            if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
                                pq_result(PQexec(c.get(), ("drop database if exists \"" + db + "\"").c_str()),
                                          &PQclear);
                        }
                }
            } catch (...) {
            }
            return;
        }
        // Stopped and deleted with the fatal signals held: a signal now waits until this
        // is done (and its handler then finds nothing left to do).
        detail::fatal_signals_held held;
        if (pid_t server = emergency_.server.exchange(0); server > 0) detail::stop_server(server, SIGQUIT);
        std::error_code ec;
        std::filesystem::remove_all(own_dir_, ec);
        own_dir_.clear();
        detail::emergency_cleanup* mine = &emergency_;
        detail::emergency.compare_exchange_strong(mine, nullptr);
    }

    static std::string describe_url(const std::string& url) {
        char* err = nullptr;
        PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
        if (!opts) {
            PQfreemem(err);
            throw tool_error("the database URL does not parse");
        }
        std::string host = "localhost", port = "5432";
        for (PQconninfoOption* o = opts; o->keyword; ++o) {
            if (!o->val) continue;
            if (std::string_view(o->keyword) == "host") host = o->val;
            if (std::string_view(o->keyword) == "port") port = o->val;
        }
        PQconninfoFree(opts);
        return "the server at " + host + ":" + port;
    }

    /// initdb, then the postmaster started directly as the tool's child (not through
    /// pg_ctl, which puts it in a session of its own before it has written its pid file:
    /// a signal in that window could not stop it). Waits until it accepts connections.
    void start_cluster() {
        namespace fs = std::filesystem;
        bin_ = find_pg_bin();
        std::optional<run_as> owner;
        if (geteuid() == 0) {
            // PostgreSQL refuses to run as root: the cluster belongs to `postgres`.
            const passwd* pw = getpwnam("postgres");
            if (!pw)
                throw tool_error("running as root, a throwaway cluster needs a `postgres` user to own it "
                                 "(PostgreSQL refuses root); or name a server with a database URL");
            owner = run_as{pw->pw_name, pw->pw_uid, pw->pw_gid};
        }
        std::string rm = detail::absolute_program("rm");
        if (rm.empty()) throw tool_error("no rm on PATH to delete a throwaway cluster with");
        static bool handlers = [] {
            for (int sig : detail::fatal_signals) std::signal(sig, detail::on_fatal_signal);
            return true;
        }();
        (void)handlers;
        {
            // Made and published together: from here on a fatal signal deletes it.
            detail::fatal_signals_held held;
            // Short and in /tmp: a Unix socket path has a ~107-byte limit.
            char tmpl[] = "/tmp/pgcoro-tmp-XXXXXX";
            if (!mkdtemp(tmpl)) throw tool_error(std::string("mkdtemp: ") + std::strerror(errno));
            own_dir_ = tmpl;
            emergency_.remove = {rm, "-rf", own_dir_.string()};
            for (auto& a : emergency_.remove) emergency_.remove_argv.push_back(a.data());
            emergency_.remove_argv.push_back(nullptr);
            detail::emergency = &emergency_;
        }
        if (owner && chown(own_dir_.c_str(), owner->uid, owner->gid) != 0)
            throw tool_error("chown " + own_dir_.string() + ": " + std::strerror(errno));
        std::string log = (own_dir_ / "setup.log").string();
        std::string data = (own_dir_ / "data").string();
        auto fail = [&](const std::string& what, const std::string& from) {
            std::string text;
            try {
                text = read_file(from);
            } catch (const tool_error&) {
            }
            throw tool_error(what + " failed:\n" + text);
        };
        const run_as* as = owner ? &*owner : nullptr;
        if (run_program({(bin_ / "initdb").string(), "-D", data, "-U", "pgcoro", "-A", "trust", "-E", "UTF8",
                         "--locale=C", "--no-sync"},
                        log, as, own_dir_.string()) != 0)
            fail("initdb", log);
        // Unix socket only (no TCP port to collide on), in the private directory.
        std::string server_log = (own_dir_ / "server.log").string();
        pid_t server = 0;
        {
            detail::fatal_signals_held held;
            server = spawn_program({(bin_ / "postgres").string(), "-D", data, "-c", "listen_addresses=", "-k",
                                    own_dir_.string(), "-p", "5432", "-c", "fsync=off"},
                                   server_log, as, own_dir_.string(), held);
            emergency_.server = server;
        }
        admin_ = "host=" + quote_conninfo(own_dir_.string()) + " port=5432 user=pgcoro dbname=postgres";
        for (int waited_ms = 0;; waited_ms += 20) {
            if (PQping(admin_.c_str()) == PQPING_OK) return;
            siginfo_t info{};
            if (waitid(P_PID, static_cast<id_t>(server), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid)
                fail("the throwaway server's start", server_log);
            if (waited_ms >= 60000) fail("the throwaway server's start (60 s)", server_log);
            usleep(20000);
        }
    }

    std::string admin_;
    std::string where_;
    std::filesystem::path bin_;
    std::filesystem::path own_dir_;
    std::vector<std::string> made_;
    detail::emergency_cleanup emergency_;
};

}  // namespace pgcoro_tools

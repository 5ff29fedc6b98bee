// tools/common/throwaway.hpp — throwaway databases for the build-time tools
// (pgcoro-queries describes statements in one; schema diffs compare two): temporary
// databases created and dropped on a server given by URL, or a whole temporary cluster
// of the tool's own (initdb + pg_ctl on a Unix socket in a temp dir, no TCP port) when
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
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
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
/// The program run_program() is waiting for, leader of its own process group (a signal
/// handler kills the group first: initdb would go on writing into a directory the handler
/// deletes).
inline std::atomic<pid_t> running_child{0};
}  // namespace detail

/// Runs a program (no shell), its output appended to `log`; returns its exit status
/// (128 + signal when it was killed, 127 when it could not be started).
inline int run_program(const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) throw tool_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);  // a group of its own: a signal handler can stop it with its children
        int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(args[0], args.data());
        // (The tools are single-threaded when they start programs: formatting is safe here.)
        std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
        _exit(127);
    }
    detail::running_child = pid;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            detail::running_child = 0;
            throw tool_error(std::string("waitpid: ") + std::strerror(errno));
        }
    detail::running_child = 0;
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

/// Where the server binaries are: $PGCORO_PG_BIN, `pg_config --bindir`'s answer, the
/// Debian layout (/usr/lib/postgresql/N/bin, newest first), or initdb on PATH.
inline std::filesystem::path find_pg_bin() {
    namespace fs = std::filesystem;
    auto has = [](const fs::path& d) {
        std::error_code ec;
        return fs::exists(d / "initdb", ec) && fs::exists(d / "pg_ctl", ec);
    };
    if (const char* e = std::getenv("PGCORO_PG_BIN"); e && *e) {
        if (has(e)) return e;
        throw tool_error(std::string("PGCORO_PG_BIN=") + e + " holds no initdb and pg_ctl");
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
            if (!d.empty() && has(d)) return d;
            if (colon == std::string_view::npos) break;
            p.remove_prefix(colon + 1);
        }
    }
    throw tool_error("no PostgreSQL server binaries (initdb, pg_ctl) for a throwaway cluster: install the server, "
                     "set PGCORO_PG_BIN, or name a server to use with a database URL");
}

namespace detail {

/// What a fatal signal (Ctrl-C in a build, a CI timeout) must still undo: the own
/// cluster's server (pg_ctl starts it in a session of its own, so it outlives the tool)
/// and its directory. Prepared in full before it is published; the handler only forks,
/// execs and waits (async-signal-safe).
struct emergency_cleanup {
    std::vector<std::string> stop, remove;  // absolute program paths first
    std::vector<char*> stop_argv, remove_argv;
    void seal() {
        for (auto* v : {&stop, &remove}) {
            auto& argv = v == &stop ? stop_argv : remove_argv;
            argv.clear();
            for (auto& a : *v) argv.push_back(a.data());
            argv.push_back(nullptr);
        }
    }
};
inline std::atomic<emergency_cleanup*> emergency{nullptr};

inline void run_in_handler(char* const* argv) {
    if (!argv || !argv[0]) return;
    pid_t p = fork();
    if (p == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    if (p > 0)
        while (waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
        }
}

inline void on_fatal_signal(int sig) {
    if (pid_t child = running_child.exchange(0); child > 0) {
        kill(-child, SIGKILL);  // its group: runuser's initdb too
        while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    if (emergency_cleanup* e = emergency.exchange(nullptr)) {
        run_in_handler(e->stop_argv.data());
        run_in_handler(e->remove_argv.data());
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
/// deleted, when it is destroyed.
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
        detail::emergency_cleanup* mine = &emergency_;
        detail::emergency.compare_exchange_strong(mine, nullptr);
        try {
            if (!made_.empty() && own_dir_.empty()) {  // an own cluster goes as a whole
                pq_conn c(PQconnectdb(admin_.c_str()), &PQfinish);
                if (c && PQstatus(c.get()) == CONNECTION_OK)
                    for (const auto& db : made_) {
                        // WITH (FORCE) needs PostgreSQL 13; older servers take the plain form.
                        pq_result r(PQexec(c.get(), ("drop database if exists \"" + db + "\" with (force)").c_str()),
                                    &PQclear);
                        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
                            pq_result(PQexec(c.get(), ("drop database if exists \"" + db + "\"").c_str()), &PQclear);
                    }
            }
        } catch (...) {
        }
        if (!own_dir_.empty()) {
            try {
                if (started_)
                    run_program(as_owner({(bin_ / "pg_ctl").string(), "-D", (own_dir_ / "data").string(), "-m",
                                          "immediate", "-w", "stop"}),
                                "/dev/null");
            } catch (...) {
            }
            std::error_code ec;
            std::filesystem::remove_all(own_dir_, ec);
            own_dir_.clear();
        }
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

    std::vector<std::string> as_owner(std::vector<std::string> argv) const {
        if (geteuid() != 0) return argv;
        argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
        return argv;
    }

    void start_cluster() {
        namespace fs = std::filesystem;
        bin_ = find_pg_bin();
        // Short and in /tmp: a Unix socket path has a ~107-byte limit.
        char tmpl[] = "/tmp/pgcoro-tmp-XXXXXX";
        if (!mkdtemp(tmpl)) throw tool_error(std::string("mkdtemp: ") + std::strerror(errno));
        own_dir_ = tmpl;
        // From here on a fatal signal stops the server and deletes the directory too.
        emergency_.remove = {detail::absolute_program("rm"), "-rf", own_dir_.string()};
        emergency_.stop = as_owner({(bin_ / "pg_ctl").string(), "-D", (own_dir_ / "data").string(), "-m", "immediate",
                                    "-w", "stop"});
        if (emergency_.stop[0] == "runuser") emergency_.stop[0] = detail::absolute_program("runuser");
        emergency_.seal();
        static bool handlers = [] {
            for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) std::signal(sig, detail::on_fatal_signal);
            return true;
        }();
        (void)handlers;
        detail::emergency = &emergency_;
        if (geteuid() == 0) {
            // PostgreSQL refuses to run as root: the cluster belongs to `postgres`.
            const passwd* pw = getpwnam("postgres");
            if (!pw)
                throw tool_error("running as root, a throwaway cluster needs a `postgres` user to own it "
                                 "(PostgreSQL refuses root); or name a server with a database URL");
            if (chown(tmpl, pw->pw_uid, pw->pw_gid) != 0)
                throw tool_error(std::string("chown ") + tmpl + ": " + std::strerror(errno));
        }
        std::string log = (own_dir_ / "setup.log").string();
        std::string data = (own_dir_ / "data").string();
        auto fail = [&](const std::string& what) {
            std::string text;
            if (FILE* f = std::fopen(log.c_str(), "r")) {
                char buf[4096];
                std::size_t n;
                while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
                std::fclose(f);
            }
            throw tool_error(what + " failed:\n" + text);
        };
        if (run_program(as_owner({(bin_ / "initdb").string(), "-D", data, "-U", "pgcoro", "-A", "trust", "-E",
                                  "UTF8", "--locale=C", "--no-sync"}),
                        log) != 0)
            fail("initdb");
        // Unix socket only (no TCP port to collide on), in the private directory.
        started_ = true;  // stopped on cleanup even when start timed out
        std::string opts = "-c listen_addresses='' -k " + own_dir_.string() + " -p 5432 -c fsync=off";
        if (run_program(as_owner({(bin_ / "pg_ctl").string(), "-D", data, "-l", (own_dir_ / "server.log").string(),
                                  "-o", opts, "-w", "-t", "60", "start"}),
                        log) != 0)
            fail("pg_ctl start");
        admin_ = "host=" + quote_conninfo(own_dir_.string()) + " port=5432 user=pgcoro dbname=postgres";
    }

    std::string admin_;
    std::string where_;
    std::filesystem::path bin_;
    std::filesystem::path own_dir_;
    std::vector<std::string> made_;
    bool started_ = false;
    detail::emergency_cleanup emergency_;
};

}  // namespace pgcoro_tools

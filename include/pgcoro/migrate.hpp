// pgcoro/migrate.hpp — run migrations and seeds: `co_await pgcoro::migrate(db, migrations)`.
#pragma once

#include <pgcoro/connection.hpp>
#include <pgcoro/detail/migration_plan.hpp>
#include <pgcoro/detail/undo.hpp>
#include <pgcoro/migration.hpp>
#include <pgcoro/pool.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace pgcoro {

/// What a migrator run is doing; see migrate_options::on_event.
struct migration_event {
    enum kind_type {
        waiting_for_lock,  ///< another migrator holds the lock; polling (sent once)
        locked,            ///< the lock is ours (duration: the wait)
        applying,          ///< about to run `file` (up)
        applied,           ///< `file` committed (duration: its run time)
        reverting,         ///< about to run `file` (down)
        reverted,
        seeding,           ///< about to run seed `file`
        seeded,
    };
    kind_type kind;
    std::int64_t version = 0;   ///< 0 for seeds and lock events
    std::string file;
    std::chrono::milliseconds duration{0};
};

/// Settings of a migrator run. All have defaults.
struct migrate_options {
    // Not an aggregate, on purpose: g++ 12 destroys a braced aggregate temporary inside
    // a co_await expression twice (`co_await f(T{})`, or a `T options = {}` default).
    // With a user-declared constructor `T{}` is value-initialised, which it gets right.
    migrate_options() = default;

    /// The history table ("table" or "schema.table"; letters, digits and '_'), created
    /// on the first run. Its name also keys the advisory lock, so two tables never block
    /// each other.
    std::string history_table = "pgcoro_migrations";
    /// Where seeds record what ran (name, checksum).
    std::string seeds_table = "pgcoro_seeds";
    /// How long to wait for another migrator to finish: then errc::migration_lock_timeout.
    std::chrono::milliseconds lock_timeout = std::chrono::minutes(5);
    /// How often pg_try_advisory_lock is retried while waiting (never a blocking wait: a
    /// waiting backend would make another instance's CREATE INDEX CONCURRENTLY wait for
    /// it, which waits for the lock: a deadlock the server cannot see).
    std::chrono::milliseconds lock_poll_interval = std::chrono::milliseconds(100);
    /// Go on although the database has versions this set lacks (an older binary during a
    /// rolling deploy).
    bool ignore_missing = false;
    /// Apply unapplied versions older than the newest applied one instead of refusing.
    bool allow_out_of_order = false;
    /// up: apply versions up to and including this one only.
    std::optional<std::int64_t> target;
    /// Take no lock, change nothing; the report's `planned` lists what would run: up's
    /// migrations then seeds (migrate), the down files newest first (migrate_down,
    /// migrate_down_to), the new or changed seeds (run_seeds).
    bool dry_run = false;
    /// Run after the migrations (up only; run_seeds() runs them alone).
    seed_set seeds;
    /// Called with the lock held and the plan made, before the first migration runs when
    /// there is any to run (a backup, a confirmation). Throwing stops the run.
    std::function<boost::asio::awaitable<void>(const std::vector<const migration*>&)> before_apply;
    /// Progress, for logs (called on the migrating coroutine).
    std::function<void(const migration_event&)> on_event;
};

/// One migration or seed that ran (or, for a dry run, would run).
struct migration_step {
    std::int64_t version = 0;  ///< 0 for seeds
    std::string file;
    std::chrono::milliseconds duration{0};
};

/// What a run did.
struct migration_report {
    std::vector<migration_step> applied;   ///< up, in order
    std::vector<migration_step> reverted;  ///< down, newest first
    std::vector<migration_step> seeded;    ///< seeds that ran (new or changed)
    std::vector<migration_step> planned;   ///< dry run: what would run (see migrate_options::dry_run)
    std::chrono::milliseconds lock_wait{0};
    std::chrono::milliseconds elapsed{0};
    std::optional<std::int64_t> version;   ///< newest applied version afterwards (none: empty)
};

/// A migration's state, for status displays.
struct migration_status {
    enum state_type {
        applied,   ///< applied, file unchanged
        pending,   ///< not applied yet
        changed,   ///< applied, but the file's checksum differs now
        unknown,   ///< applied, but not in this set
    };
    std::int64_t version = 0;
    std::string name;
    state_type state = pending;
    bool out_of_order = false;                ///< pending but older than the newest applied
    std::optional<timestamptz> applied_at;
    std::int64_t duration_ms = 0;
    std::string file_checksum, applied_checksum;
};

namespace detail {

inline bool valid_identifier(std::string_view s) {
    if (s.empty() || s.size() > 63 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

/// "name" or "schema.name", double-quoted; errc::invalid_config for anything else.
inline std::string quoted_table(const std::string& name) {
    std::size_t dot = name.find('.');
    std::string_view a = std::string_view(name).substr(0, dot);
    if (dot == std::string::npos) {
        if (valid_identifier(a)) return "\"" + std::string(a) + "\"";
    } else {
        std::string_view b = std::string_view(name).substr(dot + 1);
        if (valid_identifier(a) && valid_identifier(b)) return "\"" + std::string(a) + "\".\"" + std::string(b) + "\"";
    }
    throw pgcoro::error(make_error_code(errc::invalid_config),
                        "history / seeds table name '" + name + "': use letters, digits and '_' (schema.table allowed)");
}

/// The advisory lock key: the first 64 bits of SHA-256("pgcoro.migrate:" + table).
inline std::int64_t migration_lock_key(const std::string& history_table) {
    sha256_digest md = sha256("pgcoro.migrate:" + history_table);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | md[i];
    return static_cast<std::int64_t>(v);
}

using migrate_clock = std::chrono::steady_clock;

inline std::chrono::milliseconds ms_since(migrate_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(migrate_clock::now() - t);
}

/// A server error from a script, re-thrown with the file name and the line and column
/// the server's position points at (`first_line`: where `text` starts in the file).
inline pgcoro::error locate_script_error(const pgcoro::error& e, const std::string& file, std::string_view text,
                                         int first_line, const std::string& note) {
    pgcoro::diagnostics d = e.diagnostics();
    std::string where = file;
    if (d.position) {
        text_location loc = locate(text, *d.position);
        if (loc.line > 0)
            where += " line " + std::to_string(loc.line + first_line - 1) + ", column " + std::to_string(loc.column);
    } else if (first_line > 1) {
        where += " (statement at line " + std::to_string(first_line) + ")";
    }
    d.message = where + ": " + d.message + note;
    return pgcoro::error(e.code(), std::move(d));
}

inline const char* history_columns() {
    return "(version bigint primary key, name text not null, checksum text not null, "
           "applied_at timestamptz not null default now(), duration_ms bigint not null)";
}

/// One run of the migrator on one connection: lock, bookkeeping, scripts.
class migrator {
public:
    migrator(connection& conn, const migrate_options& opt)
        : conn_(conn), opt_(opt), history_(quoted_table(opt.history_table)), seeds_(quoted_table(opt.seeds_table)),
          key_(migration_lock_key(opt.history_table)) {}

    void emit(migration_event::kind_type kind, std::int64_t version, const std::string& file,
              std::chrono::milliseconds d = {}) const {
        if (!opt_.on_event) return;
        migration_event ev;
        ev.kind = kind;
        ev.version = version;
        ev.file = file;
        ev.duration = d;
        opt_.on_event(ev);
    }

    /// Polls pg_try_advisory_lock until it succeeds or lock_timeout passes; then turns
    /// statement_timeout and idle_in_transaction_session_timeout off for this session.
    boost::asio::awaitable<std::chrono::milliseconds> lock() {
        if (conn_.transaction_status() != PQTRANS_IDLE)
            throw pgcoro::error(make_error_code(errc::invalid_config),
                                "migrate needs a connection that is not inside a transaction");
        auto start = migrate_clock::now();
        auto deadline = start + opt_.lock_timeout;
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
        bool told = false;
        for (;;) {
            // Cancelled after the server granted it but before we heard: unlock() must try.
            lock_state_ = lock_state::maybe;
            if (session_token_.empty()) session_token_ = random_token();
            auto [got, pid, token] = co_await conn_.query_one<std::tuple<bool, std::int32_t, std::string>>(
                "select pg_try_advisory_lock($1), pg_backend_pid(), set_config('pgcoro.migrator_session', $2, false)",
                key_, session_token_);
            (void)token;
            lock_pid_ = pid;
            if (got) break;
            lock_state_ = lock_state::none;
            auto now = migrate_clock::now();
            if (now >= deadline) co_await throw_lock_timeout();
            if (!told) {
                emit(migration_event::waiting_for_lock, 0, opt_.history_table);
                told = true;
            }
            auto wait = std::min<migrate_clock::duration>(opt_.lock_poll_interval, deadline - now);
            timer.expires_after(std::max<migrate_clock::duration>(wait, std::chrono::milliseconds(1)));
            co_await timer.async_wait(boost::asio::use_awaitable);
        }
        lock_state_ = lock_state::held;
        auto waited = ms_since(start);
        saved_timeouts_ = co_await conn_.query_one<std::tuple<std::string, std::string>>(
            "select current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')");
        co_await conn_.execute(
            "select set_config('statement_timeout', '0', false), "
            "set_config('idle_in_transaction_session_timeout', '0', false)");
        emit(migration_event::locked, 0, opt_.history_table, waited);
        co_return waited;
    }

    /// Rolls back a transaction left open, restores the timeouts and releases the lock.
    /// Never throws: when any of that fails, the connection is closed, which releases the
    /// lock on the server too.
    boost::asio::awaitable<void> unlock() {
        lock_state state = lock_state_;
        if (state == lock_state::none) co_return;
        lock_state_ = lock_state::none;
        bool ok = true;
        try {
            co_await roll_back_open_transaction();
            if (state == lock_state::held)
                co_await conn_.execute(
                    "select set_config('statement_timeout', $1, false), "
                    "set_config('idle_in_transaction_session_timeout', $2, false)",
                    std::get<0>(saved_timeouts_), std::get<1>(saved_timeouts_));
            // Unlocking a lock not held returns false (and a warning): fine when unsure.
            ok = co_await conn_.query_one<bool>("select pg_advisory_unlock($1)", key_) || state == lock_state::maybe;
            // Behind a transaction pooler the lock stays with the server session that
            // took it, and would block every later migration for as long as the pooler
            // keeps that connection: end that session (the pooler replaces it).
            if (session_moved_ && !ok)
                (void)co_await conn_.query_one<bool>("select pg_terminate_backend($1)", lock_pid_);
        } catch (...) {
            ok = false;
        }
        if (!ok) {
            try {
                co_await conn_.close();
            } catch (...) {
            }
        }
    }

    boost::asio::awaitable<bool> table_exists(const std::string& quoted) {
        co_return co_await conn_.query_one<bool>("select to_regclass($1) is not null", quoted);
    }

    boost::asio::awaitable<void> ensure_tables(bool with_seeds) {
        co_await conn_.execute_script("create table if not exists " + history_ + " " + history_columns());
        if (with_seeds)
            co_await conn_.execute_script("create table if not exists " + seeds_ +
                                          " (name text primary key, checksum text not null, "
                                          "applied_at timestamptz not null default now(), duration_ms bigint not null)");
    }

    boost::asio::awaitable<std::vector<applied_migration>> history() {
        std::vector<applied_migration> out;
        if (!co_await table_exists(history_)) co_return out;
        auto rows = co_await conn_.query<std::tuple<std::int64_t, std::string, std::string, timestamptz, std::int64_t>>(
            "select version, name, checksum, applied_at, duration_ms from " + history_ + " order by version");
        out.reserve(rows.size());
        for (auto& [v, n, c, at, d] : rows) {
            applied_migration a;
            a.version = v;
            a.name = std::move(n);
            a.checksum = std::move(c);
            a.applied_at = at;
            a.duration_ms = d;
            out.push_back(std::move(a));
        }
        co_return out;
    }

    /// Seeds (of the set) whose recorded checksum differs from the file's.
    boost::asio::awaitable<std::vector<const sql_script*>> changed_seeds(const seed_set& seeds) {
        std::vector<const sql_script*> out;
        std::vector<std::tuple<std::string, std::string>> done;
        if (!seeds.empty() && co_await table_exists(seeds_))
            done = co_await conn_.query<std::tuple<std::string, std::string>>("select name, checksum from " + seeds_);
        for (const auto& s : seeds) {
            bool same = std::any_of(done.begin(), done.end(), [&](const auto& r) {
                return std::get<0>(r) == s.file && std::get<1>(r) == s.checksum;
            });
            if (!same) out.push_back(&s);
        }
        co_return out;
    }

    /// What a script's run records: its history row (up), the row's removal (down), or
    /// its seed row.
    enum class record { applied, reverted, seeded };

    boost::asio::awaitable<void> write_record(record kind, std::int64_t version, const std::string& name,
                                              const sql_script& s, std::chrono::milliseconds took) {
        auto ms = static_cast<std::int64_t>(took.count());
        switch (kind) {
        case record::applied:
            co_await conn_.execute("insert into " + history_ +
                                       " (version, name, checksum, applied_at, duration_ms) values ($1, $2, $3, now(), $4)",
                                   version, name, s.checksum, ms);
            break;
        case record::reverted:
            co_await conn_.execute("delete from " + history_ + " where version = $1", version);
            break;
        case record::seeded:
            co_await conn_.execute("insert into " + seeds_ +
                                       " (name, checksum, applied_at, duration_ms) values ($1, $2, now(), $3) "
                                       "on conflict (name) do update set checksum = excluded.checksum, "
                                       "applied_at = excluded.applied_at, duration_ms = excluded.duration_ms",
                                   name, s.checksum, ms);
            break;
        }
    }

    static std::string random_token() {
        std::random_device rd;
        std::string t;
        for (int i = 0; i < 4; ++i) {
            char buf[9];
            std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
            t += buf;
        }
        return t;
    }

    /// The lock belongs to the server session that took it. Through a transaction pooler
    /// (PgBouncer pool_mode=transaction) a later statement may run in another server
    /// session, or another migrator's lock statement may land in ours (the lock is
    /// re-entrant): the process id and this run's token, set with the lock, tell. Run
    /// inside each script's transaction, so the script runs in the locked session or
    /// not at all.
    boost::asio::awaitable<void> check_session() {
        auto [pid, token] = co_await conn_.query_one<std::tuple<std::int32_t, std::string>>(
            "select pg_backend_pid(), coalesce(current_setting('pgcoro.migrator_session', true), '')");
        if (pid != lock_pid_ || token != session_token_) {
            session_moved_ = true;
            throw pgcoro::error(make_error_code(errc::invalid_config),
                                "the migration lock was taken in server process " + std::to_string(lock_pid_) +
                                    ", but this statement ran in process " + std::to_string(pid) +
                                    (pid == lock_pid_ ? " after another migrator's lock statement" : "") +
                                    ": the connection goes through a transaction-pooling proxy (PgBouncer "
                                    "pool_mode=transaction?), which cannot keep a session's advisory lock; connect "
                                    "the migrator to PostgreSQL directly or through session pooling");
        }
    }

    /// Runs a script and writes its record in one transaction, or, for a no-transaction
    /// script, statement by statement with the record written after the last. Returns the
    /// script's run time.
    boost::asio::awaitable<std::chrono::milliseconds> run(const sql_script& s, record kind, std::int64_t version,
                                                           const std::string& name) {
        auto start = migrate_clock::now();
        std::exception_ptr failure;
        std::optional<pgcoro::error> located;
        std::chrono::milliseconds took{0};
        if (!s.no_transaction) {
            auto body = [&]() -> boost::asio::awaitable<void> {
                try {
                    co_await conn_.execute("begin");
                    co_await check_session();
                    co_await conn_.execute_script(s.sql);
                    took = ms_since(start);
                    co_await write_record(kind, version, name, s, took);
                    co_await conn_.execute("commit");
                } catch (const pgcoro::error& e) {
                    if (!e.diagnostics().from_server()) throw;
                    throw locate_script_error(e, s.file, s.sql, 1, " (rolled back: nothing of it stays)");
                }
            };
            auto roll_back = [this] { return roll_back_open_transaction(); };
            co_await run_or_undo(body, roll_back);
        } else {
            auto statements = split_sql(s.sql);
            std::size_t done = 0;
            try {
                for (const auto& st : statements) {
                    co_await check_session();  // (no transaction: checked just before)
                    co_await conn_.execute_script(st.text);
                    ++done;
                }
                took = ms_since(start);
                co_await write_record(kind, version, name, s, took);
            } catch (const pgcoro::error& e) {
                if (e.diagnostics().from_server() && done < statements.size())
                    located.emplace(locate_script_error(
                        e, s.file, statements[done].text, statements[done].line,
                        done == 0 ? std::string(" (no-transaction file: nothing of it ran)")
                                  : " (no-transaction file: the " + std::to_string(done) +
                                        " statement(s) before it ran and stay; it is not recorded as applied, "
                                        "so make the file safe to run again, e.g. IF NOT EXISTS)"));
                failure = std::current_exception();
            } catch (...) {
                failure = std::current_exception();
            }
        }
        if (located) throw *located;
        if (failure) std::rethrow_exception(failure);
        co_return took;
    }

    /// ROLLBACK when a transaction block is open on a live connection.
    boost::asio::awaitable<void> roll_back_open_transaction() {
        if (conn_.is_open() && conn_.transaction_status() != PQTRANS_IDLE) co_await conn_.execute("rollback");
    }

    boost::asio::awaitable<void> apply_up(const migration& m, migration_report& report) {
        emit(migration_event::applying, m.version, m.up.file);
        auto took = co_await run(m.up, record::applied, m.version, m.name);
        emit(migration_event::applied, m.version, m.up.file, took);
        report.applied.push_back(migration_step{m.version, m.up.file, took});
    }

    boost::asio::awaitable<void> apply_down(const migration& m, migration_report& report) {
        emit(migration_event::reverting, m.version, m.down->file);
        auto took = co_await run(*m.down, record::reverted, m.version, m.name);
        emit(migration_event::reverted, m.version, m.down->file, took);
        report.reverted.push_back(migration_step{m.version, m.down->file, took});
    }

    boost::asio::awaitable<void> apply_seed(const sql_script& s, migration_report& report) {
        emit(migration_event::seeding, 0, s.file);
        auto took = co_await run(s, record::seeded, 0, s.file);
        emit(migration_event::seeded, 0, s.file, took);
        report.seeded.push_back(migration_step{0, s.file, took});
    }

    boost::asio::awaitable<void> throw_lock_timeout() {
        auto key = static_cast<std::uint64_t>(key_);
        auto holder = co_await conn_.query_opt<std::tuple<int, std::string>>(
            "select l.pid, coalesce(a.application_name, '') from pg_locks l "
            "left join pg_stat_activity a on a.pid = l.pid "
            "where l.locktype = 'advisory' and l.granted and l.classid::bigint = $1 and l.objid::bigint = $2 "
            "and l.objsubid = 1 and l.database = (select oid from pg_database where datname = current_database()) "
            "limit 1",
            static_cast<std::int64_t>(key >> 32), static_cast<std::int64_t>(key & 0xffffffffu));
        std::string who = holder ? "backend pid " + std::to_string(std::get<0>(*holder)) +
                                       (std::get<1>(*holder).empty() ? "" : " (" + std::get<1>(*holder) + ")")
                                 : "another session";
        throw pgcoro::error(make_error_code(errc::migration_lock_timeout),
                            "waited " + std::to_string(opt_.lock_timeout.count()) +
                                " ms for the migration lock of " + opt_.history_table + ", held by " + who);
    }

    connection& conn() { return conn_; }
    const migrate_options& options() const { return opt_; }

private:
    connection& conn_;
    const migrate_options& opt_;
    std::string history_, seeds_;
    std::int64_t key_;
    enum class lock_state { none, maybe, held };
    lock_state lock_state_ = lock_state::none;
    std::int32_t lock_pid_ = 0;
    std::string session_token_;
    bool session_moved_ = false;
    std::tuple<std::string, std::string> saved_timeouts_{"0", "0"};
};

/// Runs body(migrator&, report&) with the lock held; releases it on every path,
/// cancellation included, and rethrows what the body threw.
template <class Body>
boost::asio::awaitable<migration_report> locked_run(connection& conn, const migrate_options& opt, Body body) {
    auto start = migrate_clock::now();
    migrator m(conn, opt);
    migration_report report;
    auto locked_body = [&]() -> boost::asio::awaitable<void> {
        report.lock_wait = co_await m.lock();
        co_await body(m, report);
    };
    auto unlock = [&m] { return m.unlock(); };
    co_await run_or_undo(locked_body, unlock);
    // Done, perhaps cancelled meanwhile: unlock all the same.
    co_await boost::asio::this_coro::reset_cancellation_state();
    co_await m.unlock();
    report.elapsed = ms_since(start);
    co_return report;
}

inline boost::asio::awaitable<void> up_body(migrator& m, migration_report& report, const migration_set& set) {
    const migrate_options& opt = m.options();
    co_await m.ensure_tables(!opt.seeds.empty());
    auto applied = co_await m.history();
    check_history(set, applied, opt.ignore_missing);
    auto plan = plan_up(set, applied, opt.target, opt.allow_out_of_order);
    if (!plan.empty() && opt.before_apply) co_await opt.before_apply(plan);
    for (const migration* mg : plan) co_await m.apply_up(*mg, report);
    auto seeds = co_await m.changed_seeds(opt.seeds);
    for (const sql_script* s : seeds) co_await m.apply_seed(*s, report);
    auto after = co_await m.history();
    report.version = newest_applied(after);
}

inline boost::asio::awaitable<void> down_body(migrator& m, migration_report& report, const migration_set& set,
                                              std::size_t steps, std::optional<std::int64_t> to_version) {
    auto applied = co_await m.history();
    check_history(set, applied, true);
    auto plan = plan_down(set, applied, steps, to_version);
    for (const migration* mg : plan) co_await m.apply_down(*mg, report);
    auto after = co_await m.history();
    report.version = newest_applied(after);
}

inline boost::asio::awaitable<void> seeds_body(migrator& m, migration_report& report, const seed_set& seeds) {
    co_await m.ensure_tables(true);
    auto todo = co_await m.changed_seeds(seeds);
    for (const sql_script* s : todo) co_await m.apply_seed(*s, report);
    auto after = co_await m.history();
    report.version = newest_applied(after);
}

inline boost::asio::awaitable<migration_report> dry_run(connection& conn, const migration_set& set,
                                                        const migrate_options& opt) {
    auto start = migrate_clock::now();
    migrator m(conn, opt);
    migration_report report;
    auto applied = co_await m.history();
    check_history(set, applied, opt.ignore_missing);
    auto plan = plan_up(set, applied, opt.target, opt.allow_out_of_order);
    for (const migration* mg : plan) report.planned.push_back(migration_step{mg->version, mg->up.file, {}});
    auto seeds = co_await m.changed_seeds(opt.seeds);
    for (const sql_script* s : seeds) report.planned.push_back(migration_step{0, s->file, {}});
    report.version = newest_applied(applied);
    report.elapsed = ms_since(start);
    co_return report;
}

/// migrate_down's dry run: the down files it would run, newest first (refusing as it
/// would: a missing down file, a changed applied file).
inline boost::asio::awaitable<migration_report> dry_run_down(connection& conn, const migration_set& set,
                                                             std::size_t steps, std::optional<std::int64_t> to_version,
                                                             const migrate_options& opt) {
    auto start = migrate_clock::now();
    migrator m(conn, opt);
    migration_report report;
    auto applied = co_await m.history();
    check_history(set, applied, true);
    for (const migration* mg : plan_down(set, applied, steps, to_version))
        report.planned.push_back(migration_step{mg->version, mg->down ? mg->down->file : mg->up.file, {}});
    report.version = newest_applied(applied);
    report.elapsed = ms_since(start);
    co_return report;
}

/// run_seeds' dry run: the seeds it would run.
inline boost::asio::awaitable<migration_report> dry_run_seeds(connection& conn, const seed_set& seeds,
                                                              const migrate_options& opt) {
    auto start = migrate_clock::now();
    migrator m(conn, opt);
    migration_report report;
    auto todo = co_await m.changed_seeds(seeds);
    for (const sql_script* s : todo) report.planned.push_back(migration_step{0, s->file, {}});
    auto applied = co_await m.history();
    report.version = newest_applied(applied);
    report.elapsed = ms_since(start);
    co_return report;
}

}  // namespace detail

/// Brings the database up to date: takes the migration lock (waiting at most
/// options.lock_timeout), creates the history table if needed, refuses drift (a changed
/// applied file, an unknown applied version, an out-of-order pending one: nothing runs
/// then), applies each pending migration in its own transaction together with its
/// history row (a `-- pgcoro:no-transaction` file runs statement by statement, its row
/// written after), then runs new or changed seeds, and releases the lock.
///
/// Executor: the awaiting coroutine's; the connection's strand does the I/O. The
/// connection must not be used by anyone else meanwhile (its session settings change
/// for the run and are restored).
/// Cancellation: per-operation cancellation stops the run after rolling back the
/// migration in progress and releasing the lock.
/// Errors (pgcoro::error): errc::migration_lock_timeout, errc::migration_checksum_mismatch,
/// errc::migration_unknown_version, errc::migration_out_of_order, errc::invalid_config;
/// a failing migration's server error (its SQLSTATE), the message naming the file, line
/// and column. Migrations applied before the failing one stay applied.
inline boost::asio::awaitable<migration_report> migrate(connection& conn, const migration_set& migrations,
                                                        migrate_options options = {}) {
    if (options.dry_run) co_return co_await detail::dry_run(conn, migrations, options);
    co_return co_await detail::locked_run(conn, options, [&](detail::migrator& m, migration_report& r) {
        return detail::up_body(m, r, migrations);
    });
}

/// migrate() on a connection of its own from the pool (returned to the pool afterwards
/// and reset there).
inline boost::asio::awaitable<migration_report> migrate(pool& db, const migration_set& migrations,
                                                        migrate_options options = {}) {
    pooled_connection c = co_await db.acquire();
    co_return co_await migrate(*c, migrations, std::move(options));
}

/// Rolls back the newest `steps` applied migrations (std::size_t(-1): all), newest first,
/// each in its own transaction with the removal of its history row, under the migration
/// lock. Every one needs a down file (errc::migration_missing_down, before anything
/// runs); a changed applied file is errc::migration_checksum_mismatch. Executor,
/// cancellation: as migrate().
inline boost::asio::awaitable<migration_report> migrate_down(connection& conn, const migration_set& migrations,
                                                             std::size_t steps, migrate_options options = {}) {
    if (options.dry_run) co_return co_await detail::dry_run_down(conn, migrations, steps, std::nullopt, options);
    co_return co_await detail::locked_run(conn, options, [&](detail::migrator& m, migration_report& r) {
        return detail::down_body(m, r, migrations, steps, std::nullopt);
    });
}

/// Rolls back every applied migration newer than `version` (as migrate_down).
inline boost::asio::awaitable<migration_report> migrate_down_to(connection& conn, const migration_set& migrations,
                                                                std::int64_t version, migrate_options options = {}) {
    if (options.dry_run) co_return co_await detail::dry_run_down(conn, migrations, 0, version, options);
    co_return co_await detail::locked_run(conn, options, [&](detail::migrator& m, migration_report& r) {
        return detail::down_body(m, r, migrations, 0, version);
    });
}

/// Runs the seeds that are new or changed since they last ran, under the migration lock
/// (options.dry_run: lists them, runs nothing).
inline boost::asio::awaitable<migration_report> run_seeds(connection& conn, const seed_set& seeds,
                                                          migrate_options options = {}) {
    if (options.dry_run) co_return co_await detail::dry_run_seeds(conn, seeds, options);
    co_return co_await detail::locked_run(conn, options, [&](detail::migrator& m, migration_report& r) {
        return detail::seeds_body(m, r, seeds);
    });
}

/// Every migration of the set and of the history table, by version, with its state.
/// Reads only: takes no lock and creates nothing.
inline boost::asio::awaitable<std::vector<migration_status>> get_migration_status(connection& conn,
                                                                                   const migration_set& migrations,
                                                                                   migrate_options options = {}) {
    detail::migrator m(conn, options);
    auto applied = co_await m.history();
    auto newest = detail::newest_applied(applied);
    std::vector<migration_status> out;
    for (const auto& mg : migrations) {
        migration_status s;
        s.version = mg.version;
        s.name = mg.name;
        s.file_checksum = mg.up.checksum;
        auto it = std::find_if(applied.begin(), applied.end(),
                               [&](const applied_migration& a) { return a.version == mg.version; });
        if (it == applied.end()) {
            s.state = migration_status::pending;
            s.out_of_order = newest && mg.version < *newest;
        } else {
            s.state = it->checksum == mg.up.checksum ? migration_status::applied : migration_status::changed;
            s.applied_at = it->applied_at;
            s.duration_ms = it->duration_ms;
            s.applied_checksum = it->checksum;
        }
        out.push_back(std::move(s));
    }
    for (const auto& a : applied) {
        if (migrations.find(a.version)) continue;
        migration_status s;
        s.version = a.version;
        s.name = a.name;
        s.state = migration_status::unknown;
        s.applied_at = a.applied_at;
        s.duration_ms = a.duration_ms;
        s.applied_checksum = a.checksum;
        out.push_back(std::move(s));
    }
    std::sort(out.begin(), out.end(), [](const migration_status& a, const migration_status& b) { return a.version < b.version; });
    co_return out;
}

}  // namespace pgcoro

// pgcoro/cluster.hpp — a primary and its read replicas: writes to the primary, reads to
// a standby while one is reachable and current enough, to the primary otherwise.
#pragma once

#include <pgcoro/pool.hpp>
#include <pgcoro/pool_config.hpp>
#include <pgcoro/transaction.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>

namespace pgcoro {

/// Two pools' settings and how replicas are watched.
struct cluster_config {
    // Not an aggregate, on purpose (g++ 12: see connect_options).
    cluster_config() = default;

    /// The primary. With failover, list every host and ask for the writable one:
    /// `host=a,b port=5432,5432 target_session_attrs=read-write` (each connect finds the
    /// current primary; a pool reconnects after a failover on its own).
    pool_config primary;
    /// The standbys (one host or several; `target_session_attrs=standby` or
    /// `prefer-standby` keeps them off a primary). Give it a short acquire_timeout: a read
    /// waits at most that long for a replica before it goes to the primary.
    pool_config replicas;
    /// How often the replicas are checked (reachable? how far behind?).
    std::chrono::milliseconds check_every = std::chrono::seconds(1);
    /// A check without an answer within this long counts as a failure (reads go to the
    /// primary meanwhile): a replica behind a silent network is given up on this soon.
    std::chrono::milliseconds check_timeout = std::chrono::seconds(2);
    /// Reads avoid replicas further behind than this. 0: any lag will do.
    std::chrono::milliseconds max_lag = std::chrono::milliseconds(0);

    /// Throws errc::invalid_config (naming the field) for settings that cannot work.
    void validate() const {
        primary.validate();
        replicas.validate();
        if (check_every.count() <= 0)
            throw pgcoro::error(make_error_code(errc::invalid_config), "cluster_config: check_every must be positive");
        if (check_timeout.count() <= 0)
            throw pgcoro::error(make_error_code(errc::invalid_config), "cluster_config: check_timeout must be positive");
        if (max_lag.count() < 0)
            throw pgcoro::error(make_error_code(errc::invalid_config), "cluster_config: max_lag must not be negative");
    }
};

/// What the last replica check found.
struct replica_status {
    /// The check reached a replica in recovery (and it was within max_lag): reads go there.
    bool usable = false;
    /// How far the replica's replay is behind: 0 when it is streaming from its primary and
    /// has replayed everything received, else the age of the last transaction it replayed
    /// (now() - pg_last_xact_replay_timestamp()), which also grows while a standby that
    /// lost its primary waits. Unset until a check succeeds. (Whether it streams is read
    /// from pg_stat_wal_receiver, whose status only superusers and members of
    /// pg_read_all_stats see: for other roles a replica that replayed all it received
    /// counts as current.)
    std::optional<std::chrono::milliseconds> lag;
    /// The replica turned out not to be in recovery (promoted, or a primary listed): not
    /// usable, reads go to the primary pool.
    bool is_primary = false;
    std::uint64_t checks = 0, failures = 0;
    /// Why the last check failed (never holds a password); empty after a success.
    std::string last_error;
};

/// A primary pool and a replica pool. Thread-safe like pool.
///
///     pgcoro::cluster db(ex, cfg);
///     co_await db.primary().execute("insert ...");                   // writes
///     auto rows = co_await db.reader().query<item>("select ...");   // reads
///     co_await db.read_transaction([&](pgcoro::transaction& tx) -> asio::awaitable<void> { ... });
///
/// A background check (every check_every, one statement on the replica pool) decides
/// where reads go; it stops at close() or destruction.
class cluster {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Throws errc::invalid_config. Opens both pools (min_size each) and starts the check.
    cluster(executor_type ex, cluster_config cfg) : state_(make_state(ex, std::move(cfg))) {
        boost::asio::co_spawn(state_->strand, watch(state_),
                              boost::asio::bind_cancellation_slot(state_->stop.slot(), boost::asio::detached));
    }
    ~cluster() { close(); }
    cluster(const cluster&) = delete;
    cluster& operator=(const cluster&) = delete;

    pool& primary() noexcept { return state_->primary; }
    pool& replicas() noexcept { return state_->replicas; }

    /// Where reads go now: the replica pool while its last check reached a server in
    /// recovery (within max_lag), else the primary. A read that must see its own writes belongs on
    /// primary(): replication is asynchronous.
    pool& reader() noexcept { return state_->usable.load(std::memory_order_acquire) ? state_->replicas : state_->primary; }

    /// Runs fn(transaction&) in a READ ONLY transaction on reader() (see
    /// pool::transaction). When the replica pool gives no transaction (errc::pool_timeout,
    /// errc::pool_closed, errc::connection_broken), it runs on the primary instead; an
    /// error after the transaction began is fn's and is rethrown as it is.
    template <class F>
    auto read_transaction(F fn) -> std::invoke_result_t<F, pgcoro::transaction&> {
        std::shared_ptr<state> s = state_;  // the cluster may go while this runs
        transaction_options ro;
        ro.read_only = true;
        std::optional<pgcoro::transaction> tx;
        if (s->usable.load(std::memory_order_acquire)) {
            bool fall_back = false;
            try {
                tx.emplace(co_await s->replicas.begin(ro));
            } catch (const pgcoro::error& e) {
                if (e.code() != make_error_code(errc::pool_timeout) && e.code() != make_error_code(errc::pool_closed) &&
                    e.code() != make_error_code(errc::connection_broken))
                    throw;
                fall_back = true;
            }
            if (fall_back) s->usable.store(false, std::memory_order_release);
        }
        if (!tx) tx.emplace(co_await s->primary.begin(ro));
        co_return co_await detail::commit_or_roll_back(*tx, fn);
    }

    /// A snapshot of the last replica check; from any thread.
    replica_status replica() const {
        std::lock_guard lock(state_->mutex);
        return state_->status;
    }

    /// Closes both pools and stops the check. Idempotent.
    void close() {
        if (state_->closed.exchange(true)) return;
        state_->primary.close();
        state_->replicas.close();
        // Ends the check, a query in flight included.
        boost::asio::post(state_->strand, [s = state_] { s->stop.emit(boost::asio::cancellation_type::terminal); });
    }

private:
    struct state {
        pool primary, replicas;
        cluster_config cfg;
        boost::asio::strand<executor_type> strand;
        boost::asio::steady_timer timer;         // on the strand, as the check is
        boost::asio::cancellation_signal stop;  // the check's; emitted on the strand
        std::atomic<bool> usable{false}, closed{false};
        mutable std::mutex mutex;
        replica_status status;
        state(executor_type ex, cluster_config c)
            : primary(ex, c.primary),
              replicas(ex, c.replicas),
              cfg(std::move(c)),
              strand(boost::asio::make_strand(ex)),
              timer(strand) {}
    };

    static std::shared_ptr<state> make_state(executor_type ex, cluster_config cfg) {
        cfg.validate();
        return std::make_shared<state>(std::move(ex), std::move(cfg));
    }

    struct probe_result {
        bool in_recovery = false;
        std::optional<double> lag_seconds;
        std::string error;  // empty: the check answered
    };

    /// One check, its failure as a value (for `||`: see pool::wait_ready).
    static boost::asio::awaitable<probe_result> probe(std::shared_ptr<state> s) {
        probe_result r;
        try {
            // 0 while streaming with everything received replayed (an idle primary makes
            // the replay timestamp old without any lag); the replay timestamp's age when
            // not streaming (status NULL: not visible to this role, see replica_status);
            // NULL on a primary.
            auto row = co_await s->replicas.query_one<std::tuple<bool, std::optional<double>>>(
                "select pg_catalog.pg_is_in_recovery(), case when coalesce((select status = 'streaming' or status is "
                "null from pg_catalog.pg_stat_wal_receiver), false) and pg_catalog.pg_last_wal_receive_lsn() = "
                "pg_catalog.pg_last_wal_replay_lsn() then 0::float8 else extract(epoch from pg_catalog.now() - "
                "pg_catalog.pg_last_xact_replay_timestamp())::float8 end");
            r.in_recovery = std::get<0>(row);
            r.lag_seconds = std::get<1>(row);
        } catch (const std::exception& e) {
            r.error = e.what();
            if (r.error.empty()) r.error = "the check failed";
        }
        co_return r;
    }

    static boost::asio::awaitable<void> watch(std::shared_ptr<state> s) {
        using namespace boost::asio::experimental::awaitable_operators;
        while (!s->closed.load()) {
            boost::asio::steady_timer limit(s->strand, s->cfg.check_timeout);
            auto outcome = co_await (probe(s) || limit.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable)));
            if (s->closed.load()) break;
            probe_result r;
            if (outcome.index() == 0) r = std::move(std::get<0>(outcome));
            else r.error = "no answer within check_timeout (" + std::to_string(s->cfg.check_timeout.count()) + " ms)";
            {
                std::lock_guard lock(s->mutex);
                replica_status& st = s->status;
                ++st.checks;
                if (r.error.empty()) {
                    st.last_error.clear();
                    st.is_primary = !r.in_recovery;
                    st.lag = std::chrono::milliseconds(
                        static_cast<long long>(r.in_recovery && r.lag_seconds ? *r.lag_seconds * 1000.0 : 0.0));
                    // A primary is never read as a replica: it may be a standby promoted
                    // apart from the cluster (another timeline); the primary pool's hosts
                    // decide which primary is current.
                    st.usable = !st.is_primary && (s->cfg.max_lag.count() == 0 || *st.lag <= s->cfg.max_lag);
                } else {
                    ++st.failures;
                    st.last_error = std::move(r.error);
                    st.usable = false;
                }
                s->usable.store(st.usable, std::memory_order_release);
            }
            s->timer.expires_after(s->cfg.check_every);
            auto [ec] = co_await s->timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
            if (ec) break;  // close()
        }
    }

    std::shared_ptr<state> state_;
};

}  // namespace pgcoro

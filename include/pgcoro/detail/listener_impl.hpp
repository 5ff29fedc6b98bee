// pgcoro/detail/listener_impl.hpp — a listener's state and its reconnect loop, on one
// strand shared with its connection (so notifications arrive with no hop).
#pragma once

#include <pgcoro/connection.hpp>
#include <pgcoro/detail/completion.hpp>
#include <pgcoro/detail/connect.hpp>
#include <pgcoro/detail/connection_impl.hpp>
#include <pgcoro/detail/inline_handler.hpp>
#include <pgcoro/detail/notification_queue.hpp>
#include <pgcoro/detail/sql_keywords.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/listener_options.hpp>
#include <pgcoro/notification.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace pgcoro::detail {

using receive_signature = void(boost::system::error_code, notification);
/// A waiting receive's handler: every cancellation type reaches it through its own slot.
using receive_handler = inline_handler<receive_signature, connection_strand>;
using receive_handler_ptr = std::unique_ptr<receive_handler>;

class listener_impl final : public notification_sink, public std::enable_shared_from_this<listener_impl> {
public:
    listener_impl(const boost::asio::any_io_executor& ex, std::string conninfo, listener_options o)
        : strand_(boost::asio::make_strand(ex)),
          conninfo_(std::move(conninfo)),
          opts_(std::move(o)),
          queue_(opts_.queue_limit),
          timer_(strand_) {}

    const connection_strand& strand() const noexcept { return strand_; }
    bool connected() const noexcept { return connected_.load(std::memory_order_acquire); }
    std::uint64_t reconnects() const noexcept { return reconnects_.load(std::memory_order_acquire); }
    std::size_t queued() const noexcept { return queued_.load(std::memory_order_acquire); }

    // ---- on the strand ---------------------------------------------------------------

    /// The first connection. Throws as connection::connect.
    static boost::asio::awaitable<void> open(std::shared_ptr<listener_impl> self) {
        self->conn_ = co_await self->make_connection();
        self->watch();
    }

    /// Adds `channel`; LISTENs on it now when connected (otherwise the reconnect does).
    static boost::asio::awaitable<void> listen(std::shared_ptr<listener_impl> self, std::string channel) {
        if (channel.find('\0') != std::string::npos)
            throw error(make_error_code(errc::encode_error), "a channel name cannot contain a NUL byte");
        if (self->closed_) throw error(make_error_code(errc::connection_closed), "the listener is closed");
        bool added = self->channels_.insert(channel).second;
        ++self->version_;
        if (!self->conn_.is_open()) co_return;
        try {
            co_await self->conn_.execute_script("LISTEN " + quote_identifier(channel));
        } catch (const error& e) {
            if (e.diagnostics().from_server()) {
                if (added) self->channels_.erase(channel);
                throw;
            }
            if (!lost(e.code()) || self->closed_) throw;  // cancelled: stays in the set
        }
    }

    /// Removes `channel`; UNLISTENs now when connected. Notifications already queued stay.
    static boost::asio::awaitable<void> unlisten(std::shared_ptr<listener_impl> self, std::string channel) {
        if (self->closed_) throw error(make_error_code(errc::connection_closed), "the listener is closed");
        self->channels_.erase(channel);
        ++self->version_;
        if (!self->conn_.is_open()) co_return;
        try {
            co_await self->conn_.execute_script("UNLISTEN " + quote_identifier(channel));
        } catch (const error& e) {
            if (!lost(e.code()) || self->closed_) throw;
        }
    }

    /// A receive() waiting (`id` from next_id()) or answered now.
    void receive(std::uint64_t id, receive_handler_ptr h) {
        if (!queue_.empty()) return hand_out(std::move(h));
        if (closed_) return complete(std::move(h), make_error_code(errc::connection_closed));
        waiters_.push_back({id, std::move(h)});
    }

    void cancel_receive(std::uint64_t id) {
        auto it = std::find_if(waiters_.begin(), waiters_.end(), [id](const waiter& w) { return w.id == id; });
        if (it == waiters_.end()) return;
        receive_handler_ptr h = std::move(it->handler);
        waiters_.erase(it);
        complete(std::move(h), boost::asio::error::operation_aborted);
    }

    void close() {
        if (closed_) return;
        closed_ = true;
        timer_.cancel();
        connected_.store(false, std::memory_order_release);
        conn_ = connection();  // shuts the connection down
        queue_.clear();
        publish();
        auto waiting = std::move(waiters_);
        waiters_.clear();
        for (auto& w : waiting) complete(std::move(w.handler), make_error_code(errc::connection_closed));
    }

    // ---- any thread --------------------------------------------------------------------

    std::uint64_t next_id() noexcept { return next_id_.fetch_add(1, std::memory_order_relaxed) + 1; }

    // ---- notification_sink (the connection, on the strand) -----------------------------

    void on_notification(notification n) override {
        if (closed_) return;
        queue_.push(std::move(n));
        deliver();
        publish();
    }

    void on_connection_lost() override {
        connected_.store(false, std::memory_order_release);
        if (closed_) return;
        boost::asio::co_spawn(strand_, reconnect(shared_from_this()), boost::asio::detached);
    }

private:
    struct waiter {
        std::uint64_t id;
        receive_handler_ptr handler;
    };

    static bool lost(boost::system::error_code ec) {
        return ec == make_error_code(errc::connection_broken) || ec == make_error_code(errc::connection_closed);
    }

    boost::asio::awaitable<connection> make_connection() {
        pgconn_ptr c = co_await connect_pq(strand_, conninfo_, opts_.connect_timeout, opts_.network);
        // No statement cache: a listener runs only LISTEN / UNLISTEN scripts.
        auto impl = std::make_shared<connection_impl>(strand_, std::move(c), 0, nullptr);
        if (opts_.network.read_timeout) impl->set_read_timeout(*opts_.network.read_timeout);
        co_return connection_access::make(std::move(impl));
    }

    void watch() {
        connection_access::impl(conn_)->watch(weak_from_this());
        connected_.store(true, std::memory_order_release);
    }

    /// Every channel, from scratch (LISTEN is idempotent; UNLISTEN * drops stale ones).
    std::string listen_script() const {
        std::string sql = "UNLISTEN *";
        for (const auto& ch : channels_) sql += "; LISTEN " + quote_identifier(ch);
        return sql;
    }

    /// Connects again (at once, then with doubling waits), LISTENs on every channel, and
    /// only then tells the receiver that notifications may have been missed: whatever the
    /// application reads to resynchronise is older than anything it is told next.
    static boost::asio::awaitable<void> reconnect(std::shared_ptr<listener_impl> self) {
        auto delay = self->opts_.reconnect_backoff_initial;
        while (!self->closed_) {
            try {
                connection c = co_await self->make_connection();
                for (std::uint64_t v = self->version_ - 1; v != self->version_ && !self->closed_;) {
                    v = self->version_;  // a listen() while this runs: go again
                    co_await c.execute_script(self->listen_script());
                }
                if (self->closed_) co_return;
                self->conn_ = std::move(c);
                self->watch();
                self->reconnects_.fetch_add(1, std::memory_order_acq_rel);
                self->queue_.push_gap();
                self->deliver();
                self->publish();
                co_return;
            } catch (const std::exception&) {
                // Not yet: try again after the wait.
            }
            if (self->closed_) co_return;
            self->timer_.expires_after(delay);
            boost::system::error_code ignored;
            co_await self->timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
            delay = std::min(delay * 2, self->opts_.reconnect_backoff_max);
        }
    }

    void deliver() {
        while (!waiters_.empty() && !queue_.empty()) {
            receive_handler_ptr h = std::move(waiters_.front().handler);
            waiters_.pop_front();
            hand_out(std::move(h));
        }
    }

    void publish() noexcept { queued_.store(queue_.size(), std::memory_order_release); }

    void hand_out(receive_handler_ptr h) {
        notification_queue::item it = queue_.pop();
        publish();
        if (it) complete(std::move(h), {}, std::move(*it));
        else complete(std::move(h), make_error_code(errc::notifications_missed));
    }

    void complete(receive_handler_ptr h, boost::system::error_code ec, notification n = {}) {
        h->complete(strand_, ec, std::move(n));
    }

    connection_strand strand_;
    std::string conninfo_;
    listener_options opts_;
    connection conn_;
    std::set<std::string> channels_;
    std::uint64_t version_ = 0;  // bumped by every listen() / unlisten()
    notification_queue queue_;
    std::deque<waiter> waiters_;
    boost::asio::steady_timer timer_;
    bool closed_ = false;
    std::atomic<bool> connected_{false};
    std::atomic<std::uint64_t> reconnects_{0};
    std::atomic<std::size_t> queued_{0};
    std::atomic<std::uint64_t> next_id_{0};
};

}  // namespace pgcoro::detail

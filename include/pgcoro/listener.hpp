// pgcoro/listener.hpp — LISTEN/NOTIFY: notifications on a connection of their own that
// survives the server going away.
#pragma once

#include <pgcoro/detail/listener_impl.hpp>
#include <pgcoro/detail/operations.hpp>
#include <pgcoro/detail/spawn_completion.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/listener_options.hpp>
#include <pgcoro/notification.hpp>
#include <pgcoro/pool_config.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <string>
#include <utility>

namespace pgcoro {

class listener;

namespace detail {

/// Posts a receive to the listener's strand.
struct receive_call {
    std::shared_ptr<listener_impl> impl;
    std::uint64_t id;
    std::unique_ptr<receive_handler> h;
    void operator()() { impl->receive(id, std::move(h)); }
};

/// A call on a moved-from listener: completes with connection_closed (and `rest`) on the
/// handler's executor (the system executor when it has none), never inside the call.
template <class Handler, class... Rest>
void fail_closed(Handler handler, Rest... rest) {
    auto ex = boost::asio::get_associated_executor(handler, boost::asio::system_executor());
    boost::asio::post(ex, [h = std::move(handler), rest...]() mutable {
        std::move(h)(make_error_code(errc::connection_closed), std::move(rest)...);
    });
}

struct receive_cancel {
    std::weak_ptr<listener_impl> impl;
    std::uint64_t id;
    void operator()(boost::asio::cancellation_type_t type) {
        if (!cancels(type)) return;
        if (auto i = impl.lock()) boost::asio::post(i->strand(), [i, id = id] { i->cancel_receive(id); });
    }
};

}  // namespace detail

/// Receives PostgreSQL notifications (LISTEN/NOTIFY) on a connection of its own.
///
///     auto l = co_await pgcoro::listener::connect(ex, url);
///     co_await l.listen("jobs");
///     for (;;) {
///         auto [ec, n] = co_await l.async_receive(asio::as_tuple(asio::use_awaitable));
///         if (ec == pgcoro::errc::notifications_missed) { resynchronise(); continue; }
///         if (ec) break;
///         handle(n.channel, n.payload);
///     }
///
/// Send with connection::notify / pool::notify (pg_notify with bound parameters).
///
/// Notifications queue, in order, while nobody is receiving, up to
/// listener_options::queue_limit (10,000); beyond that new ones are dropped and the
/// receiver gets errc::notifications_missed after the ones kept. When the connection is
/// lost (server restart, network, pg_terminate_backend), the listener connects again
/// (at once, then backing off), LISTENs on every channel again, and only then hands the
/// receiver errc::notifications_missed: everything read to resynchronise after that
/// signal is at least as new as the notifications that follow it. Receiving goes on
/// after the signal; the listener never gives up reconnecting until closed.
///
/// LISTEN belongs to a session: through PgBouncer in transaction (or statement) pooling
/// mode it cannot work. Give a listener a direct connection string (or a session-mode
/// pooler's).
///
/// Executor: the listener runs on a strand of the executor given to connect(); its
/// member functions may be called from any thread. While it is open it watches its
/// socket, so io_context::run() does not return until the listener is closed (or
/// destroyed). Completions run on the token's associated executor (the listener's strand
/// for one without).
class listener {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Connects once (throwing pgcoro::error as connection::connect when that fails, or
    /// errc::invalid_config for bad options); later losses are repaired in the background.
    static boost::asio::awaitable<listener> connect(executor_type ex, std::string conninfo,
                                                    listener_options options = {}) {
        options.validate();
        auto impl = std::make_shared<detail::listener_impl>(ex, std::move(conninfo), std::move(options));
        co_await boost::asio::co_spawn(impl->strand(), detail::listener_impl::open(impl), boost::asio::use_awaitable);
        co_return listener(std::move(impl));
    }

    /// connect() with a pool's settings: its conninfo, connect timeout and backoff.
    static boost::asio::awaitable<listener> connect(executor_type ex, const pool_config& cfg) {
        return connect(std::move(ex), cfg.conninfo, listener_options::from(cfg));
    }

    /// connect() as an asynchronous operation. Signature: void(error_code, listener).
    /// Completes on the token's associated executor (`ex` when it has none).
    /// Cancellation: terminal (abandons the attempt). Errors as connect().
    template <class Token>
    static auto async_connect(executor_type ex, std::string conninfo, listener_options options, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code, listener)>(
            [](auto handler, executor_type ex, std::string conninfo, listener_options options) {
                boost::asio::co_spawn(ex, connect(ex, std::move(conninfo), std::move(options)),
                                      detail::spawn_completion<decltype(handler), listener>{std::move(handler)});
            },
            token, std::move(ex), std::move(conninfo), std::move(options));
    }

    /// Closed (what a failed async_connect completes with).
    listener() = default;
    listener(listener&&) noexcept = default;
    listener& operator=(listener&& other) noexcept {
        if (this != &other) {
            close();
            impl_ = std::move(other.impl_);
        }
        return *this;
    }
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
    ~listener() { close(); }  // the strand finishes closing; nothing waits here

    /// The listener's strand. Throws pgcoro::error (errc::connection_closed) on a
    /// moved-from or default-constructed listener.
    executor_type get_executor() const {
        if (!impl_)
            throw pgcoro::error(make_error_code(errc::connection_closed), "a moved-from listener has no executor");
        return impl_->strand();
    }

    /// Starts listening on `channel`, exactly as spelt (capitals, spaces and quotes are
    /// quoted, never spliced). Returns once LISTEN ran, or at once while reconnecting (the
    /// reconnect LISTENs on it). Throws pgcoro::error: the server's error (the channel
    /// is dropped again), errc::encode_error for a NUL byte, errc::connection_closed
    /// once closed.
    boost::asio::awaitable<void> listen(std::string channel) { return run(detail::listener_impl::listen, std::move(channel)); }

    /// Stops listening on `channel`. Notifications already queued for it are still
    /// received. Errors as listen().
    boost::asio::awaitable<void> unlisten(std::string channel) {
        return run(detail::listener_impl::unlisten, std::move(channel));
    }

    /// listen() as an asynchronous operation. Signature: void(error_code). Completes on
    /// the token's associated executor (the listener's strand when it has none).
    /// Cancellation: terminal (the channel stays listed; the reconnect LISTENs on it).
    template <class Token>
    auto async_listen(std::string channel, Token&& token) {
        return as_operation(detail::listener_impl::listen, std::move(channel), std::forward<Token>(token));
    }

    /// unlisten() as an asynchronous operation; as async_listen().
    template <class Token>
    auto async_unlisten(std::string channel, Token&& token) {
        return as_operation(detail::listener_impl::unlisten, std::move(channel), std::forward<Token>(token));
    }

    /// receive() as an asynchronous operation. Signature: void(error_code, notification).
    /// Completes on the token's associated executor (the listener's strand when it has
    /// none), never inside this call. Several receives may wait; they are served in
    /// order. Cancellation: terminal, partial and total (completes with
    /// boost::asio::error::operation_aborted; nothing is lost). Errors:
    /// errc::notifications_missed, errc::connection_closed.
    template <class Token>
    auto async_receive(Token&& token) {
        return boost::asio::async_initiate<Token, detail::receive_signature>(
            [](auto handler, std::shared_ptr<detail::listener_impl> impl) {
                if (!impl) return detail::fail_closed(std::move(handler), notification{});
                std::uint64_t id = impl->next_id();
                // The slot is taken from the type-erased handler: wrapping a handler in
                // any_completion_handler puts a cancellation_state of its own in the slot,
                // replacing what was emplaced there before.
                auto h = std::make_unique<detail::receive_handler>();
                h->emplace(std::move(handler));
                auto slot = h->cancellation_slot();
                if (slot.is_connected()) slot.template emplace<detail::receive_cancel>(detail::receive_cancel{impl, id});
                auto strand = impl->strand();
                boost::asio::post(strand, detail::receive_call{impl, id, std::move(h)});
            },
            token, impl_);
    }

    /// The next notification, waiting for one if none is queued. Throws pgcoro::error:
    /// errc::notifications_missed (see the class comment: resynchronise, then receive
    /// again), errc::connection_closed once closed; cancellable.
    boost::asio::awaitable<notification> receive() {
        auto [ec, n] = co_await async_receive(boost::asio::as_tuple(boost::asio::use_awaitable));
        if (ec) throw error(ec);
        co_return std::move(n);
    }

    /// Stops: pending receives complete with errc::connection_closed, the connection is
    /// shut down, queued notifications are dropped, and later calls fail with
    /// errc::connection_closed. Never blocks; any thread, even while other threads use
    /// the listener (unlike destruction and move-assignment).
    void close() noexcept {
        if (!impl_) return;
        boost::asio::post(impl_->strand(), [impl = impl_] { impl->close(); });
    }

    /// Whether the connection is up right now (false while reconnecting or closed).
    bool is_connected() const noexcept { return impl_ && impl_->connected(); }
    /// Notifications queued, waiting for a receive.
    std::size_t queued() const noexcept { return impl_ ? impl_->queued() : 0; }
    /// How often the connection was lost and made again.
    std::uint64_t reconnects() const noexcept { return impl_ ? impl_->reconnects() : 0; }

private:
    explicit listener(std::shared_ptr<detail::listener_impl> impl) : impl_(std::move(impl)) {}

    template <class Fn>
    boost::asio::awaitable<void> run(Fn fn, std::string channel) {
        if (!impl_) throw error(make_error_code(errc::connection_closed), "the listener is closed");
        return boost::asio::co_spawn(impl_->strand(), fn(impl_, std::move(channel)), boost::asio::use_awaitable);
    }

    template <class Fn, class Token>
    auto as_operation(Fn fn, std::string channel, Token&& token) {
        return boost::asio::async_initiate<Token, void(boost::system::error_code)>(
            [fn](auto handler, std::shared_ptr<detail::listener_impl> impl, std::string channel) {
                if (!impl) return detail::fail_closed(std::move(handler));
                auto strand = impl->strand();
                boost::asio::co_spawn(strand, fn(impl, std::move(channel)),
                                      detail::spawn_completion<decltype(handler), void>{std::move(handler)});
            },
            token, impl_, std::move(channel));
    }

    std::shared_ptr<detail::listener_impl> impl_;
};

}  // namespace pgcoro


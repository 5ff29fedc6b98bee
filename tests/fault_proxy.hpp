// tests/fault_proxy.hpp — a fault-injecting TCP proxy for the network tests (loopback).
//
// It forwards 127.0.0.1:port() to a target, on a thread and io_context of its own, and
// can add latency (each direction), stall (accept and keep bytes, forward nothing: a black
// hole; heal() sends what it kept), cut every connection, and heal. Being a user-space
// proxy, its own kernel acknowledges everything: TCP keepalives and tcp_user_timeout
// cannot fire through it (README, "Production").
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/experimental/channel.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pgtest {

class fault_proxy {
public:
    explicit fault_proxy(unsigned short target_port)
        : target_(boost::asio::ip::make_address("127.0.0.1"), target_port),
          acceptor_(io_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
        boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~fault_proxy() {
        std::promise<void> done;
        boost::asio::post(io_, [&] {
            acceptor_.close();
            close_all();
            done.set_value();
        });
        done.get_future().wait();
        // Every coroutine ends by itself now that the sockets are closed; run() returns
        // then. (Not io_.stop(): frames left to the io_context's destructor were freed
        // twice by Asio's per-thread recycling allocator.)
        thread_.join();
    }
    fault_proxy(const fault_proxy&) = delete;
    fault_proxy& operator=(const fault_proxy&) = delete;

    unsigned short port() const { return acceptor_.local_endpoint().port(); }

    /// Added to every chunk, in each direction.
    void set_latency(std::chrono::milliseconds each_way) { latency_ms_ = static_cast<int>(each_way.count()); }
    /// A black hole: bytes are taken and kept, nothing is forwarded, new connections are
    /// accepted (by the kernel) and get nothing back.
    void stall() { stalled_ = true; }
    /// Back to forwarding (what was kept goes out first); latency unchanged.
    void heal() { stalled_ = false; }
    /// Closes every connection through the proxy now (new ones still work).
    void cut() {
        std::promise<void> done;
        boost::asio::post(io_, [&] {
            close_all();
            done.set_value();
        });
        done.get_future().wait();
    }
    std::size_t connections() const { return accepted_.load(); }

private:
    using tcp = boost::asio::ip::tcp;
    using clock = std::chrono::steady_clock;
    struct chunk {
        clock::time_point due;
        std::vector<char> bytes;
    };
    using channel = boost::asio::experimental::channel<void(boost::system::error_code, chunk)>;
    struct session {
        tcp::socket client, server;
        explicit session(boost::asio::io_context& io) : client(io), server(io) {}
        void close() {
            boost::system::error_code ec;
            client.close(ec);
            server.close(ec);
        }
    };

    void close_all() {
        for (auto& w : sessions_)
            if (auto s = w.lock()) s->close();
        sessions_.clear();
    }

    boost::asio::awaitable<void> accept_loop() {
        for (;;) {
            auto s = std::make_shared<session>(io_);
            auto [ec] = co_await acceptor_.async_accept(s->client, boost::asio::as_tuple(boost::asio::use_awaitable));
            if (ec) co_return;
            ++accepted_;
            sessions_.remove_if([](auto& w) { return w.expired(); });
            sessions_.push_back(s);
            boost::asio::co_spawn(io_, run(s), boost::asio::detached);
        }
    }

    boost::asio::awaitable<void> run(std::shared_ptr<session> s) {
        auto [ec] = co_await s->server.async_connect(target_, boost::asio::as_tuple(boost::asio::use_awaitable));
        if (ec) {
            s->close();
            co_return;
        }
        auto up = std::make_shared<channel>(io_, 1024), down = std::make_shared<channel>(io_, 1024);
        boost::asio::co_spawn(io_, read_side(s, s->client, up), boost::asio::detached);
        boost::asio::co_spawn(io_, write_side(s, s->server, up), boost::asio::detached);
        boost::asio::co_spawn(io_, read_side(s, s->server, down), boost::asio::detached);
        boost::asio::co_spawn(io_, write_side(s, s->client, down), boost::asio::detached);
    }

    boost::asio::awaitable<void> read_side(std::shared_ptr<session> s, tcp::socket& from, std::shared_ptr<channel> ch) {
        using boost::asio::as_tuple, boost::asio::use_awaitable;
        for (;;) {
            std::vector<char> buf(16384);
            auto [ec, n] = co_await from.async_read_some(boost::asio::buffer(buf), as_tuple(use_awaitable));
            if (ec) break;
            buf.resize(n);
            // A local, not a braced temporary in the co_await (g++ 12 destroys that twice).
            chunk c{clock::now() + std::chrono::milliseconds(latency_ms_.load()), std::move(buf)};
            auto [sec] = co_await ch->async_send(boost::system::error_code{}, std::move(c), as_tuple(use_awaitable));
            if (sec) break;
        }
        s->close();
        ch->close();
    }

    boost::asio::awaitable<void> write_side(std::shared_ptr<session> s, tcp::socket& to, std::shared_ptr<channel> ch) {
        using boost::asio::as_tuple, boost::asio::use_awaitable;
        boost::asio::steady_timer t(io_);
        for (;;) {
            auto [ec, c] = co_await ch->async_receive(as_tuple(use_awaitable));
            if (ec) break;
            t.expires_at(c.due);
            co_await t.async_wait(as_tuple(use_awaitable));
            while (stalled_.load() && to.is_open()) {
                t.expires_after(std::chrono::milliseconds(5));
                co_await t.async_wait(as_tuple(use_awaitable));
            }
            auto [wec, n] = co_await boost::asio::async_write(to, boost::asio::buffer(c.bytes), as_tuple(use_awaitable));
            (void)n;
            if (wec) break;
        }
        s->close();
        ch->close();  // wakes a read_side waiting on a full channel
    }

    boost::asio::io_context io_;
    tcp::endpoint target_;
    tcp::acceptor acceptor_;
    std::list<std::weak_ptr<session>> sessions_;
    std::atomic<int> latency_ms_{0};
    std::atomic<bool> stalled_{false};
    std::atomic<std::size_t> accepted_{0};
    std::thread thread_;
};

}  // namespace pgtest

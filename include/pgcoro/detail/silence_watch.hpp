// pgcoro/detail/silence_watch.hpp — network_options::read_timeout: notices a server that
// owes a connection an answer and has sent nothing for too long.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace pgcoro::detail {

/// Off unless enabled: then one timer per connection, armed only while the connection
/// awaits the server, re-armed lazily (an input only records the time; no timer call per
/// read).
class silence_watch {
public:
    using clock = std::chrono::steady_clock;

    template <class Executor>
    void enable(const Executor& ex, std::chrono::milliseconds limit) {
        limit_ = limit;
        timer_.emplace(ex);
    }
    bool enabled() const noexcept { return timer_.has_value(); }

    /// Bytes came from the server.
    void on_input() {
        if (timer_) last_input_ = clock::now();
    }

    /// After every step: whether the connection now waits for the server. `self` is a
    /// weak pointer to the owner; `on_silent(owner)` runs (on the timer's executor) when
    /// it has waited past the limit with nothing received.
    template <class WeakOwner, class OnSilent>
    void update(bool awaiting, const WeakOwner& self, OnSilent on_silent) {
        if (!timer_) return;
        if (!awaiting) {
            awaiting_ = false;
            return;  // an armed timer finds nothing to do and stops
        }
        if (!awaiting_) {
            awaiting_ = true;
            last_input_ = clock::now();
        }
        if (armed_) return;
        armed_ = true;
        timer_->expires_at(last_input_ + limit_);
        timer_->async_wait([self, on_silent](boost::system::error_code ec) {
            auto owner = self.lock();
            if (!owner || ec) return;
            silence_watch& w = owner->silence();
            w.armed_ = false;
            if (!w.awaiting_) return;
            if (clock::now() - w.last_input_ >= w.limit_) {
                on_silent(*owner);
                return;
            }
            w.update(true, self, on_silent);  // input came meanwhile: wait for the rest
        });
    }

    void stop() {
        if (timer_) timer_->cancel();
        awaiting_ = false;
    }

    std::string message() const {
        return "nothing received from the server for " + std::to_string(limit_.count()) +
               " ms with statements in flight (network_options::read_timeout)";
    }

private:
    std::optional<boost::asio::steady_timer> timer_;
    std::chrono::milliseconds limit_{0};
    clock::time_point last_input_{};
    bool awaiting_ = false;
    bool armed_ = false;
};

}  // namespace pgcoro::detail

// pgcoro/detail/inline_handler.hpp — a type-erased completion handler stored inside the
// statement it completes (no allocation when it fits, as use_awaitable's and typical
// callbacks do), instead of boost::asio::any_completion_handler, whose storage comes
// from Asio's small per-thread cache and so from the heap with many statements in flight.
#pragma once

#include <pgcoro/detail/completion.hpp>

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace pgcoro::detail {

template <class Signature, class Fallback>
class inline_handler;

/// Fallback: the executor a handler without one of its own completes on.
template <class... Args, class Fallback>
class inline_handler<void(Args...), Fallback> {
public:
    static constexpr std::size_t capacity = 128;

    inline_handler() = default;
    inline_handler(const inline_handler&) = delete;
    inline_handler& operator=(const inline_handler&) = delete;
    ~inline_handler() { reset(); }

    explicit operator bool() const noexcept { return vt_ != nullptr; }

    template <class Handler>
    void emplace(Handler&& h) {
        using H = std::decay_t<Handler>;
        reset();
        if constexpr (fits<H>()) {
            ::new (static_cast<void*>(buf_)) H(std::forward<Handler>(h));
            ptr_ = buf_;
        } else {
            ptr_ = new H(std::forward<Handler>(h));
        }
        vt_ = &vtable_for<H>;
    }

    /// The handler's cancellation slot (not connected when it has none).
    boost::asio::cancellation_slot cancellation_slot() const noexcept {
        return vt_ ? vt_->slot(ptr_) : boost::asio::cancellation_slot();
    }

    /// Takes the handler out and completes it with args on its associated executor
    /// (`fallback` when it has none); see complete_on_executor. Empty afterwards.
    void complete(const Fallback& fallback, Args... args) {
        const vtable* vt = std::exchange(vt_, nullptr);
        void* p = std::exchange(ptr_, nullptr);
        vt->complete(p, p != buf_, fallback, std::move(args)...);
    }

    void reset() noexcept {
        if (!vt_) return;
        vt_->destroy(ptr_, ptr_ != buf_);
        vt_ = nullptr;
        ptr_ = nullptr;
    }

private:
    struct vtable {
        void (*complete)(void*, bool heap, const Fallback& fallback, Args...);
        void (*destroy)(void*, bool heap) noexcept;
        boost::asio::cancellation_slot (*slot)(void*) noexcept;
    };

    template <class H>
    static constexpr bool fits() {
        return sizeof(H) <= capacity && alignof(H) <= alignof(std::max_align_t) &&
               std::is_nothrow_move_constructible_v<H>;
    }

    template <class H>
    static void destroy_fn(void* p, bool heap) noexcept {
        if (heap) delete static_cast<H*>(p);
        else static_cast<H*>(p)->~H();
    }

    template <class H>
    static void complete_fn(void* p, bool heap, const Fallback& fallback, Args... args) {
        H h(std::move(*static_cast<H*>(p)));
        destroy_fn<H>(p, heap);
        complete_on_executor(std::move(h), fallback, std::move(args)...);
    }

    template <class H>
    static boost::asio::cancellation_slot slot_fn(void* p) noexcept {
        return boost::asio::get_associated_cancellation_slot(*static_cast<H*>(p));
    }

    template <class H>
    static constexpr vtable vtable_for{&complete_fn<H>, &destroy_fn<H>, &slot_fn<H>};

    alignas(std::max_align_t) unsigned char buf_[capacity];
    void* ptr_ = nullptr;
    const vtable* vt_ = nullptr;
};

}  // namespace pgcoro::detail

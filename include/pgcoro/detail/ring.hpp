// pgcoro/detail/ring.hpp — a FIFO for the pipeline's statements and the pool's requests.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace pgcoro::detail {

/// A FIFO that keeps its storage (a ring that only grows): no allocation in steady state,
/// unlike std::deque, which allocates and frees blocks as the pipeline breathes.
template <class T>
class ring {
public:
    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }
    T& front() noexcept { return buf_[head_]; }
    T& operator[](std::size_t i) noexcept { return buf_[(head_ + i) & (buf_.size() - 1)]; }
    const T& operator[](std::size_t i) const noexcept { return buf_[(head_ + i) & (buf_.size() - 1)]; }
    void push_back(T v) {
        grow();
        buf_[(head_ + size_) & (buf_.size() - 1)] = std::move(v);
        ++size_;
    }
    void push_front(T v) {
        grow();
        head_ = (head_ + buf_.size() - 1) & (buf_.size() - 1);
        buf_[head_] = std::move(v);
        ++size_;
    }
    void pop_front() {
        buf_[head_] = T();
        head_ = (head_ + 1) & (buf_.size() - 1);
        --size_;
    }
    /// Everything, in order, leaving the ring empty.
    std::vector<T> take_all() {
        std::vector<T> out;
        out.reserve(size_);
        while (!empty()) {
            out.push_back(std::move(front()));
            pop_front();
        }
        return out;
    }

private:
    void grow() {
        if (size_ < buf_.size()) return;
        std::vector<T> bigger(buf_.empty() ? 16 : buf_.size() * 2);
        for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
        buf_ = std::move(bigger);
        head_ = 0;
    }
    std::vector<T> buf_;  // size: 0 or a power of two
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

}  // namespace pgcoro::detail

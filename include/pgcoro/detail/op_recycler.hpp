// pgcoro/detail/op_recycler.hpp — statements are recycled per thread, so that a cached
// statement in steady state allocates nothing: the op (with the capacity its SQL string
// and parameter buffer grew to) and its shared_ptr control block go back to a small
// free list of the thread that drops the last reference, and the next statement made on
// that thread takes them. A thread's lists are freed when it exits; an op dropped after
// that (during the thread's own exit) is simply deleted.
#pragma once

#include <pgcoro/detail/connection_impl.hpp>

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace pgcoro::detail {

struct op_free_lists {
    static constexpr std::size_t max_kept = 1024;
    std::vector<exec_op*> ops;
    std::vector<void*> blocks;  // shared_ptr control blocks, all of one size
    std::size_t block_size = 0;

    ~op_free_lists() {
        for (auto* op : ops) delete op;
        for (void* b : blocks) ::operator delete(b);
    }
};

// Trivially destructible, so readable during the thread's exit: null once the lists
// are gone.
inline thread_local op_free_lists* tl_op_lists = nullptr;

struct op_free_lists_owner {
    op_free_lists lists;
    op_free_lists_owner() { tl_op_lists = &lists; }
    ~op_free_lists_owner() { tl_op_lists = nullptr; }
};

inline op_free_lists* op_lists() {
    static thread_local op_free_lists_owner owner;
    return tl_op_lists;
}

struct op_recycling_deleter {
    void operator()(exec_op* op) const noexcept {
        op_free_lists* l = op_lists();
        if (l && l->ops.size() < op_free_lists::max_kept) {
            op->recycle();
            try {
                l->ops.push_back(op);
                return;
            } catch (...) {
            }
        }
        delete op;
    }
};

/// Allocates the control block from the thread's free list.
template <class T>
struct op_block_allocator {
    using value_type = T;
    op_block_allocator() = default;
    template <class U>
    op_block_allocator(const op_block_allocator<U>&) noexcept {}

    T* allocate(std::size_t n) {
        op_free_lists* l = op_lists();
        if (n == 1 && l && l->block_size == sizeof(T) && !l->blocks.empty()) {
            void* b = l->blocks.back();
            l->blocks.pop_back();
            return static_cast<T*>(b);
        }
        return static_cast<T*>(::operator new(n * sizeof(T)));
    }
    void deallocate(T* p, std::size_t n) noexcept {
        op_free_lists* l = op_lists();
        if (n == 1 && l && (l->block_size == 0 || l->block_size == sizeof(T)) &&
            l->blocks.size() < op_free_lists::max_kept) {
            try {
                l->blocks.push_back(p);
                l->block_size = sizeof(T);
                return;
            } catch (...) {
            }
        }
        ::operator delete(p);
    }
    template <class U>
    bool operator==(const op_block_allocator<U>&) const noexcept {
        return true;
    }
};

/// A fresh (or recycled) op for a caller's statement.
inline std::shared_ptr<exec_op> new_op() {
    exec_op* op = nullptr;
    if (op_free_lists* l = op_lists(); l && !l->ops.empty()) {
        op = l->ops.back();
        l->ops.pop_back();
    } else {
        op = new exec_op();
    }
    try {
        return std::shared_ptr<exec_op>(op, op_recycling_deleter{}, op_block_allocator<exec_op>{});
    } catch (...) {
        delete op;
        throw;
    }
}

}  // namespace pgcoro::detail

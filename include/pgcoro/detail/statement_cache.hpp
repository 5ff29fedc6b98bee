// pgcoro/detail/statement_cache.hpp — a connection's LRU cache of prepared statements.
//
// Key: the SQL text followed by the parameter type OIDs (a statement prepared for int4
// parameters cannot take int8 ones). Value: the server-side statement name. Lookups
// refresh recency; inserting into a full cache evicts the least recently used entry and
// hands its name back so that the caller deallocates it on the server.
//
// Steady state allocates nothing: keys are looked up through a reusable buffer, and
// evicted nodes are recycled for the next insertion.
#pragma once

#include <cstddef>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pgcoro::detail {

class statement_cache {
public:
    explicit statement_cache(std::size_t capacity) : capacity_(capacity) {}

    std::size_t capacity() const noexcept { return capacity_; }
    std::size_t size() const noexcept { return map_.size(); }

    /// Builds the key for sql + types into `out` (reused across calls: no allocation in
    /// steady state).
    template <class Types>
    static void make_key(std::string& out, std::string_view sql, const Types& types) {
        out.assign(sql);
        out.push_back('\0');
        out.append(reinterpret_cast<const char*>(types.data()), types.size() * sizeof(unsigned int));
    }

    /// The statement name for key, refreshed as most recently used; nullptr when absent.
    const std::string* find(const std::string& key) {
        auto it = map_.find(std::string_view(key));
        if (it == map_.end()) return nullptr;
        lru_.splice(lru_.begin(), lru_, it->second);
        return &it->second->name;
    }

    /// Inserts key -> name (key must be absent); returns the name evicted to make room.
    std::optional<std::string> insert(const std::string& key, std::string name) {
        std::optional<std::string> evicted;
        if (capacity_ == 0) return evicted;
        if (map_.size() >= capacity_) {
            auto last = std::prev(lru_.end());
            map_.erase(std::string_view(last->key));
            evicted = std::move(last->name);
            // Recycle the node: its key string keeps its capacity.
            last->key = key;
            last->name = std::move(name);
            lru_.splice(lru_.begin(), lru_, last);
        } else {
            lru_.push_front(entry{key, std::move(name)});
        }
        map_.emplace(std::string_view(lru_.front().key), lru_.begin());
        return evicted;
    }

    /// Forgets everything (the server dropped every prepared statement).
    void clear() {
        map_.clear();
        lru_.clear();
    }

    /// Forgets the entry whose statement is called name, if it is still cached.
    void erase_name(std::string_view name) {
        for (auto it = lru_.begin(); it != lru_.end(); ++it) {
            if (it->name == name) {
                map_.erase(std::string_view(it->key));
                lru_.erase(it);
                return;
            }
        }
    }

    /// True when a statement called name is cached.
    bool contains_name(std::string_view name) const {
        for (const auto& e : lru_)
            if (e.name == name) return true;
        return false;
    }

private:
    struct entry {
        std::string key;
        std::string name;
    };
    std::size_t capacity_;
    std::list<entry> lru_;  // most recently used first; nodes are stable, so are keys
    std::unordered_map<std::string_view, std::list<entry>::iterator> map_;
};

}  // namespace pgcoro::detail

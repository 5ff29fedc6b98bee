// pgcoro/detail/typed_query.hpp — what the functions pgcoro-queries generates build on:
// the handle a statement runs on, and the coroutine form of a statement returning nothing.
#pragma once

#include <pgcoro/pooled_connection.hpp>
#include <pgcoro/query_surface.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string_view>
#include <type_traits>

namespace pgcoro::detail {

/// `db` itself (a connection, transaction or pool), or the connection a pooled_connection
/// holds.
template <class Db>
decltype(auto) typed_query_handle(Db& db) {
    if constexpr (std::is_same_v<std::remove_const_t<Db>, pooled_connection>)
        return (*db);
    else
        return (db);
}

/// What a generated function runs on: anything whose handle has the query surface
/// (connection, pooled_connection, transaction, pool).
template <class Db>
concept typed_query_target = requires(Db& db) {
    typed_query_handle(db).execute(std::string_view{});
};

/// An execute() without its count. `counted` already holds the statement, encoded.
inline boost::asio::awaitable<void> discard_count(boost::asio::awaitable<std::uint64_t> counted) {
    co_await std::move(counted);
}

}  // namespace pgcoro::detail

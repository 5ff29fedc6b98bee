// pgcoro/detail/row_reader.hpp — maps result rows onto scalars, tuples and structs.
#pragma once

#include <pgcoro/detail/params.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/types/oids.hpp>
#include <pgcoro/types/traits.hpp>

#include <boost/config.hpp>
#include <boost/core/demangle.hpp>
#include <boost/pfr.hpp>
#include <libpq-fe.h>

#include <array>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace pgcoro::detail {

template <class T>
struct is_tuple : std::false_type {};
template <class... Ts>
struct is_tuple<std::tuple<Ts...>> : std::true_type {};

template <class T>
using value_type_of = typename std::conditional_t<is_optional<T>::value, T, std::optional<T>>::value_type;

/// What a row type is: one column (a decodable scalar), a tuple, or an aggregate struct.
template <class T>
constexpr bool is_scalar_row = decodable<T>;
template <class T>
constexpr bool is_struct_row = !decodable<T> && !is_tuple<T>::value && std::is_aggregate_v<T> &&
                               std::is_class_v<T>;

template <class T>
std::string cpp_type_name() {
    if constexpr (is_optional<T>::value)
        return "std::optional<" + cpp_type_name<typename T::value_type>() + ">";
    else if constexpr (requires { type_traits<T>::cpp_name; })
        return std::string(type_traits<T>::cpp_name);
    else
        return boost::core::demangle(typeid(T).name());
}

inline std::string describe_column(const PGresult* r, int col) {
    const char* name = PQfname(r, col);
    return "column " + std::to_string(col) + " \"" + (name ? name : "") + "\"";
}

/// Checks that column `col` can be read as T (an optional or not); throws pgcoro::error.
template <class T>
void check_column(const PGresult* r, int col) {
    using V = value_type_of<T>;
    oid_t type = PQftype(r, col);
    if (PQfformat(r, col) != 1)
        throw pgcoro::error(make_error_code(errc::protocol_error),
                            describe_column(r, col) + " is not in the binary format");
    if (!type_traits<V>::accepts(type))
        throw pgcoro::error(make_error_code(errc::type_mismatch),
                            describe_column(r, col) + " has PostgreSQL type " + type_name_of(type) +
                                ", which cannot be read as " + cpp_type_name<T>());
}

template <class T>
[[noreturn]] BOOST_NOINLINE void throw_unexpected_null(const PGresult* r, int row, int col) {
    throw pgcoro::error(make_error_code(errc::unexpected_null),
                        describe_column(r, col) + " of row " + std::to_string(row) +
                            " is NULL; read it as std::optional<" + cpp_type_name<T>() + "> to allow NULL");
}

template <class T>
[[noreturn]] BOOST_NOINLINE void throw_decode_error(const PGresult* r, int row, int col, oid_t type,
                                                    const value_error& e) {
    throw pgcoro::error(make_error_code(errc::decode_error),
                        describe_column(r, col) + " of row " + std::to_string(row) + " (" + type_name_of(type) +
                            " as " + cpp_type_name<T>() + "): " + e.what());
}

/// Reads one field into `out` (a T checked by check_column<T>); `type` is the column's
/// OID. libpq reports length 0 for NULL, so PQgetisnull is asked only when the length is
/// 0: two libpq calls for most fields. The length is always checked by the decoder: a
/// malformed value from the server is an error, never an out-of-bounds read.
template <class T>
BOOST_FORCEINLINE void read_field_into(const PGresult* r, int row, int col, oid_t type, T& out) {
    using V = value_type_of<T>;
    int len = PQgetlength(r, row, col);
    if (len == 0 && PQgetisnull(r, row, col)) {
        if constexpr (is_optional<T>::value) {
            out.reset();
            return;
        } else {
            throw_unexpected_null<T>(r, row, col);
        }
    }
    const char* data = PQgetvalue(r, row, col);
    try {
        out = type_traits<V>::decode(type, std::string_view(data, static_cast<std::size_t>(len)));
    } catch (const value_error& e) {
        throw_decode_error<T>(r, row, col, type, e);
    }
}

template <class T>
T read_field(const PGresult* r, int row, int col, oid_t type) {
    T out{};
    read_field_into(r, row, col, type, out);
    return out;
}

template <class T>
T read_field(const PGresult* r, int row, int col) {
    return read_field<T>(r, row, col, PQftype(r, col));
}

template <class T>
constexpr int row_width() {
    if constexpr (is_scalar_row<T>) return 1;
    else if constexpr (is_tuple<T>::value) return static_cast<int>(std::tuple_size_v<T>);
    else return static_cast<int>(boost::pfr::tuple_size_v<T>);
}

/// Calls `f.template operator()<F>(index)` for each field type F of row type T, in order.
template <class T, class F>
void for_each_field_type(F&& f) {
    if constexpr (is_scalar_row<T>) {
        f.template operator()<T>(0);
    } else if constexpr (is_tuple<T>::value) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (f.template operator()<std::tuple_element_t<I, T>>(static_cast<int>(I)), ...);
        }(std::make_index_sequence<std::tuple_size_v<T>>{});
    } else {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (f.template operator()<boost::pfr::tuple_element_t<I, T>>(static_cast<int>(I)), ...);
        }(std::make_index_sequence<boost::pfr::tuple_size_v<T>>{});
    }
}

/// Calls `f(field, index)` for each field of a row object (a scalar is its own field).
template <class T, class F>
void for_each_field(T& row, F&& f) {
    if constexpr (is_scalar_row<std::remove_const_t<T>>) {
        f(row, 0);
    } else if constexpr (is_tuple<std::remove_const_t<T>>::value) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (f(std::get<I>(row), static_cast<int>(I)), ...);
        }(std::make_index_sequence<std::tuple_size_v<std::remove_const_t<T>>>{});
    } else {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (f(boost::pfr::get<I>(row), static_cast<int>(I)), ...);
        }(std::make_index_sequence<boost::pfr::tuple_size_v<std::remove_const_t<T>>>{});
    }
}

template <class T>
void check_row_type(const PGresult* r) {
    static_assert(is_scalar_row<T> || is_tuple<T>::value || is_struct_row<T>,
                  "pgcoro: a row type is a decodable scalar, a std::tuple or an aggregate struct");
    constexpr int want = row_width<T>();
    int have = PQnfields(r);
    if (have != want)
        throw pgcoro::error(make_error_code(errc::column_count_mismatch),
                            "the result has " + std::to_string(have) + " column(s) but " +
                                cpp_type_name<T>() + " takes " + std::to_string(want));
    for_each_field_type<T>([&]<class F>(int col) { check_column<F>(r, col); });
}

/// The OIDs of a result's columns, looked up once (a row type has at most a few dozen).
template <class T>
struct column_types {
    std::array<oid_t, static_cast<std::size_t>(row_width<T>())> oid{};
    column_types() = default;
    explicit column_types(const PGresult* r) {
        for (std::size_t i = 0; i < oid.size(); ++i) oid[i] = PQftype(r, static_cast<int>(i));
    }
};

/// Reads a row into an existing object (tuples and structs are filled in place).
template <class T>
BOOST_FORCEINLINE void read_row_into(const PGresult* r, int row, const column_types<T>& ct, T& out) {
    if constexpr (is_scalar_row<T>) {
        read_field_into(r, row, 0, ct.oid[0], out);
    } else if constexpr (is_tuple<T>::value) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (read_field_into(r, row, static_cast<int>(I), ct.oid[I], std::get<I>(out)), ...);
        }(std::make_index_sequence<std::tuple_size_v<T>>{});
    } else {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (read_field_into(r, row, static_cast<int>(I), ct.oid[I], boost::pfr::get<I>(out)), ...);
        }(std::make_index_sequence<boost::pfr::tuple_size_v<T>>{});
    }
}

template <class T>
T read_row(const PGresult* r, int row, const column_types<T>& ct) {
    if constexpr (is_scalar_row<T>) {
        return read_field<T>(r, row, 0, ct.oid[0]);
    } else if constexpr (is_tuple<T>::value) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return T{read_field<std::tuple_element_t<I, T>>(r, row, static_cast<int>(I), ct.oid[I])...};
        }(std::make_index_sequence<std::tuple_size_v<T>>{});
    } else {
        T out{};
        read_row_into(r, row, ct, out);
        return out;
    }
}

template <class T>
T read_row(const PGresult* r, int row) {
    return read_row<T>(r, row, column_types<T>(r));
}

}  // namespace pgcoro::detail

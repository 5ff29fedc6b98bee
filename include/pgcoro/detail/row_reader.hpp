// pgcoro/detail/row_reader.hpp — maps result rows onto scalars, tuples and structs.
#pragma once

#include <pgcoro/detail/params.hpp>
#include <pgcoro/error.hpp>
#include <pgcoro/types/oids.hpp>
#include <pgcoro/types/traits.hpp>

#include <pgcoro/row_mapping.hpp>

#include <boost/config.hpp>
#include <boost/describe/members.hpp>
#include <boost/pfr.hpp>
#include <libpq-fe.h>

#include <array>
#include <exception>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace boost::json {
class value;  // named in a compile error: reading one needs <pgcoro/types/json.hpp>
}  // namespace boost::json

namespace pgcoro::detail {

template <class T>
struct is_tuple : std::false_type {};
template <class... Ts>
struct is_tuple<std::tuple<Ts...>> : std::true_type {};

template <class T>
using value_type_of = typename std::conditional_t<is_optional<T>::value, T, std::optional<T>>::value_type;

/// What a row type is: one column (a decodable scalar), a tuple, a described struct
/// (Boost.Describe: by name, see row_mapping), or an aggregate struct (Boost.PFR).
template <class T>
constexpr bool is_scalar_row = decodable<T>;
template <class T>
constexpr bool is_described_row = !decodable<T> && !is_tuple<T>::value && std::is_class_v<T> &&
                                  boost::describe::has_describe_members<T>::value;
template <class T>
constexpr bool is_struct_row = !decodable<T> && !is_tuple<T>::value && !is_described_row<T> &&
                               std::is_aggregate_v<T> && std::is_class_v<T>;
template <class T>
constexpr bool maps_by_name = is_described_row<T> && row_mapping<T>::by_name;

template <class T>
using described_members = boost::describe::describe_members<T, boost::describe::mod_public>;
template <class T, class D>
using member_type = std::remove_cvref_t<decltype(std::declval<T&>().*D::pointer)>;

template <class...>
constexpr bool always_false = false;

/// The field types of a row or composite as one std::tuple type: a tuple's own, a
/// described struct's public members (Boost.Describe) when Described, else an aggregate's
/// fields by position (Boost.PFR). Walk them with a lambda taking `std::tuple<F...>*`.
template <class T, bool Described>
constexpr auto field_types_of() {
    if constexpr (is_tuple<T>::value) {
        return std::type_identity<T>{};
    } else if constexpr (Described) {
        return []<template <class...> class L, class... D>(L<D...>) {
            return std::type_identity<std::tuple<member_type<T, D>...>>{};
        }(described_members<T>{});
    } else {
        return []<std::size_t... I>(std::index_sequence<I...>) {
            return std::type_identity<std::tuple<boost::pfr::tuple_element_t<I, T>...>>{};
        }(std::make_index_sequence<boost::pfr::tuple_size_v<T>>{});
    }
}
template <class T, bool Described = is_described_row<T>>
using field_types = typename decltype(field_types_of<T, Described>())::type;
template <class T, bool Described = is_described_row<T>>
inline constexpr field_types<T, Described>* fields_of = nullptr;

/// One field's check, at compile time: the error names Row and Field in its
/// "required from" lines.
template <class Row, class Field>
constexpr bool check_field_type() {
    using V = value_type_of<Field>;
    if constexpr (std::is_same_v<V, boost::json::value> && !decodable<Field>) {
        static_assert(always_false<Row>, "pgcoro: reading boost::json::value needs #include <pgcoro/types/json.hpp>");
        return false;
    } else {
        static_assert(decodable<Field>,
                      "pgcoro: a field of this row type cannot be read from a column (no "
                      "pgcoro::type_traits<Field>::decode; Row and Field are named just below): include "
                      "the pgcoro/types/ header that maps it, or specialise pgcoro::type_traits<Field>");
        return decodable<Field>;
    }
}

/// Whether T can be a row type, with one clear static_assert when it cannot.
template <class T>
constexpr bool check_row_shape() {
    if constexpr (is_scalar_row<T>) {
        return true;
    } else if constexpr (std::is_same_v<value_type_of<T>, boost::json::value>) {
        return check_field_type<T, T>();
    } else if constexpr (is_tuple<T>::value || is_described_row<T> || is_struct_row<T>) {
        static_assert(!is_described_row<T> || std::is_default_constructible_v<T>,
                      "pgcoro: a described row type must be default-constructible");
        return []<class... F>(std::tuple<F...>*) { return (check_field_type<T, F>() && ...); }(fields_of<T>);
    } else {
        static_assert(always_false<T>,
                      "pgcoro: this row type (named just below) is neither a type with pgcoro::type_traits "
                      "(include its pgcoro/types/ header, or specialise pgcoro::type_traits), nor a "
                      "std::tuple, nor an aggregate struct (no constructors), nor a struct described with "
                      "BOOST_DESCRIBE_STRUCT (mapped by column name)");
        return false;
    }
}

template <class T>
inline constexpr bool row_type_ok = check_row_shape<T>();

/// Whether reading T keeps views into the result (std::string_view, std::span fields).
template <class T>
constexpr bool row_borrows() {
    if constexpr (!row_type_ok<T>) {
        return false;
    } else if constexpr (is_scalar_row<T>) {
        return type_borrows<T>();
    } else {
        return []<class... F>(std::tuple<F...>*) { return (type_borrows<F>() || ...); }(fields_of<T>);
    }
}

/// For the functions that free the result before the rows reach the caller.
template <class T>
constexpr bool owned_row_type() {
    static_assert(!row_borrows<T>(),
                  "pgcoro: std::string_view / std::span fields point into the result, which this function frees: "
                  "read std::string / std::vector<std::byte>, or use query_result() and read the pgcoro::result");
    return row_type_ok<T>;
}

template <class T>
constexpr int row_width() {
    if constexpr (is_scalar_row<T>) return 1;
    else if constexpr (is_tuple<T>::value || is_described_row<T> || is_struct_row<T>)
        return static_cast<int>(std::tuple_size_v<field_types<T>>);
    else return 0;
}

/// Calls `f.template operator()<F>(index)` for each field type F of row type T, in order.
template <class T, class F>
void for_each_field_type(F&& f) {
    if constexpr (is_scalar_row<T>) {
        f.template operator()<T>(0);
    } else if constexpr (is_tuple<T>::value || is_described_row<T> || is_struct_row<T>) {
        [&]<class... Fs>(std::tuple<Fs...>*) {
            int i = 0;
            (f.template operator()<Fs>(i++), ...);
        }(fields_of<T>);
    }
}

/// Calls `f(member, index)` for each member of a tuple or struct object, as field_types
/// lists them (described members when Described, else by position).
template <bool Described, class T, class F>
void for_each_member(T& row, F&& f) {
    using R = std::remove_const_t<T>;
    if constexpr (is_tuple<R>::value) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (f(std::get<I>(row), static_cast<int>(I)), ...);
        }(std::make_index_sequence<std::tuple_size_v<R>>{});
    } else if constexpr (Described) {
        [&]<template <class...> class L, class... D>(L<D...>) {
            int i = 0;
            (f(row.*D::pointer, i++), ...);
        }(described_members<R>{});
    } else {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (f(boost::pfr::get<I>(row), static_cast<int>(I)), ...);
        }(std::make_index_sequence<boost::pfr::tuple_size_v<R>>{});
    }
}

/// Calls `f(field, index)` for each field of a row object (a scalar is its own field).
template <class T, class F>
void for_each_field(T& row, F&& f) {
    using R = std::remove_const_t<T>;
    if constexpr (is_scalar_row<R>) {
        f(row, 0);
    } else if constexpr (is_tuple<R>::value || is_described_row<R> || is_struct_row<R>) {
        for_each_member<is_described_row<R>>(row, f);
    }
}

/// The described member names of T, in order.
template <class T>
constexpr auto field_names() {
    return []<template <class...> class L, class... D>(L<D...>) {
        return std::array<std::string_view, sizeof...(D)>{std::string_view(D::name)...};
    }(described_members<T>{});
}

inline std::string describe_column(const PGresult* r, int col) {
    const char* name = PQfname(r, col);
    return "column " + std::to_string(col) + " \"" + (name ? name : "") + "\"";
}

/// Checks that column `col` can be read as T (an optional or not); throws pgcoro::error.
/// `types`: the connection's looked-up types (nullptr: built-in types only).
template <class T>
void check_column(const PGresult* r, int col, const type_catalog* types) {
    using V = value_type_of<T>;
    if constexpr (!decodable<T>) return;  // check_row_shape's static_assert said why
    else {
    pg_type type(PQftype(r, col), types);
    if (PQfformat(r, col) != 1)
        throw pgcoro::error(make_error_code(errc::protocol_error),
                            describe_column(r, col) + " is not in the binary format");
    if (!accepts_type<V>(type))
        throw pgcoro::error(make_error_code(errc::type_mismatch),
                            describe_column(r, col) + " has PostgreSQL type " + type.display_name() +
                                ", which cannot be read as " + cpp_type_name<T>() +
                                (type.known() || type.oid() < type_catalog::first_normal_oid
                                     ? ""
                                     : " (a type this connection has not looked up: a row stream cannot stop for "
                                       "the lookup, so run a statement that returns it first; or the lookup failed)"));
    }
}

template <class T>
[[noreturn]] BOOST_NOINLINE void throw_unexpected_null(const PGresult* r, int row, int col) {
    throw pgcoro::error(make_error_code(errc::unexpected_null),
                        describe_column(r, col) + " of row " + std::to_string(row) +
                            " is NULL; read it as std::optional<" + cpp_type_name<T>() + "> to allow NULL");
}

template <class T>
[[noreturn]] BOOST_NOINLINE void throw_decode_error(const PGresult* r, int row, int col, const pg_type& type,
                                                    const value_error& e) {
    throw pgcoro::error(make_error_code(errc::decode_error),
                        describe_column(r, col) + " of row " + std::to_string(row) + " (" + type.display_name() +
                            " as " + cpp_type_name<T>() + "): " + e.what());
}

/// Reads one field into `out` (a T checked by check_column<T>); `type` is the column's
/// type. libpq reports length 0 for NULL, so PQgetisnull is asked only when the length is
/// 0: two libpq calls for most fields. The length is always checked by the decoder: a
/// malformed value from the server is an error, never an out-of-bounds read.
template <class T>
BOOST_FORCEINLINE void read_field_into(const PGresult* r, int row, int col, const pg_type& type, T& out) {
    using V = value_type_of<T>;
    if constexpr (!decodable<T>) return;  // check_row_shape's static_assert said why
    else {
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
        out = decode_value<V>(type, std::string_view(data, static_cast<std::size_t>(len)));
    } catch (const value_error& e) {
        throw_decode_error<T>(r, row, col, type, e);
    }
    }
}

template <class T>
T read_field(const PGresult* r, int row, int col, const pg_type& type) {
    T out{};
    read_field_into(r, row, col, type, out);
    return out;
}

/// For a row type mapped by name: the column each field reads. Throws pgcoro::error
/// (errc::column_count_mismatch) on a field with no column, a column with no field, or
/// two columns of a field's name.
template <class T, std::size_t N>
void map_columns_by_name(const PGresult* r, std::array<int, N>& column) {
    constexpr auto names = field_names<T>();
    int have = PQnfields(r);
    auto listed = [&] {
        std::string s;
        for (int c = 0; c < have; ++c) s += (c ? ", " : "") + std::string(PQfname(r, c));
        return s.empty() ? std::string("none") : s;
    };
    for (std::size_t i = 0; i < N; ++i) {
        column[i] = -1;
        for (int c = 0; c < have; ++c) {
            if (names[i] != PQfname(r, c)) continue;
            if (column[i] >= 0)
                throw pgcoro::error(make_error_code(errc::column_count_mismatch),
                                    "the result has two columns named \"" + std::string(names[i]) + "\" (" +
                                        std::to_string(column[i]) + " and " + std::to_string(c) + "); " +
                                        cpp_type_name<T>() + " maps columns by name");
            column[i] = c;
        }
        if (column[i] < 0)
            throw pgcoro::error(make_error_code(errc::column_count_mismatch),
                                cpp_type_name<T>() + " has a field \"" + std::string(names[i]) +
                                    "\" but the result has no column of that name (columns: " + listed() + ")");
    }
    for (int c = 0; c < have; ++c) {
        bool used = false;
        for (std::size_t i = 0; i < N; ++i) used = used || column[i] == c;
        if (!used)
            throw pgcoro::error(make_error_code(errc::column_count_mismatch),
                                describe_column(r, c) + " is not a field of " + cpp_type_name<T>() +
                                    " (mapped by name: every column needs a field of its name)");
    }
}

/// The column each field reads, and its type: looked up once per result (a row type has
/// at most a few dozen fields).
template <class T>
struct column_types {
    static constexpr std::size_t width = static_cast<std::size_t>(row_width<T>());
    std::array<pg_type, width> oid{};  // by field
    std::array<int, width> column{};   // by field (only a row mapped by name reorders)
    column_types() {
        for (std::size_t i = 0; i < width; ++i) column[i] = static_cast<int>(i);
    }
    column_types(const PGresult* r, const type_catalog* types) : column_types() {
        if constexpr (maps_by_name<T>) map_columns_by_name<T>(r, column);
        for (std::size_t i = 0; i < width; ++i) oid[i] = pg_type(PQftype(r, column[i]), types);
    }
};

/// Checks the columns of `r` against row type T before any row is read; throws
/// pgcoro::error naming the column and both types.
template <class T>
void check_row_type(const PGresult* r, const type_catalog* types) {
    if constexpr (!row_type_ok<T>) return;  // check_row_shape's static_assert said why
    constexpr int want = row_width<T>();
    int have = PQnfields(r);
    if constexpr (maps_by_name<T>) {
        std::array<int, static_cast<std::size_t>(want)> column{};
        map_columns_by_name<T>(r, column);
        for_each_field_type<T>([&]<class F>(int i) { check_column<F>(r, column[static_cast<std::size_t>(i)], types); });
    } else {
        if (have != want)
            throw pgcoro::error(make_error_code(errc::column_count_mismatch),
                                "the result has " + std::to_string(have) + " column(s) but " + cpp_type_name<T>() +
                                    " takes " + std::to_string(want));
        for_each_field_type<T>([&]<class F>(int col) { check_column<F>(r, col, types); });
    }
}

/// Reads a row into an existing object (tuples and structs are filled in place).
template <class T>
BOOST_FORCEINLINE void read_row_into(const PGresult* r, int row, const column_types<T>& ct, T& out) {
    if constexpr (!row_type_ok<T>) {
        return;  // the static_assert said why
    } else if constexpr (is_scalar_row<T>) {
        read_field_into(r, row, 0, ct.oid[0], out);
    } else if constexpr (is_tuple<T>::value) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (read_field_into(r, row, static_cast<int>(I), ct.oid[I], std::get<I>(out)), ...);
        }(std::make_index_sequence<std::tuple_size_v<T>>{});
    } else if constexpr (is_described_row<T>) {
        [&]<template <class...> class L, class... D>(L<D...>) {
            std::size_t i = 0;
            ((read_field_into(r, row, ct.column[i], ct.oid[i], out.*D::pointer), ++i), ...);
        }(described_members<T>{});
    } else {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (read_field_into(r, row, static_cast<int>(I), ct.oid[I], boost::pfr::get<I>(out)), ...);
        }(std::make_index_sequence<boost::pfr::tuple_size_v<T>>{});
    }
}

template <class T>
T read_row(const PGresult* r, int row, const column_types<T>& ct) {
    if constexpr (!row_type_ok<T>) {
        std::terminate();  // not compiled into anything: check_row_shape's static_assert said why
    } else if constexpr (is_scalar_row<T>) {
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
T read_row(const PGresult* r, int row, const type_catalog* types) {
    return read_row<T>(r, row, column_types<T>(r, types));
}

}  // namespace pgcoro::detail

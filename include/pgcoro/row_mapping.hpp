// pgcoro/row_mapping.hpp — how a row type's fields meet a result's columns.
#pragma once

#include <boost/describe/members.hpp>

namespace pgcoro {

/// How rows map onto a struct.
///
/// - A plain aggregate struct (or a std::tuple) maps by position: field i reads column i
///   (Boost.PFR), and the column count must match.
/// - A struct described with Boost.Describe maps by name:
///
///       struct user { std::int64_t id; std::string email; std::optional<std::string> name; };
///       BOOST_DESCRIBE_STRUCT(user, (), (id, email, name))
///
///   each public described member reads the column with exactly its name (PostgreSQL
///   folds unquoted identifiers to lower case: `SELECT id, "Email"` ...), in any order.
///   Before any row is read, a field with no column, a column with no field, and two
///   columns with a field's name are errors (errc::column_count_mismatch) naming them.
///   A described struct need not be an aggregate; it must be default-constructible.
///
/// Specialise row_mapping with `by_name = false` to map a described struct by position
/// (its described members in declaration order) instead. Binary COPY maps by position
/// only: a struct mapped by name does not compile with COPY, in or out (name the columns in
/// field order and turn by_name off).
template <class T>
struct row_mapping {
    static constexpr bool by_name = boost::describe::has_describe_members<T>::value;
};

}  // namespace pgcoro

// pgcoro/types/enum.hpp — PostgreSQL enums as C++ enums, mapped by label.
#pragma once

#include <pgcoro/types/text.hpp>
#include <pgcoro/types/traits.hpp>

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace pgcoro {

/// Specialise to map a C++ enum onto a PostgreSQL enum by label:
///
///     template <> struct pgcoro::enum_labels<status> {
///         static constexpr std::string_view type_name = "status";   // optional
///         static constexpr std::pair<status, std::string_view> values[] = {
///             {status::pending, "pending"}, {status::done, "done"}};
///     };
///
/// With a type_name (plain or schema-qualified), only columns of that enum type (and text
/// columns) are read; without one, any enum column whose labels match. Reading an unknown
/// label, or sending a value with no label, is a value_error. (Any enum column can also be
/// read as std::string.)
template <class E>
struct enum_labels;

template <class E>
struct type_traits<E, std::enable_if_t<std::is_enum_v<E> && requires { enum_labels<E>::values; }>> {
    static constexpr std::string_view cpp_name = "an enum with pgcoro::enum_labels";
    /// Sent with no type: the server takes the enum type from the statement's context.
    static constexpr oid_t param_oid = oids::unspecified;
    static bool accepts(const pg_type& t) noexcept {
        if (detail::is_text_oid(t.oid())) return true;
        if (t.kind() != type_kind::enumeration) return false;
        if constexpr (requires { enum_labels<E>::type_name; }) return t.is(enum_labels<E>::type_name);
        else return true;
    }
    static void encode(E v, std::string& out) {
        for (const auto& [value, label] : enum_labels<E>::values) {
            if (value == v) {
                out.append(label);
                return;
            }
        }
        throw value_error("enum value " + std::to_string(static_cast<long long>(v)) + " has no label");
    }
    static E decode(oid_t, std::string_view b) {
        for (const auto& [value, label] : enum_labels<E>::values)
            if (label == b) return value;
        throw value_error("unknown enum label \"" + std::string(b) + "\"");
    }
};

}  // namespace pgcoro

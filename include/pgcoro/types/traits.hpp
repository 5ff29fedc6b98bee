// pgcoro/types/traits.hpp — the extension point that maps a C++ type to PostgreSQL.
#pragma once

#include <pgcoro/types/oids.hpp>
#include <pgcoro/types/pg_type.hpp>

#include <boost/core/demangle.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <vector>

namespace pgcoro {

/// Thrown by a type_traits encode/decode when a value cannot be converted; pgcoro turns
/// it into a pgcoro::error (errc::decode_error / errc::encode_error) naming the column or
/// parameter.
class value_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Specialise for a type to use it as a parameter and/or a result column. A complete
/// specialisation provides (all static):
///
///     static constexpr std::string_view cpp_name = "my_type";    // for messages
///     static constexpr oid_t param_oid = oids::text;               // parameter's type
///     static bool accepts(pg_type column) noexcept;                // can decode this column?
///     static void encode(const T& v, std::string& out);            // append binary form
///     static T decode(pg_type column, std::string_view bytes);     // from binary form
///
/// accepts/decode may take the column's `oid_t` instead of a pg_type (the form before
/// 0.2). A type the server knows by name only (an extension's, an enum, a composite) can
/// declare it instead of, or besides, accepts:
///
///     static constexpr std::string_view type_name = "citext";     // or "public.citext"
///
/// and the column is accepted when its type (looked up once per connection) has that
/// name. encode may be left out for decode-only types and vice versa. decode must check
/// the length and content of `bytes` (it comes from the network) and throw
/// pgcoro::value_error on anything malformed. See examples/custom_type.cpp.
template <class T, class Enable = void>
struct type_traits;

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
concept decodes_pg_type = requires(pg_type t, std::string_view b) { type_traits<T>::decode(t, b); };
template <class T>
concept decodes_oid = requires(oid_t o, std::string_view b) { type_traits<T>::decode(o, b); };

template <class T>
struct has_decode : std::bool_constant<decodes_pg_type<T> || decodes_oid<T>> {};

/// Whether type_traits<T> reads a column of type t (see type_traits).
template <class T>
bool accepts_type(const pg_type& t) noexcept {
    using Tr = type_traits<T>;
    static_assert(requires { Tr::type_name; } || requires { Tr::accepts(t); } || requires(oid_t o) { Tr::accepts(o); },
                  "pgcoro: this type_traits<T> decodes but says neither which columns it reads (accepts) nor "
                  "its type's name (type_name)");
    bool yes = false;
    if constexpr (requires { Tr::type_name; }) yes = t.is(Tr::type_name);
    if constexpr (requires { Tr::accepts(t); }) yes = yes || Tr::accepts(t);
    else if constexpr (requires(oid_t o) { Tr::accepts(o); }) yes = yes || Tr::accepts(t.oid());
    return yes;
}

/// type_traits<T>::decode, in whichever form T has.
template <class T>
T decode_value(const pg_type& t, std::string_view b) {
    if constexpr (decodes_pg_type<T>) return type_traits<T>::decode(t, b);
    else return type_traits<T>::decode(t.oid(), b);
}

template <class T, class = void>
struct has_encode : std::false_type {};
template <class T>
struct has_encode<T, std::void_t<decltype(type_traits<T>::encode(std::declval<const T&>(),
                                                                 std::declval<std::string&>()))>>
    : std::true_type {};

}  // namespace detail

namespace detail {

template <class T>
struct is_std_vector : std::false_type {};
template <class T, class A>
struct is_std_vector<std::vector<T, A>> : std::true_type {};

/// T's name for messages: its cpp_name, with std::optional / std::vector spelled out.
template <class T>
std::string cpp_type_name() {
    if constexpr (is_optional<T>::value)
        return "std::optional<" + cpp_type_name<typename T::value_type>() + ">";
    else if constexpr (requires { type_traits<T>::cpp_name; })
        return std::string(type_traits<T>::cpp_name);
    else if constexpr (is_std_vector<T>::value)
        return "std::vector<" + cpp_type_name<typename T::value_type>() + ">";
    else
        return boost::core::demangle(typeid(T).name());
}

}  // namespace detail

namespace detail {
/// Whether values read as T point into the result (std::string_view, std::span, and
/// containers or structs of them): such T are read only from a pgcoro::result.
template <class T>
constexpr bool type_borrows() {
    using V = typename std::conditional_t<is_optional<T>::value, T, std::optional<T>>::value_type;
    if constexpr (requires { type_traits<V>::borrows; }) return type_traits<V>::borrows;
    else return false;
}
}  // namespace detail

/// A type that can be read from a result column (std::optional<T> of one too).
template <class T>
concept decodable = detail::has_decode<T>::value ||
    (detail::is_optional<T>::value && detail::has_decode<typename T::value_type>::value);

/// A type that can be sent as a statement parameter (std::optional<T> of one too).
template <class T>
concept encodable = detail::has_encode<T>::value ||
    (detail::is_optional<T>::value && detail::has_encode<typename T::value_type>::value) ||
    std::is_same_v<T, std::nullopt_t>;

}  // namespace pgcoro

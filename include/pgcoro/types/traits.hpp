// pgcoro/types/traits.hpp — the extension point that maps a C++ type to PostgreSQL.
#pragma once

#include <pgcoro/types/oids.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

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
///     static bool accepts(oid_t column_oid) noexcept;              // can decode this column?
///     static void encode(const T& v, std::string& out);            // append binary form
///     static T decode(oid_t column_oid, std::string_view bytes);   // from binary form
///
/// encode may be left out for decode-only types and vice versa. decode must check the
/// length and content of `bytes` (it comes from the network) and throw pgcoro::value_error
/// on anything malformed. See examples/custom_type.cpp.
template <class T, class Enable = void>
struct type_traits;

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T, class = void>
struct has_decode : std::false_type {};
template <class T>
struct has_decode<T, std::void_t<decltype(type_traits<T>::decode(oid_t{}, std::string_view{}))>>
    : std::true_type {};

template <class T, class = void>
struct has_encode : std::false_type {};
template <class T>
struct has_encode<T, std::void_t<decltype(type_traits<T>::encode(std::declval<const T&>(),
                                                                 std::declval<std::string&>()))>>
    : std::true_type {};

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

// pgcoro/types/composite.hpp — composite types (CREATE TYPE ... AS (...), a table's row
// type, anonymous ROW(...) values) as structs, nested ones included.
#pragma once

#include <pgcoro/detail/binary.hpp>
#include <pgcoro/detail/row_reader.hpp>
#include <pgcoro/types/traits.hpp>

#include <boost/describe/members.hpp>
#include <boost/pfr.hpp>

#include <cstdint>
#include <utility>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace pgcoro {

/// Specialise to read and send struct T as a PostgreSQL composite value:
///
///     struct address { std::string street; std::optional<std::string> city; };
///     template <> struct pgcoro::composite<address> {
///         static constexpr std::string_view type_name = "address";  // optional
///     };
///
/// T is an aggregate (fields by position, Boost.PFR) or a struct described with
/// BOOST_DESCRIBE_STRUCT (fields by attribute name when the column's type is named: a
/// table's row type or CREATE TYPE; by position for an anonymous ROW(...)). With a
/// type_name (plain or schema-qualified) only that type and anonymous records are read;
/// without one, any composite of the right shape. Fields may be composites themselves,
/// std::optional for NULL attributes, arrays... Reading checks the attribute count and
/// each attribute's type; a mismatch is a value_error naming the attribute.
///
/// A struct with a composite specialisation is a value: as a row type it is one column
/// (`select addr from people`); read a row's columns into a plain struct instead.
///
/// Sending: the server checks each attribute's type OID, so every field must be sent as
/// exactly the attribute's type (int4 attribute: std::int32_t), and fields sent with no
/// type of their own (enums, hstore, nested composites) cannot be: send those as text and
/// cast. Give the type in SQL: `$1::address`. A described struct (read by attribute
/// name) is not sent: encoding cannot know the attributes' order, and two same-typed
/// fields in another order would be stored swapped without an error. Send a plain
/// aggregate whose fields are in the attributes' order.
template <class T>
struct composite;

namespace detail {

template <class T>
concept composite_struct = requires { sizeof(composite<T>); };

/// A composite struct's fields, by Boost.Describe when described, else Boost.PFR (the
/// row helpers would see a decodable type, one column).
template <class T>
constexpr bool described_composite = boost::describe::has_describe_members<T>::value;

template <class T>
constexpr int composite_width() {
    return static_cast<int>(std::tuple_size_v<field_types<T, described_composite<T>>>);
}

template <class T, class F>
void for_each_composite_field(T& v, F&& f) {
    for_each_member<described_composite<std::remove_const_t<T>>>(v, [&](auto& field, int) { f(field); });
}

template <class F>
constexpr bool sendable_field() {
    using V = value_type_of<F>;
    if constexpr (requires { type_traits<V>::param_oid; }) return has_encode<V>::value && type_traits<V>::param_oid != 0;
    else return false;
}

/// Every field has an encoder and a type of its own (the server checks each one).
template <class T>
constexpr bool composite_sendable() {
    if constexpr (described_composite<T>) {
        return false;  // read by name, but sent by position: see pgcoro::composite
    } else {
        return []<class... F>(std::tuple<F...>*) { return (sendable_field<F>() && ...); }(fields_of<T, false>);
    }
}

template <class T>
constexpr bool composite_borrows() {
    return []<class... F>(std::tuple<F...>*) {
        return (type_borrows<F>() || ...);
    }(fields_of<T, described_composite<T>>);
}

template <class T>
constexpr std::string_view composite_type_name() {
    if constexpr (requires { composite<T>::type_name; }) return composite<T>::type_name;
    else return {};
}

/// The attribute index each field of T reads, by name when T is described and the type
/// has attribute names; -1 when missing.
template <class T>
int composite_attribute_of(const pg_type& t, std::size_t field, std::size_t count) {
    if constexpr (described_composite<T>) {
        if (t.field_count() == count) {
            constexpr auto names = field_names<T>();
            for (std::size_t a = 0; a < count; ++a)
                if (t.field_name(a) == names[field]) return static_cast<int>(a);
            return -1;
        }
    }
    return static_cast<int>(field);
}

}  // namespace detail

template <class T>
struct type_traits<T, std::enable_if_t<detail::composite_struct<T>>> {
    static constexpr oid_t param_oid = oids::unspecified;
    static constexpr bool borrows = detail::composite_borrows<T>();

    static bool accepts(const pg_type& t) noexcept {
        if (t.oid() == oids::record) return true;
        if (t.kind() != type_kind::composite) return false;
        constexpr std::string_view name = detail::composite_type_name<T>();
        if (!name.empty() && !t.is(name)) return false;
        return t.field_count() == static_cast<std::size_t>(detail::composite_width<T>());
    }

    /// A described struct: one clear compile error when it is used as a parameter.
    static void encode(const T&, std::string&)
        requires(detail::described_composite<T>)
    {
        static_assert(detail::always_false<T>,
                      "pgcoro: this composite is described (BOOST_DESCRIBE_STRUCT) and read by attribute name, "
                      "but a parameter is sent by position: same-typed fields in another order would be stored "
                      "swapped. Send a plain aggregate whose fields are in the attributes' order");
    }

    /// Only when every field has a type of its own (see pgcoro::composite).
    static void encode(const T& v, std::string& out)
        requires(detail::composite_sendable<T>())
    {
        detail::write_be<std::int32_t>(out, detail::composite_width<T>());
        detail::for_each_composite_field(v, [&](const auto& f) {
            using F = std::decay_t<decltype(f)>;
            using V = detail::value_type_of<F>;
            detail::write_be<std::uint32_t>(out, type_traits<V>::param_oid);
            const V* p;
            if constexpr (detail::is_optional<F>::value) {
                if (!f) {
                    detail::write_be<std::int32_t>(out, -1);
                    return;
                }
                p = &*f;
            } else {
                p = &f;
            }
            std::size_t at = detail::begin_length(out);
            type_traits<V>::encode(*p, out);
            detail::end_length<value_error>(out, at);
        });
    }

    static T decode(const pg_type& t, std::string_view b) {
        detail::byte_reader<value_error> in(b, "composite");
        auto n = in.be<std::int32_t>();
        constexpr int width = detail::composite_width<T>();
        if (n != width)
            throw value_error("composite: " + std::to_string(n) + " attribute(s), but " + detail::cpp_type_name<T>() +
                              " has " + std::to_string(width) + " field(s)");
        struct attribute {
            oid_t oid = 0;
            std::optional<std::string_view> bytes;
        };
        attribute attrs[width > 0 ? width : 1];
        for (int i = 0; i < width; ++i) {
            attrs[i].oid = in.be<std::uint32_t>();
            attrs[i].bytes = in.field();
        }
        in.expect_end();
        T out{};
        std::size_t index = 0;
        detail::for_each_composite_field(out, [&](auto& f) {
            using F = std::decay_t<decltype(f)>;
            using V = detail::value_type_of<F>;
            std::size_t field = index++;
            int a = detail::composite_attribute_of<T>(t, field, static_cast<std::size_t>(width));
            if (a < 0) throw value_error("composite: no attribute for field " + std::to_string(field + 1));
            auto ai = static_cast<std::size_t>(a);
            std::string label = t.field_name(ai).empty() ? "attribute " + std::to_string(ai + 1)
                                                         : "attribute \"" + std::string(t.field_name(ai)) + "\"";
            const attribute& at = attrs[a];
            if (t.field_count() == static_cast<std::size_t>(width) && at.oid != t.field(ai).oid())
                throw value_error("composite " + t.display_name() + " " + label + " arrived as " +
                                  pg_type(at.oid, t.catalog()).display_name() + ", not as " + t.field(ai).display_name() +
                                  ": the type changed since this connection looked it up (reconnect)");
            pg_type ft = pg_type(at.oid, t.catalog()).base();
            if (!detail::accepts_type<V>(ft))
                throw value_error("composite " + label + " has type " + ft.display_name() + ", which cannot be read as " +
                                  detail::cpp_type_name<F>());
            if (!at.bytes) {
                if constexpr (detail::is_optional<F>::value) {
                    f.reset();
                    return;
                } else {
                    throw value_error("composite " + label + " is NULL; read it as std::optional<" +
                                      detail::cpp_type_name<F>() + ">");
                }
            }
            f = detail::decode_value<V>(ft, *at.bytes);
        });
        return out;
    }
};

}  // namespace pgcoro

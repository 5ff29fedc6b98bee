// pgcoro/types/array.hpp — arrays as std::vector<T>; multi-dimensional arrays as nested
// vectors (std::vector<std::vector<T>> for two dimensions, and so on).
#pragma once

#include <pgcoro/detail/binary.hpp>
#include <pgcoro/types/traits.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace pgcoro {

namespace detail {

template <class T>
using element_value_t = typename std::conditional_t<is_optional<T>::value, T, std::optional<T>>::value_type;

template <class T>
constexpr bool is_bytea_vector = std::is_same_v<T, std::byte> || std::is_same_v<T, unsigned char>;

/// How many array dimensions a vector type stands for, and its innermost element (which
/// may be a std::optional): std::vector<std::vector<int>> is 2 dimensions of int.
template <class T>
struct array_shape {
    static constexpr int depth = 0;
    using leaf = T;
};
template <class T>
    requires(!is_bytea_vector<T>)
struct array_shape<std::vector<T>> {
    static constexpr int depth = array_shape<T>::depth + 1;
    using leaf = typename array_shape<T>::leaf;
};

template <class E>
constexpr oid_t array_oid_of() {
    if constexpr (requires { type_traits<E>::array_oid; }) return type_traits<E>::array_oid;
    else return oids::unspecified;
}

template <class Leaf>
void encode_array_level(const auto& v, int level, const std::vector<std::int32_t>& dims, std::string& out) {
    using V = std::decay_t<decltype(v)>;
    if (v.size() != static_cast<std::size_t>(dims[static_cast<std::size_t>(level)]))
        throw value_error("array: nested vectors of different lengths (PostgreSQL arrays are rectangular)");
    for (const auto& x : v) {
        if constexpr (array_shape<typename V::value_type>::depth > 0) {
            encode_array_level<Leaf>(x, level + 1, dims, out);
        } else {
            using E = element_value_t<Leaf>;
            const E* e;
            if constexpr (is_optional<Leaf>::value) {
                if (!x) {
                    write_be<std::int32_t>(out, -1);
                    continue;
                }
                e = &*x;
            } else {
                e = &x;
            }
            std::size_t at = begin_length(out);
            type_traits<E>::encode(*e, out);
            end_length<value_error>(out, at);
        }
    }
}

template <class Leaf>
bool has_null_leaf(const auto& v) {
    using V = std::decay_t<decltype(v)>;
    if constexpr (array_shape<typename V::value_type>::depth > 0) {
        for (const auto& x : v)
            if (has_null_leaf<Leaf>(x)) return true;
        return false;
    } else if constexpr (is_optional<Leaf>::value) {
        for (const auto& x : v)
            if (!x) return true;
        return false;
    } else {
        return false;
    }
}

template <class V, class Leaf>
void decode_array_level(V& out, int level, const std::vector<std::int32_t>& dims, byte_reader<value_error>& in,
                        const pg_type& elem, std::size_t& index) {
    auto n = static_cast<std::size_t>(dims[static_cast<std::size_t>(level)]);
    out.clear();
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        if constexpr (array_shape<typename V::value_type>::depth > 0) {
            decode_array_level<typename V::value_type, Leaf>(out.emplace_back(), level + 1, dims, in, elem, index);
        } else {
            using E = element_value_t<Leaf>;
            std::optional<std::string_view> f = in.field();
            if (!f) {
                if constexpr (is_optional<Leaf>::value) {
                    out.emplace_back();
                    ++index;
                    continue;
                } else {
                    throw value_error("array: element " + std::to_string(index) + " is NULL; use std::vector<std::optional<" +
                                      cpp_type_name<E>() + ">>");
                }
            }
            out.emplace_back(decode_value<E>(elem, *f));
            ++index;
        }
    }
}

}  // namespace detail

/// std::vector<T> <-> an array of T (std::optional<T> elements for arrays that may hold
/// NULL). A multi-dimensional array is a nested vector, one level per dimension
/// (std::vector<std::vector<int>> for int4[][]): it must be rectangular, and sending one
/// with an inner vector of length 0 is a value_error (PostgreSQL has no such array).
/// Reading checks the number of dimensions. Lower bounds other than 1 are not kept.
/// An empty vector is '{}'. Arrays of enums, composites and extension types read when
/// their element does; they cannot be sent (the element has no type of its own): send
/// text[] and cast (`$1::text[]::my_enum[]`).
template <class T>
struct type_traits<std::vector<T>, std::enable_if_t<!detail::is_bytea_vector<T>>> {
    static constexpr int dimensions = detail::array_shape<std::vector<T>>::depth;
    using leaf = typename detail::array_shape<std::vector<T>>::leaf;
    using element = detail::element_value_t<leaf>;
    static constexpr oid_t param_oid = detail::array_oid_of<element>();
    static constexpr bool borrows = detail::type_borrows<leaf>();

    static bool accepts(const pg_type& t) noexcept
        requires detail::has_decode<element>::value
    {
        return t.kind() == type_kind::array && detail::accepts_type<element>(t.element().base());
    }

    /// Only for elements with a type of their own: the server checks the element type
    /// (send enum arrays as text[] and cast: `$1::text[]::my_enum[]`).
    static void encode(const std::vector<T>& v, std::string& out)
        requires(detail::has_encode<element>::value && type_traits<element>::param_oid != oids::unspecified)
    {
        using detail::write_be;
        // The shape: the first vector at each level gives that dimension's length.
        std::vector<std::int32_t> dims;
        bool empty = v.empty();
        auto measure = [&](const auto& level, auto&& self) -> void {
            if (level.size() > 0x7FFFFFF) throw value_error("array: too many elements");
            dims.push_back(static_cast<std::int32_t>(level.size()));
            using L = std::decay_t<decltype(level)>;
            if constexpr (detail::array_shape<typename L::value_type>::depth > 0) {
                if (level.empty()) return;
                self(level.front(), self);
            }
        };
        measure(v, measure);
        if (!empty) {
            for (std::int32_t d : dims)
                if (d == 0)
                    throw value_error("array: an inner dimension of length 0 (PostgreSQL arrays have none; send an empty outer vector)");
        }
        write_be<std::int32_t>(out, empty ? 0 : dimensions);
        write_be<std::int32_t>(out, detail::has_null_leaf<leaf>(v) ? 1 : 0);
        write_be<std::uint32_t>(out, type_traits<element>::param_oid);
        if (empty) return;
        for (std::int32_t d : dims) {
            write_be<std::int32_t>(out, d);
            write_be<std::int32_t>(out, 1);  // lower bound
        }
        detail::encode_array_level<leaf>(v, 0, dims, out);
    }

    static std::vector<T> decode(const pg_type& t, std::string_view b)
        requires detail::has_decode<element>::value
    {
        detail::byte_reader<value_error> in(b, "array");
        auto ndim = in.be<std::int32_t>();
        auto flags = in.be<std::int32_t>();
        oid_t elem_oid = in.be<std::uint32_t>();
        if (flags != 0 && flags != 1) throw value_error("array: bad flags");
        std::vector<T> out;
        if (ndim == 0) {
            in.expect_end();
            return out;
        }
        if (ndim < 0 || ndim > 6) throw value_error("array: bad dimension count " + std::to_string(ndim));
        if (ndim != dimensions)
            throw value_error("array: a " + std::to_string(ndim) + "-dimensional array cannot be read as " +
                              detail::cpp_type_name<std::vector<T>>() + " (" + std::to_string(dimensions) +
                              " dimension(s): one std::vector level each)");
        pg_type elem(elem_oid, t.catalog());
        if (elem_oid != t.element().oid() && !detail::accepts_type<element>(elem.base()))
            throw value_error("array: element type " + elem.display_name() + " cannot be read as " +
                              detail::cpp_type_name<element>());
        std::vector<std::int32_t> dims;
        std::size_t total = 1;
        for (int d = 0; d < ndim; ++d) {
            auto n = in.be<std::int32_t>();
            in.be<std::int32_t>();  // lower bound
            if (n < 0) throw value_error("array: negative dimension length");
            dims.push_back(n);
            total *= static_cast<std::size_t>(n);
            // Each element takes at least its 4-byte length: a count beyond the data is malformed.
            if (total > in.left() / 4 + 1) throw value_error("array: element count exceeds the data");
        }
        if (total > in.left() / 4) throw value_error("array: element count exceeds the data");
        std::size_t index = 0;
        detail::decode_array_level<std::vector<T>, leaf>(out, 0, dims, in, elem.base(), index);
        in.expect_end();
        return out;
    }
};

}  // namespace pgcoro

// pgcoro/detail/params.hpp — statement parameters encoded in the binary format.
#pragma once

#include <pgcoro/error.hpp>
#include <pgcoro/types/traits.hpp>

#include <boost/container/small_vector.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace pgcoro::detail {

/// Up to 8 parameters live inside the statement itself (no allocation).
template <class T>
using param_array = boost::container::small_vector<T, 8>;

/// The parameters of one statement: types, binary values (one buffer), NULL markers.
/// Built eagerly when a statement is called so nothing refers to the caller's objects.
struct encoded_params {
    param_array<unsigned int> types;
    param_array<int> lengths;
    param_array<int> formats;
    param_array<std::ptrdiff_t> offsets;  // -1: NULL
    std::string buffer;
    param_array<const char*> values;      // filled by pointers() right before sending

    int count() const noexcept { return static_cast<int>(types.size()); }

    const char* const* pointers() {
        values.resize(offsets.size());
        for (std::size_t i = 0; i < offsets.size(); ++i)
            values[i] = offsets[i] < 0 ? nullptr : buffer.data() + offsets[i];
        return values.data();
    }

    /// Empty again, keeping what was allocated (for a recycled statement).
    void clear() noexcept {
        types.clear();
        lengths.clear();
        formats.clear();
        offsets.clear();
        buffer.clear();
        values.clear();
    }
};

template <class T>
void encode_one(encoded_params& p, const T& v) {
    using V = std::decay_t<T>;  // string literals arrive as const char*
    std::size_t index = p.types.size() + 1;
    if constexpr (std::is_same_v<V, std::nullopt_t>) {
        p.types.push_back(0);
        p.offsets.push_back(-1);
        p.lengths.push_back(0);
        p.formats.push_back(1);
    } else if constexpr (is_optional<V>::value) {
        if (v) {
            encode_one(p, *v);
        } else {
            p.types.push_back(type_traits<typename V::value_type>::param_oid);
            p.offsets.push_back(-1);
            p.lengths.push_back(0);
            p.formats.push_back(1);
        }
    } else {
        static_assert(has_encode<V>::value,
                      "pgcoro: no type_traits<T>::encode for this parameter type; "
                      "specialise pgcoro::type_traits (see pgcoro/types/traits.hpp)");
        p.types.push_back(type_traits<V>::param_oid);
        p.formats.push_back(1);
        if constexpr (std::is_pointer_v<V>) {
            if (v == nullptr) {
                p.offsets.push_back(-1);
                p.lengths.push_back(0);
                return;
            }
        }
        std::size_t start = p.buffer.size();
        try {
            type_traits<V>::encode(v, p.buffer);
        } catch (const value_error& e) {
            throw pgcoro::error(make_error_code(errc::encode_error),
                                "parameter $" + std::to_string(index) + " (" +
                                    cpp_type_name<V>() + "): " + e.what());
        }
        std::size_t len = p.buffer.size() - start;
        if (len > 0x3fffffff)
            throw pgcoro::error(make_error_code(errc::encode_error),
                                "parameter $" + std::to_string(index) + " is larger than 1 GiB");
        p.offsets.push_back(static_cast<std::ptrdiff_t>(start));
        p.lengths.push_back(static_cast<int>(len));
    }
}

/// Encodes args into p (which is empty); throws pgcoro::error (errc::encode_error).
template <class... Args>
void encode_params_into(encoded_params& p, const Args&... args) {
    constexpr std::size_t n = sizeof...(Args);
    static_assert(n <= 65535, "PostgreSQL takes at most 65535 parameters");
    if constexpr (n > 0) {
        if constexpr (n > 8) {
            p.types.reserve(n);
            p.lengths.reserve(n);
            p.formats.reserve(n);
            p.offsets.reserve(n);
        }
        (encode_one(p, args), ...);
    }
}

template <class... Args>
encoded_params encode_params(const Args&... args) {
    encoded_params p;
    encode_params_into(p, args...);
    return p;
}

}  // namespace pgcoro::detail

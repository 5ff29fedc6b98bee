// pgcoro/types/text.hpp — character types: text, varchar, char(n), name.
#pragma once

#include <pgcoro/types/traits.hpp>

#include <string>
#include <string_view>

namespace pgcoro {

namespace detail {
inline bool is_text_oid(oid_t o) noexcept {
    return o == oids::text || o == oids::varchar || o == oids::bpchar || o == oids::name ||
           o == oids::unknown;
}
}  // namespace detail

/// std::string reads any character column (its binary form is the text itself) and is
/// sent as `text`. The bytes are passed through unchanged in the client encoding (UTF-8
/// unless you change client_encoding).
template <>
struct type_traits<std::string> {
    static constexpr std::string_view cpp_name = "std::string";
    static constexpr oid_t param_oid = oids::text;
    static bool accepts(oid_t o) noexcept { return detail::is_text_oid(o); }
    static void encode(const std::string& v, std::string& out) { out.append(v); }
    static std::string decode(oid_t, std::string_view b) { return std::string(b); }
};

/// Parameters only: a view is sent as text. (A result is never read into a view: the
/// bytes would not outlive the result.)
template <>
struct type_traits<std::string_view> {
    static constexpr std::string_view cpp_name = "std::string_view";
    static constexpr oid_t param_oid = oids::text;
    static void encode(std::string_view v, std::string& out) { out.append(v); }
};

/// Parameters only: a NUL-terminated string (string literals decay to this). A null
/// pointer is sent as SQL NULL.
template <>
struct type_traits<const char*> {
    static constexpr std::string_view cpp_name = "const char*";
    static constexpr oid_t param_oid = oids::text;
    static void encode(const char* v, std::string& out) { out.append(v); }
};
template <>
struct type_traits<char*> : type_traits<const char*> {};

}  // namespace pgcoro

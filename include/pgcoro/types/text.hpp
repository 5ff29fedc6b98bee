// pgcoro/types/text.hpp — character types: text, varchar, char(n), name, and the types
// whose binary form is their text (json, xml, citext, enum labels).
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

/// std::string reads any character column, json / jsonb / xml (as their text), and the
/// columns of extension or user types (OID >= 16384) whose binary form is their text:
/// citext, enums. Sent as `text`. The bytes pass through in the client encoding (UTF-8
/// unless you change client_encoding).
template <>
struct type_traits<std::string> {
    static constexpr std::string_view cpp_name = "std::string";
    static constexpr oid_t param_oid = oids::text;
    static constexpr oid_t array_oid = 1009;
    static bool accepts(oid_t o) noexcept {
        return detail::is_text_oid(o) || o == oids::json || o == oids::jsonb || o == oids::xml || o >= 16384;
    }
    static void encode(const std::string& v, std::string& out) { out.append(v); }
    static std::string decode(oid_t o, std::string_view b) {
        if (o == oids::jsonb) {
            if (b.empty() || b[0] != 1) throw value_error("jsonb: unknown binary format version");
            b.remove_prefix(1);
        }
        return std::string(b);
    }
};

/// Parameters only: a view is sent as text. (A result is never read into a view: the
/// bytes would not outlive the result.)
template <>
struct type_traits<std::string_view> {
    static constexpr std::string_view cpp_name = "std::string_view";
    static constexpr oid_t param_oid = oids::text;
    static constexpr oid_t array_oid = 1009;
    static void encode(std::string_view v, std::string& out) { out.append(v); }
};

/// Parameters only: a NUL-terminated string (string literals decay to this). A null
/// pointer is sent as SQL NULL.
template <>
struct type_traits<const char*> {
    static constexpr std::string_view cpp_name = "const char*";
    static constexpr oid_t param_oid = oids::text;
    static constexpr oid_t array_oid = 1009;
    static void encode(const char* v, std::string& out) { out.append(v); }
};
template <>
struct type_traits<char*> : type_traits<const char*> {};

}  // namespace pgcoro

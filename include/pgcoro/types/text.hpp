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

/// The JSON text of a json or jsonb value's binary form (jsonb: a version byte, 1, first);
/// other types' bytes as they are.
inline std::string_view json_text(oid_t o, std::string_view b) {
    if (o == oids::jsonb) {
        if (b.empty() || b[0] != 1) throw value_error("jsonb: unknown binary format version");
        b.remove_prefix(1);
    }
    return b;
}
}  // namespace detail

/// std::string reads text, varchar, char(n), name, "char", json / jsonb / xml (as their
/// text), and the types whose binary form is their text: citext (recognised by name) and
/// every enum. Nothing else: an extension type's binary form is not its text. Sent as
/// `text`. The bytes pass through in the client encoding (UTF-8 unless you change
/// client_encoding).
template <>
struct type_traits<std::string> {
    static constexpr std::string_view cpp_name = "std::string";
    static constexpr oid_t param_oid = oids::text;
    static constexpr oid_t array_oid = 1009;
    static bool accepts(const pg_type& t) noexcept {
        oid_t o = t.oid();
        return detail::is_text_oid(o) || o == oids::char_ || o == oids::json || o == oids::jsonb || o == oids::xml ||
               t.kind() == type_kind::enumeration || t.is("citext");
    }
    static void encode(const std::string& v, std::string& out) { out.append(v); }
    static std::string decode(const pg_type& t, std::string_view b) { return std::string(detail::json_text(t.oid(), b)); }
};

/// Sent as text. Read (the columns std::string reads) only from a pgcoro::result
/// (result::get, result::as, query_result): the view points into the result and lives as
/// long as it. query<T>() and friends, which free the result before returning, refuse it
/// at compile time.
template <>
struct type_traits<std::string_view> {
    static constexpr std::string_view cpp_name = "std::string_view";
    static constexpr oid_t param_oid = oids::text;
    static constexpr oid_t array_oid = 1009;
    static constexpr bool borrows = true;
    static bool accepts(const pg_type& t) noexcept { return type_traits<std::string>::accepts(t); }
    static void encode(std::string_view v, std::string& out) { out.append(v); }
    static std::string_view decode(const pg_type& t, std::string_view b) { return detail::json_text(t.oid(), b); }
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

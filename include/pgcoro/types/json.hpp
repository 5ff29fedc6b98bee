// pgcoro/types/json.hpp — json / jsonb as boost::json::value. Opt-in (not part of
// pgcoro.hpp): include it and link Boost.JSON (Boost::json), or include
// <boost/json/src.hpp> in one translation unit for header-only use.
// Without it, json and jsonb columns read as std::string (their text).
#pragma once

#include <pgcoro/types/text.hpp>
#include <pgcoro/types/traits.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace pgcoro {

/// Sent as jsonb; reads json and jsonb columns. Invalid JSON is a value_error.
template <>
struct type_traits<boost::json::value> {
    static constexpr std::string_view cpp_name = "boost::json::value";
    static constexpr oid_t param_oid = oids::jsonb;
    static constexpr oid_t array_oid = 3807;
    static bool accepts(oid_t o) noexcept { return o == oids::json || o == oids::jsonb; }
    static void encode(const boost::json::value& v, std::string& out) {
        out.push_back('\1');  // jsonb binary format version
        out += boost::json::serialize(v);
    }
    static boost::json::value decode(oid_t o, std::string_view b) {
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(detail::json_text(o, b), ec);
        if (ec) throw value_error("json: " + ec.message());
        return v;
    }
};

}  // namespace pgcoro

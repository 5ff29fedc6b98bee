// pgcoro/types/uuid.hpp — uuid as boost::uuids::uuid.
#pragma once

#include <pgcoro/types/traits.hpp>

#include <boost/uuid/uuid.hpp>

#include <algorithm>

namespace pgcoro {

template <>
struct type_traits<boost::uuids::uuid> {
    static constexpr std::string_view cpp_name = "boost::uuids::uuid";
    static constexpr oid_t param_oid = oids::uuid;
    static constexpr oid_t array_oid = 2951;
    static bool accepts(oid_t o) noexcept { return o == oids::uuid; }
    static void encode(const boost::uuids::uuid& u, std::string& out) {
        out.append(reinterpret_cast<const char*>(u.data), 16);
    }
    static boost::uuids::uuid decode(oid_t, std::string_view b) {
        if (b.size() != 16) throw value_error("uuid: expected 16 bytes, got " + std::to_string(b.size()));
        boost::uuids::uuid u;
        std::copy(b.begin(), b.end(), reinterpret_cast<char*>(u.data));
        return u;
    }
};

}  // namespace pgcoro

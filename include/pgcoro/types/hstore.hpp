// pgcoro/types/hstore.hpp — the hstore extension's key/value sets as a std::map.
#pragma once

#include <pgcoro/detail/binary.hpp>
#include <pgcoro/types/traits.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace pgcoro {

/// hstore (CREATE EXTENSION hstore) <-> std::map<std::string, std::optional<std::string>>
/// (a NULL value is an empty optional). Recognised by its type name, looked up once per
/// connection. Sent with no type of its own: the statement's context gives it (a hstore
/// column, or `$1::hstore`).
using hstore = std::map<std::string, std::optional<std::string>>;

template <>
struct type_traits<hstore> {
    static constexpr std::string_view cpp_name = "pgcoro::hstore";
    static constexpr std::string_view type_name = "hstore";
    static constexpr oid_t param_oid = oids::unspecified;
    static void encode(const hstore& m, std::string& out) {
        if (m.size() > 0x7FFFFFF) throw value_error("hstore: too many pairs");
        detail::write_be<std::int32_t>(out, static_cast<std::int32_t>(m.size()));
        for (const auto& [k, v] : m) {
            std::size_t at = detail::begin_length(out);
            out += k;
            detail::end_length<value_error>(out, at);
            if (!v) {
                detail::write_be<std::int32_t>(out, -1);
                continue;
            }
            at = detail::begin_length(out);
            out += *v;
            detail::end_length<value_error>(out, at);
        }
    }
    static hstore decode(oid_t, std::string_view b) {
        detail::byte_reader<value_error> in(b, "hstore");
        auto n = in.be<std::int32_t>();
        if (n < 0 || static_cast<std::size_t>(n) > in.left() / 8) throw value_error("hstore: bad pair count");
        hstore m;
        for (std::int32_t i = 0; i < n; ++i) {
            auto k = in.field();
            if (!k) throw value_error("hstore: a NULL key");
            auto v = in.field();
            m.insert_or_assign(std::string(*k), v ? std::optional<std::string>(std::string(*v)) : std::nullopt);
        }
        in.expect_end();
        return m;
    }
};

}  // namespace pgcoro

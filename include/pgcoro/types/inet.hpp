// pgcoro/types/inet.hpp — network addresses: inet and cidr (an address with a prefix
// length), macaddr and macaddr8.
#pragma once

#include <pgcoro/types/traits.hpp>

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace pgcoro {

/// An inet or cidr value: an IPv4/IPv6 address and its netmask length. Sent as inet.
struct inet {
    /// prefix_length's default: a single host, the address's full length (32 or 128).
    static constexpr std::uint8_t host = 255;

    boost::asio::ip::address address;
    std::uint8_t prefix_length = host;  ///< the netmask length; `host`: 32 (IPv4) / 128 (IPv6)
    bool is_cidr = false;               ///< read from a cidr column

    /// The netmask length in bits, `host` resolved for the address's family.
    unsigned prefix() const noexcept {
        return prefix_length == host ? (address.is_v4() ? 32u : 128u) : prefix_length;
    }

    /// "192.168.0.1", "10.0.0.0/8" (prefix shown when not a single host).
    std::string to_string() const {
        std::string s = address.to_string();
        unsigned full = address.is_v4() ? 32 : 128;
        if (prefix() != full || is_cidr) s += "/" + std::to_string(prefix());
        return s;
    }
    friend bool operator==(const inet& a, const inet& b) {
        return a.address == b.address && a.prefix() == b.prefix();
    }
};

template <>
struct type_traits<inet> {
    static constexpr std::string_view cpp_name = "pgcoro::inet";
    static constexpr oid_t param_oid = oids::inet;
    static constexpr oid_t array_oid = 1041;
    static constexpr char af_inet = 2, af_inet6 = 3;  // PGSQL_AF_INET, PGSQL_AF_INET6
    static bool accepts(oid_t o) noexcept { return o == oids::inet || o == oids::cidr; }
    static void encode(const inet& v, std::string& out) {
        unsigned full = v.address.is_v4() ? 32 : 128;
        if (v.prefix() > full) throw value_error("inet: prefix length above " + std::to_string(full));
        out.push_back(v.address.is_v4() ? af_inet : af_inet6);
        out.push_back(static_cast<char>(v.prefix()));
        out.push_back(v.is_cidr ? 1 : 0);
        if (v.address.is_v4()) {
            auto b = v.address.to_v4().to_bytes();
            out.push_back(4);
            out.append(reinterpret_cast<const char*>(b.data()), b.size());
        } else {
            auto b = v.address.to_v6().to_bytes();
            out.push_back(16);
            out.append(reinterpret_cast<const char*>(b.data()), b.size());
        }
    }
    static inet decode(oid_t o, std::string_view b) {
        if (b.size() < 4) throw value_error("inet: header truncated");
        char family = b[0];
        auto bits = static_cast<std::uint8_t>(b[1]);
        auto nb = static_cast<std::uint8_t>(b[3]);
        inet v;
        v.is_cidr = o == oids::cidr || b[2] != 0;
        v.prefix_length = bits;
        if (family == af_inet) {
            if (nb != 4 || b.size() != 8 || bits > 32) throw value_error("inet: malformed IPv4 value");
            boost::asio::ip::address_v4::bytes_type a;
            for (int i = 0; i < 4; ++i) a[static_cast<std::size_t>(i)] = static_cast<unsigned char>(b[4 + static_cast<std::size_t>(i)]);
            v.address = boost::asio::ip::address_v4(a);
        } else if (family == af_inet6) {
            if (nb != 16 || b.size() != 20 || bits > 128) throw value_error("inet: malformed IPv6 value");
            boost::asio::ip::address_v6::bytes_type a;
            for (int i = 0; i < 16; ++i) a[static_cast<std::size_t>(i)] = static_cast<unsigned char>(b[4 + static_cast<std::size_t>(i)]);
            v.address = boost::asio::ip::address_v6(a);
        } else {
            throw value_error("inet: unknown address family");
        }
        return v;
    }
};

/// A MAC address: macaddr (6 bytes) or macaddr8 (8 bytes, EUI-64), by N.
template <std::size_t N>
struct basic_macaddr {
    std::array<std::uint8_t, N> bytes{};
    /// "08:00:2b:01:02:03"
    std::string to_string() const {
        static constexpr char hex[] = "0123456789abcdef";
        std::string s;
        for (std::size_t i = 0; i < N; ++i) {
            if (i) s += ':';
            s += hex[bytes[i] >> 4];
            s += hex[bytes[i] & 15];
        }
        return s;
    }
    friend bool operator==(const basic_macaddr&, const basic_macaddr&) = default;
};
using macaddr = basic_macaddr<6>;
using macaddr8 = basic_macaddr<8>;

template <std::size_t N>
struct type_traits<basic_macaddr<N>, std::enable_if_t<N == 6 || N == 8>> {
    static constexpr std::string_view cpp_name = N == 6 ? "pgcoro::macaddr" : "pgcoro::macaddr8";
    static constexpr oid_t param_oid = N == 6 ? oids::macaddr : oids::macaddr8;
    static constexpr oid_t array_oid = N == 6 ? 1040 : 775;
    static bool accepts(oid_t o) noexcept { return o == param_oid; }
    static void encode(const basic_macaddr<N>& v, std::string& out) {
        out.append(reinterpret_cast<const char*>(v.bytes.data()), N);
    }
    static basic_macaddr<N> decode(oid_t, std::string_view b) {
        if (b.size() != N) throw value_error(std::string(cpp_name) + ": expected " + std::to_string(N) + " bytes, got " + std::to_string(b.size()));
        basic_macaddr<N> v;
        for (std::size_t i = 0; i < N; ++i) v.bytes[i] = static_cast<std::uint8_t>(b[i]);
        return v;
    }
};

}  // namespace pgcoro

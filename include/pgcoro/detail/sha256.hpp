// pgcoro/detail/sha256.hpp — SHA-256 as lower-case hex, through OpenSSL's EVP.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pgcoro::detail {

using sha256_digest = std::array<unsigned char, 32>;

inline sha256_digest sha256(std::string_view data) {
    sha256_digest md{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1 || len != md.size())
        throw std::runtime_error("OpenSSL EVP_Digest(SHA-256) failed");
    return md;
}

inline std::string sha256_hex(std::string_view data) {
    static constexpr char hex[] = "0123456789abcdef";
    sha256_digest md = sha256(data);
    std::string out(md.size() * 2, '0');
    for (std::size_t i = 0; i < md.size(); ++i) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    return out;
}

}  // namespace pgcoro::detail

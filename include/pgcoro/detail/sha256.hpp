// pgcoro/detail/sha256.hpp — SHA-256 as lower-case hex, through OpenSSL's EVP.
#pragma once

#include <openssl/evp.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace pgcoro::detail {

inline std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("OpenSSL EVP_Digest(SHA-256) failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(static_cast<std::size_t>(len) * 2, '0');
    for (unsigned int i = 0; i < len; ++i) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    return out;
}

}  // namespace pgcoro::detail

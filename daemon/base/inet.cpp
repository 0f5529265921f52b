// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/base/inet.cpp - parsing and formatting of address values
#include "inet.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

namespace pastad {

namespace {

// inet_pton() needs a NUL-terminated string; addresses are short.
template <std::size_t N>
bool pton(int family, std::string_view text, std::array<std::uint8_t, N>& out) {
    char buf[INET6_ADDRSTRLEN + 1];
    // A NUL inside would end the C string early: "2001:db8::\0junk" is not an address.
    if (text.empty() || text.size() >= sizeof(buf) || text.find('\0') != text.npos) {
        return false;
    }
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    return inet_pton(family, buf, out.data()) == 1;
}

template <std::size_t N>
bool prefix_equal(const std::array<std::uint8_t, N>& a, const std::array<std::uint8_t, N>& b,
                  unsigned len) {
    if (len > N * 8) {
        len = N * 8;
    }
    const unsigned whole = len / 8;
    if (std::memcmp(a.data(), b.data(), whole) != 0) {
        return false;
    }
    const unsigned rest = len % 8;
    if (rest == 0) {
        return true;
    }
    const std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

std::optional<Ip4> Ip4::parse(std::string_view text) {
    Ip4 a;
    if (!pton(AF_INET, text, a.b)) {
        return std::nullopt;
    }
    return a;
}

Ip4 Ip4::from_host(std::uint32_t host_order) {
    Ip4 a;
    const std::uint32_t be = htonl(host_order);
    std::memcpy(a.b.data(), &be, 4);
    return a;
}

std::uint32_t Ip4::host_order() const {
    std::uint32_t be;
    std::memcpy(&be, b.data(), 4);
    return ntohl(be);
}

std::string Ip4::str() const {
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, b.data(), buf, sizeof(buf));
    return buf;
}

std::optional<Ip6> Ip6::parse(std::string_view text) {
    Ip6 a;
    if (!pton(AF_INET6, text, a.b)) {
        return std::nullopt;
    }
    return a;
}

std::string Ip6::str() const {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, b.data(), buf, sizeof(buf));
    return buf;
}

bool Ip6::is_unspecified() const {
    return b == std::array<std::uint8_t, 16>{};
}

bool Ip6::is_loopback() const {
    std::array<std::uint8_t, 16> lo{};
    lo[15] = 1;
    return b == lo;
}

std::optional<Mac> Mac::parse(std::string_view text) {
    // Exactly six two-digit hexadecimal groups separated by colons.
    if (text.size() != 17) {
        return std::nullopt;
    }
    Mac m;
    for (std::size_t i = 0; i < 6; ++i) {
        if (i > 0 && text[i * 3 - 1] != ':') {
            return std::nullopt;
        }
        unsigned v = 0;
        for (std::size_t j = 0; j < 2; ++j) {
            const char c = text[i * 3 + j];
            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= static_cast<unsigned>(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v |= static_cast<unsigned>(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                v |= static_cast<unsigned>(c - 'A' + 10);
            } else {
                return std::nullopt;
            }
        }
        m.b[i] = static_cast<std::uint8_t>(v);
    }
    return m;
}

std::string Mac::str() const {
    char buf[18];
    std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
                  b[5]);
    return buf;
}

bool Mac::is_broadcast() const {
    for (auto x : b) {
        if (x != 0xff) {
            return false;
        }
    }
    return true;
}

InAny InAny::from(const Ip4& v4) {
    InAny x;
    x.a.b[10] = 0xff;
    x.a.b[11] = 0xff;
    std::memcpy(&x.a.b[12], v4.b.data(), 4);
    return x;
}

bool InAny::is_v4() const {
    static constexpr std::array<std::uint8_t, 12> kMapped = {0, 0, 0, 0, 0,    0,
                                                             0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a.b.data(), kMapped.data(), kMapped.size()) == 0;
}

Ip4 InAny::v4() const {
    Ip4 r;
    std::memcpy(r.b.data(), &a.b[12], 4);
    return r;
}

std::size_t hash_addr16(const InAny& a, std::uint16_t v) {
    std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ v;
    for (std::size_t i = 0; i < 16; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, a.a.b.data() + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;  // a 64-bit mixing step
        h ^= h >> 33;
    }
    return static_cast<std::size_t>(h);
}

std::string InAny::str() const {
    return is_v4() ? v4().str() : a.str();
}

bool same_prefix(const Ip4& a, const Ip4& b, unsigned len) {
    return prefix_equal(a.b, b.b, len);
}
bool same_prefix(const Ip6& a, const Ip6& b, unsigned len) {
    return prefix_equal(a.b, b.b, len);
}

std::string to_string(const Prefix4& p) {
    return p.addr.str() + "/" + std::to_string(p.len);
}
std::string to_string(const Prefix6& p) {
    return p.addr.str() + "/" + std::to_string(p.len);
}

}  // namespace pastad

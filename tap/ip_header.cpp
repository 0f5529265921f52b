// SPDX-License-Identifier: GPL-2.0-or-later
// tap/ip_header.cpp - Ethernet and IP header emission
#include "ip_header.hpp"

#include <cstring>

#include "checksum.hpp"

namespace pastad::tap {

namespace {

void put16(std::byte* p, std::uint16_t v) {
    p[0] = static_cast<std::byte>(v >> 8);
    p[1] = static_cast<std::byte>(v & 0xff);
}

}  // namespace

std::size_t write_ip_headers(std::span<std::byte> out, const Mac& src_mac, const Mac& dst_mac,
                             const InAny& src, const InAny& dst, std::uint8_t proto,
                             std::size_t l4_len, std::uint8_t ttl) {
    const bool v4 = src.is_v4();
    const std::size_t hlen = ip_headers_len(src);
    if (out.size() < hlen) {
        return 0;
    }
    std::byte* p = out.data();
    std::memcpy(p, dst_mac.b.data(), 6);
    std::memcpy(p + 6, src_mac.b.data(), 6);
    put16(p + 12, v4 ? kEtherTypeIpv4 : kEtherTypeIpv6);
    p += kEthHeaderLen;

    if (v4) {
        if (l4_len > 0xffff - kIpv4HeaderLen) {
            return 0;
        }
        p[0] = std::byte{0x45};  // version 4, IHL 5
        p[1] = std::byte{0};     // DSCP/ECN
        put16(p + 2, static_cast<std::uint16_t>(kIpv4HeaderLen + l4_len));
        put16(p + 4, 0);       // identification: unused with DF (RFC 6864)
        put16(p + 6, 0x4000);  // DF, fragment offset 0
        p[8] = static_cast<std::byte>(ttl);
        p[9] = static_cast<std::byte>(proto);
        put16(p + 10, 0);
        std::memcpy(p + 12, src.v4().b.data(), 4);
        std::memcpy(p + 16, dst.v4().b.data(), 4);
        const std::uint16_t sum = csum_fold(csum_add({p, kIpv4HeaderLen}));
        put16(p + 10, sum);
    } else {
        if (l4_len > 0xffff) {
            return 0;  // no jumbograms: the tap MTU is at most 65520
        }
        p[0] = std::byte{0x60};
        p[1] = std::byte{0};
        p[2] = std::byte{0};
        p[3] = std::byte{0};
        put16(p + 4, static_cast<std::uint16_t>(l4_len));
        p[6] = static_cast<std::byte>(proto);
        p[7] = static_cast<std::byte>(ttl);
        std::memcpy(p + 8, src.a.b.data(), 16);
        std::memcpy(p + 24, dst.a.b.data(), 16);
    }
    return hlen;
}

}  // namespace pastad::tap

// SPDX-License-Identifier: GPL-2.0-or-later
// tap/ip_header.hpp - writing Ethernet + IPv4/IPv6 headers for frames sent to the namespace
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "daemon/base/inet.hpp"

namespace pastad::tap {

inline constexpr std::size_t kEthHeaderLen = 14;
inline constexpr std::size_t kIpv4HeaderLen = 20;  // pastad never sends IPv4 options
inline constexpr std::size_t kIpv6HeaderLen = 40;  // nor IPv6 extension headers
inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86dd;

// Length of the Ethernet + IP headers for a packet between `src` and `dst`.
inline std::size_t ip_headers_len(const InAny& src) {
    return kEthHeaderLen + (src.is_v4() ? kIpv4HeaderLen : kIpv6HeaderLen);
}

// Writes the Ethernet header and an IPv4 (both addresses IPv4-mapped) or IPv6
// header carrying `l4_len` bytes of protocol `proto`, at the start of `out`.
// IPv4 gets DF set, ID 0 (RFC 6864 section 4.1: atomic datagrams) and a
// computed header checksum. Returns the number of bytes written, or 0 when
// `out` is too small or `l4_len` does not fit the IP length field; the caller
// must then drop the packet.
std::size_t write_ip_headers(std::span<std::byte> out, const Mac& src_mac, const Mac& dst_mac,
                             const InAny& src, const InAny& dst, std::uint8_t proto,
                             std::size_t l4_len, std::uint8_t ttl = 64);

}  // namespace pastad::tap

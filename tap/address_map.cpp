// SPDX-License-Identifier: GPL-2.0-or-later
// tap/address_map.cpp - where a destination the namespace names goes on the host
#include "tap/address_map.hpp"

#include <netinet/in.h>

#include <cstring>

namespace pastad::tap {

namespace {

Ip6 loopback6() {
    Ip6 lo;
    lo.b[15] = 1;
    return lo;
}

// One family's rules, in order: DNS forwarding first (the forwarding address
// may well be the gateway, whose other ports still mean the host's
// loopback), then the loopback stand-in, then the guest-address stand-in.
template <typename Addr>
std::optional<Addr> map_one(const Addr& p, std::uint16_t port, const std::optional<Addr>& gw,
                            bool map_gw, const std::optional<Addr>& host_lo_alias,
                            const std::optional<Addr>& guest_alias,
                            const std::optional<Addr>& host_addr,
                            const std::optional<Addr>& dns_match,
                            const std::optional<Addr>& dns_host, const Addr& lo) {
    if (dns_match && dns_host && p == *dns_match && is_dns_port(port)) {
        return *dns_host;
    }
    if (host_lo_alias) {
        if (p == *host_lo_alias) {
            return lo;
        }
    } else if (map_gw && gw && p == *gw) {
        return lo;
    }
    if (guest_alias && p == *guest_alias) {
        return host_addr ? *host_addr : lo;
    }
    return std::nullopt;
}

}  // namespace

InAny map_to_host(const AddressMapConfig& m, const InAny& peer, std::uint16_t port) {
    if (peer.is_v4()) {
        const auto r =
            map_one(peer.v4(), port, m.gw4, m.map_gw, m.map_host_loopback4, m.map_guest_addr4,
                    m.host_addr4, m.dns_match4, m.dns_host4, Ip4::from_host(0x7f000001));
        return r ? InAny::from(*r) : peer;
    }
    const auto r = map_one(peer.a, port, m.gw6, m.map_gw, m.map_host_loopback6, m.map_guest_addr6,
                           m.host_addr6, m.dns_match6, m.dns_host6, loopback6());
    return r ? InAny::from(*r) : peer;
}

socklen_t to_sockaddr(const InAny& addr, std::uint16_t port, sockaddr_storage& ss) {
    std::memset(&ss, 0, sizeof(ss));
    if (addr.is_v4()) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        const Ip4 a = addr.v4();
        std::memcpy(&sin.sin_addr, a.b.data(), 4);
        std::memcpy(&ss, &sin, sizeof(sin));
        return sizeof(sin);
    }
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    std::memcpy(&sin6.sin6_addr, addr.a.b.data(), 16);
    std::memcpy(&ss, &sin6, sizeof(sin6));
    return sizeof(sin6);
}

bool from_sockaddr(const sockaddr_storage& ss, InAny& addr, std::uint16_t& port) {
    if (ss.ss_family == AF_INET) {
        sockaddr_in sin{};
        std::memcpy(&sin, &ss, sizeof(sin));
        Ip4 a;
        std::memcpy(a.b.data(), &sin.sin_addr, 4);
        addr = InAny::from(a);
        port = ntohs(sin.sin_port);
        return true;
    }
    if (ss.ss_family == AF_INET6) {
        sockaddr_in6 sin6{};
        std::memcpy(&sin6, &ss, sizeof(sin6));
        std::memcpy(addr.a.b.data(), &sin6.sin6_addr, 16);
        port = ntohs(sin6.sin6_port);
        return true;
    }
    return false;
}

}  // namespace pastad::tap

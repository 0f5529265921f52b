// SPDX-License-Identifier: GPL-2.0-or-later
// tap/address_map.hpp - where a destination the namespace names goes on the host
//
// The namespace sees the host's own addresses, so most destinations need no
// translation at all. A few addresses are special (DESIGN.md section 2,
// "Address mapping, without NAT tables"): the gateway (or the address of
// --map-host-loopback) stands for the host's loopback, the address of
// --map-guest-addr for the host's own address, and DNS sent to the
// forwarding address (--dns-forward, or the one chosen by daemon/dns) goes
// to the host's resolver. TCP, UDP and ICMP share these rules through
// map_to_host(). Pure functions: any thread, no allocation.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>

#include "daemon/base/inet.hpp"

namespace pastad::tap {

struct AddressMapConfig {
    std::optional<Ip4> gw4;  // the namespace's gateway addresses
    std::optional<Ip6> gw6;
    bool map_gw = true;                     // the gateway stands for the host's loopback
    std::optional<Ip4> map_host_loopback4;  // when set, this address (not gw)
    std::optional<Ip6> map_host_loopback6;  // stands for the host's loopback
    std::optional<Ip4> map_guest_addr4;     // this address stands for the host's
    std::optional<Ip6> map_guest_addr6;     // own address (host_addr*)
    std::optional<Ip4> host_addr4;          // the host's own address; unset:
    std::optional<Ip6> host_addr6;          // map_guest_addr goes to loopback
    // DNS forwarding: UDP and TCP to dns_match* port 53 (or 853) go to
    // dns_host* instead. Both of a family must be set for the rule to apply.
    std::optional<Ip4> dns_match4;
    std::optional<Ip6> dns_match6;
    std::optional<Ip4> dns_host4;
    std::optional<Ip6> dns_host6;
};

// True for the ports DNS forwarding applies to: 53 (DNS) and 853 (DNS over
// TLS and QUIC).
inline bool is_dns_port(std::uint16_t port) {
    return port == 53 || port == 853;
}

// The host-side destination of traffic the namespace sends to `peer`:`port`
// with protocol-independent rules; `port` 0 (ICMP) never matches DNS. The
// result has the family of `peer`.
InAny map_to_host(const AddressMapConfig& m, const InAny& peer, std::uint16_t port);

// Socket addresses for host sockets: `addr` as sockaddr_in (IPv4-mapped) or
// sockaddr_in6; returns the length to pass to the kernel.
socklen_t to_sockaddr(const InAny& addr, std::uint16_t port, sockaddr_storage& ss);

// The address and port of a sockaddr_in or sockaddr_in6 the kernel filled;
// false for any other family.
bool from_sockaddr(const sockaddr_storage& ss, InAny& addr, std::uint16_t& port);

}  // namespace pastad::tap

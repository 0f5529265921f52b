// SPDX-License-Identifier: GPL-2.0-or-later
// tests/fuzz/fuzz_frames.hpp - configuration shared by the frame fuzz target and its seeds
#pragma once

#include "daemon/base/inet.hpp"
#include "tap/dhcp.hpp"
#include "tap/dhcpv6.hpp"
#include "tap/ndp.hpp"

namespace pastad::tap::fuzz {

// Input layout: one control byte, then the frame. Control bit 0 asks the
// target to repair the IPv4 header and L4 checksums before parsing, so that
// mutations reach the code behind the checksum checks.
inline constexpr unsigned kRepairChecksums = 1;

inline Mac our_mac() {
    return *Mac::parse("02:00:00:00:00:01");
}
inline Mac ns_mac() {
    return *Mac::parse("52:54:00:12:34:56");
}
inline Ip4 ns_addr4() {
    return *Ip4::parse("10.0.2.15");
}
inline Ip6 ns_addr6() {
    return *Ip6::parse("2001:db8::15");
}

inline NdpConfig ndp_config() {
    NdpConfig c;
    c.mac = our_mac();
    c.prefixes = {Prefix6{ns_addr6(), 64}, Prefix6{*Ip6::parse("2001:db8:1::"), 48}};
    c.ns_addrs = {ns_addr6()};
    c.mtu = 1500;
    // Router advertisements then carry every option pastad writes.
    c.rdnss = {*Ip6::parse("2001:db8::53")};
    c.dnssl = {"example.test", "b.example"};
    return c;
}

inline DhcpConfig dhcp_config() {
    DhcpConfig c;
    c.our_mac = our_mac();
    c.addr = ns_addr4();
    c.prefix_len = 24;
    c.router = *Ip4::parse("10.0.2.2");
    c.server = *Ip4::parse("10.0.2.2");
    c.dns = {*Ip4::parse("10.0.2.3")};
    c.search = {"example.test", "b.example"};
    c.mtu = 65520;
    return c;
}

inline Dhcpv6Config dhcpv6_config() {
    Dhcpv6Config c;
    c.our_mac = our_mac();
    c.our_ll = *Ip6::parse("fe80::1");
    c.addr = ns_addr6();
    c.dns = {*Ip6::parse("2001:db8::53")};
    c.search = {"example.test"};
    return c;
}

}  // namespace pastad::tap::fuzz

// SPDX-License-Identifier: GPL-2.0-or-later
// tap/dhcpv6.hpp - a DHCPv6 server for the namespace's address, nameservers and domains
//
// See the theory of operation at the top of tap/dhcpv6.cpp. Event-loop
// only; nothing allocates after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "daemon/base/inet.hpp"
#include "tap/frame.hpp"

namespace pastad::tap {

inline constexpr std::uint16_t kDhcpv6ClientPort = 546;
inline constexpr std::uint16_t kDhcpv6ServerPort = 547;

struct Dhcpv6Config {
    Mac our_mac;                      // also the server's DUID (DUID-LL)
    Ip6 our_ll;                       // source of answers (the router's link-local)
    std::optional<Ip6> addr;          // IA_NA address; unset: no addresses
    std::vector<Ip6> dns;             // option 23; empty: left out
    std::vector<std::string> search;  // option 24; empty: left out
    std::string fqdn;                 // option 39, Client FQDN (--fqdn); empty or not a
                                      // valid domain name: left out
};

class Dhcpv6Server {
public:
    explicit Dhcpv6Server(const Dhcpv6Config& cfg);

    // `f` carries `p`, a datagram to port 547. Writes the answer (ADVERTISE
    // or REPLY) into `out`; returns its length, 0 when there is none.
    // `malformed` is set for a message that is not valid DHCPv6.
    std::size_t handle(const Frame& f, const UdpPacket& p, std::span<std::byte> out,
                       bool& malformed) const;

private:
    Dhcpv6Config cfg_;
    std::vector<std::byte> search_wire_;
    std::vector<std::byte> fqdn_wire_;  // the FQDN in wire format; empty: left out
};

}  // namespace pastad::tap

// SPDX-License-Identifier: GPL-2.0-or-later
// tap/dhcp.hpp - a DHCPv4 server that hands the namespace the host's address
//
// The namespace's DHCP client asks; pastad answers from its configuration:
// the address and netmask, router, nameservers, search list, MTU, host
// name and client FQDN. One
// client, one address, an infinite lease: nothing is stored between
// messages. See the theory of operation at the top of tap/dhcp.cpp.
// Event-loop only; nothing allocates after construction.
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

inline constexpr std::uint16_t kDhcpServerPort = 67;
inline constexpr std::uint16_t kDhcpClientPort = 68;

// RFC 1035 section 3.1 names, uncompressed, one after the other (the form
// of DHCP option 119, DHCPv6 option 24 and the RA DNSSL option). Names that
// are not valid (empty labels, labels over 63 bytes, over 255 in all) are
// skipped.
std::vector<std::byte> encode_domain_names(const std::vector<std::string>& names);

struct DhcpConfig {
    Mac our_mac;
    Ip4 addr;  // the namespace's address (yiaddr)
    std::uint8_t prefix_len = 24;
    std::optional<Ip4> router;        // option 3
    Ip4 server;                       // server identifier (option 54) and source address
    std::vector<Ip4> dns;             // option 6; empty: left out
    std::vector<std::string> search;  // option 119; empty: left out
    unsigned mtu = 0;                 // option 26; 0: left out
    std::string hostname;             // option 12 (-H); empty: left out
    std::string fqdn;                 // option 81, Client FQDN (--fqdn); empty or not a
                                      // valid domain name: left out
};

class DhcpServer {
public:
    explicit DhcpServer(const DhcpConfig& cfg);

    // `f` carries `p`, a datagram to port 67. Writes the answer (OFFER, ACK
    // or NAK) into `out` and returns its length; 0 when there is none (not
    // for us, a message kind a server does not answer, no room). `malformed`
    // is set when the message was not valid DHCP.
    std::size_t handle(const Frame& f, const UdpPacket& p, std::span<std::byte> out,
                       bool& malformed) const;

private:
    DhcpConfig cfg_;
    std::vector<std::byte> search_wire_;
    std::vector<std::byte> fqdn_wire_;  // option 81's whole value; empty: left out
};

}  // namespace pastad::tap

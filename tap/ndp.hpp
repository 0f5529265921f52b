// SPDX-License-Identifier: GPL-2.0-or-later
// tap/ndp.hpp - neighbour and router discovery answers for the namespace (RFC 4861)
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

inline constexpr std::uint8_t kIcmp6RouterSolicit = 133;
inline constexpr std::uint8_t kIcmp6RouterAdvert = 134;
inline constexpr std::uint8_t kIcmp6NeighborSolicit = 135;
inline constexpr std::uint8_t kIcmp6NeighborAdvert = 136;

// The fe80::/64 address with the modified EUI-64 interface identifier of
// `mac` (RFC 4291 appendix A).
Ip6 link_local_from_mac(const Mac& mac);

// What the responder advertises. Set up once; copied into the responder.
struct NdpConfig {
    Mac mac;                        // pastad's MAC: every neighbour resolves to it
    std::vector<Prefix6> prefixes;  // prefix information options, L and A set
    std::vector<Ip6> ns_addrs;      // the namespace's own addresses: never answered for
    std::uint32_t mtu = 0;          // MTU option value; 0 leaves the option out
    // The namespace's default gateway. When it is link-local it is the RA's
    // source address (so the learnt default route names it, as on the host);
    // otherwise pastad's EUI-64 link-local address is.
    std::optional<Ip6> gateway;
    bool no_ndp = false;                        // answer nothing at all
    bool no_ra = false;                         // answer neighbour solicitations only
    bool managed = false;                       // RA M flag (addresses from DHCPv6)
    bool other = false;                         // RA O flag (other configuration from DHCPv6)
    std::uint16_t router_lifetime = 1800;       // seconds; RFC 4861 section 6.2.1 maximum 9000
    std::uint32_t valid_lifetime = 0xffffffff;  // prefix lifetimes: infinite by default
    std::uint32_t preferred_lifetime = 0xffffffff;
    std::vector<Ip6> rdnss;                   // RDNSS option (RFC 8106); empty: left out
    std::vector<std::string> dnssl;           // DNSSL option (RFC 8106); empty: left out
    std::uint32_t dns_lifetime = 0xffffffff;  // of both; infinite as the addresses are static
};

// Answers the namespace's Neighbor Solicitations (for any target but its own
// addresses, so every IPv6 neighbour is pastad) and Router Solicitations,
// and builds unsolicited Router Advertisements. Event-loop only.
class NdpResponder {
public:
    explicit NdpResponder(NdpConfig cfg);

    // pastad's link-local address, the source of its RAs (see NdpConfig::gateway).
    const Ip6& router_addr() const { return router_ll_; }

    // Writes the answer to `f` (a Neighbor Advertisement or a Router
    // Advertisement) into `out` and returns its length; 0 when there is none.
    // `why` is BadNdp or an ICMPv6 parse failure for an invalid RS/NS, None
    // otherwise (also for frames that are not RS/NS: other ICMPv6 belongs to
    // the ICMP translator).
    std::size_t handle(const Frame& f, std::span<std::byte> out, DropReason& why) const;
    std::size_t handle(const Frame& f, std::span<std::byte> out) const {
        DropReason why = DropReason::None;
        return handle(f, out, why);
    }

    // An unsolicited Router Advertisement to all nodes (ff02::1); 0 when RAs
    // are disabled or `out` is too small.
    std::size_t build_ra(std::span<std::byte> out) const;

private:
    std::size_t answer_ns(const Frame& f, const IcmpPacket& p, std::span<std::byte> out,
                          DropReason& why) const;
    std::size_t answer_rs(const Frame& f, const IcmpPacket& p, std::span<std::byte> out,
                          DropReason& why) const;
    std::size_t write_ra(std::span<std::byte> out, const Mac& dst_mac, const Ip6& dst) const;

    NdpConfig cfg_;
    Ip6 router_ll_;
    std::vector<std::byte> dnssl_wire_;  // cfg_.dnssl encoded, padded to 8 bytes
};

}  // namespace pastad::tap

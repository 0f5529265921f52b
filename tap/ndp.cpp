// SPDX-License-Identifier: GPL-2.0-or-later
// tap/ndp.cpp - neighbour and router discovery answers for the namespace (RFC 4861)
//
// Theory of operation
// -------------------
// What: pastad is the namespace's only IPv6 neighbour and its router.
// Neighbor Solicitations for any target other than the namespace's own
// addresses get a Neighbor Advertisement naming pastad's MAC; Router
// Solicitations get a Router Advertisement carrying the host's prefixes
// (L and A flags set, so SLAAC forms addresses), the MTU and pastad's MAC.
// The daemon may also send unsolicited RAs (build_ra()) at start-up and
// periodically.
//
// Not done: no solicitations of our own, no neighbour cache, no Redirects,
// no RDNSS/DNSSL options, no answers to duplicate address detection (an NS
// from the unspecified address probes the namespace's own tentative address;
// answering would make it give the address up). NA, RA and other ICMPv6
// from the namespace are ignored here.
//
// Validation, before any answer (RFC 4861 sections 6.1.1 and 7.1.1): hop
// limit 255 (the message cannot have been forwarded), ICMPv6 checksum, code
// 0, ICMP length at least 8 (RS) or 24 (NS), every option length non-zero
// and within the message, NS target not multicast, and from the unspecified
// source: no source link-layer option and, for NS, a solicited-node
// multicast destination. Failures are BadNdp (or the ICMPv6 parse reason).
//
// Answers:
//   NA  from the target address to the solicitor, hop limit 255, flags
//       Router, Solicited, Override, target link-layer option = pastad's
//       MAC; Ethernet to the solicitor's link-layer option or frame source.
//   RA  from router_addr() to the solicitor (or ff02::1 when it has no
//       address yet, and for unsolicited RAs), cur hop limit 64, M/O from the
//       configuration, router lifetime, reachable/retransmit time 0
//       (unspecified), options: source link-layer, MTU (when set), one
//       prefix information option per prefix.
//
// Limitations: the prefixes, lifetimes and MTU are those of the
// configuration; an RA larger than `out` is not sent (not split).
//
// References: RFC 4861 sections 4.1-4.4, 4.6, 6.1.1, 6.2.6, 7.1.1, 7.2.4;
// RFC 4862 section 5.5.3; RFC 4291 appendix A and section 2.7.1.
#include "tap/ndp.hpp"

#include "tap/dhcp.hpp"

#include <cstring>
#include <utility>

namespace pastad::tap {

namespace {

constexpr std::uint8_t kNdpHopLimit = 255;
constexpr std::uint8_t kOptSourceLla = 1;
constexpr std::uint8_t kOptTargetLla = 2;
constexpr std::uint8_t kOptPrefixInfo = 3;
constexpr std::uint8_t kOptMtu = 5;
constexpr std::uint8_t kOptRdnss = 25;
constexpr std::uint8_t kOptDnssl = 31;
constexpr std::size_t kNsMinData = 16;   // target address; ICMP length >= 24
constexpr std::size_t kRaFixedData = 8;  // reachable time, retransmit timer
constexpr std::size_t kLlaOptLen = 8;
constexpr std::size_t kMtuOptLen = 8;
constexpr std::size_t kPrefixOptLen = 32;
constexpr std::uint8_t kRaCurHopLimit = 64;
constexpr std::uint16_t kNaFlagsHigh = 0xe000;  // Router, Solicited, Override

const Mac kAllNodesMac{{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}};
const Ip6 kAllNodes{{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01}};

void put16(std::byte* p, std::uint16_t v) {
    p[0] = static_cast<std::byte>(v >> 8);
    p[1] = static_cast<std::byte>(v & 0xff);
}

void put32(std::byte* p, std::uint32_t v) {
    put16(p, static_cast<std::uint16_t>(v >> 16));
    put16(p + 2, static_cast<std::uint16_t>(v & 0xffff));
}

// Checks the options area of an NDP message: every option has a non-zero
// length (in units of 8 bytes) that fits. Reports the link-layer address
// option of type `lla_type`, if any.
bool check_options(std::span<const std::byte> opts, std::uint8_t lla_type,
                   std::optional<Mac>& lla) {
    while (!opts.empty()) {
        if (opts.size() < 2) {
            return false;
        }
        const std::size_t len = std::to_integer<std::size_t>(opts[1]) * 8;
        if (len == 0 || len > opts.size()) {
            return false;
        }
        if (std::to_integer<std::uint8_t>(opts[0]) == lla_type && len == kLlaOptLen) {
            Mac m;
            std::memcpy(m.b.data(), opts.data() + 2, 6);
            lla = m;
        }
        opts = opts.subspan(len);
    }
    return true;
}

bool is_solicited_node(const Ip6& a) {
    static constexpr std::uint8_t kPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    return std::memcmp(a.b.data(), kPrefix, sizeof(kPrefix)) == 0;
}

void write_lla_option(std::byte* p, std::uint8_t type, const Mac& mac) {
    p[0] = std::byte{type};
    p[1] = std::byte{1};
    std::memcpy(p + 2, mac.b.data(), 6);
}

// Common RFC 4861 checks for messages from the namespace.
bool valid_ndp_header(const Frame& f, const IcmpPacket& p) {
    return f.hop_limit == kNdpHopLimit && p.code == 0;
}

}  // namespace

Ip6 link_local_from_mac(const Mac& mac) {
    Ip6 a;
    a.b[0] = 0xfe;
    a.b[1] = 0x80;
    a.b[8] = mac.b[0] ^ 0x02;  // flip the universal/local bit
    a.b[9] = mac.b[1];
    a.b[10] = mac.b[2];
    a.b[11] = 0xff;
    a.b[12] = 0xfe;
    a.b[13] = mac.b[3];
    a.b[14] = mac.b[4];
    a.b[15] = mac.b[5];
    return a;
}

NdpResponder::NdpResponder(NdpConfig cfg) : cfg_(std::move(cfg)) {
    router_ll_ = cfg_.gateway && cfg_.gateway->is_link_local() ? *cfg_.gateway
                                                               : link_local_from_mac(cfg_.mac);
    // RFC 8106 section 5.2: names padded with zeros to a multiple of 8 bytes
    // (with the 8-byte option header), at most 255 units of 8 bytes.
    dnssl_wire_ = encode_domain_names(cfg_.dnssl);
    dnssl_wire_.resize((dnssl_wire_.size() + 7) / 8 * 8);
    if (dnssl_wire_.size() > 8 * 254) {
        dnssl_wire_.clear();
    }
    if (cfg_.rdnss.size() > 127) {
        cfg_.rdnss.resize(127);  // the option's length field counts 8-byte units
    }
}

std::size_t NdpResponder::handle(const Frame& f, std::span<std::byte> out, DropReason& why) const {
    why = DropReason::None;
    if (!f.is_v6() || f.proto != kProtoIcmp6 || f.l4.empty()) {
        return 0;
    }
    const auto type = std::to_integer<std::uint8_t>(f.l4[0]);
    if (type != kIcmp6NeighborSolicit && type != kIcmp6RouterSolicit) {
        return 0;
    }
    const auto p = parse_icmpv6(f, why);
    if (!p) {
        return 0;
    }
    if (!valid_ndp_header(f, *p)) {
        why = DropReason::BadNdp;
        return 0;
    }
    return type == kIcmp6NeighborSolicit ? answer_ns(f, *p, out, why) : answer_rs(f, *p, out, why);
}

std::size_t NdpResponder::answer_ns(const Frame& f, const IcmpPacket& p, std::span<std::byte> out,
                                    DropReason& why) const {
    // RFC 4861 section 7.1.1.
    if (p.data.size() < kNsMinData) {
        why = DropReason::BadNdp;
        return 0;
    }
    Ip6 target;
    std::memcpy(target.b.data(), p.data.data(), 16);
    std::optional<Mac> slla;
    if (target.is_multicast() || !check_options(p.data.subspan(kNsMinData), kOptSourceLla, slla)) {
        why = DropReason::BadNdp;
        return 0;
    }
    const bool dad = f.src_ip.a.is_unspecified();
    if (dad && (slla || !is_solicited_node(f.dst_ip.a))) {
        why = DropReason::BadNdp;
        return 0;
    }

    // Duplicate address detection and the namespace's own addresses are
    // never answered: the namespace owns them.
    if (cfg_.no_ndp || dad) {
        return 0;
    }
    for (const auto& a : cfg_.ns_addrs) {
        if (a == target) {
            return 0;
        }
    }

    // Neighbor Advertisement (RFC 4861 sections 4.4 and 7.2.4).
    const std::size_t hlen = kEthHeaderLen + kIpv6HeaderLen + kIcmpHeaderLen;
    const std::size_t data_len = 16 + kLlaOptLen;
    if (out.size() < hlen + data_len) {
        return 0;
    }
    std::byte* d = out.data() + hlen;
    std::memcpy(d, target.b.data(), 16);
    write_lla_option(d + 16, kOptTargetLla, cfg_.mac);
    return build_icmp_frame(out, cfg_.mac, slla.value_or(f.src), InAny::from(target), f.src_ip,
                            kIcmp6NeighborAdvert, 0, kNaFlagsHigh, 0, {d, data_len}, kNdpHopLimit);
}

std::size_t NdpResponder::answer_rs(const Frame& f, const IcmpPacket& p, std::span<std::byte> out,
                                    DropReason& why) const {
    // RFC 4861 section 6.1.1.
    std::optional<Mac> slla;
    if (!check_options(p.data, kOptSourceLla, slla)) {
        why = DropReason::BadNdp;
        return 0;
    }
    const bool unspecified = f.src_ip.a.is_unspecified();
    if (unspecified && slla) {
        why = DropReason::BadNdp;
        return 0;
    }
    if (cfg_.no_ndp || cfg_.no_ra) {
        return 0;
    }
    // Section 6.2.6: unicast to a solicitor with an address, else all nodes.
    if (unspecified) {
        return write_ra(out, kAllNodesMac, kAllNodes);
    }
    return write_ra(out, slla.value_or(f.src), f.src_ip.a);
}

std::size_t NdpResponder::build_ra(std::span<std::byte> out) const {
    if (cfg_.no_ndp || cfg_.no_ra) {
        return 0;
    }
    return write_ra(out, kAllNodesMac, kAllNodes);
}

std::size_t NdpResponder::write_ra(std::span<std::byte> out, const Mac& dst_mac,
                                   const Ip6& dst) const {
    const std::size_t hlen = kEthHeaderLen + kIpv6HeaderLen + kIcmpHeaderLen;
    const std::size_t rdnss_len = cfg_.rdnss.empty() ? 0 : 8 + 16 * cfg_.rdnss.size();
    const std::size_t dnssl_len = dnssl_wire_.empty() ? 0 : 8 + dnssl_wire_.size();
    const std::size_t data_len = kRaFixedData + kLlaOptLen + (cfg_.mtu != 0 ? kMtuOptLen : 0) +
                                 kPrefixOptLen * cfg_.prefixes.size() + rdnss_len + dnssl_len;
    if (out.size() < hlen || out.size() - hlen < data_len) {
        return 0;
    }
    std::byte* const d = out.data() + hlen;
    std::memset(d, 0, data_len);  // reachable time, retransmit timer, reserved fields
    std::byte* o = d + kRaFixedData;
    write_lla_option(o, kOptSourceLla, cfg_.mac);
    o += kLlaOptLen;
    if (cfg_.mtu != 0) {
        o[0] = std::byte{kOptMtu};
        o[1] = std::byte{1};
        put32(o + 4, cfg_.mtu);
        o += kMtuOptLen;
    }
    for (const auto& pfx : cfg_.prefixes) {
        const unsigned len = pfx.len > 128 ? 128 : pfx.len;
        Ip6 masked;
        for (unsigned bit = 0; bit < len; ++bit) {
            masked.b[bit / 8] |= pfx.addr.b[bit / 8] & (0x80 >> (bit % 8));
        }
        o[0] = std::byte{kOptPrefixInfo};
        o[1] = std::byte{4};
        o[2] = static_cast<std::byte>(len);
        o[3] = std::byte{0xc0};  // L (on-link) and A (autonomous configuration)
        put32(o + 4, cfg_.valid_lifetime);
        put32(o + 8, cfg_.preferred_lifetime);
        std::memcpy(o + 16, masked.b.data(), 16);
        o += kPrefixOptLen;
    }
    if (rdnss_len > 0) {  // RFC 8106 section 5.1
        o[0] = std::byte{kOptRdnss};
        o[1] = static_cast<std::byte>(rdnss_len / 8);
        put32(o + 4, cfg_.dns_lifetime);
        for (std::size_t i = 0; i < cfg_.rdnss.size(); ++i) {
            std::memcpy(o + 8 + 16 * i, cfg_.rdnss[i].b.data(), 16);
        }
        o += rdnss_len;
    }
    if (dnssl_len > 0) {  // RFC 8106 section 5.2
        o[0] = std::byte{kOptDnssl};
        o[1] = static_cast<std::byte>(dnssl_len / 8);
        put32(o + 4, cfg_.dns_lifetime);
        std::memcpy(o + 8, dnssl_wire_.data(), dnssl_wire_.size());
        o += dnssl_len;
    }

    const auto flags =
        static_cast<std::uint8_t>((cfg_.managed ? 0x80 : 0) | (cfg_.other ? 0x40 : 0));
    const auto hop_and_flags = static_cast<std::uint16_t>((kRaCurHopLimit << 8) | flags);
    return build_icmp_frame(out, cfg_.mac, dst_mac, InAny::from(router_ll_), InAny::from(dst),
                            kIcmp6RouterAdvert, 0, hop_and_flags, cfg_.router_lifetime,
                            {d, data_len}, kNdpHopLimit);
}

}  // namespace pastad::tap

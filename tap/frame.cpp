// SPDX-License-Identifier: GPL-2.0-or-later
// tap/frame.cpp - checked parsing of tap frames and building of frames for the namespace
//
// Theory of operation
// -------------------
// What: every frame the namespace writes to the tap passes parse_frame()
// first; L4 parsers then turn its TCP, UDP or ICMP part into plain values.
// The builders go the other way for frames pastad writes to the tap.
//
// Not done on purpose: no reassembly here (parse_frame() drops IPv4
// fragments and IPv6 fragment headers with a reason; parse_fragment()
// describes them for tap/reassembly), no VLAN tags, no IPv4 options
// interpreted (skipped via IHL), no IPv6 jumbograms, no logging (the
// caller counts and rate-limits).
//
// Data: spans into the caller's buffer only. A view exists only after the
// bytes it covers were checked to be present: each step bounds the next
// one's span by the length field it just validated, so later code never
// indexes past what an earlier step proved.
//
// Parsing order, one check per DropReason:
//   Ethernet  >= 14 bytes, ethertype IPv4 / IPv6 / ARP
//   IPv4      >= 20 bytes, version 4, 5 <= IHL, IHL*4 <= total length <= frame,
//             header checksum, no MF flag and offset 0 (parse_fragment: any)
//   IPv6      >= 40 bytes, version 6, 40 + payload length <= frame, no
//             IPv4-mapped addresses (they would alias IPv4 flows in InAny),
//             hop-by-hop (first only), routing, destination options headers
//             skipped with (len + 1) * 8 bounds checks, fragment header dropped
//             (parse_fragment: read, >= 8 bytes)
//   TCP       >= 20 bytes, 5 <= data offset, offset * 4 <= segment, checksum,
//             options: kinds 0/1 single bytes, others need 2 <= len <= rest,
//             MSS len 4, window scale len 3 (shift clamped to 14), SACK-permitted
//             len 2, timestamps len 10
//   UDP       >= 8 bytes, 8 <= length <= IP payload (excess cut), checksum
//             (zero allowed on IPv4 only)
//   ICMP(v6)  >= 8 bytes, checksum (ICMPv6 with pseudo-header)
//
// Building: Ethernet and IP come from write_ip_headers(); the L4 header is
// written here and its checksum computed over header and payload in place,
// so a payload already in the frame buffer is never copied.
//
// Limitations: see "not done on purpose" above. A TCP segment with an
// unknown option is accepted with the option ignored, as RFC 9293 section
// 3.1 requires.
//
// References: RFC 791, RFC 8200 sections 4 and 8.1, RFC 9293 sections 3.1
// and 3.7.1, RFC 7323 section 2, RFC 768, RFC 792, RFC 4443 section 2.3,
// RFC 1071.
#include "tap/frame.hpp"

#include <cstring>

#include "tap/checksum.hpp"

namespace pastad::tap {

namespace {

constexpr std::uint8_t kIpv6HopByHop = 0;
constexpr std::uint8_t kIpv6Routing = 43;
constexpr std::uint8_t kIpv6Fragment = 44;
constexpr std::uint8_t kIpv6DestOptions = 60;

constexpr std::uint8_t kTcpOptEnd = 0;
constexpr std::uint8_t kTcpOptNop = 1;
constexpr std::uint8_t kTcpOptMss = 2;
constexpr std::uint8_t kTcpOptWscale = 3;
constexpr std::uint8_t kTcpOptSackPermitted = 4;
constexpr std::uint8_t kTcpOptTimestamps = 8;

std::uint8_t get8(std::span<const std::byte> s, std::size_t off) {
    return std::to_integer<std::uint8_t>(s[off]);
}

std::uint16_t get16(std::span<const std::byte> s, std::size_t off) {
    return static_cast<std::uint16_t>((get8(s, off) << 8) | get8(s, off + 1));
}

std::uint32_t get32(std::span<const std::byte> s, std::size_t off) {
    return (static_cast<std::uint32_t>(get16(s, off)) << 16) | get16(s, off + 2);
}

void put8(std::span<std::byte> s, std::size_t off, std::uint8_t v) {
    s[off] = std::byte{v};
}

void put16(std::span<std::byte> s, std::size_t off, std::uint16_t v) {
    s[off] = static_cast<std::byte>(v >> 8);
    s[off + 1] = static_cast<std::byte>(v & 0xff);
}

void put32(std::span<std::byte> s, std::size_t off, std::uint32_t v) {
    put16(s, off, static_cast<std::uint16_t>(v >> 16));
    put16(s, off + 2, static_cast<std::uint16_t>(v & 0xffff));
}

template <std::size_t N>
void get_bytes(std::array<std::uint8_t, N>& to, std::span<const std::byte> s, std::size_t off) {
    std::memcpy(to.data(), s.data() + off, N);
}

constexpr const char* kDropNames[] = {
    "not dropped",
    "truncated Ethernet header",
    "unknown ethertype",
    "truncated IPv4 header",
    "IP version disagrees with ethertype",
    "bad IPv4 header length",
    "bad IPv4 total length",
    "bad IPv4 header checksum",
    "IPv4 fragment",
    "truncated IPv6 header",
    "bad IPv6 payload length",
    "bad or truncated IPv6 extension header",
    "IPv6 fragment",
    "IPv4-mapped address in IPv6 header",
    "wrong L4 protocol",
    "truncated L4 header",
    "bad TCP data offset",
    "bad TCP option",
    "bad UDP length",
    "bad L4 checksum",
    "malformed ARP",
    "invalid NDP message",
};
static_assert(std::size(kDropNames) == kDropReasonCount, "one name per DropReason");

std::optional<Frame> fail(DropReason& why, DropReason r) {
    why = r;
    return std::nullopt;
}

// IPv4 part of parse_frame(): `ip` is everything after the Ethernet header.
std::optional<Frame> parse_ipv4(Frame& f, std::span<const std::byte> ip, DropReason& why,
                                FragmentInfo* frag) {
    if (ip.size() < kIpv4HeaderLen) {
        return fail(why, DropReason::TruncatedIpv4Header);
    }
    if ((get8(ip, 0) >> 4) != 4) {
        return fail(why, DropReason::BadIpVersion);
    }
    const std::size_t ihl = static_cast<std::size_t>(get8(ip, 0) & 0x0f) * 4;
    const std::size_t total = get16(ip, 2);
    if (ihl < kIpv4HeaderLen || ihl > ip.size()) {
        return fail(why, DropReason::BadIpv4HeaderLength);
    }
    if (total > ip.size()) {
        return fail(why, DropReason::BadIpv4TotalLength);
    }
    if (ihl > total) {
        return fail(why, DropReason::BadIpv4HeaderLength);
    }
    if (csum_fold(csum_add(ip.first(ihl))) != 0) {
        return fail(why, DropReason::BadIpv4HeaderChecksum);
    }
    // The namespace's kernel fragments a UDP datagram whose IPv4 packet is
    // larger than the tap MTU (at 65520: payloads of 65493 to 65507 bytes);
    // parse_fragment() lets the caller reassemble it.
    const std::uint16_t flags = get16(ip, 6);
    if ((flags & 0x3fff) != 0) {  // MF flag or fragment offset
        if (frag == nullptr) {
            return fail(why, DropReason::Ipv4Fragment);
        }
        frag->is_fragment = true;
        frag->id = get16(ip, 4);
        frag->offset = static_cast<std::size_t>(flags & 0x1fff) * 8;
        frag->more = (flags & 0x2000) != 0;
    }

    Ip4 src;
    Ip4 dst;
    get_bytes(src.b, ip, 12);
    get_bytes(dst.b, ip, 16);
    f.src_ip = InAny::from(src);
    f.dst_ip = InAny::from(dst);
    f.hop_limit = get8(ip, 8);
    f.proto = get8(ip, 9);
    f.l3 = ip.first(total);
    f.l4 = f.l3.subspan(ihl);
    why = DropReason::None;
    return f;
}

// IPv6 part of parse_frame(): `ip` is everything after the Ethernet header.
std::optional<Frame> parse_ipv6(Frame& f, std::span<const std::byte> ip, DropReason& why,
                                FragmentInfo* frag) {
    if (ip.size() < kIpv6HeaderLen) {
        return fail(why, DropReason::TruncatedIpv6Header);
    }
    if ((get8(ip, 0) >> 4) != 6) {
        return fail(why, DropReason::BadIpVersion);
    }
    const std::size_t payload_len = get16(ip, 4);
    if (payload_len > ip.size() - kIpv6HeaderLen) {
        return fail(why, DropReason::BadIpv6PayloadLength);
    }
    Ip6 src;
    Ip6 dst;
    get_bytes(src.b, ip, 8);
    get_bytes(dst.b, ip, 24);
    f.src_ip = InAny::from(src);
    f.dst_ip = InAny::from(dst);
    if (f.src_ip.is_v4() || f.dst_ip.is_v4()) {
        return fail(why, DropReason::Ipv6MappedAddress);
    }
    f.hop_limit = get8(ip, 7);
    f.l3 = ip.first(kIpv6HeaderLen + payload_len);

    // Walk the extension headers (RFC 8200 section 4). Each iteration
    // consumes at least 8 bytes, so the loop ends with the payload.
    std::uint8_t next = get8(ip, 6);
    std::span<const std::byte> rest = f.l3.subspan(kIpv6HeaderLen);
    bool first = true;
    while (next == kIpv6HopByHop || next == kIpv6Routing || next == kIpv6DestOptions) {
        if (next == kIpv6HopByHop && !first) {
            return fail(why, DropReason::BadIpv6ExtensionHeader);  // section 4.3: first only
        }
        if (rest.size() < 8) {
            return fail(why, DropReason::BadIpv6ExtensionHeader);
        }
        const std::size_t len = (static_cast<std::size_t>(get8(rest, 1)) + 1) * 8;
        if (len > rest.size()) {
            return fail(why, DropReason::BadIpv6ExtensionHeader);
        }
        next = get8(rest, 0);
        rest = rest.subspan(len);
        first = false;
    }
    // As for IPv4 (at MTU 65520: UDP payloads of 65473 to 65527 bytes).
    // Limitation: extension headers after the fragment header are not
    // walked; such a packet gets proto = that header and is not reassembled.
    if (next == kIpv6Fragment) {
        if (frag == nullptr) {
            return fail(why, DropReason::Ipv6Fragment);
        }
        if (rest.size() < 8) {
            return fail(why, DropReason::BadIpv6ExtensionHeader);
        }
        frag->is_fragment = true;
        frag->id = get32(rest, 4);
        frag->offset = get16(rest, 2) & 0xfff8;
        frag->more = (get16(rest, 2) & 1) != 0;
        next = get8(rest, 0);
        rest = rest.subspan(8);
    }
    f.proto = next;
    f.l4 = rest;
    why = DropReason::None;
    return f;
}

// Parses the TCP options area into `seg`. Returns false on a malformed option.
bool parse_tcp_options(std::span<const std::byte> opts, TcpSegment& seg) {
    const bool syn = seg.has(kSyn);
    std::size_t i = 0;
    while (i < opts.size()) {
        const std::uint8_t kind = get8(opts, i);
        if (kind == kTcpOptEnd) {
            break;
        }
        if (kind == kTcpOptNop) {
            ++i;
            continue;
        }
        if (opts.size() - i < 2) {
            return false;
        }
        const std::size_t len = get8(opts, i + 1);
        if (len < 2 || len > opts.size() - i) {
            return false;
        }
        const auto body = opts.subspan(i + 2, len - 2);
        switch (kind) {
            case kTcpOptMss:
                if (len != 4) {
                    return false;
                }
                if (syn) {
                    seg.mss = get16(body, 0);
                }
                break;
            case kTcpOptWscale:
                if (len != 3) {
                    return false;
                }
                if (syn) {
                    // RFC 7323 section 2.3: a shift above 14 is used as 14.
                    const std::uint8_t shift = get8(body, 0);
                    seg.wscale = shift > kMaxWindowScale ? kMaxWindowScale : shift;
                }
                break;
            case kTcpOptSackPermitted:
                if (len != 2) {
                    return false;
                }
                seg.sack_permitted = seg.sack_permitted || syn;
                break;
            case kTcpOptTimestamps:
                if (len != 10) {
                    return false;
                }
                break;
            default:
                break;  // SACK blocks and unknown kinds: skipped (RFC 9293 section 3.1)
        }
        i += len;
    }
    return true;
}

template <typename T>
std::optional<T> fail_l4(DropReason& why, DropReason r) {
    why = r;
    return std::nullopt;
}

// Family checks shared by the builders.
bool same_family(const Endpoints& ep) {
    return ep.ns_addr.is_v4() == ep.peer_addr.is_v4();
}

std::size_t tcp_options_len(const TcpSegment& seg) {
    if (!seg.has(kSyn)) {
        return 0;
    }
    return (seg.mss ? 4 : 0) + (seg.wscale ? 4 : 0);
}

}  // namespace

const char* to_string(DropReason r) {
    const auto i = static_cast<std::size_t>(r);
    return i < std::size(kDropNames) ? kDropNames[i] : "unknown reason";
}

namespace {

std::optional<Frame> parse_any(std::span<const std::byte> bytes, DropReason& why,
                               FragmentInfo* frag) {
    if (bytes.size() < kEthHeaderLen) {
        return fail(why, DropReason::TruncatedEthernet);
    }
    Frame f;
    get_bytes(f.dst.b, bytes, 0);
    get_bytes(f.src.b, bytes, 6);
    f.ethertype = get16(bytes, 12);
    const auto l3 = bytes.subspan(kEthHeaderLen);
    switch (f.ethertype) {
        case kEtherTypeIpv4:
            return parse_ipv4(f, l3, why, frag);
        case kEtherTypeIpv6:
            return parse_ipv6(f, l3, why, frag);
        case kEtherTypeArp:
            f.l3 = l3;  // the ARP responder checks its own lengths
            why = DropReason::None;
            return f;
        default:
            return fail(why, DropReason::UnknownEtherType);
    }
}

}  // namespace

std::optional<Frame> parse_frame(std::span<const std::byte> bytes, DropReason& why) {
    return parse_any(bytes, why, nullptr);
}

std::optional<Frame> parse_fragment(std::span<const std::byte> bytes, FragmentInfo& frag,
                                    DropReason& why) {
    frag = FragmentInfo{};
    return parse_any(bytes, why, &frag);
}

std::optional<TcpPacket> parse_tcp(const Frame& f, DropReason& why, bool verify_checksum) {
    if ((!f.is_v4() && !f.is_v6()) || f.proto != kProtoTcp) {
        return fail_l4<TcpPacket>(why, DropReason::WrongProtocol);
    }
    const auto l4 = f.l4;
    if (l4.size() < kTcpHeaderLen) {
        return fail_l4<TcpPacket>(why, DropReason::TruncatedL4Header);
    }
    const std::size_t doff = static_cast<std::size_t>(get8(l4, 12) >> 4) * 4;
    if (doff < kTcpHeaderLen || doff > l4.size()) {
        return fail_l4<TcpPacket>(why, DropReason::BadTcpDataOffset);
    }
    if (verify_checksum && l4_checksum(f.src_ip, f.dst_ip, kProtoTcp, l4) != 0) {
        return fail_l4<TcpPacket>(why, DropReason::BadL4Checksum);
    }

    TcpPacket p;
    p.sport = get16(l4, 0);
    p.dport = get16(l4, 2);
    p.seg.seq = get32(l4, 4);
    p.seg.ack = get32(l4, 8);
    p.seg.flags = get8(l4, 13) & 0x3f;  // ECE and CWR are not used
    p.seg.window = get16(l4, 14);
    if (!parse_tcp_options(l4.subspan(kTcpHeaderLen, doff - kTcpHeaderLen), p.seg)) {
        return fail_l4<TcpPacket>(why, DropReason::BadTcpOption);
    }
    p.seg.payload = l4.subspan(doff);
    why = DropReason::None;
    return p;
}

std::optional<UdpPacket> parse_udp(const Frame& f, DropReason& why, bool verify_checksum) {
    if ((!f.is_v4() && !f.is_v6()) || f.proto != kProtoUdp) {
        return fail_l4<UdpPacket>(why, DropReason::WrongProtocol);
    }
    if (f.l4.size() < kUdpHeaderLen) {
        return fail_l4<UdpPacket>(why, DropReason::TruncatedL4Header);
    }
    const std::size_t len = get16(f.l4, 4);
    if (len < kUdpHeaderLen || len > f.l4.size()) {
        return fail_l4<UdpPacket>(why, DropReason::BadUdpLength);
    }
    const auto dgram = f.l4.first(len);  // bytes past the UDP length are ignored
    if (verify_checksum) {
        const bool zero = get16(dgram, 6) == 0;
        if (zero && f.is_v6()) {
            return fail_l4<UdpPacket>(why, DropReason::BadL4Checksum);
        }
        if (!zero && l4_checksum(f.src_ip, f.dst_ip, kProtoUdp, dgram) != 0) {
            return fail_l4<UdpPacket>(why, DropReason::BadL4Checksum);
        }
    }
    why = DropReason::None;
    return UdpPacket{get16(dgram, 0), get16(dgram, 2), dgram.subspan(kUdpHeaderLen)};
}

std::uint16_t IcmpPacket::echo_id() const {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(rest[0]) << 8) |
                                      std::to_integer<unsigned>(rest[1]));
}

std::uint16_t IcmpPacket::echo_seq() const {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(rest[2]) << 8) |
                                      std::to_integer<unsigned>(rest[3]));
}

namespace {

std::optional<IcmpPacket> parse_icmp_common(const Frame& f, DropReason& why, bool v6,
                                            bool verify_checksum) {
    const bool family_ok = v6 ? f.is_v6() : f.is_v4();
    if (!family_ok || f.proto != (v6 ? kProtoIcmp6 : kProtoIcmp)) {
        return fail_l4<IcmpPacket>(why, DropReason::WrongProtocol);
    }
    if (f.l4.size() < kIcmpHeaderLen) {
        return fail_l4<IcmpPacket>(why, DropReason::TruncatedL4Header);
    }
    if (verify_checksum) {
        const std::uint16_t sum =
            v6 ? l4_checksum(f.src_ip, f.dst_ip, kProtoIcmp6, f.l4) : csum_fold(csum_add(f.l4));
        if (sum != 0) {
            return fail_l4<IcmpPacket>(why, DropReason::BadL4Checksum);
        }
    }
    IcmpPacket p;
    p.type = get8(f.l4, 0);
    p.code = get8(f.l4, 1);
    std::memcpy(p.rest.data(), f.l4.data() + 4, p.rest.size());
    p.data = f.l4.subspan(kIcmpHeaderLen);
    why = DropReason::None;
    return p;
}

}  // namespace

std::optional<IcmpPacket> parse_icmp(const Frame& f, DropReason& why, bool verify_checksum) {
    return parse_icmp_common(f, why, false, verify_checksum);
}

std::optional<IcmpPacket> parse_icmpv6(const Frame& f, DropReason& why, bool verify_checksum) {
    return parse_icmp_common(f, why, true, verify_checksum);
}

// ---------------------------------------------------------------------------
// Builders

std::size_t tcp_header_len(bool v4, const TcpSegment& seg) {
    return kEthHeaderLen + (v4 ? kIpv4HeaderLen : kIpv6HeaderLen) + kTcpHeaderLen +
           tcp_options_len(seg);
}

std::size_t write_tcp_headers(std::span<std::byte> frame, const Mac& src_mac, const Mac& dst_mac,
                              const Endpoints& ep, const TcpSegment& seg, std::size_t payload_len) {
    if (!same_family(ep)) {
        return 0;
    }
    const std::size_t hlen = tcp_header_len(ep.peer_addr.is_v4(), seg);
    const std::size_t opt_len = tcp_options_len(seg);
    const std::size_t tcp_len = kTcpHeaderLen + opt_len + payload_len;
    if (frame.size() < hlen || frame.size() - hlen < payload_len) {
        return 0;
    }
    const std::size_t ip_len =
        write_ip_headers(frame, src_mac, dst_mac, ep.peer_addr, ep.ns_addr, kProtoTcp, tcp_len);
    if (ip_len == 0) {
        return 0;
    }

    const auto tcp = frame.subspan(ip_len, tcp_len);
    put16(tcp, 0, ep.peer_port);
    put16(tcp, 2, ep.ns_port);
    put32(tcp, 4, seg.seq);
    put32(tcp, 8, seg.ack);
    put8(tcp, 12, static_cast<std::uint8_t>(((kTcpHeaderLen + opt_len) / 4) << 4));
    put8(tcp, 13, seg.flags);
    put16(tcp, 14, seg.window);
    put16(tcp, 16, 0);  // checksum, filled below
    put16(tcp, 18, 0);  // urgent pointer: never used

    std::size_t o = kTcpHeaderLen;
    if (opt_len != 0 && seg.mss) {
        put8(tcp, o, kTcpOptMss);
        put8(tcp, o + 1, 4);
        put16(tcp, o + 2, *seg.mss);
        o += 4;
    }
    if (opt_len != 0 && seg.wscale) {
        put8(tcp, o, kTcpOptNop);  // keeps the options 32-bit aligned
        put8(tcp, o + 1, kTcpOptWscale);
        put8(tcp, o + 2, 3);
        put8(tcp, o + 3, *seg.wscale);
    }
    put16(tcp, 16, l4_checksum(ep.peer_addr, ep.ns_addr, kProtoTcp, tcp));
    return ip_len + tcp_len;
}

std::size_t build_tcp_frame(std::span<std::byte> out, const Mac& src_mac, const Mac& dst_mac,
                            const Endpoints& ep, const TcpSegment& seg) {
    const std::size_t hlen = tcp_header_len(ep.peer_addr.is_v4(), seg);
    if (!same_family(ep) || out.size() < hlen || out.size() - hlen < seg.payload.size()) {
        return 0;
    }
    if (!seg.payload.empty()) {
        std::memmove(out.data() + hlen, seg.payload.data(), seg.payload.size());
    }
    return write_tcp_headers(out, src_mac, dst_mac, ep, seg, seg.payload.size());
}

std::size_t udp_header_len(bool v4) {
    return kEthHeaderLen + (v4 ? kIpv4HeaderLen : kIpv6HeaderLen) + kUdpHeaderLen;
}

std::size_t write_udp_headers(std::span<std::byte> frame, const Mac& src_mac, const Mac& dst_mac,
                              const Endpoints& ep, std::size_t payload_len) {
    if (!same_family(ep)) {
        return 0;
    }
    const bool v4 = ep.peer_addr.is_v4();
    const std::size_t hlen = udp_header_len(v4);
    const std::size_t udp_len = kUdpHeaderLen + payload_len;
    if (frame.size() < hlen || frame.size() - hlen < payload_len || udp_len > 0xffff) {
        return 0;
    }
    const std::size_t ip_len =
        write_ip_headers(frame, src_mac, dst_mac, ep.peer_addr, ep.ns_addr, kProtoUdp, udp_len);
    if (ip_len == 0) {
        return 0;
    }
    const auto udp = frame.subspan(ip_len, udp_len);
    put16(udp, 0, ep.peer_port);
    put16(udp, 2, ep.ns_port);
    put16(udp, 4, static_cast<std::uint16_t>(udp_len));
    put16(udp, 6, 0);
    std::uint16_t sum = l4_checksum(ep.peer_addr, ep.ns_addr, kProtoUdp, udp);
    if (sum == 0) {
        sum = 0xffff;  // RFC 768: a computed zero is sent as all ones
    }
    put16(udp, 6, sum);
    return ip_len + udp_len;
}

std::size_t build_udp_frame(std::span<std::byte> out, const Mac& src_mac, const Mac& dst_mac,
                            const Endpoints& ep, std::span<const std::byte> payload) {
    const std::size_t hlen = udp_header_len(ep.peer_addr.is_v4());
    if (!same_family(ep) || out.size() < hlen || out.size() - hlen < payload.size()) {
        return 0;
    }
    if (!payload.empty()) {
        std::memmove(out.data() + hlen, payload.data(), payload.size());
    }
    return write_udp_headers(out, src_mac, dst_mac, ep, payload.size());
}

std::size_t build_icmp_frame(std::span<std::byte> out, const Mac& src_mac, const Mac& dst_mac,
                             const InAny& src, const InAny& dst, std::uint8_t type,
                             std::uint8_t code, std::uint16_t id, std::uint16_t seq,
                             std::span<const std::byte> data, std::uint8_t hop_limit) {
    const bool v4 = src.is_v4();
    if (v4 != dst.is_v4()) {
        return 0;
    }
    const std::size_t hlen = ip_headers_len(src) + kIcmpHeaderLen;
    if (out.size() < hlen || out.size() - hlen < data.size()) {
        return 0;
    }
    const std::size_t icmp_len = kIcmpHeaderLen + data.size();
    const std::uint8_t proto = v4 ? kProtoIcmp : kProtoIcmp6;
    if (!data.empty()) {
        std::memmove(out.data() + hlen, data.data(), data.size());
    }
    const std::size_t ip_len =
        write_ip_headers(out, src_mac, dst_mac, src, dst, proto, icmp_len, hop_limit);
    if (ip_len == 0) {
        return 0;
    }
    const auto icmp = out.subspan(ip_len, icmp_len);
    put8(icmp, 0, type);
    put8(icmp, 1, code);
    put16(icmp, 2, 0);
    put16(icmp, 4, id);
    put16(icmp, 6, seq);
    put16(icmp, 2, v4 ? csum_fold(csum_add(icmp)) : l4_checksum(src, dst, kProtoIcmp6, icmp));
    return ip_len + icmp_len;
}

}  // namespace pastad::tap

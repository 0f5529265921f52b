// SPDX-License-Identifier: GPL-2.0-or-later
// tests/tap/frame_test.cpp - frame parsing and building: round trips, truncation, lying lengths
#include "tap/frame.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "tap/checksum.hpp"

namespace pastad::tap {
namespace {

using Bytes = std::vector<std::byte>;

const Mac kOurMac = *Mac::parse("02:00:00:00:00:01");
const Mac kNsMac = *Mac::parse("52:54:00:12:34:56");

Endpoints endpoints4() {
    return Endpoints{InAny::from(*Ip4::parse("10.0.2.15")), InAny::from(*Ip4::parse("192.0.2.80")),
                     40000, 80};
}

Endpoints endpoints6() {
    return Endpoints{InAny::from(*Ip6::parse("2001:db8::15")),
                     InAny::from(*Ip6::parse("2001:db8:1::80")), 40001, 443};
}

Bytes pattern(std::size_t n) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) {
        b[i] = static_cast<std::byte>((i * 7 + 3) & 0xff);
    }
    return b;
}

std::uint8_t get8(const Bytes& b, std::size_t off) {
    return std::to_integer<std::uint8_t>(b[off]);
}
std::uint16_t get16(const Bytes& b, std::size_t off) {
    return static_cast<std::uint16_t>((get8(b, off) << 8) | get8(b, off + 1));
}
void set8(Bytes& b, std::size_t off, std::uint8_t v) {
    b[off] = std::byte{v};
}
void set16(Bytes& b, std::size_t off, std::uint16_t v) {
    b[off] = static_cast<std::byte>(v >> 8);
    b[off + 1] = static_cast<std::byte>(v & 0xff);
}

TcpSegment syn_segment() {
    TcpSegment s;
    s.seq = 0x01020304;
    s.ack = 0;
    s.flags = kSyn;
    s.window = 64240;
    s.mss = 1460;
    s.wscale = 7;
    return s;
}

Bytes tcp_frame(const Endpoints& ep, const TcpSegment& seg) {
    Bytes out(4096);
    const std::size_t n = build_tcp_frame(out, kOurMac, kNsMac, ep, seg);
    EXPECT_NE(n, 0u);
    out.resize(n);
    return out;
}

Bytes udp_frame(const Endpoints& ep, const Bytes& payload) {
    Bytes out(4096);
    const std::size_t n = build_udp_frame(out, kOurMac, kNsMac, ep, payload);
    EXPECT_NE(n, 0u);
    out.resize(n);
    return out;
}

constexpr std::size_t kIp = kEthHeaderLen;  // offset of the IP header

std::size_t l4_offset(const Bytes& f) {
    return get16(f, 12) == kEtherTypeIpv4 ? kIp + (get8(f, kIp) & 0x0f) * 4u : kIp + kIpv6HeaderLen;
}

// Recomputes the IPv4 header checksum after a test edited the header.
void fix_ipv4_checksum(Bytes& f) {
    const std::size_t ihl = (get8(f, kIp) & 0x0f) * 4u;
    set16(f, kIp + 10, 0);
    set16(f, kIp + 10, csum_fold(csum_add(std::span(f).subspan(kIp, ihl))));
}

// Recomputes the TCP/UDP checksum (at `field` in the L4 header) of a frame
// without IPv6 extension headers, after a test edited the segment.
void fix_l4_checksum(Bytes& f, std::uint8_t proto, std::size_t field) {
    const bool v4 = get16(f, 12) == kEtherTypeIpv4;
    InAny src;
    InAny dst;
    std::size_t end = f.size();
    if (v4) {
        Ip4 s;
        Ip4 d;
        std::memcpy(s.b.data(), f.data() + kIp + 12, 4);
        std::memcpy(d.b.data(), f.data() + kIp + 16, 4);
        src = InAny::from(s);
        dst = InAny::from(d);
        end = kIp + get16(f, kIp + 2);
    } else {
        std::memcpy(src.a.b.data(), f.data() + kIp + 8, 16);
        std::memcpy(dst.a.b.data(), f.data() + kIp + 24, 16);
        end = kIp + kIpv6HeaderLen + get16(f, kIp + 4);
    }
    const std::size_t l4 = l4_offset(f);
    set16(f, l4 + field, 0);
    set16(f, l4 + field, l4_checksum(src, dst, proto, std::span(f).subspan(l4, end - l4)));
}

std::optional<TcpPacket> parse_tcp_frame(const Bytes& f, DropReason& why, bool verify = true) {
    const auto fr = parse_frame(f, why);
    if (!fr) {
        return std::nullopt;
    }
    return parse_tcp(*fr, why, verify);
}

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

// ---------------------------------------------------------------------------
// Round trips

TEST(FrameTest, TcpSynIpv4RoundTripKeepsEveryField) {
    const auto ep = endpoints4();
    const auto seg = syn_segment();
    const Bytes f = tcp_frame(ep, seg);
    EXPECT_EQ(f.size(), tcp_header_len(true, seg));

    DropReason why = DropReason::BadArp;
    const auto fr = parse_frame(f, why);
    ASSERT_TRUE(fr) << to_string(why);
    EXPECT_EQ(why, DropReason::None);
    EXPECT_EQ(fr->dst, kNsMac);
    EXPECT_EQ(fr->src, kOurMac);
    EXPECT_EQ(fr->ethertype, kEtherTypeIpv4);
    EXPECT_TRUE(fr->is_v4());
    EXPECT_EQ(fr->src_ip, ep.peer_addr);
    EXPECT_EQ(fr->dst_ip, ep.ns_addr);
    EXPECT_EQ(fr->proto, kProtoTcp);
    EXPECT_EQ(fr->hop_limit, 64);
    EXPECT_EQ(fr->l3.size(), f.size() - kEthHeaderLen);
    EXPECT_EQ(fr->l4.size(), kTcpHeaderLen + 8);

    const auto p = parse_tcp(*fr, why);
    ASSERT_TRUE(p) << to_string(why);
    EXPECT_EQ(p->sport, ep.peer_port);
    EXPECT_EQ(p->dport, ep.ns_port);
    EXPECT_EQ(p->seg.seq, seg.seq);
    EXPECT_EQ(p->seg.ack, seg.ack);
    EXPECT_EQ(p->seg.flags, seg.flags);
    EXPECT_EQ(p->seg.window, seg.window);
    EXPECT_EQ(p->seg.mss, seg.mss);
    EXPECT_EQ(p->seg.wscale, seg.wscale);
    EXPECT_FALSE(p->seg.sack_permitted);
    EXPECT_TRUE(p->seg.payload.empty());
}

TEST(FrameTest, TcpDataIpv6RoundTripKeepsEveryField) {
    const auto ep = endpoints6();
    const Bytes payload = pattern(1001);
    TcpSegment seg;
    seg.seq = 0xfffffff0;
    seg.ack = 0x80000001;
    seg.flags = kAck | kPsh;
    seg.window = 1234;
    seg.payload = payload;
    const Bytes f = tcp_frame(ep, seg);
    EXPECT_EQ(f.size(), tcp_header_len(false, seg) + payload.size());

    DropReason why = DropReason::None;
    const auto fr = parse_frame(f, why);
    ASSERT_TRUE(fr) << to_string(why);
    EXPECT_TRUE(fr->is_v6());
    EXPECT_EQ(fr->src_ip, ep.peer_addr);
    EXPECT_EQ(fr->dst_ip, ep.ns_addr);
    EXPECT_EQ(fr->hop_limit, 64);
    const auto p = parse_tcp(*fr, why);
    ASSERT_TRUE(p) << to_string(why);
    EXPECT_EQ(p->sport, ep.peer_port);
    EXPECT_EQ(p->dport, ep.ns_port);
    EXPECT_EQ(p->seg.seq, seg.seq);
    EXPECT_EQ(p->seg.ack, seg.ack);
    EXPECT_EQ(p->seg.flags, seg.flags);
    EXPECT_EQ(p->seg.window, seg.window);
    EXPECT_FALSE(p->seg.mss);
    EXPECT_FALSE(p->seg.wscale);
    EXPECT_TRUE(same_bytes(p->seg.payload, payload));
}

TEST(FrameTest, NonSynSegmentCarriesNoOptions) {
    auto seg = syn_segment();
    seg.flags = kAck;  // MSS and window scale are SYN-only
    const Bytes f = tcp_frame(endpoints4(), seg);
    EXPECT_EQ(f.size(), kEthHeaderLen + kIpv4HeaderLen + kTcpHeaderLen);
    DropReason why = DropReason::None;
    const auto p = parse_tcp_frame(f, why);
    ASSERT_TRUE(p) << to_string(why);
    EXPECT_FALSE(p->seg.mss);
    EXPECT_FALSE(p->seg.wscale);
}

TEST(FrameTest, WriteTcpHeadersAroundPayloadInPlaceMatchesBuild) {
    const auto ep = endpoints4();
    const Bytes payload = pattern(333);
    TcpSegment seg;
    seg.seq = 7;
    seg.ack = 9;
    seg.flags = kAck;
    seg.window = 100;
    const std::size_t hlen = tcp_header_len(true, seg);
    Bytes in_place(hlen + payload.size() + 50, std::byte{0xee});
    std::memcpy(in_place.data() + hlen, payload.data(), payload.size());
    const std::size_t n = write_tcp_headers(in_place, kOurMac, kNsMac, ep, seg, payload.size());
    ASSERT_EQ(n, hlen + payload.size());
    in_place.resize(n);

    seg.payload = payload;
    EXPECT_EQ(in_place, tcp_frame(ep, seg));
}

TEST(FrameTest, EthernetPaddingIsCutFromL4) {
    Bytes f = tcp_frame(endpoints4(), syn_segment());
    const std::size_t l4_len = f.size() - kEthHeaderLen - kIpv4HeaderLen;
    f.resize(f.size() + 18, std::byte{0xaa});
    DropReason why = DropReason::None;
    const auto fr = parse_frame(f, why);
    ASSERT_TRUE(fr) << to_string(why);
    EXPECT_EQ(fr->l4.size(), l4_len);
    EXPECT_TRUE(parse_tcp(*fr, why));
}

TEST(FrameTest, UdpRoundTripBothFamiliesKeepsEveryField) {
    for (const auto& ep : {endpoints4(), endpoints6()}) {
        const Bytes payload = pattern(77);
        const Bytes f = udp_frame(ep, payload);
        EXPECT_EQ(f.size(), udp_header_len(ep.ns_addr.is_v4()) + payload.size());
        DropReason why = DropReason::None;
        const auto fr = parse_frame(f, why);
        ASSERT_TRUE(fr) << to_string(why);
        EXPECT_EQ(fr->proto, kProtoUdp);
        EXPECT_EQ(fr->src_ip, ep.peer_addr);
        EXPECT_EQ(fr->dst_ip, ep.ns_addr);
        const auto p = parse_udp(*fr, why);
        ASSERT_TRUE(p) << to_string(why);
        EXPECT_EQ(p->sport, ep.peer_port);
        EXPECT_EQ(p->dport, ep.ns_port);
        EXPECT_TRUE(same_bytes(p->payload, payload));
        const auto back = endpoints_of(*fr, p->sport, p->dport);
        EXPECT_EQ(back.ns_addr, ep.peer_addr);  // the frame went towards the namespace
        EXPECT_EQ(back.peer_port, ep.ns_port);
    }
}

TEST(FrameTest, IcmpEchoRoundTripBothFamiliesKeepsEveryField) {
    const Bytes data = pattern(56);
    const struct {
        InAny src, dst;
        std::uint8_t type;
    } cases[] = {
        {endpoints4().peer_addr, endpoints4().ns_addr, kIcmpEchoReply},
        {endpoints6().peer_addr, endpoints6().ns_addr, kIcmp6EchoReply},
    };
    for (const auto& c : cases) {
        Bytes f(512);
        const std::size_t n =
            build_icmp_frame(f, kOurMac, kNsMac, c.src, c.dst, c.type, 0, 0xbeef, 42, data);
        ASSERT_NE(n, 0u);
        f.resize(n);
        DropReason why = DropReason::None;
        const auto fr = parse_frame(f, why);
        ASSERT_TRUE(fr) << to_string(why);
        const bool v4 = c.src.is_v4();
        const auto p = v4 ? parse_icmp(*fr, why) : parse_icmpv6(*fr, why);
        ASSERT_TRUE(p) << to_string(why);
        EXPECT_EQ(p->type, c.type);
        EXPECT_EQ(p->code, 0);
        EXPECT_EQ(p->echo_id(), 0xbeef);
        EXPECT_EQ(p->echo_seq(), 42);
        EXPECT_TRUE(same_bytes(p->data, data));
        // The other family's parser refuses it.
        EXPECT_FALSE(v4 ? parse_icmpv6(*fr, why) : parse_icmp(*fr, why));
        EXPECT_EQ(why, DropReason::WrongProtocol);
    }
}

TEST(FrameTest, BuildersRefuseSmallBuffersAndMixedFamilies) {
    const auto seg = syn_segment();
    Bytes small(tcp_header_len(true, seg) - 1);
    EXPECT_EQ(build_tcp_frame(small, kOurMac, kNsMac, endpoints4(), seg), 0u);
    Bytes big(2048);
    auto mixed = endpoints4();
    mixed.peer_addr = endpoints6().peer_addr;
    EXPECT_EQ(build_tcp_frame(big, kOurMac, kNsMac, mixed, seg), 0u);
    EXPECT_EQ(build_udp_frame(big, kOurMac, kNsMac, mixed, {}), 0u);
    const Bytes payload = pattern(10);
    Bytes udp_small(udp_header_len(true) + 9);
    EXPECT_EQ(build_udp_frame(udp_small, kOurMac, kNsMac, endpoints4(), payload), 0u);
    EXPECT_EQ(write_tcp_headers(big, kOurMac, kNsMac, endpoints4(), seg, big.size()), 0u);
}

// ---------------------------------------------------------------------------
// Truncation and lying lengths at L2/L3

TEST(FrameTest, TruncationAtEveryOffsetIsDropped) {
    auto seg = syn_segment();
    const Bytes payload = pattern(21);
    seg.payload = payload;
    for (const auto& ep : {endpoints4(), endpoints6()}) {
        const Bytes f = tcp_frame(ep, seg);
        for (std::size_t n = 0; n < f.size(); ++n) {
            const Bytes cut(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
            DropReason why = DropReason::None;
            EXPECT_FALSE(parse_frame(cut, why)) << "length " << n;
            EXPECT_NE(why, DropReason::None) << "length " << n;
        }
    }
}

TEST(FrameTest, ShortIpLengthTruncatesTcpSegmentWithReason) {
    // The IP length field shrinks the segment byte by byte: the TCP parser
    // must see only what the IP header allows.
    auto seg = syn_segment();
    const Bytes payload = pattern(5);
    seg.payload = payload;
    const Bytes full = tcp_frame(endpoints4(), seg);
    const std::size_t doff = kTcpHeaderLen + 8;
    for (std::size_t tcp_len = 0; tcp_len <= doff + payload.size(); ++tcp_len) {
        Bytes f = full;
        set16(f, kIp + 2, static_cast<std::uint16_t>(kIpv4HeaderLen + tcp_len));
        fix_ipv4_checksum(f);
        DropReason why = DropReason::None;
        const auto p = parse_tcp_frame(f, why, false);
        if (tcp_len < kTcpHeaderLen) {
            EXPECT_EQ(why, DropReason::TruncatedL4Header) << tcp_len;
        } else if (tcp_len < doff) {
            EXPECT_EQ(why, DropReason::BadTcpDataOffset) << tcp_len;
        } else {
            ASSERT_TRUE(p) << tcp_len << ": " << to_string(why);
            EXPECT_EQ(p->seg.payload.size(), tcp_len - doff);
        }
    }
}

TEST(FrameTest, ShortEthernetAndUnknownEthertypeAreDropped) {
    DropReason why = DropReason::None;
    Bytes f = tcp_frame(endpoints4(), syn_segment());
    EXPECT_FALSE(parse_frame(std::span(f).first(13), why));
    EXPECT_EQ(why, DropReason::TruncatedEthernet);
    set16(f, 12, 0x8100);  // VLAN tag
    EXPECT_FALSE(parse_frame(f, why));
    EXPECT_EQ(why, DropReason::UnknownEtherType);
    set16(f, 12, kEtherTypeIpv6);  // IPv4 packet under the IPv6 ethertype
    EXPECT_FALSE(parse_frame(f, why));
    EXPECT_EQ(why, DropReason::BadIpVersion);
}

TEST(FrameTest, Ipv4TotalLengthBeyondFrameIsDropped) {
    Bytes f = tcp_frame(endpoints4(), syn_segment());
    set16(f, kIp + 2, static_cast<std::uint16_t>(f.size() - kEthHeaderLen + 1));
    fix_ipv4_checksum(f);
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_frame(f, why));
    EXPECT_EQ(why, DropReason::BadIpv4TotalLength);
}

TEST(FrameTest, Ipv4HeaderLengthBelowFiveIsDropped) {
    Bytes f = tcp_frame(endpoints4(), syn_segment());
    set8(f, kIp, 0x44);
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_frame(f, why));
    EXPECT_EQ(why, DropReason::BadIpv4HeaderLength);
}

TEST(FrameTest, Ipv4HeaderLengthBeyondTotalLengthIsDropped) {
    Bytes f = tcp_frame(endpoints4(), syn_segment());
    f.resize(f.size() + 60);  // room for IHL 15 inside the frame
    set8(f, kIp, 0x4f);
    set16(f, kIp + 2, 40);  // total length below IHL * 4 = 60
    fix_ipv4_checksum(f);
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_frame(f, why));
    EXPECT_EQ(why, DropReason::BadIpv4HeaderLength);
}

TEST(FrameTest, Ipv4HeaderLengthBeyondFrameIsDropped) {
    Bytes f(kEthHeaderLen + 24);
    set16(f, 12, kEtherTypeIpv4);
    set8(f, kIp, 0x47);  // 28-byte header in 24 bytes
    set16(f, kIp + 2, 24);
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_frame(f, why));
    EXPECT_EQ(why, DropReason::BadIpv4HeaderLength);
}

TEST(FrameTest, Ipv4BadHeaderChecksumIsDropped) {
    Bytes f = tcp_frame(endpoints4(), syn_segment());
    set8(f, kIp + 8, 63);  // TTL changed, checksum not updated
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_frame(f, why));
    EXPECT_EQ(why, DropReason::BadIpv4HeaderChecksum);
}

TEST(FrameTest, Ipv4FragmentsAreDropped) {
    for (const std::uint16_t frag : {0x2000, 0x0001, 0x4010}) {  // MF; offset 8; DF+offset
        Bytes f = tcp_frame(endpoints4(), syn_segment());
        set16(f, kIp + 6, frag);
        fix_ipv4_checksum(f);
        DropReason why = DropReason::None;
        EXPECT_FALSE(parse_frame(f, why)) << frag;
        EXPECT_EQ(why, DropReason::Ipv4Fragment) << frag;
    }
}

TEST(FrameTest, Ipv4OptionsAreSkipped) {
    const Bytes payload = pattern(12);
    Bytes f = udp_frame(endpoints4(), payload);
    const Bytes nops(4, std::byte{1});
    f.insert(f.begin() + kIp + kIpv4HeaderLen, nops.begin(), nops.end());
    set8(f, kIp, 0x46);
    set16(f, kIp + 2, static_cast<std::uint16_t>(get16(f, kIp + 2) + 4));
    fix_ipv4_checksum(f);
    DropReason why = DropReason::None;
    const auto fr = parse_frame(f, why);
    ASSERT_TRUE(fr) << to_string(why);
    EXPECT_EQ(fr->l4.size(), kUdpHeaderLen + payload.size());
    const auto p = parse_udp(*fr, why);
    ASSERT_TRUE(p) << to_string(why);
    EXPECT_TRUE(same_bytes(p->payload, payload));
}

TEST(FrameTest, Ipv6PayloadLengthBeyondFrameIsDropped) {
    Bytes f = tcp_frame(endpoints6(), syn_segment());
    set16(f, kIp + 4, static_cast<std::uint16_t>(f.size() - kIp - kIpv6HeaderLen + 1));
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_frame(f, why));
    EXPECT_EQ(why, DropReason::BadIpv6PayloadLength);
}

TEST(FrameTest, Ipv6MappedAddressIsDropped) {
    Bytes f = tcp_frame(endpoints6(), syn_segment());
    const auto mapped = InAny::from(*Ip4::parse("192.0.2.1"));
    std::memcpy(f.data() + kIp + 8, mapped.a.b.data(), 16);
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_frame(f, why));
    EXPECT_EQ(why, DropReason::Ipv6MappedAddress);
}

// Inserts an extension header of `len8` 8-byte units with type `type`
// right after the IPv6 header, chaining next-header fields.
void insert_ext(Bytes& f, std::uint8_t type, std::uint8_t len8) {
    Bytes ext((len8 + 1u) * 8, std::byte{0});
    ext[0] = f[kIp + 6];  // the ext header's next header: the old first one
    ext[1] = std::byte{len8};
    ext[2] = std::byte{1};  // PadN option filling the rest (harmless for routing too)
    ext[3] = static_cast<std::byte>(ext.size() - 4);
    f.insert(f.begin() + kIp + kIpv6HeaderLen, ext.begin(), ext.end());
    set8(f, kIp + 6, type);
    set16(f, kIp + 4, static_cast<std::uint16_t>(get16(f, kIp + 4) + ext.size()));
}

TEST(FrameTest, Ipv6ExtensionHeadersAreSkipped) {
    const Bytes payload = pattern(30);
    Bytes f = udp_frame(endpoints6(), payload);
    insert_ext(f, 60, 1);  // destination options, 16 bytes
    insert_ext(f, 43, 0);  // routing, 8 bytes
    insert_ext(f, 0, 2);   // hop-by-hop first, 24 bytes
    DropReason why = DropReason::None;
    const auto fr = parse_frame(f, why);
    ASSERT_TRUE(fr) << to_string(why);
    EXPECT_EQ(fr->proto, kProtoUdp);
    EXPECT_EQ(fr->l4.size(), kUdpHeaderLen + payload.size());
    const auto p = parse_udp(*fr, why);
    ASSERT_TRUE(p) << to_string(why);
    EXPECT_TRUE(same_bytes(p->payload, payload));
}

TEST(FrameTest, Ipv6ExtensionHeaderBeyondPayloadIsDropped) {
    Bytes f = udp_frame(endpoints6(), pattern(4));
    insert_ext(f, 60, 0);
    set8(f, kIp + kIpv6HeaderLen + 1, 200);  // claims 1608 bytes
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_frame(f, why));
    EXPECT_EQ(why, DropReason::BadIpv6ExtensionHeader);

    // The payload length ends inside the extension header.
    Bytes g = udp_frame(endpoints6(), pattern(4));
    insert_ext(g, 60, 0);
    set16(g, kIp + 4, 6);
    EXPECT_FALSE(parse_frame(g, why));
    EXPECT_EQ(why, DropReason::BadIpv6ExtensionHeader);
}

TEST(FrameTest, Ipv6HopByHopAfterAnotherHeaderIsDropped) {
    Bytes f = udp_frame(endpoints6(), pattern(4));
    insert_ext(f, 0, 0);
    insert_ext(f, 60, 0);
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_frame(f, why));
    EXPECT_EQ(why, DropReason::BadIpv6ExtensionHeader);
}

TEST(FrameTest, Ipv6FragmentHeaderIsDropped) {
    Bytes f = udp_frame(endpoints6(), pattern(4));
    insert_ext(f, 44, 0);
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_frame(f, why));
    EXPECT_EQ(why, DropReason::Ipv6Fragment);
}

// ---------------------------------------------------------------------------
// TCP header and options

TEST(FrameTest, TcpDataOffsetBelowFiveIsDropped) {
    Bytes f = tcp_frame(endpoints4(), syn_segment());
    const std::size_t l4 = l4_offset(f);
    set8(f, l4 + 12, 0x40);
    fix_l4_checksum(f, kProtoTcp, 16);
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_tcp_frame(f, why));
    EXPECT_EQ(why, DropReason::BadTcpDataOffset);
}

TEST(FrameTest, TcpDataOffsetBeyondSegmentIsDropped) {
    Bytes f = tcp_frame(endpoints6(), syn_segment());  // 28-byte header
    const std::size_t l4 = l4_offset(f);
    set8(f, l4 + 12, 0x80);  // claims 32 bytes
    fix_l4_checksum(f, kProtoTcp, 16);
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_tcp_frame(f, why));
    EXPECT_EQ(why, DropReason::BadTcpDataOffset);
}

// A SYN frame whose 8 option bytes are replaced by `opts` (checksum fixed).
Bytes syn_with_options(const std::vector<std::uint8_t>& opts) {
    Bytes f = tcp_frame(endpoints4(), syn_segment());
    EXPECT_EQ(opts.size(), 8u);
    const std::size_t o = l4_offset(f) + kTcpHeaderLen;
    for (std::size_t i = 0; i < opts.size(); ++i) {
        set8(f, o + i, opts[i]);
    }
    fix_l4_checksum(f, kProtoTcp, 16);
    return f;
}

TEST(FrameTest, TcpOptionLengthZeroIsDropped) {
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_tcp_frame(syn_with_options({1, 1, 99, 0, 1, 1, 1, 1}), why));
    EXPECT_EQ(why, DropReason::BadTcpOption);
}

TEST(FrameTest, TcpOptionLengthOneIsDropped) {
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_tcp_frame(syn_with_options({99, 1, 1, 1, 1, 1, 1, 1}), why));
    EXPECT_EQ(why, DropReason::BadTcpOption);
}

TEST(FrameTest, TcpOptionBeyondHeaderIsDropped) {
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_tcp_frame(syn_with_options({1, 1, 1, 1, 99, 5, 0, 0}), why));
    EXPECT_EQ(why, DropReason::BadTcpOption);
    // A kind byte alone in the last position has no length byte.
    EXPECT_FALSE(parse_tcp_frame(syn_with_options({1, 1, 1, 1, 1, 1, 1, 2}), why));
    EXPECT_EQ(why, DropReason::BadTcpOption);
}

TEST(FrameTest, TcpKnownOptionWithWrongLengthIsDropped) {
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_tcp_frame(syn_with_options({2, 3, 5, 1, 1, 1, 1, 1}), why));  // MSS
    EXPECT_EQ(why, DropReason::BadTcpOption);
    EXPECT_FALSE(parse_tcp_frame(syn_with_options({3, 4, 7, 0, 1, 1, 1, 1}), why));  // wscale
    EXPECT_EQ(why, DropReason::BadTcpOption);
}

TEST(FrameTest, TcpWindowScaleAboveFourteenIsClamped) {
    DropReason why = DropReason::None;
    const auto p = parse_tcp_frame(syn_with_options({1, 3, 3, 20, 4, 2, 0, 0}), why);
    ASSERT_TRUE(p) << to_string(why);
    EXPECT_EQ(p->seg.wscale, kMaxWindowScale);
    EXPECT_TRUE(p->seg.sack_permitted);
    EXPECT_FALSE(p->seg.mss);
}

TEST(FrameTest, TcpUnknownOptionsAndEndOfListAreSkipped) {
    DropReason why = DropReason::None;
    const auto p = parse_tcp_frame(syn_with_options({99, 4, 0xaa, 0xbb, 2, 4, 0x05, 0xb4}), why);
    ASSERT_TRUE(p) << to_string(why);
    EXPECT_EQ(p->seg.mss, 1460);
    // Garbage after end-of-list is not options.
    const auto q = parse_tcp_frame(syn_with_options({0, 0, 77, 0, 0, 0, 0, 0}), why);
    ASSERT_TRUE(q) << to_string(why);
    EXPECT_FALSE(q->seg.mss);
}

TEST(FrameTest, TcpTimestampsAreToleratedAndSkipped) {
    TcpSegment seg = syn_segment();
    seg.mss.reset();
    seg.wscale.reset();
    Bytes f = tcp_frame(endpoints4(), seg);
    // Grow the header by 12 bytes: NOP NOP TS(10).
    const std::uint8_t ts[12] = {1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0};
    const std::size_t o = l4_offset(f) + kTcpHeaderLen;
    Bytes opts(12);
    std::memcpy(opts.data(), ts, sizeof(ts));
    f.insert(f.begin() + static_cast<std::ptrdiff_t>(o), opts.begin(), opts.end());
    set8(f, l4_offset(f) + 12, 0x80);
    set16(f, kIp + 2, static_cast<std::uint16_t>(get16(f, kIp + 2) + 12));
    fix_ipv4_checksum(f);
    fix_l4_checksum(f, kProtoTcp, 16);
    DropReason why = DropReason::None;
    const auto p = parse_tcp_frame(f, why);
    ASSERT_TRUE(p) << to_string(why);
    EXPECT_TRUE(p->seg.payload.empty());
    EXPECT_FALSE(p->seg.mss);
}

TEST(FrameTest, TcpBadChecksumIsDroppedUnlessVerificationIsOff) {
    Bytes f = tcp_frame(endpoints6(), syn_segment());
    set8(f, l4_offset(f) + 4, get8(f, l4_offset(f) + 4) ^ 0x10);  // sequence number
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_tcp_frame(f, why));
    EXPECT_EQ(why, DropReason::BadL4Checksum);
    EXPECT_TRUE(parse_tcp_frame(f, why, false));
}

TEST(FrameTest, TcpParserRefusesOtherProtocols) {
    const Bytes f = udp_frame(endpoints4(), pattern(3));
    DropReason why = DropReason::None;
    EXPECT_FALSE(parse_tcp_frame(f, why));
    EXPECT_EQ(why, DropReason::WrongProtocol);
}

// ---------------------------------------------------------------------------
// UDP and ICMP

TEST(FrameTest, UdpZeroChecksumAcceptedOnIpv4Only) {
    for (const auto& ep : {endpoints4(), endpoints6()}) {
        Bytes f = udp_frame(ep, pattern(9));
        set16(f, l4_offset(f) + 6, 0);
        DropReason why = DropReason::None;
        const auto fr = parse_frame(f, why);
        ASSERT_TRUE(fr);
        const auto p = parse_udp(*fr, why);
        if (ep.ns_addr.is_v4()) {
            EXPECT_TRUE(p) << to_string(why);
        } else {
            EXPECT_FALSE(p);
            EXPECT_EQ(why, DropReason::BadL4Checksum);
        }
    }
}

TEST(FrameTest, UdpBadChecksumIsDropped) {
    Bytes f = udp_frame(endpoints4(), pattern(9));
    set8(f, f.size() - 1, get8(f, f.size() - 1) ^ 0x01);
    DropReason why = DropReason::None;
    const auto fr = parse_frame(f, why);
    ASSERT_TRUE(fr);
    EXPECT_FALSE(parse_udp(*fr, why));
    EXPECT_EQ(why, DropReason::BadL4Checksum);
}

TEST(FrameTest, UdpLengthOutsideIpPayloadIsDropped) {
    for (const std::uint16_t len : {0, 7, 8 + 9 + 1}) {
        Bytes f = udp_frame(endpoints4(), pattern(9));
        set16(f, l4_offset(f) + 4, len);
        DropReason why = DropReason::None;
        const auto fr = parse_frame(f, why);
        ASSERT_TRUE(fr);
        EXPECT_FALSE(parse_udp(*fr, why, false)) << len;
        EXPECT_EQ(why, DropReason::BadUdpLength) << len;
    }
}

TEST(FrameTest, UdpLengthShorterThanIpPayloadBoundsPayload) {
    Bytes f = udp_frame(endpoints6(), pattern(9));
    set16(f, l4_offset(f) + 4, 8 + 5);
    // The checksum covers the bytes within the UDP length only.
    InAny src;
    InAny dst;
    std::memcpy(src.a.b.data(), f.data() + kIp + 8, 16);
    std::memcpy(dst.a.b.data(), f.data() + kIp + 24, 16);
    const std::size_t l4 = l4_offset(f);
    set16(f, l4 + 6, 0);
    set16(f, l4 + 6, l4_checksum(src, dst, kProtoUdp, std::span(f).subspan(l4, 13)));
    DropReason why = DropReason::None;
    const auto fr = parse_frame(f, why);
    ASSERT_TRUE(fr);
    const auto p = parse_udp(*fr, why);
    ASSERT_TRUE(p) << to_string(why);
    EXPECT_EQ(p->payload.size(), 5u);
}

TEST(FrameTest, UdpTruncatedHeaderIsDropped) {
    Bytes f = udp_frame(endpoints4(), {});
    set16(f, kIp + 2, kIpv4HeaderLen + 7);
    fix_ipv4_checksum(f);
    DropReason why = DropReason::None;
    const auto fr = parse_frame(f, why);
    ASSERT_TRUE(fr);
    EXPECT_FALSE(parse_udp(*fr, why, false));
    EXPECT_EQ(why, DropReason::TruncatedL4Header);
}

TEST(FrameTest, IcmpBadChecksumAndTruncationAreDropped) {
    Bytes f(256);
    const auto ep = endpoints4();
    f.resize(build_icmp_frame(f, kOurMac, kNsMac, ep.peer_addr, ep.ns_addr, kIcmpEchoRequest, 0, 1,
                              2, pattern(8)));
    ASSERT_FALSE(f.empty());
    Bytes bad = f;
    set8(bad, bad.size() - 1, get8(bad, bad.size() - 1) ^ 0xff);
    DropReason why = DropReason::None;
    auto fr = parse_frame(bad, why);
    ASSERT_TRUE(fr);
    EXPECT_FALSE(parse_icmp(*fr, why));
    EXPECT_EQ(why, DropReason::BadL4Checksum);

    set16(f, kIp + 2, kIpv4HeaderLen + 7);
    fix_ipv4_checksum(f);
    fr = parse_frame(f, why);
    ASSERT_TRUE(fr);
    EXPECT_FALSE(parse_icmp(*fr, why, false));
    EXPECT_EQ(why, DropReason::TruncatedL4Header);
}

// ---------------------------------------------------------------------------
// Reasons and counters

TEST(FrameTest, EveryDropReasonHasADistinctName) {
    std::set<std::string> names;
    for (std::size_t i = 0; i < kDropReasonCount; ++i) {
        const char* n = to_string(static_cast<DropReason>(i));
        ASSERT_NE(n, nullptr);
        EXPECT_FALSE(std::string(n).empty());
        names.insert(n);
    }
    EXPECT_EQ(names.size(), kDropReasonCount);
    EXPECT_EQ(std::string(to_string(DropReason::Ipv4Fragment)), "IPv4 fragment");
}

TEST(FrameTest, DropCountersCountByReasonAndInTotal) {
    DropCounters c;
    c.add(DropReason::Ipv4Fragment);
    c.add(DropReason::Ipv4Fragment);
    c.add(DropReason::BadL4Checksum);
    c.add(DropReason::None);  // not a drop
    EXPECT_EQ(c.count(DropReason::Ipv4Fragment), 2u);
    EXPECT_EQ(c.count(DropReason::BadL4Checksum), 1u);
    EXPECT_EQ(c.count(DropReason::BadArp), 0u);
    EXPECT_EQ(c.total(), 3u);
}

}  // namespace
}  // namespace pastad::tap

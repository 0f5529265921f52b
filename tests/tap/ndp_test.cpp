// SPDX-License-Identifier: GPL-2.0-or-later
// tests/tap/ndp_test.cpp - NDP responder: NS -> NA, RS -> RA, RFC 4861 validation
#include "tap/ndp.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace pastad::tap {
namespace {

using Bytes = std::vector<std::byte>;

const Mac kOurMac = *Mac::parse("02:00:00:00:00:01");
const Mac kNsMac = *Mac::parse("52:54:00:12:34:56");
const Ip6 kNsAddr = *Ip6::parse("2001:db8::15");
const Ip6 kNsLinkLocal = *Ip6::parse("fe80::5054:ff:fe12:3456");
const Ip6 kTarget = *Ip6::parse("2001:db8::1");
const Ip6 kAllNodes = *Ip6::parse("ff02::1");

std::uint16_t get16(std::span<const std::byte> b, std::size_t off) {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(b[off]) << 8) |
                                      std::to_integer<unsigned>(b[off + 1]));
}
std::uint32_t get32(std::span<const std::byte> b, std::size_t off) {
    return (static_cast<std::uint32_t>(get16(b, off)) << 16) | get16(b, off + 2);
}

Ip6 solicited_node(const Ip6& a) {
    Ip6 m = *Ip6::parse("ff02::1:ff00:0");
    m.b[13] = a.b[13];
    m.b[14] = a.b[14];
    m.b[15] = a.b[15];
    return m;
}

Bytes lla_option(std::uint8_t type, const Mac& mac) {
    Bytes o(8);
    o[0] = std::byte{type};
    o[1] = std::byte{1};
    std::memcpy(o.data() + 2, mac.b.data(), 6);
    return o;
}

// An ICMPv6 message from the namespace, with a valid checksum.
Bytes icmp6_frame(const Ip6& src, const Ip6& dst, std::uint8_t type, const Bytes& data,
                  std::uint8_t hop_limit = 255, std::uint8_t code = 0) {
    Bytes f(512);
    f.resize(build_icmp_frame(f, kNsMac, kOurMac, InAny::from(src), InAny::from(dst), type, code, 0,
                              0, data, hop_limit));
    EXPECT_FALSE(f.empty());
    return f;
}

Bytes ns_frame(const Ip6& src, const Ip6& target, const Bytes& options) {
    Bytes data(16);
    std::memcpy(data.data(), target.b.data(), 16);
    data.insert(data.end(), options.begin(), options.end());
    return icmp6_frame(src, solicited_node(target), kIcmp6NeighborSolicit, data);
}

NdpConfig config() {
    NdpConfig c;
    c.mac = kOurMac;
    c.prefixes = {Prefix6{*Ip6::parse("2001:db8::15"), 64}};
    c.ns_addrs = {kNsAddr};
    c.mtu = 65520;
    return c;
}

struct Answer {
    std::size_t len = 0;
    DropReason why = DropReason::None;
    Bytes out = Bytes(1024);
    std::optional<Frame> frame;
    std::optional<IcmpPacket> icmp;
};

// Feeds `frame` to `r` and parses any answer back.
Answer ask(const NdpResponder& r, const Bytes& frame) {
    Answer a;
    DropReason why = DropReason::None;
    const auto f = parse_frame(frame, why);
    EXPECT_TRUE(f) << to_string(why);
    if (!f) {
        return a;
    }
    a.len = r.handle(*f, a.out, a.why);
    if (a.len != 0) {
        a.frame = parse_frame(std::span(a.out).first(a.len), why);
        EXPECT_TRUE(a.frame) << to_string(why);
        if (a.frame) {
            a.icmp = parse_icmpv6(*a.frame, why);
            EXPECT_TRUE(a.icmp) << to_string(why);
        }
    }
    return a;
}

TEST(NdpTest, LinkLocalFromMacUsesModifiedEui64) {
    EXPECT_EQ(link_local_from_mac(kNsMac), kNsLinkLocal);
    EXPECT_EQ(NdpResponder(config()).router_addr(), *Ip6::parse("fe80::ff:fe00:1"));
}

TEST(NdpTest, NeighborSolicitationGetsAdvertisementWithOurMac) {
    const NdpResponder r(config());
    const Answer a = ask(r, ns_frame(kNsAddr, kTarget, lla_option(1, kNsMac)));
    ASSERT_NE(a.len, 0u);
    ASSERT_TRUE(a.icmp);
    EXPECT_EQ(a.frame->dst, kNsMac);
    EXPECT_EQ(a.frame->src, kOurMac);
    EXPECT_EQ(a.frame->src_ip, InAny::from(kTarget));
    EXPECT_EQ(a.frame->dst_ip, InAny::from(kNsAddr));
    EXPECT_EQ(a.frame->hop_limit, 255);
    EXPECT_EQ(a.icmp->type, kIcmp6NeighborAdvert);
    EXPECT_EQ(a.icmp->code, 0);
    EXPECT_EQ(a.icmp->rest[0], std::byte{0xe0});  // Router, Solicited, Override
    ASSERT_EQ(a.icmp->data.size(), 24u);
    Ip6 target;
    std::memcpy(target.b.data(), a.icmp->data.data(), 16);
    EXPECT_EQ(target, kTarget);
    EXPECT_EQ(a.icmp->data[16], std::byte{2});  // target link-layer address
    EXPECT_EQ(a.icmp->data[17], std::byte{1});
    Mac tlla;
    std::memcpy(tlla.b.data(), a.icmp->data.data() + 18, 6);
    EXPECT_EQ(tlla, kOurMac);
}

TEST(NdpTest, NeighborSolicitationForNamespaceAddressGetsNoAnswer) {
    const NdpResponder r(config());
    const Answer a = ask(r, ns_frame(kNsLinkLocal, kNsAddr, {}));
    EXPECT_EQ(a.len, 0u);
    EXPECT_EQ(a.why, DropReason::None);
}

TEST(NdpTest, DuplicateAddressDetectionGetsNoAnswer) {
    const NdpResponder r(config());
    const Answer a = ask(r, ns_frame(Ip6{}, kTarget, {}));
    EXPECT_EQ(a.len, 0u);
    EXPECT_EQ(a.why, DropReason::None);
}

TEST(NdpTest, DuplicateAddressDetectionWithSourceLinkLayerIsDropped) {
    const NdpResponder r(config());
    const Answer a = ask(r, ns_frame(Ip6{}, kTarget, lla_option(1, kNsMac)));
    EXPECT_EQ(a.len, 0u);
    EXPECT_EQ(a.why, DropReason::BadNdp);
}

TEST(NdpTest, SolicitationWithWrongHopLimitOrCodeIsDropped) {
    const NdpResponder r(config());
    Bytes data(16);
    std::memcpy(data.data(), kTarget.b.data(), 16);
    for (const auto& f :
         {icmp6_frame(kNsAddr, solicited_node(kTarget), kIcmp6NeighborSolicit, data, 64),
          icmp6_frame(kNsAddr, solicited_node(kTarget), kIcmp6NeighborSolicit, data, 255, 1),
          icmp6_frame(kNsAddr, kAllNodes, kIcmp6RouterSolicit, {}, 1)}) {
        const Answer a = ask(r, f);
        EXPECT_EQ(a.len, 0u);
        EXPECT_EQ(a.why, DropReason::BadNdp);
    }
}

TEST(NdpTest, SolicitationWithBadChecksumIsDropped) {
    const NdpResponder r(config());
    Bytes f = ns_frame(kNsAddr, kTarget, {});
    f.back() ^= std::byte{0x01};
    const Answer a = ask(r, f);
    EXPECT_EQ(a.len, 0u);
    EXPECT_EQ(a.why, DropReason::BadL4Checksum);
}

TEST(NdpTest, SolicitationWithBadOptionLengthIsDropped) {
    const NdpResponder r(config());
    Bytes zero = lla_option(1, kNsMac);
    zero[1] = std::byte{0};
    Bytes beyond = lla_option(1, kNsMac);
    beyond[1] = std::byte{2};
    const Bytes stub(1, std::byte{1});
    for (const auto& opt : {zero, beyond, stub}) {
        EXPECT_EQ(ask(r, ns_frame(kNsAddr, kTarget, opt)).why, DropReason::BadNdp);
        EXPECT_EQ(ask(r, icmp6_frame(kNsAddr, kAllNodes, kIcmp6RouterSolicit, opt)).why,
                  DropReason::BadNdp);
    }
}

TEST(NdpTest, ShortOrMulticastTargetSolicitationIsDropped) {
    const NdpResponder r(config());
    const Bytes short_data(12);
    const Answer a =
        ask(r, icmp6_frame(kNsAddr, solicited_node(kTarget), kIcmp6NeighborSolicit, short_data));
    EXPECT_EQ(a.why, DropReason::BadNdp);
    const Answer b = ask(r, ns_frame(kNsAddr, kAllNodes, {}));
    EXPECT_EQ(b.why, DropReason::BadNdp);
}

TEST(NdpTest, RouterSolicitationGetsAdvertisementWithPrefix) {
    const NdpResponder r(config());
    const Answer a = ask(r, icmp6_frame(kNsLinkLocal, *Ip6::parse("ff02::2"), kIcmp6RouterSolicit,
                                        lla_option(1, kNsMac)));
    ASSERT_NE(a.len, 0u);
    ASSERT_TRUE(a.icmp);
    EXPECT_EQ(a.frame->dst, kNsMac);
    EXPECT_EQ(a.frame->src, kOurMac);
    EXPECT_EQ(a.frame->src_ip, InAny::from(r.router_addr()));
    EXPECT_TRUE(r.router_addr().is_link_local());
    EXPECT_EQ(a.frame->dst_ip, InAny::from(kNsLinkLocal));
    EXPECT_EQ(a.frame->hop_limit, 255);
    EXPECT_EQ(a.icmp->type, kIcmp6RouterAdvert);
    EXPECT_EQ(a.icmp->code, 0);
    EXPECT_EQ(a.icmp->rest[0], std::byte{64});  // cur hop limit
    EXPECT_EQ(a.icmp->rest[1], std::byte{0});   // M and O clear
    EXPECT_EQ(a.icmp->echo_seq(), 1800);        // router lifetime shares the field

    // Options after reachable time and retransmit timer.
    const auto opts = a.icmp->data.subspan(8);
    ASSERT_EQ(opts.size(), 8u + 8u + 32u);
    EXPECT_EQ(opts[0], std::byte{1});  // source link-layer address
    Mac slla;
    std::memcpy(slla.b.data(), opts.data() + 2, 6);
    EXPECT_EQ(slla, kOurMac);
    EXPECT_EQ(opts[8], std::byte{5});  // MTU
    EXPECT_EQ(get32(opts, 12), 65520u);
    const auto pi = opts.subspan(16);
    EXPECT_EQ(pi[0], std::byte{3});
    EXPECT_EQ(pi[1], std::byte{4});
    EXPECT_EQ(pi[2], std::byte{64});
    EXPECT_EQ(pi[3], std::byte{0xc0});  // L and A
    EXPECT_EQ(get32(pi, 4), 0xffffffffu);
    EXPECT_EQ(get32(pi, 8), 0xffffffffu);
    Ip6 prefix;
    std::memcpy(prefix.b.data(), pi.data() + 16, 16);
    EXPECT_EQ(prefix, *Ip6::parse("2001:db8::"));  // host bits masked
}

TEST(NdpTest, RouterSolicitationFromUnspecifiedGetsMulticastAdvertisement) {
    const NdpResponder r(config());
    const Answer a = ask(r, icmp6_frame(Ip6{}, *Ip6::parse("ff02::2"), kIcmp6RouterSolicit, {}));
    ASSERT_TRUE(a.frame);
    EXPECT_EQ(a.frame->dst, *Mac::parse("33:33:00:00:00:01"));
    EXPECT_EQ(a.frame->dst_ip, InAny::from(kAllNodes));
}

TEST(NdpTest, ManagedAndOtherFlagsAreAdvertisedWhenSet) {
    auto c = config();
    c.managed = true;
    c.other = true;
    const NdpResponder r(c);
    const Answer a = ask(r, icmp6_frame(kNsLinkLocal, kAllNodes, kIcmp6RouterSolicit, {}));
    ASSERT_TRUE(a.icmp);
    EXPECT_EQ(a.icmp->rest[1], std::byte{0xc0});
}

TEST(NdpTest, LinkLocalGatewayIsTheAdvertisementSource) {
    auto c = config();
    c.gateway = *Ip6::parse("fe80::1");
    EXPECT_EQ(NdpResponder(c).router_addr(), *c.gateway);
    c.gateway = *Ip6::parse("2001:db8::1");  // global: not usable as an RA source
    EXPECT_EQ(NdpResponder(c).router_addr(), link_local_from_mac(kOurMac));
}

TEST(NdpTest, NoRaAnswersNeighborsButNotRouterSolicitations) {
    auto c = config();
    c.no_ra = true;
    const NdpResponder r(c);
    EXPECT_EQ(ask(r, icmp6_frame(kNsLinkLocal, kAllNodes, kIcmp6RouterSolicit, {})).len, 0u);
    EXPECT_NE(ask(r, ns_frame(kNsAddr, kTarget, {})).len, 0u);
    Bytes out(1024);
    EXPECT_EQ(r.build_ra(out), 0u);
}

TEST(NdpTest, NoNdpAnswersNothing) {
    auto c = config();
    c.no_ndp = true;
    const NdpResponder r(c);
    EXPECT_EQ(ask(r, icmp6_frame(kNsLinkLocal, kAllNodes, kIcmp6RouterSolicit, {})).len, 0u);
    EXPECT_EQ(ask(r, ns_frame(kNsAddr, kTarget, {})).len, 0u);
}

TEST(NdpTest, UnsolicitedAdvertisementGoesToAllNodes) {
    const NdpResponder r(config());
    Bytes out(1024);
    const std::size_t n = r.build_ra(out);
    ASSERT_NE(n, 0u);
    DropReason why = DropReason::None;
    const auto f = parse_frame(std::span(out).first(n), why);
    ASSERT_TRUE(f) << to_string(why);
    EXPECT_EQ(f->dst_ip, InAny::from(kAllNodes));
    const auto p = parse_icmpv6(*f, why);
    ASSERT_TRUE(p) << to_string(why);
    EXPECT_EQ(p->type, kIcmp6RouterAdvert);
    Bytes small(n - 1);
    EXPECT_EQ(r.build_ra(small), 0u);
}

TEST(NdpTest, OtherIcmpv6IsLeftAlone) {
    const NdpResponder r(config());
    const Answer a = ask(r, icmp6_frame(kNsAddr, kTarget, kIcmp6EchoRequest, Bytes(8), 64));
    EXPECT_EQ(a.len, 0u);
    EXPECT_EQ(a.why, DropReason::None);
}

}  // namespace
}  // namespace pastad::tap

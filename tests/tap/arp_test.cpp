// SPDX-License-Identifier: GPL-2.0-or-later
// tests/tap/arp_test.cpp - ARP responder: replies, silences and malformed requests
#include "tap/arp.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace pastad::tap {
namespace {

using Bytes = std::vector<std::byte>;

const Mac kOurMac = *Mac::parse("02:00:00:00:00:01");
const Mac kNsMac = *Mac::parse("52:54:00:12:34:56");
const Mac kBroadcast = *Mac::parse("ff:ff:ff:ff:ff:ff");
const Ip4 kNsAddr = *Ip4::parse("10.0.2.15");
const Ip4 kGateway = *Ip4::parse("10.0.2.2");

void put16(Bytes& b, std::size_t off, std::uint16_t v) {
    b[off] = static_cast<std::byte>(v >> 8);
    b[off + 1] = static_cast<std::byte>(v & 0xff);
}
std::uint16_t get16(std::span<const std::byte> b, std::size_t off) {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(b[off]) << 8) |
                                      std::to_integer<unsigned>(b[off + 1]));
}

// An ARP frame from the namespace, built field by field (RFC 826).
Bytes arp_frame(std::uint16_t op, const Ip4& spa, const Ip4& tpa) {
    Bytes f(kArpFrameLen + 18);  // with Ethernet padding to 60 bytes
    std::memcpy(f.data(), kBroadcast.b.data(), 6);
    std::memcpy(f.data() + 6, kNsMac.b.data(), 6);
    put16(f, 12, kEtherTypeArp);
    put16(f, 14, 1);
    put16(f, 16, 0x0800);
    f[18] = std::byte{6};
    f[19] = std::byte{4};
    put16(f, 20, op);
    std::memcpy(f.data() + 22, kNsMac.b.data(), 6);
    std::memcpy(f.data() + 28, spa.b.data(), 4);
    std::memcpy(f.data() + 38, tpa.b.data(), 4);
    return f;
}

struct Answer {
    std::size_t len = 0;
    DropReason why = DropReason::None;
    Bytes out = Bytes(128);
};

Answer ask(ArpResponder& r, const Bytes& frame) {
    Answer a;
    DropReason why = DropReason::None;
    const auto f = parse_frame(frame, why);
    EXPECT_TRUE(f) << to_string(why);
    if (f) {
        a.len = r.handle(*f, a.out, a.why);
    }
    return a;
}

TEST(ArpTest, RequestForGatewayGetsReplyWithOurMac) {
    ArpResponder r(kOurMac, kNsAddr);
    const Answer a = ask(r, arp_frame(1, kNsAddr, kGateway));
    ASSERT_EQ(a.len, kArpFrameLen);
    EXPECT_EQ(a.why, DropReason::None);

    DropReason why = DropReason::None;
    const auto reply = parse_frame(std::span(a.out).first(a.len), why);
    ASSERT_TRUE(reply) << to_string(why);
    EXPECT_TRUE(reply->is_arp());
    EXPECT_EQ(reply->dst, kNsMac);
    EXPECT_EQ(reply->src, kOurMac);
    const auto arp = reply->l3;
    ASSERT_EQ(arp.size(), kArpLen);
    EXPECT_EQ(get16(arp, 0), 1);
    EXPECT_EQ(get16(arp, 2), 0x0800);
    EXPECT_EQ(arp[4], std::byte{6});
    EXPECT_EQ(arp[5], std::byte{4});
    EXPECT_EQ(get16(arp, 6), 2);  // reply
    Mac sha;
    Mac tha;
    Ip4 spa;
    Ip4 tpa;
    std::memcpy(sha.b.data(), arp.data() + 8, 6);
    std::memcpy(spa.b.data(), arp.data() + 14, 4);
    std::memcpy(tha.b.data(), arp.data() + 18, 6);
    std::memcpy(tpa.b.data(), arp.data() + 24, 4);
    EXPECT_EQ(sha, kOurMac);
    EXPECT_EQ(spa, kGateway);
    EXPECT_EQ(tha, kNsMac);
    EXPECT_EQ(tpa, kNsAddr);
}

TEST(ArpTest, RequestForOffLinkAddressGetsReply) {
    ArpResponder r(kOurMac, kNsAddr);
    const Answer a = ask(r, arp_frame(1, kNsAddr, *Ip4::parse("10.0.2.200")));
    EXPECT_EQ(a.len, kArpFrameLen);
}

TEST(ArpTest, RequestForNamespaceOwnAddressGetsNoReply) {
    ArpResponder r(kOurMac, kNsAddr);
    const Answer a = ask(r, arp_frame(1, *Ip4::parse("10.0.2.3"), kNsAddr));
    EXPECT_EQ(a.len, 0u);
    EXPECT_EQ(a.why, DropReason::None);
}

TEST(ArpTest, GratuitousArpAndProbesGetNoReply) {
    ArpResponder r(kOurMac, Ip4{});
    const Ip4 other = *Ip4::parse("10.0.2.77");
    EXPECT_EQ(ask(r, arp_frame(1, other, other)).len, 0u);                 // gratuitous
    EXPECT_EQ(ask(r, arp_frame(1, Ip4{}, other)).len, 0u);                 // RFC 5227 probe
    EXPECT_EQ(ask(r, arp_frame(1, kNsAddr, kGateway)).len, kArpFrameLen);  // the control
}

TEST(ArpTest, ReplyFromNamespaceIsIgnored) {
    ArpResponder r(kOurMac, kNsAddr);
    const Answer a = ask(r, arp_frame(2, kNsAddr, kGateway));
    EXPECT_EQ(a.len, 0u);
    EXPECT_EQ(a.why, DropReason::None);
}

TEST(ArpTest, MalformedArpIsDropped) {
    ArpResponder r(kOurMac, kNsAddr);
    const struct {
        std::size_t off;
        std::uint8_t value;
    } edits[] = {{15, 6}, {17, 0xdd}, {18, 8}, {19, 16}};  // htype, ptype, hlen, plen
    for (const auto& e : edits) {
        Bytes f = arp_frame(1, kNsAddr, kGateway);
        f[e.off] = std::byte{e.value};
        const Answer a = ask(r, f);
        EXPECT_EQ(a.len, 0u) << e.off;
        EXPECT_EQ(a.why, DropReason::BadArp) << e.off;
    }
}

TEST(ArpTest, TruncatedArpIsDropped) {
    ArpResponder r(kOurMac, kNsAddr);
    Bytes f = arp_frame(1, kNsAddr, kGateway);
    f.resize(kArpFrameLen - 1);
    const Answer a = ask(r, f);
    EXPECT_EQ(a.len, 0u);
    EXPECT_EQ(a.why, DropReason::BadArp);
}

TEST(ArpTest, SmallOutputBufferGetsNoReply) {
    ArpResponder r(kOurMac, kNsAddr);
    DropReason why = DropReason::None;
    const Bytes req = arp_frame(1, kNsAddr, kGateway);
    const auto f = parse_frame(req, why);
    ASSERT_TRUE(f);
    Bytes out(kArpFrameLen - 1);
    EXPECT_EQ(r.handle(*f, out), 0u);
}

TEST(ArpTest, NonArpFrameIsNotAnswered) {
    ArpResponder r(kOurMac, kNsAddr);
    Bytes f(200);
    const auto ep = Endpoints{InAny::from(kNsAddr), InAny::from(kGateway), 1, 2};
    f.resize(build_udp_frame(f, kNsMac, kOurMac, ep, {}));
    const Answer a = ask(r, f);
    EXPECT_EQ(a.len, 0u);
    EXPECT_EQ(a.why, DropReason::None);
}

TEST(ArpTest, ObserveLearnsUnicastSourceMacOnly) {
    ArpResponder r(kOurMac, kNsAddr);
    EXPECT_FALSE(r.ns_mac());
    Frame f;
    f.src = kBroadcast;
    EXPECT_FALSE(r.observe(f));
    f.src = Mac{};
    EXPECT_FALSE(r.observe(f));
    f.src = kNsMac;
    EXPECT_TRUE(r.observe(f));
    EXPECT_FALSE(r.observe(f));  // unchanged
    EXPECT_EQ(r.ns_mac(), kNsMac);
}

TEST(ArpTest, HandleLearnsRequesterMac) {
    ArpResponder r(kOurMac, kNsAddr);
    ask(r, arp_frame(1, kNsAddr, kGateway));
    EXPECT_EQ(r.ns_mac(), kNsMac);
}

}  // namespace
}  // namespace pastad::tap

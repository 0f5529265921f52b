// SPDX-License-Identifier: GPL-2.0-or-later
// tests/tap/dhcpv6_test.cpp - the DHCPv6 server
#include "tap/dhcpv6.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace pastad::tap {
namespace {

using Bytes = std::vector<std::byte>;
const Mac kClientMac = *Mac::parse("02:00:00:00:00:42");
const Mac kOurMac = *Mac::parse("02:00:00:00:00:01");

Bytes msg(std::initializer_list<int> bytes) {
    Bytes b;
    for (int x : bytes) {
        b.push_back(static_cast<std::byte>(x));
    }
    return b;
}

std::size_t serve(const Dhcpv6Server& s, const Bytes& payload, Bytes& out, bool& malformed) {
    Bytes frame(2048);
    const Endpoints ep{InAny::from(*Ip6::parse("ff02::1:2")), InAny::from(*Ip6::parse("fe80::42")),
                       547, 546};
    frame.resize(build_udp_frame(frame, kClientMac, kOurMac, ep, payload));
    DropReason why;
    const auto f = parse_frame(frame, why);
    EXPECT_TRUE(f);
    const auto p = parse_udp(*f, why);
    EXPECT_TRUE(p);
    out.assign(2048, std::byte{0});
    return s.handle(*f, *p, out, malformed);
}

Dhcpv6Config config() {
    Dhcpv6Config c;
    c.our_mac = kOurMac;
    c.our_ll = *Ip6::parse("fe80::1");
    c.addr = Ip6::parse("2001:db8::2");
    c.dns = {*Ip6::parse("2001:db8::53")};
    c.search = {"example.test"};
    return c;
}

Dhcpv6Server server() {
    return Dhcpv6Server(config());
}

// SOLICIT, transaction 0x010203, client id 00 03 00 01 + MAC, IA_NA IAID 7.
const Bytes kSolicit = msg({1,    1, 2, 3, 0,  1, 0, 10, 0, 3, 0, 1, 2, 0, 0, 0, 0,
                            0x42, 0, 3, 0, 12, 0, 0, 0,  7, 0, 0, 0, 0, 0, 0, 0, 0});

bool contains(std::span<const std::byte> hay, const Bytes& needle) {
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

TEST(Dhcpv6ServerTest, SolicitGetsAdvertiseWithAddressAndDns) {
    const auto s = server();
    Bytes out;
    bool bad = true;
    const auto len = serve(s, kSolicit, out, bad);
    ASSERT_GT(len, 0u);
    EXPECT_FALSE(bad);
    DropReason why;
    const auto f = parse_frame({out.data(), len}, why);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->dst_ip, InAny::from(*Ip6::parse("fe80::42")));
    EXPECT_EQ(f->src_ip, InAny::from(*Ip6::parse("fe80::1")));
    const auto p = parse_udp(*f, why);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->dport, 546);
    EXPECT_EQ(std::to_integer<int>(p->payload[0]), 2);  // ADVERTISE
    EXPECT_EQ(std::to_integer<int>(p->payload[3]), 3);  // transaction id kept
    const auto addr = Ip6::parse("2001:db8::2")->b;
    Bytes a;
    for (auto x : addr) {
        a.push_back(std::byte{x});
    }
    EXPECT_TRUE(contains(p->payload, a));
    EXPECT_TRUE(contains(p->payload, msg({0, 23, 0, 16, 0x20, 1, 0x0d, 0xb8})));
    EXPECT_TRUE(contains(p->payload, msg({0, 24, 0, 14, 7})));
}

// Option codes of a DHCPv6 message's top level, in order.
std::vector<int> option_codes(std::span<const std::byte> m) {
    std::vector<int> codes;
    for (std::size_t i = 4; i + 4 <= m.size();) {
        codes.push_back(std::to_integer<int>(m[i]) << 8 | std::to_integer<int>(m[i + 1]));
        i += 4 +
             (std::to_integer<std::size_t>(m[i + 2]) << 8 | std::to_integer<std::size_t>(m[i + 3]));
    }
    return codes;
}

// pastad's default, as in pasta's namespace mode (daemon/dns.hpp).
TEST(Dhcpv6ServerTest, NoNameserversOrSearchListLeavesTheirOptionsOut) {
    auto c = config();
    c.dns.clear();
    c.search.clear();
    Bytes out;
    bool bad = true;
    const auto len = serve(Dhcpv6Server(c), kSolicit, out, bad);
    ASSERT_GT(len, 0u);
    DropReason why;
    const auto f = parse_frame({out.data(), len}, why);
    ASSERT_TRUE(f);
    const auto p = parse_udp(*f, why);
    ASSERT_TRUE(p);
    const auto codes = option_codes(p->payload);
    EXPECT_NE(std::find(codes.begin(), codes.end(), 3), codes.end());  // IA_NA still there
    EXPECT_EQ(std::find(codes.begin(), codes.end(), 23), codes.end());
    EXPECT_EQ(std::find(codes.begin(), codes.end(), 24), codes.end());
}

// The UDP payload of the server's answer to `m`.
Bytes answer(const Dhcpv6Config& c, const Bytes& m) {
    Bytes out;
    bool bad = true;
    const auto len = serve(Dhcpv6Server(c), m, out, bad);
    EXPECT_GT(len, 0u);
    DropReason why;
    const auto f = parse_frame({out.data(), len}, why);
    EXPECT_TRUE(f);
    const auto p = parse_udp(*f, why);
    EXPECT_TRUE(p);
    return Bytes(p->payload.begin(), p->payload.end());
}

TEST(Dhcpv6ServerTest, FqdnIsSentAsOption39) {
    auto c = config();
    c.fqdn = "box.example.test.";
    const auto a = answer(c, kSolicit);
    // Code 39, length 1 + 18, flags clear, the name in wire format.
    EXPECT_TRUE(contains(a, msg({0,   39,  0,   19,  0,   3, 'b', 'o', 'x', 7,   'e', 'x',
                                 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0})));
}

TEST(Dhcpv6ServerTest, FqdnOverridesClientAskingServerToUpdate) {
    auto c = config();
    c.fqdn = "box";
    auto m = kSolicit;
    const auto fqdn = msg({0, 39, 0, 1, 0x01 /* S */});
    m.insert(m.end(), fqdn.begin(), fqdn.end());
    EXPECT_TRUE(contains(answer(c, m), msg({0, 39, 0, 6, 0x02 /* O */, 3, 'b', 'o', 'x', 0})));
}

TEST(Dhcpv6ServerTest, NoFqdnByDefault) {
    const auto codes = option_codes(answer(config(), kSolicit));
    EXPECT_EQ(std::find(codes.begin(), codes.end(), 39), codes.end());
}

TEST(Dhcpv6ServerTest, RapidCommitSolicitGetsReply) {
    auto m = kSolicit;
    const auto rc = msg({0, 14, 0, 0});
    m.insert(m.end(), rc.begin(), rc.end());
    Bytes out;
    bool bad = false;
    const auto len = serve(server(), m, out, bad);
    ASSERT_GT(len, 0u);
    DropReason why;
    const auto f = parse_frame({out.data(), len}, why);
    const auto p = parse_udp(*f, why);
    EXPECT_EQ(std::to_integer<int>(p->payload[0]), 7);
}

TEST(Dhcpv6ServerTest, RequestForOtherServerIsIgnored) {
    auto m = kSolicit;
    m[0] = std::byte{3};
    const auto sid = msg({0, 2, 0, 4, 0, 9, 9, 9});
    m.insert(m.end(), sid.begin(), sid.end());
    Bytes out;
    bool bad = false;
    EXPECT_EQ(serve(server(), m, out, bad), 0u);
    EXPECT_FALSE(bad);
}

TEST(Dhcpv6ServerTest, MalformedMessagesAreDroppedAndReported) {
    Bytes out;
    bool bad = false;
    EXPECT_EQ(serve(server(), msg({1, 0}), out, bad), 0u);
    EXPECT_TRUE(bad);
    EXPECT_EQ(serve(server(), msg({1, 0, 0, 1, 0, 1, 0, 200, 1}), out, bad), 0u);
    EXPECT_TRUE(bad);
    EXPECT_EQ(serve(server(), msg({3, 0, 0, 1}), out, bad), 0u);  // no client id
    EXPECT_TRUE(bad);
}

TEST(Dhcpv6ServerTest, EveryTruncationIsDroppedUnlessItEndsBetweenOptions) {
    // kSolicit: header (4), client id (to 18), IA_NA (to 34).
    for (std::size_t n = 0; n < kSolicit.size(); ++n) {
        Bytes out;
        bool bad = false;
        const Bytes cut(kSolicit.begin(), kSolicit.begin() + static_cast<std::ptrdiff_t>(n));
        const std::size_t len = serve(server(), cut, out, bad);
        if (n == 18) {  // client id complete: a SOLICIT without IA_NA
            EXPECT_FALSE(bad);
            EXPECT_GT(len, 0u);
        } else {
            EXPECT_TRUE(bad) << n;
            EXPECT_EQ(len, 0u) << n;
        }
    }
}

TEST(Dhcpv6ServerTest, GarbageOptionsAreDroppedOrAnsweredWithAWellFormedFrame) {
    std::uint32_t x = 777;
    for (int i = 0; i < 2000; ++i) {
        Bytes m = kSolicit;
        x = x * 1103515245 + 12345;
        const std::size_t extra = (x >> 8) % 200;
        for (std::size_t j = 0; j < extra; ++j) {
            x = x * 1103515245 + 12345;  // any bytes, a fixed sequence
            m.push_back(static_cast<std::byte>(x >> 16));
        }
        Bytes out;
        bool bad = false;
        const std::size_t len = serve(server(), m, out, bad);
        if (bad || len == 0) {
            EXPECT_EQ(len, 0u);
            continue;
        }
        DropReason why;
        const auto f = parse_frame(std::span(out).first(len), why);
        ASSERT_TRUE(f);
        const auto p = parse_udp(*f, why);
        ASSERT_TRUE(p);
        EXPECT_EQ(p->sport, kDhcpv6ServerPort);
        EXPECT_EQ(p->dport, kDhcpv6ClientPort);
    }
}

TEST(Dhcpv6ServerTest, ServerMessagesAreNotAnswered) {
    auto m = kSolicit;
    m[0] = std::byte{7};  // a REPLY from some other server
    Bytes out;
    bool bad = false;
    EXPECT_EQ(serve(server(), m, out, bad), 0u);
    EXPECT_FALSE(bad);
}

}  // namespace
}  // namespace pastad::tap

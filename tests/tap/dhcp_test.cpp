// SPDX-License-Identifier: GPL-2.0-or-later
// tests/tap/dhcp_test.cpp - the DHCPv4 server and the RA's DNS options
#include "tap/dhcp.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include "tap/ndp.hpp"

namespace pastad::tap {
namespace {

using Bytes = std::vector<std::byte>;
const Mac kClientMac = *Mac::parse("02:00:00:00:00:42");
const Mac kOurMac = *Mac::parse("02:00:00:00:00:01");

DhcpConfig config() {
    DhcpConfig c;
    c.our_mac = kOurMac;
    c.addr = *Ip4::parse("198.51.100.2");
    c.prefix_len = 24;
    c.router = Ip4::parse("198.51.100.1");
    c.server = *Ip4::parse("198.51.100.1");
    c.dns = {*Ip4::parse("192.0.2.53")};
    c.search = {"example.test"};
    c.mtu = 65520;
    return c;
}

// A client message: BOOTREQUEST with the cookie, then `options` as given.
Bytes request(std::initializer_list<std::uint8_t> options) {
    Bytes m(240);
    m[0] = std::byte{1};
    m[1] = std::byte{1};
    m[2] = std::byte{6};
    m[4] = std::byte{0xde};  // xid
    std::memcpy(m.data() + 28, kClientMac.b.data(), 6);
    const std::array<std::uint8_t, 4> cookie = {99, 130, 83, 99};
    std::memcpy(m.data() + 236, cookie.data(), 4);
    for (auto o : options) {
        m.push_back(std::byte{o});
    }
    return m;
}

// Wraps `payload` in a frame from the client to 255.255.255.255:67 and runs the server.
std::size_t serve(const DhcpServer& s, const Bytes& payload, Bytes& out, bool& malformed) {
    Bytes frame(2048);
    const Endpoints ep{InAny::from(Ip4::from_host(0xffffffff)), InAny::from(Ip4{}), 67, 68};
    frame.resize(build_udp_frame(frame, kClientMac, kOurMac, ep, payload));
    DropReason why;
    const auto f = parse_frame(frame, why);
    EXPECT_TRUE(f);
    const auto p = parse_udp(*f, why);
    EXPECT_TRUE(p);
    out.assign(2048, std::byte{0});
    return s.handle(*f, *p, out, malformed);
}

// The DHCP message inside a reply frame.
std::span<const std::byte> reply_payload(const Bytes& out, std::size_t len) {
    DropReason why;
    static std::optional<Frame> f;
    f = parse_frame({out.data(), len}, why);
    EXPECT_TRUE(f);
    const auto p = parse_udp(*f, why);
    EXPECT_TRUE(p);
    EXPECT_EQ(p->sport, 67);
    EXPECT_EQ(p->dport, 68);
    return p->payload;
}

// Value of option `code` in a DHCP message, empty when absent.
Bytes option(std::span<const std::byte> m, std::uint8_t code) {
    for (std::size_t i = 240; i + 1 < m.size();) {
        const auto c = std::to_integer<std::uint8_t>(m[i]);
        if (c == 255) {
            break;
        }
        const auto n = std::to_integer<std::size_t>(m[i + 1]);
        if (c == code) {
            return Bytes(m.begin() + static_cast<std::ptrdiff_t>(i + 2),
                         m.begin() + static_cast<std::ptrdiff_t>(i + 2 + n));
        }
        i += 2 + n;
    }
    return {};
}

TEST(DhcpServerTest, DiscoverGetsOfferWithConfiguration) {
    const DhcpServer s(config());
    Bytes out;
    bool bad = true;
    const auto len = serve(s, request({53, 1, 1, 255}), out, bad);
    ASSERT_GT(len, 0u);
    EXPECT_FALSE(bad);
    const auto m = reply_payload(out, len);
    EXPECT_EQ(std::to_integer<int>(m[0]), 2);
    EXPECT_EQ(std::to_integer<int>(m[4]), 0xde);
    EXPECT_EQ(std::to_integer<int>(m[16]), 198);  // yiaddr
    EXPECT_EQ(std::to_integer<int>(m[19]), 2);
    EXPECT_EQ(option(m, 53), Bytes{std::byte{2}});
    EXPECT_EQ(option(m, 1), (Bytes{std::byte{255}, std::byte{255}, std::byte{255}, std::byte{0}}));
    EXPECT_EQ(option(m, 3).size(), 4u);
    EXPECT_EQ(option(m, 6), (Bytes{std::byte{192}, std::byte{0}, std::byte{2}, std::byte{53}}));
    EXPECT_EQ(option(m, 26), (Bytes{std::byte{0xff}, std::byte{0xf0}}));
    const auto search = option(m, 119);
    ASSERT_EQ(search.size(), 14u);  // 7example4test0
    EXPECT_EQ(std::to_integer<int>(search[0]), 7);
}

// What pastad hands the server by default, as pasta's namespace mode does:
// no nameservers, no search list (daemon/dns.hpp, announced_dns()).
TEST(DhcpServerTest, NoNameserversOrSearchListLeavesTheirOptionsOut) {
    auto c = config();
    c.dns.clear();
    c.search.clear();
    const DhcpServer s(c);
    Bytes out;
    bool bad = true;
    const auto len = serve(s, request({53, 1, 1, 55, 3, 6, 119, 15, 255}), out, bad);
    ASSERT_GT(len, 0u);
    const auto m = reply_payload(out, len);
    EXPECT_EQ(option(m, 53), Bytes{std::byte{2}});
    EXPECT_TRUE(option(m, 6).empty());
    EXPECT_TRUE(option(m, 119).empty());
    EXPECT_EQ(option(m, 3).size(), 4u);
}

Bytes bytes(std::initializer_list<int> v) {
    Bytes b;
    for (int x : v) {
        b.push_back(static_cast<std::byte>(x));
    }
    return b;
}

TEST(DhcpServerTest, HostnameAndFqdnAreSentAsOptions12And81) {
    auto c = config();
    c.hostname = "box";
    c.fqdn = "box.example.test";
    const DhcpServer s(c);
    Bytes out;
    bool bad = true;
    const auto len = serve(s, request({53, 1, 1, 255}), out, bad);
    ASSERT_GT(len, 0u);
    const auto m = reply_payload(out, len);
    EXPECT_EQ(option(m, 12), bytes({'b', 'o', 'x'}));
    // Flags E (0x04), RCODE1 and RCODE2 255, then the name in wire format.
    EXPECT_EQ(option(m, 81), bytes({0x04, 0xff, 0xff, 3,   'b', 'o', 'x', 7,   'e', 'x', 'a',
                                    'm',  'p',  'l',  'e', 4,   't', 'e', 's', 't', 0}));
}

// The exact bytes on the wire: the option's code and length right after one
// another in the frame, not only what the test's option() walk finds.
TEST(DhcpServerTest, HostnameOptionBytesAppearInTheFrame) {
    auto c = config();
    c.hostname = "h1";
    const DhcpServer s(c);
    Bytes out;
    bool bad = true;
    const auto len = serve(s, request({53, 1, 3, 255}), out, bad);
    ASSERT_GT(len, 0u);
    const Bytes want = bytes({12, 2, 'h', '1'});
    EXPECT_NE(std::search(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(len), want.begin(),
                          want.end()),
              out.begin() + static_cast<std::ptrdiff_t>(len));
}

TEST(DhcpServerTest, NoHostnameOrFqdnByDefault) {
    const DhcpServer s(config());
    Bytes out;
    bool bad = true;
    const auto len = serve(s, request({53, 1, 1, 255}), out, bad);
    ASSERT_GT(len, 0u);
    const auto m = reply_payload(out, len);
    EXPECT_TRUE(option(m, 12).empty());
    EXPECT_TRUE(option(m, 81).empty());
}

// A name whose wire form does not fit one 255-byte option is left out, as
// pasta does; so is one with an empty label.
TEST(DhcpServerTest, FqdnTooLongOrInvalidIsLeftOut) {
    // 251 characters: 253 bytes in wire format, 256 with flags and RCODEs.
    for (const std::string& name : {std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                                        std::string(63, 'c') + "." + std::string(59, 'd'),
                                    std::string("a..b")}) {
        auto c = config();
        c.fqdn = name;
        const DhcpServer s(c);
        Bytes out;
        bool bad = true;
        const auto len = serve(s, request({53, 1, 1, 255}), out, bad);
        ASSERT_GT(len, 0u);
        EXPECT_TRUE(option(reply_payload(out, len), 81).empty()) << name;
    }
}

TEST(DhcpServerTest, NakCarriesNoHostname) {
    auto c = config();
    c.hostname = "box";
    const DhcpServer s(c);
    Bytes out;
    bool bad = false;
    const auto len = serve(s, request({53, 1, 3, 50, 4, 198, 51, 100, 9, 255}), out, bad);
    ASSERT_GT(len, 0u);
    const auto m = reply_payload(out, len);
    EXPECT_EQ(option(m, 53), Bytes{std::byte{6}});
    EXPECT_TRUE(option(m, 12).empty());
}

TEST(DhcpServerTest, RequestForOurAddressGetsAck) {
    const DhcpServer s(config());
    Bytes out;
    bool bad = false;
    const auto len = serve(
        s, request({53, 1, 3, 50, 4, 198, 51, 100, 2, 54, 4, 198, 51, 100, 1, 255}), out, bad);
    ASSERT_GT(len, 0u);
    EXPECT_EQ(option(reply_payload(out, len), 53), Bytes{std::byte{5}});
}

TEST(DhcpServerTest, RequestForOtherAddressGetsNak) {
    const DhcpServer s(config());
    Bytes out;
    bool bad = false;
    const auto len = serve(s, request({53, 1, 3, 50, 4, 10, 0, 0, 9, 255}), out, bad);
    ASSERT_GT(len, 0u);
    EXPECT_EQ(option(reply_payload(out, len), 53), Bytes{std::byte{6}});
}

TEST(DhcpServerTest, RequestToOtherServerIsIgnored) {
    const DhcpServer s(config());
    Bytes out;
    bool bad = false;
    EXPECT_EQ(serve(s, request({53, 1, 3, 54, 4, 10, 0, 0, 1, 255}), out, bad), 0u);
    EXPECT_FALSE(bad);
}

TEST(DhcpServerTest, InformGetsAckWithoutAddress) {
    const DhcpServer s(config());
    Bytes out;
    bool bad = false;
    const auto len = serve(s, request({53, 1, 8, 255}), out, bad);
    ASSERT_GT(len, 0u);
    const auto m = reply_payload(out, len);
    EXPECT_EQ(std::to_integer<int>(m[16]), 0);
    EXPECT_TRUE(option(m, 51).empty());
}

TEST(DhcpServerTest, MalformedMessagesAreDroppedAndReported) {
    const DhcpServer s(config());
    Bytes out;
    bool bad = false;
    EXPECT_EQ(serve(s, Bytes(100), out, bad), 0u);  // truncated
    EXPECT_TRUE(bad);
    auto no_cookie = request({53, 1, 1, 255});
    no_cookie[236] = std::byte{0};
    EXPECT_EQ(serve(s, no_cookie, out, bad), 0u);
    EXPECT_TRUE(bad);
    EXPECT_EQ(serve(s, request({53, 200, 1}), out, bad), 0u);  // option past the end
    EXPECT_TRUE(bad);
    EXPECT_EQ(serve(s, request({12, 3, 'a', 'b', 'c', 255}), out, bad), 0u);  // no type
    EXPECT_TRUE(bad);
}

TEST(DhcpServerTest, EveryTruncationIsDroppedUnlessItEndsBetweenOptions) {
    const DhcpServer s(config());
    // REQUEST for our address: type option ends at 243, requested address at 249.
    const Bytes full = request({53, 1, 3, 50, 4, 198, 51, 100, 2, 255});
    for (std::size_t n = 0; n < full.size(); ++n) {
        Bytes out;
        bool bad = false;
        const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        const std::size_t len = serve(s, cut, out, bad);
        if (n == 243 || n == 249) {  // a complete option list without the end option
            EXPECT_FALSE(bad) << n;
            EXPECT_GT(len, 0u) << n;
        } else {
            EXPECT_TRUE(bad) << n;
            EXPECT_EQ(len, 0u) << n;
        }
    }
}

TEST(DhcpServerTest, GarbageOptionsAreDroppedOrAnsweredWithAWellFormedFrame) {
    const DhcpServer s(config());
    std::uint32_t x = 12345;
    for (int i = 0; i < 2000; ++i) {
        Bytes m = request({53, 1, 1});
        x = x * 1103515245 + 12345;
        const std::size_t extra = (x >> 8) % 300;
        for (std::size_t j = 0; j < extra; ++j) {
            x = x * 1103515245 + 12345;  // any bytes, a fixed sequence
            m.push_back(static_cast<std::byte>(x >> 16));
        }
        Bytes out;
        bool bad = false;
        const std::size_t len = serve(s, m, out, bad);
        if (bad || len == 0) {  // garbage may also hold a type nobody answers
            EXPECT_EQ(len, 0u);
            continue;
        }
        DropReason why;
        const auto f = parse_frame(std::span(out).first(len), why);
        ASSERT_TRUE(f);
        const auto p = parse_udp(*f, why);
        ASSERT_TRUE(p);
        EXPECT_EQ(p->sport, kDhcpServerPort);
    }
}

TEST(DhcpServerTest, PadOnlyOptionsAreMalformed) {
    const DhcpServer s(config());
    Bytes out;
    bool bad = false;
    EXPECT_EQ(serve(s, request({0, 0, 0, 0, 0, 0, 0, 0}), out, bad), 0u);
    EXPECT_TRUE(bad);
}

TEST(DomainNamesTest, EncodesLabelsAndSkipsInvalidNames) {
    const auto w = encode_domain_names({"a.example.", "bad..name", std::string(64, 'x'), "b"});
    const Bytes want = {std::byte{1},   std::byte{'a'}, std::byte{7},   std::byte{'e'},
                        std::byte{'x'}, std::byte{'a'}, std::byte{'m'}, std::byte{'p'},
                        std::byte{'l'}, std::byte{'e'}, std::byte{0},   std::byte{1},
                        std::byte{'b'}, std::byte{0}};
    EXPECT_EQ(w, want);
}

TEST(RaDnsOptionsTest, RouterAdvertisementCarriesRdnssAndDnssl) {
    NdpConfig c;
    c.mac = kOurMac;
    c.rdnss = {*Ip6::parse("2001:db8::53")};
    c.dnssl = {"example.test"};
    const NdpResponder ndp(c);
    Bytes out(2048);
    const auto len = ndp.build_ra(out);
    ASSERT_GT(len, 0u);
    DropReason why;
    const auto f = parse_frame({out.data(), len}, why);
    ASSERT_TRUE(f);
    const auto p = parse_icmpv6(*f, why);
    ASSERT_TRUE(p) << to_string(why);
    // Options start after reachable time and retransmit timer.
    bool rdnss = false, dnssl = false;
    for (std::size_t i = 8; i + 1 < p->data.size();) {
        const auto type = std::to_integer<int>(p->data[i]);
        const auto units = std::to_integer<std::size_t>(p->data[i + 1]);
        ASSERT_GT(units, 0u);
        if (type == 25) {
            rdnss = units == 3 && std::to_integer<int>(p->data[i + 8]) == 0x20 &&
                    std::to_integer<int>(p->data[i + 23]) == 0x53;
        }
        if (type == 31) {
            dnssl = units == 3 && std::to_integer<int>(p->data[i + 8]) == 7;
        }
        i += 8 * units;
    }
    EXPECT_TRUE(rdnss);
    EXPECT_TRUE(dnssl);
}

TEST(RaDnsOptionsTest, NoNameserversOrSearchListLeavesRdnssAndDnsslOut) {
    NdpConfig c;
    c.mac = kOurMac;
    const NdpResponder ndp(c);
    Bytes out(2048);
    const auto len = ndp.build_ra(out);
    ASSERT_GT(len, 0u);
    DropReason why;
    const auto f = parse_frame({out.data(), len}, why);
    ASSERT_TRUE(f);
    const auto p = parse_icmpv6(*f, why);
    ASSERT_TRUE(p) << to_string(why);
    for (std::size_t i = 8; i + 1 < p->data.size();) {
        const auto type = std::to_integer<int>(p->data[i]);
        const auto units = std::to_integer<std::size_t>(p->data[i + 1]);
        ASSERT_GT(units, 0u);
        EXPECT_NE(type, 25);
        EXPECT_NE(type, 31);
        i += 8 * units;
    }
}

}  // namespace
}  // namespace pastad::tap

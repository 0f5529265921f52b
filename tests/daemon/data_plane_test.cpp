// SPDX-License-Identifier: GPL-2.0-or-later
// tests/daemon/data_plane_test.cpp - malformed frames and DHCP messages reaching the data plane
//
// What the namespace sends is untrusted: truncated or garbage DHCP and
// DHCPv6 messages, and frames whose UDP header lies about its length, must
// be dropped and counted, get no answer, and leave the data plane serving
// the next well-formed message as before.
#include "daemon/data_plane.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

namespace pastad {
namespace {

using Bytes = std::vector<std::byte>;
const Mac kNsMac = *Mac::parse("02:00:00:00:00:42");
const Mac kOurMac = *Mac::parse("02:00:00:00:00:01");

// A back end that keeps the frames the data plane commits and watches nothing.
class FakeIo final : public IoBackend {
public:
    IoKind kind() const override { return IoKind::Epoll; }
    int wait_fd() const override { return -1; }
    void process(IoHandler&) override {}
    void flush() override {}
    std::size_t free_slots() const override { return 8; }
    std::size_t slot_size() const override { return kSlotSize; }
    std::span<std::byte> slot(std::size_t i) override {
        slots_.resize(std::max(slots_.size(), i + 1), Bytes(kSlotSize));
        return slots_[i];
    }
    void commit(std::size_t count, const std::size_t* lens) override {
        for (std::size_t i = 0; i < count; ++i) {
            sent.emplace_back(slots_[i].begin(),
                              slots_[i].begin() + static_cast<std::ptrdiff_t>(lens[i]));
        }
    }
    void watch(int, std::uint32_t, std::uint64_t) override {}
    void unwatch(int) override {}

    std::vector<Bytes> sent;

private:
    std::vector<Bytes> slots_;
};

class DataPlaneTest : public ::testing::Test {
protected:
    DataPlaneTest() {
        ::setenv("PASTAD_RESOLV_CONF", "/nonexistent/resolv.conf", 1);
        plan_.our_mac = kOurMac;
        plan_.v4 = true;
        plan_.addrs4 = {Prefix4{*Ip4::parse("198.51.100.2"), 24}};
        plan_.gw4 = Ip4::parse("198.51.100.1");
        plan_.v6 = true;
        plan_.addrs6 = {Prefix6{*Ip6::parse("2001:db8::2"), 64}};
        plan_.gw6 = Ip6::parse("fe80::1");
        dp_.emplace(cfg_, plan_, io_);
    }
    ~DataPlaneTest() override { ::unsetenv("PASTAD_RESOLV_CONF"); }

    // A UDP frame from the namespace: `src` port `sport` to `dst` port `dport`.
    void send_udp(const InAny& src, std::uint16_t sport, const InAny& dst, std::uint16_t dport,
                  const Bytes& payload) {
        Bytes frame(4096);
        frame.resize(tap::build_udp_frame(frame, kNsMac, kOurMac,
                                          tap::Endpoints{dst, src, dport, sport}, payload));
        ASSERT_FALSE(frame.empty());
        dp_->on_frame(frame);
    }
    void send_dhcp(const Bytes& m) {
        send_udp(InAny::from(Ip4{}), 68, InAny::from(Ip4::from_host(0xffffffff)), 67, m);
    }
    void send_dhcpv6(const Bytes& m) {
        send_udp(InAny::from(*Ip6::parse("fe80::42")), 546, InAny::from(*Ip6::parse("ff02::1:2")),
                 547, m);
    }

    Config cfg_;
    NetPlan plan_;
    FakeIo io_;
    std::optional<DataPlane> dp_;
};

Bytes discover() {
    Bytes m(240);
    m[0] = m[1] = std::byte{1};
    m[2] = std::byte{6};
    std::memcpy(m.data() + 28, kNsMac.b.data(), 6);
    const std::uint8_t tail[] = {99, 130, 83, 99, 53, 1, 1, 255};
    m.resize(236);
    for (auto b : tail) {
        m.push_back(std::byte{b});
    }
    return m;
}

Bytes solicit() {
    const std::uint8_t b[] = {1,    1, 2, 3, 0,  1, 0, 10, 0, 3, 0, 1, 2, 0, 0, 0, 0,
                              0x42, 0, 3, 0, 12, 0, 0, 0,  7, 0, 0, 0, 0, 0, 0, 0, 0};
    Bytes m;
    for (auto x : b) {
        m.push_back(std::byte{x});
    }
    return m;
}

Bytes garbage(std::mt19937& rng, std::size_t n) {
    Bytes b(n);
    for (auto& x : b) {
        x = static_cast<std::byte>(rng() & 0xff);
    }
    return b;
}

TEST_F(DataPlaneTest, TruncatedDhcpIsDroppedCountedAndUnanswered) {
    const Bytes good = discover();
    // Everything shorter than fixed part, cookie and the message type option.
    for (std::size_t n = 0; n < 243; ++n) {
        send_dhcp(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n)));
    }
    EXPECT_EQ(dp_->counters().dhcp_malformed, 243u);
    EXPECT_EQ(dp_->counters().dhcp_replies, 0u);
    EXPECT_TRUE(io_.sent.empty());
    send_dhcp(good);  // and the next client is served as ever
    EXPECT_EQ(dp_->counters().dhcp_replies, 1u);
    EXPECT_EQ(io_.sent.size(), 1u);
}

TEST_F(DataPlaneTest, GarbageDhcpAndDhcpv6AreDroppedAndCounted) {
    std::mt19937 rng(7);
    std::uint64_t sent = 0;
    for (std::size_t n : {1u, 3u, 4u, 17u, 239u, 240u, 300u, 1400u}) {
        for (int i = 0; i < 20; ++i) {
            send_dhcp(garbage(rng, n));
            auto v6 = garbage(rng, n);
            v6[0] = std::byte{1};  // SOLICIT: a client message, so it is checked in full
            if (n >= 8) {
                v6[6] = std::byte{0xff};  // the first option's length reaches past the end
            }
            send_dhcpv6(v6);
            sent += 2;
        }
    }
    // Random bytes never start a BOOTREQUEST with the cookie, nor a valid option list.
    EXPECT_EQ(dp_->counters().dhcp_malformed, sent);
    EXPECT_EQ(dp_->counters().dhcp_replies, 0u);
    EXPECT_TRUE(io_.sent.empty());
    send_dhcpv6(solicit());
    EXPECT_EQ(dp_->counters().dhcp_replies, 1u);
    EXPECT_EQ(io_.sent.size(), 1u);
}

TEST_F(DataPlaneTest, DhcpWithLyingUdpLengthIsDroppedByTheFrameParser) {
    Bytes frame(4096);
    const tap::Endpoints ep{InAny::from(Ip4::from_host(0xffffffff)), InAny::from(Ip4{}), 67, 68};
    frame.resize(tap::build_udp_frame(frame, kNsMac, kOurMac, ep, discover()));
    // UDP length (Ethernet 14 + IPv4 20 + 4) claims more than the IP packet holds.
    frame[38] = std::byte{0xff};
    frame[39] = std::byte{0xff};
    dp_->on_frame(frame);
    EXPECT_EQ(dp_->drops().count(tap::DropReason::BadUdpLength), 1u);
    // Cut inside the UDP header.
    frame.resize(14 + 20 + 4);
    dp_->on_frame(frame);
    EXPECT_EQ(dp_->drops().total(), 2u);
    EXPECT_EQ(dp_->counters().dhcp_malformed, 0u);  // never reached the server
    EXPECT_TRUE(io_.sent.empty());
}

// Splits a whole IPv4 frame into two fragments at `at` bytes of its L4 part.
std::pair<Bytes, Bytes> split_ipv4(const Bytes& whole, std::size_t at) {
    const std::size_t hdr = 14 + 20;
    auto piece = [&](std::size_t off, std::size_t len, bool more) {
        Bytes b(hdr + len);
        std::memcpy(b.data(), whole.data(), hdr);
        std::memcpy(b.data() + hdr, whole.data() + hdr + off, len);
        const unsigned total = static_cast<unsigned>(20 + len);
        const unsigned flags = (more ? 0x2000u : 0u) | static_cast<unsigned>(off / 8);
        b[16] = static_cast<std::byte>(total >> 8);
        b[17] = static_cast<std::byte>(total & 0xff);
        b[18] = std::byte{0x4a};  // identification
        b[20] = static_cast<std::byte>(flags >> 8);
        b[21] = static_cast<std::byte>(flags & 0xff);
        b[24] = b[25] = std::byte{0};
        std::uint32_t sum = 0;
        for (std::size_t i = 14; i < hdr; i += 2) {
            sum += std::to_integer<std::uint32_t>(b[i]) << 8 |
                   std::to_integer<std::uint32_t>(b[i + 1]);
        }
        while (sum >> 16) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        b[24] = static_cast<std::byte>((~sum >> 8) & 0xff);
        b[25] = static_cast<std::byte>(~sum & 0xff);
        return b;
    };
    const std::size_t l4 = whole.size() - hdr;
    return {piece(0, at, true), piece(at, l4 - at, false)};
}

TEST_F(DataPlaneTest, FragmentedUdpIsReassembledAndOtherFragmentsAreCounted) {
    Bytes frame(4096);
    const tap::Endpoints ep{InAny::from(Ip4::from_host(0xffffffff)), InAny::from(Ip4{}), 67, 68};
    frame.resize(tap::build_udp_frame(frame, kNsMac, kOurMac, ep, discover()));
    const auto [first, second] = split_ipv4(frame, 128);
    dp_->on_frame(first);
    EXPECT_TRUE(io_.sent.empty());
    dp_->on_frame(second);
    EXPECT_EQ(dp_->reassembly().stats().reassembled, 1u);
    EXPECT_EQ(dp_->counters().dhcp_replies, 1u);  // the whole DISCOVER was served
    EXPECT_EQ(io_.sent.size(), 1u);
    EXPECT_EQ(dp_->drops().total(), 0u);

    // A fragmented ICMP echo request is not reassembled: dropped and counted.
    Bytes echo(4096);
    echo.resize(tap::build_icmp_frame(
        echo, kNsMac, kOurMac, InAny::from(*Ip4::parse("198.51.100.2")),
        InAny::from(*Ip4::parse("192.0.2.1")), tap::kIcmpEchoRequest, 0, 1, 1, Bytes(300)));
    const auto [e1, e2] = split_ipv4(echo, 160);
    dp_->on_frame(e1);
    dp_->on_frame(e2);
    EXPECT_EQ(dp_->drops().count(tap::DropReason::Ipv4Fragment), 2u);
    EXPECT_EQ(dp_->reassembly().stats().fragments, 2u);
}

}  // namespace
}  // namespace pastad

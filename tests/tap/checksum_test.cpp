// SPDX-License-Identifier: GPL-2.0-or-later
// tests/tap/checksum_test.cpp - Internet checksum against a naive reference and RFC 1071
#include "tap/checksum.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <span>
#include <vector>

namespace pastad::tap {
namespace {

using Bytes = std::vector<std::byte>;

Bytes random_bytes(std::mt19937& rng, std::size_t n) {
    std::uniform_int_distribution<unsigned> dist(0, 255);
    Bytes b(n);
    for (auto& x : b) {
        x = static_cast<std::byte>(dist(rng));
    }
    return b;
}

// Reference: one 16-bit big-endian word at a time, odd tail padded with zero,
// carries folded at the end, result complemented (RFC 1071 section 1).
std::uint16_t naive_checksum(const std::vector<std::uint8_t>& pseudo, const Bytes& data) {
    std::vector<std::uint8_t> all = pseudo;
    for (auto b : data) {
        all.push_back(std::to_integer<std::uint8_t>(b));
    }
    if (all.size() % 2 != 0) {
        all.push_back(0);
    }
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < all.size(); i += 2) {
        sum += (static_cast<std::uint64_t>(all[i]) << 8) | all[i + 1];
    }
    while (sum > 0xffff) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::vector<std::uint8_t> pseudo4(const Ip4& s, const Ip4& d, std::uint8_t proto, std::size_t len) {
    std::vector<std::uint8_t> p(s.b.begin(), s.b.end());
    p.insert(p.end(), d.b.begin(), d.b.end());
    p.push_back(0);
    p.push_back(proto);
    p.push_back(static_cast<std::uint8_t>(len >> 8));
    p.push_back(static_cast<std::uint8_t>(len & 0xff));
    return p;
}

std::vector<std::uint8_t> pseudo6(const Ip6& s, const Ip6& d, std::uint8_t proto, std::size_t len) {
    std::vector<std::uint8_t> p(s.b.begin(), s.b.end());
    p.insert(p.end(), d.b.begin(), d.b.end());
    for (int shift = 24; shift >= 0; shift -= 8) {
        p.push_back(static_cast<std::uint8_t>((len >> shift) & 0xff));
    }
    p.insert(p.end(), {0, 0, 0, proto});
    return p;
}

TEST(ChecksumTest, Rfc1071ExampleGivesKnownSum) {
    // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
    const Bytes b = {std::byte{0x00}, std::byte{0x01}, std::byte{0xf2}, std::byte{0x03},
                     std::byte{0xf4}, std::byte{0xf5}, std::byte{0xf6}, std::byte{0xf7}};
    EXPECT_EQ(csum_fold(csum_add(b)), static_cast<std::uint16_t>(~0xddf2 & 0xffff));
}

TEST(ChecksumTest, L4ChecksumMatchesNaiveSumForOddAndEvenLengthsIpv4) {
    std::mt19937 rng(12345);
    const Ip4 s = *Ip4::parse("192.0.2.1");
    const Ip4 d = *Ip4::parse("198.51.100.254");
    for (std::size_t len = 0; len < 300; ++len) {
        const Bytes data = random_bytes(rng, len);
        EXPECT_EQ(l4_checksum(InAny::from(s), InAny::from(d), 17, data),
                  naive_checksum(pseudo4(s, d, 17, len), data))
            << "length " << len;
    }
}

TEST(ChecksumTest, L4ChecksumMatchesNaiveSumForOddAndEvenLengthsIpv6) {
    std::mt19937 rng(54321);
    const Ip6 s = *Ip6::parse("2001:db8::1");
    const Ip6 d = *Ip6::parse("fe80::ffff:abcd:1234");
    for (const std::size_t len : {0, 1, 2, 7, 8, 31, 32, 33, 63, 64, 65, 1499, 1500, 9001}) {
        const Bytes data = random_bytes(rng, len);
        EXPECT_EQ(l4_checksum(InAny::from(s), InAny::from(d), 6, data),
                  naive_checksum(pseudo6(s, d, 6, len), data))
            << "length " << len;
    }
}

TEST(ChecksumTest, ChunkedSumEqualsWholeSum) {
    std::mt19937 rng(7);
    const Bytes data = random_bytes(rng, 1001);
    const std::span<const std::byte> all(data);
    for (std::size_t cut = 0; cut <= data.size(); cut += 2) {  // even cuts keep word alignment
        const std::uint32_t s = csum_add(all.subspan(cut), csum_add(all.first(cut)));
        EXPECT_EQ(csum_fold(s), csum_fold(csum_add(all))) << "cut " << cut;
    }
}

TEST(ChecksumTest, SegmentWithItsChecksumVerifiesToZero) {
    std::mt19937 rng(99);
    const InAny s = InAny::from(*Ip4::parse("10.0.2.15"));
    const InAny d = InAny::from(*Ip4::parse("10.0.2.2"));
    Bytes seg = random_bytes(rng, 41);
    seg[6] = std::byte{0};
    seg[7] = std::byte{0};
    const std::uint16_t sum = l4_checksum(s, d, 17, seg);
    seg[6] = static_cast<std::byte>(sum >> 8);
    seg[7] = static_cast<std::byte>(sum & 0xff);
    EXPECT_EQ(l4_checksum(s, d, 17, seg), 0);
    seg[20] ^= std::byte{0x40};
    EXPECT_NE(l4_checksum(s, d, 17, seg), 0);
}

// A sender that leaves the checksum partial stores the pseudo-header sum
// (not complemented) in the field; completing it must give the full value.
TEST(ChecksumTest, CompletingAPartialChecksumGivesTheFullOne) {
    std::mt19937 rng(7);
    const Ip6 s6 = *Ip6::parse("2001:db8::2");
    const Ip6 d6 = *Ip6::parse("2001:db8::1");
    const InAny s = InAny::from(s6);
    const InAny d = InAny::from(d6);
    for (const std::size_t len : {20u, 21u, 1400u, 65000u}) {
        Bytes frame = random_bytes(rng, 14 + 40 + len);  // headers before L4 are left alone
        const std::size_t start = 54;
        auto seg = std::span<std::byte>(frame).subspan(start);
        seg[16] = seg[17] = std::byte{0};
        const std::uint16_t full = l4_checksum(s, d, 6, seg);
        const std::uint16_t pseudo = static_cast<std::uint16_t>(
            ~csum_fold(pseudo_sum6(s6, d6, 6, static_cast<std::uint32_t>(len))));
        seg[16] = static_cast<std::byte>(pseudo >> 8);
        seg[17] = static_cast<std::byte>(pseudo & 0xff);
        const Bytes before_l4(frame.begin(), frame.begin() + start);
        ASSERT_TRUE(complete_checksum(frame, start, 16)) << len;
        EXPECT_EQ((static_cast<unsigned>(seg[16]) << 8) | static_cast<unsigned>(seg[17]), full)
            << len;
        EXPECT_EQ(l4_checksum(s, d, 6, seg), 0) << len;
        EXPECT_TRUE(std::equal(before_l4.begin(), before_l4.end(), frame.begin())) << len;
    }
}

TEST(ChecksumTest, CompletingAChecksumOutsideTheFrameChangesNothing) {
    Bytes frame(60, std::byte{0x5a});
    const Bytes copy = frame;
    EXPECT_FALSE(complete_checksum(frame, 61, 0));
    EXPECT_FALSE(complete_checksum(frame, 54, 6));  // the field would end past the frame
    EXPECT_FALSE(complete_checksum(frame, 40, 19));
    EXPECT_FALSE(complete_checksum(frame, 40, ~std::size_t{0}));
    EXPECT_EQ(frame, copy);
    EXPECT_TRUE(complete_checksum(frame, 40, 18));  // the last two bytes
}

TEST(ChecksumTest, CompletedZeroIsSentAsAllOnes) {
    // Data whose sum folds to 0xffff: its complement, the checksum, is 0.
    Bytes frame{std::byte{0xff}, std::byte{0xff}, std::byte{0}, std::byte{0}};
    ASSERT_TRUE(complete_checksum(frame, 0, 2));
    EXPECT_EQ(frame[2], std::byte{0xff});
    EXPECT_EQ(frame[3], std::byte{0xff});
}

}  // namespace
}  // namespace pastad::tap

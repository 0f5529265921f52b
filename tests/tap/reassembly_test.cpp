// SPDX-License-Identifier: GPL-2.0-or-later
// tests/tap/reassembly_test.cpp - parsing fragments and reassembling UDP datagrams
#include "tap/reassembly.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "tap/checksum.hpp"

namespace pastad::tap {
namespace {

using Bytes = std::vector<std::byte>;
using Clock = Reassembler::Clock;
const Mac kNsMac = *Mac::parse("02:00:00:00:00:42");
const Mac kOurMac = *Mac::parse("02:00:00:00:00:01");

void put16(Bytes& b, std::size_t off, unsigned v) {
    b[off] = static_cast<std::byte>(v >> 8);
    b[off + 1] = static_cast<std::byte>(v & 0xff);
}

// A UDP datagram from 10.0.2.15:4000 (or 2001:db8::15) to port 5000 with
// `n` payload bytes, as its L4 part: header, payload, valid checksum.
struct Datagram {
    InAny src, dst;
    Bytes l4;
};

Datagram datagram(bool v4, std::size_t n) {
    Datagram d;
    d.src = v4 ? InAny::from(*Ip4::parse("10.0.2.15")) : InAny::from(*Ip6::parse("2001:db8::15"));
    d.dst = v4 ? InAny::from(*Ip4::parse("192.0.2.1")) : InAny::from(*Ip6::parse("2001:db8::1"));
    d.l4.resize(8 + n);
    put16(d.l4, 0, 4000);
    put16(d.l4, 2, 5000);
    put16(d.l4, 4, static_cast<unsigned>(8 + n));
    for (std::size_t i = 0; i < n; ++i) {
        d.l4[8 + i] = static_cast<std::byte>(i * 7);
    }
    put16(d.l4, 6, l4_checksum(d.src, d.dst, kProtoUdp, d.l4));
    return d;
}

// One fragment of `d`: bytes [off, off + len) of its L4 part, as the
// namespace's kernel sends it.
Bytes fragment(const Datagram& d, std::size_t off, std::size_t len, bool more, std::uint32_t id) {
    const bool v4 = d.src.is_v4();
    const std::size_t ext = v4 ? 0 : 8;
    Bytes f(kEthHeaderLen + (v4 ? kIpv4HeaderLen : kIpv6HeaderLen) + ext + len);
    const std::size_t n =
        write_ip_headers(f, kNsMac, kOurMac, d.src, d.dst, v4 ? kProtoUdp : 44, ext + len);
    EXPECT_NE(n, 0u);
    if (v4) {
        const std::size_t ip = kEthHeaderLen;
        put16(f, ip + 4, id);
        put16(f, ip + 6, static_cast<unsigned>((more ? 0x2000 : 0) | (off / 8)));
        put16(f, ip + 10, 0);
        put16(f, ip + 10, csum_fold(csum_add(std::span(f).subspan(ip, kIpv4HeaderLen))));
    } else {
        f[n] = std::byte{kProtoUdp};
        put16(f, n + 2, static_cast<unsigned>(off | (more ? 1 : 0)));
        put16(f, n + 4, id >> 16);
        put16(f, n + 6, id & 0xffff);
    }
    if (off < d.l4.size()) {  // a fragment beyond the datagram carries zeros
        std::memcpy(f.data() + n + ext, d.l4.data() + off, std::min(len, d.l4.size() - off));
    }
    return f;
}

std::optional<Bytes> add(Reassembler& r, const Bytes& frame, Clock::time_point now = {}) {
    FragmentInfo frag;
    DropReason why;
    const auto f = parse_fragment(frame, frag, why);
    EXPECT_TRUE(f) << to_string(why);
    EXPECT_TRUE(frag.is_fragment);
    DropReason plain;
    EXPECT_FALSE(parse_frame(frame, plain));  // still dropped by the plain parser
    const auto whole = r.add(*f, frag, now);
    if (!whole) {
        return std::nullopt;
    }
    return Bytes(whole->begin(), whole->end());
}

class ReassemblyTest : public ::testing::TestWithParam<bool> {};

TEST_P(ReassemblyTest, LargestDatagramReassemblesInAnyOrderAndParses) {
    const bool v4 = GetParam();
    const auto d = datagram(v4, v4 ? 65507 : 65527);
    // Split as the kernel does at MTU 65520, plus a third piece, sent last first.
    const std::size_t a = v4 ? 65496 : 65464;
    const std::size_t b = a + 8;
    Reassembler r;
    EXPECT_FALSE(add(r, fragment(d, b, d.l4.size() - b, false, 9)));
    EXPECT_FALSE(add(r, fragment(d, 0, a, true, 9)));
    const auto whole = add(r, fragment(d, a, 8, true, 9));
    ASSERT_TRUE(whole);
    EXPECT_EQ(*whole, d.l4);
    EXPECT_EQ(r.stats().reassembled, 1u);
    EXPECT_EQ(r.pending(), 0u);

    // What the data plane then parses: a frame whose l4 is the datagram.
    Frame f;
    f.ethertype = v4 ? kEtherTypeIpv4 : kEtherTypeIpv6;
    f.src_ip = d.src;
    f.dst_ip = d.dst;
    f.proto = kProtoUdp;
    f.l4 = *whole;
    DropReason why;
    const auto p = parse_udp(f, why);
    ASSERT_TRUE(p) << to_string(why);
    EXPECT_EQ(p->payload.size(), d.l4.size() - 8);
}

TEST_P(ReassemblyTest, InterleavedDatagramsAreKeptApart) {
    const bool v4 = GetParam();
    const auto d1 = datagram(v4, 3000);
    const auto d2 = datagram(v4, 2000);
    Reassembler r;
    EXPECT_FALSE(add(r, fragment(d1, 0, 1504, true, 1)));
    EXPECT_FALSE(add(r, fragment(d2, 0, 1504, true, 2)));
    const auto w2 = add(r, fragment(d2, 1504, d2.l4.size() - 1504, false, 2));
    ASSERT_TRUE(w2);
    EXPECT_EQ(*w2, d2.l4);
    const auto w1 = add(r, fragment(d1, 1504, d1.l4.size() - 1504, false, 1));
    ASSERT_TRUE(w1);
    EXPECT_EQ(*w1, d1.l4);
}

TEST_P(ReassemblyTest, OverlapsAndBadLengthsDiscardTheDatagram) {
    const bool v4 = GetParam();
    const auto d = datagram(v4, 3000);
    Reassembler r;
    EXPECT_FALSE(add(r, fragment(d, 0, 1504, true, 3)));
    EXPECT_FALSE(add(r, fragment(d, 1496, 16, true, 3)));  // overlaps the first
    EXPECT_EQ(r.stats().malformed, 1u);
    EXPECT_EQ(r.pending(), 0u);
    // The rest alone never completes it.
    EXPECT_FALSE(add(r, fragment(d, 1504, d.l4.size() - 1504, false, 3)));
    EXPECT_EQ(r.stats().reassembled, 0u);

    EXPECT_FALSE(add(r, fragment(d, 0, 1500, true, 4)));     // not a multiple of 8
    EXPECT_FALSE(add(r, fragment(d, 65528, 16, false, 5)));  // beyond 65535
    EXPECT_EQ(r.stats().malformed, 3u);
}

TEST_P(ReassemblyTest, IncompleteDatagramsTimeOutAndAreEvictedWithinBoundedMemory) {
    const bool v4 = GetParam();
    const auto d = datagram(v4, 3000);
    Reassembler r(std::chrono::seconds(5));
    const Clock::time_point t0{};
    for (std::uint32_t id = 0; id < Reassembler::kContexts + 2; ++id) {
        EXPECT_FALSE(add(r, fragment(d, 0, 1504, true, id), t0 + std::chrono::milliseconds(id)));
    }
    EXPECT_EQ(r.pending(), Reassembler::kContexts);
    EXPECT_EQ(r.stats().evicted, 2u);
    r.expire(t0 + std::chrono::seconds(4));
    EXPECT_EQ(r.pending(), Reassembler::kContexts);
    r.expire(t0 + std::chrono::seconds(6));
    EXPECT_EQ(r.pending(), 0u);
    EXPECT_EQ(r.stats().timed_out, Reassembler::kContexts);
    // The newest survived eviction until the timeout; its end alone now
    // starts afresh and does not complete.
    EXPECT_FALSE(add(r, fragment(d, 1504, d.l4.size() - 1504, false, 5), t0));
}

INSTANTIATE_TEST_SUITE_P(Families, ReassemblyTest, ::testing::Values(true, false),
                         [](const auto& p) { return p.param ? "IPv4" : "IPv6"; });

TEST(ParseFragmentTest, WholePacketsParseAsNoFragment) {
    const auto d = datagram(true, 100);
    Bytes b(512);
    b.resize(build_udp_frame(b, kNsMac, kOurMac, Endpoints{d.dst, d.src, 5000, 4000},
                             std::span(d.l4).subspan(8)));
    FragmentInfo frag;
    DropReason why;
    const auto f = parse_fragment(b, frag, why);
    ASSERT_TRUE(f);
    EXPECT_FALSE(frag.is_fragment);
}

TEST(ParseFragmentTest, TruncatedIpv6FragmentHeaderIsDropped) {
    const auto d = datagram(false, 100);
    Bytes f = fragment(d, 0, 0, false, 1);  // fragment header, no data
    f.resize(f.size() - 4);                 // cut inside the fragment header
    put16(f, kEthHeaderLen + 4, 4);
    FragmentInfo frag;
    DropReason why;
    EXPECT_FALSE(parse_fragment(f, frag, why));
    EXPECT_EQ(why, DropReason::BadIpv6ExtensionHeader);
}

}  // namespace
}  // namespace pastad::tap

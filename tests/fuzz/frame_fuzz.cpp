// SPDX-License-Identifier: GPL-2.0-or-later
// tests/fuzz/frame_fuzz.cpp - libFuzzer target: frame parsers, builders, ARP/NDP/DHCP responders
//
// Each input is parsed as a tap frame (a fragment goes to the reassembler)
// and then by every L4 parser, both responders and, for UDP to port 67 or
// 547, the DHCP and DHCPv6 servers. Besides the sanitizers' memory checks,
// it asserts properties: whatever a responder writes parses back as a frame
// (and, for DHCP, as a UDP datagram from the server port to the client's),
// a message reported malformed gets no answer, and a TCP or UDP packet that
// parses rebuilds into a frame that parses to the same values.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_frames.hpp"
#include "tap/arp.hpp"
#include "tap/checksum.hpp"
#include "tap/dhcp.hpp"
#include "tap/dhcpv6.hpp"
#include "tap/frame.hpp"
#include "tap/ndp.hpp"
#include "tap/reassembly.hpp"

namespace pastad::tap::fuzz {
namespace {

// A property the code under test must keep; abort() makes libFuzzer save the input.
void require(bool ok) {
    if (!ok) {
        std::abort();
    }
}

void put16(std::span<std::byte> s, std::size_t off, std::uint16_t v) {
    s[off] = static_cast<std::byte>(v >> 8);
    s[off + 1] = static_cast<std::byte>(v & 0xff);
}

// Fixes the IPv4 header checksum and then the L4 checksum of `buf` in place,
// where the headers are long enough to hold them.
void repair_checksums(std::span<std::byte> buf) {
    if (buf.size() >= kEthHeaderLen + kIpv4HeaderLen && buf[12] == std::byte{0x08} &&
        buf[13] == std::byte{0x00}) {
        const auto ip = buf.subspan(kEthHeaderLen);
        const std::size_t ihl = (std::to_integer<std::size_t>(ip[0]) & 0x0f) * 4;
        if (ihl >= kIpv4HeaderLen && ihl <= ip.size()) {
            put16(ip, 10, 0);
            put16(ip, 10, csum_fold(csum_add(ip.first(ihl))));
        }
    }
    DropReason why = DropReason::None;
    const auto f = parse_frame(buf, why);
    if (!f || f->is_arp()) {
        return;
    }
    const auto off = static_cast<std::size_t>(f->l4.data() - buf.data());
    const auto l4 = buf.subspan(off, f->l4.size());
    std::size_t field = 0;
    if (f->proto == kProtoTcp && l4.size() >= kTcpHeaderLen) {
        field = 16;
    } else if (f->proto == kProtoUdp && l4.size() >= kUdpHeaderLen) {
        field = 6;
    } else if ((f->proto == kProtoIcmp || f->proto == kProtoIcmp6) && l4.size() >= 4) {
        field = 2;
    } else {
        return;
    }
    put16(l4, field, 0);
    const bool plain_icmp = f->proto == kProtoIcmp;
    put16(l4, field,
          plain_icmp ? csum_fold(csum_add(l4)) : l4_checksum(f->src_ip, f->dst_ip, f->proto, l4));
}

// Reads every byte of `s`, so that a span reaching past its buffer trips ASan.
std::uint32_t touch(std::span<const std::byte> s) {
    std::uint32_t sum = 0;
    for (auto b : s) {
        sum += std::to_integer<std::uint32_t>(b);
    }
    return sum;
}

std::vector<std::byte>& out_buffer() {
    static std::vector<std::byte> out(70000);
    return out;
}

void check_reply(std::size_t len) {
    if (len == 0) {
        return;
    }
    require(len <= out_buffer().size());
    DropReason why = DropReason::None;
    require(parse_frame(std::span(out_buffer()).first(len), why).has_value());
}

// A DHCP or DHCPv6 answer is a UDP datagram from the server's port to `dport`.
void check_dhcp_reply(std::size_t len, bool malformed, std::uint16_t sport, std::uint16_t dport) {
    if (malformed) {
        require(len == 0);
    }
    if (len == 0) {
        return;
    }
    require(len <= out_buffer().size());
    DropReason why = DropReason::None;
    const auto g = parse_frame(std::span(out_buffer()).first(len), why);
    require(g.has_value());
    const auto q = parse_udp(*g, why);
    require(q.has_value());
    require(q->sport == sport && q->dport == dport);
}

void serve_dhcp(const Frame& f, const UdpPacket& p) {
    static const DhcpServer dhcp(dhcp_config());
    static const Dhcpv6Server dhcpv6(dhcpv6_config());
    bool malformed = false;
    if (f.is_v4() && p.dport == kDhcpServerPort) {
        const std::size_t n = dhcp.handle(f, p, out_buffer(), malformed);
        check_dhcp_reply(n, malformed, kDhcpServerPort, kDhcpClientPort);
    } else if (f.is_v6() && p.dport == kDhcpv6ServerPort) {
        const std::size_t n = dhcpv6.handle(f, p, out_buffer(), malformed);
        // Answered to the port it came from, normally 546 (RFC 8415 section 7.2).
        check_dhcp_reply(n, malformed, kDhcpv6ServerPort, p.sport);
    }
}

void tcp_round_trip(const Frame& f, const TcpPacket& p) {
    const Endpoints ep{f.dst_ip, f.src_ip, p.dport, p.sport};
    const std::size_t n = build_tcp_frame(out_buffer(), our_mac(), ns_mac(), ep, p.seg);
    require(n != 0);
    DropReason why = DropReason::None;
    const auto g = parse_frame(std::span(out_buffer()).first(n), why);
    require(g.has_value());
    const auto q = parse_tcp(*g, why);
    require(q.has_value());
    require(q->sport == p.sport && q->dport == p.dport);
    require(q->seg.seq == p.seg.seq && q->seg.ack == p.seg.ack);
    require(q->seg.flags == p.seg.flags && q->seg.window == p.seg.window);
    require(q->seg.mss == p.seg.mss && q->seg.wscale == p.seg.wscale);
    require(q->seg.payload.size() == p.seg.payload.size());
    require(std::memcmp(q->seg.payload.data(), p.seg.payload.data(), p.seg.payload.size()) == 0);
}

void udp_round_trip(const Frame& f, const UdpPacket& p) {
    const Endpoints ep{f.dst_ip, f.src_ip, p.dport, p.sport};
    const std::size_t n = build_udp_frame(out_buffer(), our_mac(), ns_mac(), ep, p.payload);
    require(n != 0);
    DropReason why = DropReason::None;
    const auto g = parse_frame(std::span(out_buffer()).first(n), why);
    require(g.has_value());
    const auto q = parse_udp(*g, why);
    require(q.has_value());
    require(q->sport == p.sport && q->dport == p.dport);
    require(q->payload.size() == p.payload.size());
    require(std::memcmp(q->payload.data(), p.payload.data(), p.payload.size()) == 0);
}

// Fragments go through one reassembler that lives across inputs, so
// pieces of different inputs meet; a completed datagram must parse as the
// data plane would parse it.
void reassemble(std::span<const std::byte> bytes) {
    static Reassembler reasm;
    static Reassembler::Clock::time_point now{};
    FragmentInfo frag;
    DropReason why = DropReason::None;
    const auto f = parse_fragment(bytes, frag, why);
    if (!f || !frag.is_fragment) {
        return;
    }
    now += std::chrono::milliseconds(100);
    reasm.expire(now);
    const auto whole = reasm.add(*f, frag, now);
    require(reasm.pending() <= Reassembler::kContexts);
    if (!whole) {
        return;
    }
    require(whole->size() <= Reassembler::kMaxLen);
    Frame g = *f;
    g.l4 = *whole;
    touch(g.l4);
    if (const auto u = parse_udp(g, why)) {
        touch(u->payload);
    }
}

void run(std::span<const std::byte> bytes) {
    static ArpResponder arp(our_mac(), ns_addr4());
    static const NdpResponder ndp(ndp_config());

    DropReason why = DropReason::None;
    const auto f = parse_frame(bytes, why);
    require(f.has_value() == (why == DropReason::None));
    require(to_string(why) != nullptr);
    if (!f) {
        reassemble(bytes);
        return;
    }
    touch(f->l3);
    touch(f->l4);

    for (const bool verify : {true, false}) {
        if (const auto t = parse_tcp(*f, why, verify)) {
            touch(t->seg.payload);
            if (verify) {
                tcp_round_trip(*f, *t);
            }
        }
        if (const auto u = parse_udp(*f, why, verify)) {
            touch(u->payload);
            if (verify) {
                udp_round_trip(*f, *u);
                serve_dhcp(*f, *u);
            }
        }
        if (const auto i = parse_icmp(*f, why, verify)) {
            touch(i->data);
            (void)(i->echo_id() + i->echo_seq());
        }
        if (const auto i = parse_icmpv6(*f, why, verify)) {
            touch(i->data);
        }
    }
    check_reply(arp.handle(*f, out_buffer(), why));
    check_reply(ndp.handle(*f, out_buffer(), why));
}

}  // namespace
}  // namespace pastad::tap::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace pastad::tap::fuzz;
    if (size == 0) {
        return 0;
    }
    const auto* frame = reinterpret_cast<const std::byte*>(data + 1);
    if ((data[0] & kRepairChecksums) == 0) {
        run({frame, size - 1});  // libFuzzer's buffer is exactly sized: over-reads trip ASan
        return 0;
    }
    std::vector<std::byte> copy(frame, frame + (size - 1));
    repair_checksums(copy);
    run(copy);
    return 0;
}

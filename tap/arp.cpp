// SPDX-License-Identifier: GPL-2.0-or-later
// tap/arp.cpp - answering the namespace's ARP requests with pastad's MAC
//
// Theory of operation
// -------------------
// What: pastad stands in for every IPv4 neighbour of the namespace. Whatever
// address the namespace asks for (its gateway, or an address it believes to
// be on-link because the host's prefix was copied), the answer is pastad's
// MAC; the frame then reaches the translator, which maps it to a host socket.
//
// Not done: no ARP cache (pastad never asks, it learns the namespace's MAC
// from the source of its frames), no replies for the namespace's own
// address (that would make its duplicate detection fail), none for
// gratuitous ARP or RFC 5227 probes (sender 0.0.0.0), ARP replies ignored.
//
// Validation (RFC 826): at least 28 bytes, hardware type 1 (Ethernet),
// protocol type 0x0800, hardware length 6, protocol length 4; otherwise
// dropped as BadArp. Operation other than request (1): ignored.
//
// Reply: Ethernet to the requester's hardware address from pastad's MAC;
// ARP operation 2 with sender = (pastad's MAC, asked-for address) and
// target = the requester. 42 bytes, unpadded: a tap needs no minimum length.
#include "tap/arp.hpp"

#include <cstring>

namespace pastad::tap {

namespace {

constexpr std::uint16_t kHwEthernet = 1;
constexpr std::uint16_t kOpRequest = 1;
constexpr std::uint16_t kOpReply = 2;

std::uint16_t get16(std::span<const std::byte> s, std::size_t off) {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(s[off]) << 8) |
                                      std::to_integer<unsigned>(s[off + 1]));
}

void put16(std::byte* p, std::uint16_t v) {
    p[0] = static_cast<std::byte>(v >> 8);
    p[1] = static_cast<std::byte>(v & 0xff);
}

}  // namespace

bool ArpResponder::observe(const Frame& f) {
    if (f.src.is_zero() || f.src.is_multicast() || f.src == mac_) {
        return false;
    }
    if (ns_mac_ == f.src) {
        return false;
    }
    ns_mac_ = f.src;
    return true;
}

std::size_t ArpResponder::handle(const Frame& f, std::span<std::byte> out, DropReason& why) {
    why = DropReason::None;
    if (!f.is_arp()) {
        return 0;
    }
    const auto arp = f.l3;
    if (arp.size() < kArpLen || get16(arp, 0) != kHwEthernet || get16(arp, 2) != kEtherTypeIpv4 ||
        arp[4] != std::byte{6} || arp[5] != std::byte{4}) {
        why = DropReason::BadArp;
        return 0;
    }
    observe(f);
    if (get16(arp, 6) != kOpRequest) {
        return 0;
    }
    Mac sha;
    Ip4 spa;
    Ip4 tpa;
    std::memcpy(sha.b.data(), arp.data() + 8, 6);
    std::memcpy(spa.b.data(), arp.data() + 14, 4);
    std::memcpy(tpa.b.data(), arp.data() + 24, 4);

    // Gratuitous ARP and probes announce or check the namespace's own
    // addresses; requests for its own address must stay unanswered.
    if (spa == tpa || spa.is_unspecified() || tpa.is_unspecified() || tpa == ns_addr_) {
        return 0;
    }
    if (out.size() < kArpFrameLen) {
        return 0;
    }

    std::byte* p = out.data();
    std::memcpy(p, sha.b.data(), 6);
    std::memcpy(p + 6, mac_.b.data(), 6);
    put16(p + 12, kEtherTypeArp);
    p += kEthHeaderLen;
    put16(p, kHwEthernet);
    put16(p + 2, kEtherTypeIpv4);
    p[4] = std::byte{6};
    p[5] = std::byte{4};
    put16(p + 6, kOpReply);
    std::memcpy(p + 8, mac_.b.data(), 6);
    std::memcpy(p + 14, tpa.b.data(), 4);
    std::memcpy(p + 18, sha.b.data(), 6);
    std::memcpy(p + 24, spa.b.data(), 4);
    return kArpFrameLen;
}

}  // namespace pastad::tap

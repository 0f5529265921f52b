// SPDX-License-Identifier: GPL-2.0-or-later
// tests/fuzz/frame_fuzz_seed.cpp - writes the starting corpus of the frame fuzz target
//
// Usage: frame_fuzz_seed DIR. Creates DIR and writes one file per frame kind
// (TCP SYN and data, UDP, ICMP echo, ARP request, NS, RS, IPv6 with
// extension headers, DHCP DISCOVER and REQUEST, DHCPv6 SOLICIT and
// INFORMATION-REQUEST, UDP fragments), each once as is and once with the
// repair bit set.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_frames.hpp"
#include "tap/arp.hpp"
#include "tap/checksum.hpp"
#include "tap/dhcp.hpp"
#include "tap/dhcpv6.hpp"
#include "tap/frame.hpp"
#include "tap/ip_header.hpp"
#include "tap/ndp.hpp"

namespace pastad::tap::fuzz {
namespace {

using Bytes = std::vector<std::byte>;

// The first `n` bytes of `b`. Takes `b` by reference: callers pass a
// builder's call as `n` that fills `b`, and a by-value parameter may be
// copied before that call runs (clang evaluates arguments left to right).
Bytes sized(const Bytes& b, std::size_t n) {
    return {b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)};
}

Bytes payload(std::size_t n) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) {
        b[i] = static_cast<std::byte>(i & 0xff);
    }
    return b;
}

// Frames as the namespace sends them: from ns to peer.
Endpoints from_ns(bool v4) {
    const InAny ns = v4 ? InAny::from(ns_addr4()) : InAny::from(ns_addr6());
    const InAny peer =
        v4 ? InAny::from(*Ip4::parse("192.0.2.80")) : InAny::from(*Ip6::parse("2001:db8:1::80"));
    return Endpoints{peer, ns, 80, 40000};  // swapped: builders write peer -> ns
}

Bytes octets(std::initializer_list<int> v) {
    Bytes b;
    for (int x : v) {
        b.push_back(static_cast<std::byte>(x));
    }
    return b;
}

// A BOOTREQUEST from the namespace's MAC with the magic cookie, then `options`.
Bytes dhcp_message(std::initializer_list<int> options) {
    Bytes m(240);
    m[0] = m[1] = std::byte{1};
    m[2] = std::byte{6};
    m[4] = std::byte{0x5e};  // transaction id
    std::memcpy(m.data() + 28, ns_mac().b.data(), 6);
    const Bytes cookie = octets({99, 130, 83, 99});
    std::memcpy(m.data() + 236, cookie.data(), 4);
    const Bytes opts = octets(options);
    m.insert(m.end(), opts.begin(), opts.end());
    return m;
}

void add_dhcp_seeds(std::vector<std::pair<std::string, Bytes>>& out) {
    Bytes b(2048);
    // DHCP: from 0.0.0.0:68 to 255.255.255.255:67 (Endpoints name the
    // destination first, as builders write peer -> ns).
    const Endpoints v4{InAny::from(Ip4::from_host(0xffffffff)), InAny::from(Ip4{}), kDhcpServerPort,
                       kDhcpClientPort};
    // DISCOVER asking for mask, router, DNS, MTU and the search list.
    const Bytes discover = dhcp_message({53, 1, 1, 55, 5, 1, 3, 6, 26, 119, 255});
    out.emplace_back("dhcp-discover",
                     sized(b, build_udp_frame(b, ns_mac(), our_mac(), v4, discover)));
    // REQUEST for the offered address from the offering server.
    const Bytes req =
        dhcp_message({53, 1, 3, 50, 4, 10, 0, 2, 15, 54, 4, 10, 0, 2, 2, 55, 2, 1, 3, 255});
    out.emplace_back("dhcp-request", sized(b, build_udp_frame(b, ns_mac(), our_mac(), v4, req)));

    // DHCPv6: from fe80::5054:ff:fe12:3456:546 to ff02::1:2:547.
    const Endpoints v6{InAny::from(*Ip6::parse("ff02::1:2")),
                       InAny::from(link_local_from_mac(ns_mac())), kDhcpv6ServerPort,
                       kDhcpv6ClientPort};
    // SOLICIT: client id (DUID-LL), IA_NA, rapid commit, option request (23, 24).
    const Bytes solicit =
        octets({1,    0xab, 0xcd, 0xef, 0, 1,  0, 10, 0, 3, 0, 1,  0x52, 0x54, 0, 0x12,
                0x34, 0x56, 0,    3,    0, 12, 0, 0,  0, 1, 0, 0,  0,    0,    0, 0,
                0,    0,    0,    14,   0, 0,  0, 6,  0, 4, 0, 23, 0,    24});
    out.emplace_back("dhcpv6-solicit",
                     sized(b, build_udp_frame(b, ns_mac(), our_mac(), v6, solicit)));
    // INFORMATION-REQUEST: client id and option request only.
    const Bytes info = octets({11,   1, 2,    3,    0,    1, 0, 10, 0, 3, 0,  1, 0x52,
                               0x54, 0, 0x12, 0x34, 0x56, 0, 6, 0,  4, 0, 23, 0, 24});
    out.emplace_back("dhcpv6-info", sized(b, build_udp_frame(b, ns_mac(), our_mac(), v6, info)));
}

// Both halves of a 100-byte UDP datagram (header and 92 bytes of payload)
// split at 48, as IPv4 fragments and as IPv6 packets with a fragment header.
void add_fragment_seeds(std::vector<std::pair<std::string, Bytes>>& out) {
    for (const bool v4 : {true, false}) {
        Bytes whole(2048);
        whole.resize(build_udp_frame(whole, ns_mac(), our_mac(), from_ns(v4), payload(92)));
        const std::size_t hdr = kEthHeaderLen + (v4 ? kIpv4HeaderLen : kIpv6HeaderLen);
        const auto ep = from_ns(v4);
        for (const bool first : {true, false}) {
            const std::size_t off = first ? 0 : 48;
            const std::size_t len = first ? 48 : whole.size() - hdr - 48;
            const std::size_t ext = v4 ? 0 : 8;
            Bytes b(hdr + ext + len);
            write_ip_headers(b, ns_mac(), our_mac(), ep.ns_addr, ep.peer_addr, v4 ? kProtoUdp : 44,
                             ext + len);
            if (v4) {
                const unsigned flags = (first ? 0x2000u : 0u) | static_cast<unsigned>(off / 8);
                b[kEthHeaderLen + 4] = std::byte{0x12};  // identification
                b[kEthHeaderLen + 6] = static_cast<std::byte>(flags >> 8);
                b[kEthHeaderLen + 7] = static_cast<std::byte>(flags & 0xff);
                b[kEthHeaderLen + 10] = b[kEthHeaderLen + 11] = std::byte{0};
                const std::uint16_t sum =
                    csum_fold(csum_add(std::span(b).subspan(kEthHeaderLen, kIpv4HeaderLen)));
                b[kEthHeaderLen + 10] = static_cast<std::byte>(sum >> 8);
                b[kEthHeaderLen + 11] = static_cast<std::byte>(sum & 0xff);
            } else {
                b[hdr] = std::byte{kProtoUdp};
                b[hdr + 3] = static_cast<std::byte>(off | (first ? 1 : 0));
                b[hdr + 7] = std::byte{0x12};  // identification
            }
            std::memcpy(b.data() + hdr + ext, whole.data() + hdr + off, len);
            out.emplace_back(std::string("frag") + (v4 ? "4" : "6") + (first ? "-first" : "-last"),
                             b);
        }
    }
}

std::vector<std::pair<std::string, Bytes>> seeds() {
    std::vector<std::pair<std::string, Bytes>> out;
    const Bytes data = payload(100);
    for (const bool v4 : {true, false}) {
        const std::string fam = v4 ? "4" : "6";
        TcpSegment syn;
        syn.seq = 1000;
        syn.flags = kSyn;
        syn.window = 65535;
        syn.mss = 1460;
        syn.wscale = 7;
        Bytes b(2048);
        out.emplace_back("tcp-syn" + fam,
                         sized(b, build_tcp_frame(b, ns_mac(), our_mac(), from_ns(v4), syn)));
        TcpSegment seg;
        seg.seq = 2000;
        seg.ack = 3000;
        seg.flags = kAck | kPsh;
        seg.window = 512;
        seg.payload = data;
        out.emplace_back("tcp-data" + fam,
                         sized(b, build_tcp_frame(b, ns_mac(), our_mac(), from_ns(v4), seg)));
        out.emplace_back("udp" + fam,
                         sized(b, build_udp_frame(b, ns_mac(), our_mac(), from_ns(v4), data)));
        const auto ep = from_ns(v4);
        out.emplace_back(
            "echo" + fam,
            sized(b, build_icmp_frame(b, ns_mac(), our_mac(), ep.peer_addr, ep.ns_addr,
                                      v4 ? kIcmpEchoRequest : kIcmp6EchoRequest, 0, 7, 1, data)));
    }

    // ARP request for the gateway.
    Bytes arp(kArpFrameLen);
    const std::uint8_t arp_head[] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06,
        0x00, 0x01, 0x08, 0x00, 6,    4,    0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
        10,   0,    2,    15,   0,    0,    0,    0,    0,    0,    10,   0,    2,    2};
    static_assert(sizeof(arp_head) == kArpFrameLen);
    std::memcpy(arp.data(), arp_head, sizeof(arp_head));
    out.emplace_back("arp", arp);

    // Neighbor and Router Solicitations, with a source link-layer option.
    const Ip6 target = *Ip6::parse("2001:db8::1");
    Bytes ns_data(24);
    std::memcpy(ns_data.data(), target.b.data(), 16);
    ns_data[16] = std::byte{1};
    ns_data[17] = std::byte{1};
    std::memcpy(ns_data.data() + 18, ns_mac().b.data(), 6);
    Bytes b(512);
    out.emplace_back("ns",
                     sized(b, build_icmp_frame(b, ns_mac(), our_mac(), InAny::from(ns_addr6()),
                                               InAny::from(*Ip6::parse("ff02::1:ff00:1")),
                                               kIcmp6NeighborSolicit, 0, 0, 0, ns_data, 255)));
    const Bytes rs_data(ns_data.begin() + 16, ns_data.end());
    out.emplace_back(
        "rs", sized(b, build_icmp_frame(b, ns_mac(), our_mac(), InAny::from(*Ip6::parse("fe80::1")),
                                        InAny::from(*Ip6::parse("ff02::2")), kIcmp6RouterSolicit, 0,
                                        0, 0, rs_data, 255)));

    // UDP over IPv6 behind a hop-by-hop and a destination options header.
    Bytes ext;
    for (const auto& [name, frame] : out) {
        if (name == "udp6") {
            ext = frame;
        }
    }
    if (ext.size() > kEthHeaderLen + kIpv6HeaderLen) {
        const std::size_t ip = kEthHeaderLen;
        Bytes hdrs(16, std::byte{0});
        hdrs[0] = std::byte{60};  // hop-by-hop -> destination options
        hdrs[2] = std::byte{1};   // PadN
        hdrs[3] = std::byte{4};
        hdrs[8] = ext[ip + 6];  // destination options -> UDP
        hdrs[10] = std::byte{1};
        hdrs[11] = std::byte{4};
        ext.insert(ext.begin() + ip + kIpv6HeaderLen, hdrs.begin(), hdrs.end());
        ext[ip + 6] = std::byte{0};
        const unsigned plen =
            (std::to_integer<unsigned>(ext[ip + 4]) << 8 | std::to_integer<unsigned>(ext[ip + 5])) +
            16;
        ext[ip + 4] = static_cast<std::byte>(plen >> 8);
        ext[ip + 5] = static_cast<std::byte>(plen & 0xff);
        out.emplace_back("udp6-ext", ext);
    }
    add_dhcp_seeds(out);
    add_fragment_seeds(out);
    return out;
}

}  // namespace
}  // namespace pastad::tap::fuzz

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
        return 2;
    }
    const std::filesystem::path dir(argv[1]);
    std::filesystem::create_directories(dir);
    int written = 0;
    for (const auto& [name, frame] : pastad::tap::fuzz::seeds()) {
        if (frame.empty()) {
            std::fprintf(stderr, "seed %s: builder failed\n", name.c_str());
            return 1;
        }
        // A seed that does not parse would start the fuzzer behind the first check.
        pastad::tap::DropReason why = pastad::tap::DropReason::None;
        pastad::tap::FragmentInfo frag;
        if (!pastad::tap::parse_frame(frame, why) &&
            !pastad::tap::parse_fragment(frame, frag, why)) {
            std::fprintf(stderr, "seed %s does not parse: %s\n", name.c_str(),
                         pastad::tap::to_string(why));
            return 1;
        }
        for (const char control : {'\0', '\1'}) {
            std::ofstream f(dir / (name + (control ? "-repair" : "")), std::ios::binary);
            f.put(control);
            f.write(reinterpret_cast<const char*>(frame.data()),
                    static_cast<std::streamsize>(frame.size()));
            if (!f) {
                std::perror(name.c_str());
                return 1;
            }
            ++written;
        }
    }
    std::printf("wrote %d seeds to %s\n", written, dir.c_str());
    return 0;
}

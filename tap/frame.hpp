// SPDX-License-Identifier: GPL-2.0-or-later
// tap/frame.hpp - checked parsing of tap frames and building of frames for the namespace
//
// Parsing turns the bytes of one Ethernet frame into plain values (Frame,
// TcpPacket, UdpPacket, IcmpPacket) whose spans point into the caller's
// buffer: they are valid only while that buffer is. Every length field is
// checked against the bytes that are actually there before any field behind
// it is read; a frame that fails a check is dropped and the reason is
// reported through a DropReason, for the caller to count in DropCounters.
//
// Building writes a complete frame for the namespace (Ethernet + IP + L4)
// into a caller-provided buffer and returns its length, or 0 when the buffer
// is too small or the addresses are of mixed families. Nothing here
// allocates, throws or logs; all functions may be called from any thread on
// distinct buffers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "daemon/base/inet.hpp"
#include "tap/ip_header.hpp"
#include "tap/tcp_segment.hpp"

namespace pastad::tap {

inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint8_t kProtoIcmp6 = 58;

inline constexpr std::size_t kTcpHeaderLen = 20;  // without options
inline constexpr std::size_t kUdpHeaderLen = 8;
inline constexpr std::size_t kIcmpHeaderLen = 8;  // type, code, checksum, 4 bytes rest

inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::uint8_t kIcmp6EchoRequest = 128;
inline constexpr std::uint8_t kIcmp6EchoReply = 129;

// Largest window scale shift a peer may ask for (RFC 7323 section 2.3).
inline constexpr std::uint8_t kMaxWindowScale = 14;

// Why a frame was dropped. `None` means it was not (or was ignored on
// purpose, e.g. an ARP reply nobody asked pastad to answer).
enum class DropReason : std::uint8_t {
    None,
    TruncatedEthernet,       // fewer than 14 bytes
    UnknownEtherType,        // not IPv4, IPv6 or ARP (VLAN tags included)
    TruncatedIpv4Header,     // fewer than 20 bytes after Ethernet
    BadIpVersion,            // version nibble disagrees with the ethertype
    BadIpv4HeaderLength,     // IHL < 5, or beyond the frame or total length
    BadIpv4TotalLength,      // total length < IHL * 4, or beyond the frame
    BadIpv4HeaderChecksum,   // header checksum does not verify
    Ipv4Fragment,            // MF set or offset != 0 (see parse_fragment)
    TruncatedIpv6Header,     // fewer than 40 bytes after Ethernet
    BadIpv6PayloadLength,    // payload length beyond the frame
    BadIpv6ExtensionHeader,  // extension header truncated, misplaced or too long
    Ipv6Fragment,            // fragment header present (see parse_fragment)
    Ipv6MappedAddress,       // IPv4-mapped address in an IPv6 header
    WrongProtocol,           // L4 parser called on a frame of another protocol
    TruncatedL4Header,       // fewer bytes than the fixed L4 header
    BadTcpDataOffset,        // data offset < 5 or beyond the segment
    BadTcpOption,            // option length 0/1, beyond the header, or wrong for its kind
    BadUdpLength,            // UDP length < 8 or beyond the IP payload
    BadL4Checksum,           // TCP/UDP/ICMP checksum does not verify (or UDP/IPv6 zero)
    BadArp,                  // wrong hardware/protocol type or lengths, truncated
    BadNdp,                  // fails RFC 4861 section 6.1.1 / 7.1.1 validation
    Count,                   // number of reasons; not a reason
};

inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::Count);

// Short lower-case description for logs, e.g. "IPv4 fragment". Never null.
const char* to_string(DropReason r);

// Dropped-frame counters by reason. Plain data: the owner (one event loop)
// increments, anyone may read a copy.
struct DropCounters {
    std::array<std::uint64_t, kDropReasonCount> by_reason{};

    void add(DropReason r) {
        if (r != DropReason::None && r != DropReason::Count) {
            ++by_reason[static_cast<std::size_t>(r)];
        }
    }
    std::uint64_t count(DropReason r) const {
        return r == DropReason::Count ? 0 : by_reason[static_cast<std::size_t>(r)];
    }
    std::uint64_t total() const {
        std::uint64_t sum = 0;
        for (auto n : by_reason) {
            sum += n;
        }
        return sum;
    }
};

// One parsed Ethernet frame. For ARP, `l3` holds the ARP bytes after the
// Ethernet header (padding included) and the IP fields are unset. For IP,
// `l3` is the IP packet as bounded by its own length fields (Ethernet
// padding cut), `l4` the bytes after the IPv4 header or after the IPv6
// header and any hop-by-hop, routing and destination options headers.
struct Frame {
    Mac dst;
    Mac src;
    std::uint16_t ethertype = 0;
    InAny src_ip;
    InAny dst_ip;
    std::uint8_t proto = 0;      // IPv4 protocol / last IPv6 next header
    std::uint8_t hop_limit = 0;  // IPv4 TTL / IPv6 hop limit
    std::span<const std::byte> l3;
    std::span<const std::byte> l4;

    bool is_v4() const { return ethertype == kEtherTypeIpv4; }
    bool is_v6() const { return ethertype == kEtherTypeIpv6; }
    bool is_arp() const { return ethertype == kEtherTypeArp; }
};

// Parses Ethernet II with IPv4, IPv6 or ARP. On failure returns nothing and
// sets `why`; on success `why` is DropReason::None. The Frame's spans point
// into `bytes`.
std::optional<Frame> parse_frame(std::span<const std::byte> bytes, DropReason& why);

// Where a fragment belongs (RFC 791 section 3.2, RFC 8200 section 4.5).
struct FragmentInfo {
    bool is_fragment = false;  // false: the frame is a whole packet
    std::uint32_t id = 0;      // IPv4 identification / IPv6 fragment identification
    std::size_t offset = 0;    // in bytes from the start of the fragmented part
    bool more = false;         // MF / M flag: not the last fragment
};

// As parse_frame(), but an IPv4 fragment or an IPv6 packet with a fragment
// header parses too: `frag` says where it belongs, `proto` is the
// fragmented protocol and `l4` the fragment's data (behind the fragment
// header for IPv6). A whole packet parses with frag.is_fragment false.
std::optional<Frame> parse_fragment(std::span<const std::byte> bytes, FragmentInfo& frag,
                                    DropReason& why);

// A parsed TCP segment. `seg.payload` points into the frame's buffer.
// Options (MSS, window scale clamped to 14, SACK-permitted) are reported only
// on SYN segments, where they mean something (RFC 9293 section 3.7.1,
// RFC 7323 section 2.2); timestamps, SACK blocks and unknown options are
// checked for length and skipped.
struct TcpPacket {
    std::uint16_t sport = 0;
    std::uint16_t dport = 0;
    TcpSegment seg;
};

std::optional<TcpPacket> parse_tcp(const Frame& f, DropReason& why, bool verify_checksum = true);

// A parsed UDP datagram; `payload` is bounded by the UDP length field.
// A zero checksum is accepted for IPv4 and dropped for IPv6 (RFC 8200
// section 8.1).
struct UdpPacket {
    std::uint16_t sport = 0;
    std::uint16_t dport = 0;
    std::span<const std::byte> payload;
};

std::optional<UdpPacket> parse_udp(const Frame& f, DropReason& why, bool verify_checksum = true);

// A parsed ICMP or ICMPv6 message. `rest` is the 4-byte rest-of-header
// (identifier and sequence number for echo), `data` what follows it.
struct IcmpPacket {
    std::uint8_t type = 0;
    std::uint8_t code = 0;
    std::array<std::byte, 4> rest{};
    std::span<const std::byte> data;

    std::uint16_t echo_id() const;   // meaningful for echo request/reply only
    std::uint16_t echo_seq() const;  // likewise
};

// ICMP over IPv4 (checksum over the message) and ICMPv6 (checksum with the
// pseudo-header, RFC 4443 section 2.3). Each drops the other's frames with
// WrongProtocol.
std::optional<IcmpPacket> parse_icmp(const Frame& f, DropReason& why, bool verify_checksum = true);
std::optional<IcmpPacket> parse_icmpv6(const Frame& f, DropReason& why,
                                       bool verify_checksum = true);

// The flow endpoints of a frame the namespace sent: its source is the
// namespace side, its destination the peer.
inline Endpoints endpoints_of(const Frame& f, std::uint16_t sport, std::uint16_t dport) {
    return Endpoints{f.src_ip, f.dst_ip, sport, dport};
}

// ---------------------------------------------------------------------------
// Building frames towards the namespace. In all builders `src_mac` is
// pastad's MAC, `dst_mac` the namespace's; `ep` is seen from the namespace,
// so the packet goes from ep.peer_addr:peer_port to ep.ns_addr:ns_port. Both
// addresses must be of one family. Each returns the frame length, or 0 when
// `out` is too small or the addresses are unusable; nothing is written past
// the returned length.

// Ethernet + IP + TCP header length (options included) of a segment: the
// offset at which its payload starts in the frame. TCP options written: MSS
// and window scale, only when `seg` has SYN and the option set.
std::size_t tcp_header_len(bool v4, const TcpSegment& seg);

// Writes a full frame: headers, then a copy of `seg.payload` (which may live
// anywhere, even inside `out`), and the TCP checksum.
std::size_t build_tcp_frame(std::span<std::byte> out, const Mac& src_mac, const Mac& dst_mac,
                            const Endpoints& ep, const TcpSegment& seg);

// Writes the headers in front of a payload that is ALREADY in place at
// frame[tcp_header_len(v4, seg) .. + payload_len] (e.g. peeked from a socket
// straight into the frame buffer) and fills the TCP checksum over it.
// `seg.payload` is ignored.
std::size_t write_tcp_headers(std::span<std::byte> frame, const Mac& src_mac, const Mac& dst_mac,
                              const Endpoints& ep, const TcpSegment& seg, std::size_t payload_len);

// UDP counterparts; the payload starts at udp_header_len(v4).
std::size_t udp_header_len(bool v4);
std::size_t build_udp_frame(std::span<std::byte> out, const Mac& src_mac, const Mac& dst_mac,
                            const Endpoints& ep, std::span<const std::byte> payload);
std::size_t write_udp_headers(std::span<std::byte> frame, const Mac& src_mac, const Mac& dst_mac,
                              const Endpoints& ep, std::size_t payload_len);

// ICMP (IPv4 source) or ICMPv6 (IPv6 source) message from `src` to `dst`
// with the given type and code; `id` and `seq` fill the rest-of-header as
// echo messages use it. E.g. an echo reply: type kIcmpEchoReply or
// kIcmp6EchoReply, code 0. `data` may already be in place at its offset in
// `out`. NDP messages pass hop_limit 255 (RFC 4861 section 7.1).
std::size_t build_icmp_frame(std::span<std::byte> out, const Mac& src_mac, const Mac& dst_mac,
                             const InAny& src, const InAny& dst, std::uint8_t type,
                             std::uint8_t code, std::uint16_t id, std::uint16_t seq,
                             std::span<const std::byte> data, std::uint8_t hop_limit = 64);

}  // namespace pastad::tap

// SPDX-License-Identifier: GPL-2.0-or-later
// tap/tcp_segment.hpp - a TCP segment as plain values, between the wire and the engine
//
// The frame parser turns tap bytes into a TcpSegment; the TCP engine consumes
// it and produces TcpSegments that the frame builder turns back into bytes.
// The engine never sees raw frames.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "daemon/base/inet.hpp"

namespace pastad::tap {

// TCP header flag bits (RFC 9293 section 3.1).
enum TcpFlag : std::uint8_t {
    kFin = 0x01,
    kSyn = 0x02,
    kRst = 0x04,
    kPsh = 0x08,
    kAck = 0x10,
    kUrg = 0x20,
};

// The two endpoints of a flow as the namespace sees them: `ns` is the
// namespace's side (its address and port), `peer` the remote it talks to.
struct Endpoints {
    InAny ns_addr;
    InAny peer_addr;
    std::uint16_t ns_port = 0;
    std::uint16_t peer_port = 0;
    bool operator==(const Endpoints&) const = default;
};

struct TcpSegment {
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 0;  // raw header value, not yet scaled
    // Options: set only when present and well-formed.
    std::optional<std::uint16_t> mss;
    std::optional<std::uint8_t> wscale;
    bool sack_permitted = false;
    std::span<const std::byte> payload;  // valid only during the call it is passed to

    bool has(TcpFlag f) const { return (flags & f) != 0; }
};

}  // namespace pastad::tap

// SPDX-License-Identifier: GPL-2.0-or-later
// tap/icmp.hpp - ICMP and ICMPv6 echo between the namespace and host ping sockets
//
// Each echo identifier the namespace uses (per source address) gets one
// unprivileged "ping" socket (SOCK_DGRAM, IPPROTO_ICMP or IPPROTO_ICMPV6);
// replies go back with the namespace's identifier. See the theory of
// operation at the top of tap/icmp.cpp.
//
// Threading: one data-plane thread, like TcpEngine. Nothing throws on the
// data path.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "daemon/base/inet.hpp"
#include "tap/address_map.hpp"
#include "tap/tcp.hpp"

namespace pastad::tap {

using IcmpClock = std::chrono::steady_clock;
using IcmpTime = IcmpClock::time_point;

// Poller token kind of echo flows (bits 56-63, see tap/tcp.hpp).
inline constexpr std::uint8_t kIcmpTokenKind = 0x13;

struct IcmpConfig : AddressMapConfig {
    Mac our_mac;
    const Mac* ns_mac = nullptr;  // read per frame; null: broadcast
    std::size_t max_flows = 256;  // beyond this, the least recently used is closed
    std::chrono::seconds idle_timeout{60};
    std::optional<Ip4> outbound4;
    std::optional<Ip6> outbound6;
    std::string outbound_if4;  // SO_BINDTODEVICE at open; empty: none
    std::string outbound_if6;
};

class IcmpEngine {
public:
    struct Stats {
        std::uint64_t requests = 0;  // echo requests sent on the host
        std::uint64_t replies = 0;   // echo replies framed to the namespace
        std::uint64_t flows_opened = 0;
        std::uint64_t flows_closed = 0;
        std::uint64_t not_permitted = 0;  // socket() refused (ping_group_range)
        std::uint64_t send_errors = 0;
        std::uint64_t dropped_unmapped = 0;  // reply from a loopback address nobody pinged
    };

    IcmpEngine(const IcmpConfig& cfg, FrameSink& sink, Poller& poller);
    ~IcmpEngine();
    IcmpEngine(const IcmpEngine&) = delete;
    IcmpEngine& operator=(const IcmpEngine&) = delete;

    // An echo request from the namespace: `src` its address, `dst` the
    // address it pinged, `id`/`seq` from its header, `data` what follows.
    // Read during the call only.
    void on_echo_request(const InAny& src, const InAny& dst, std::uint16_t id, std::uint16_t seq,
                         std::span<const std::byte> data, IcmpTime now);

    void on_socket_event(std::uint64_t token, std::uint32_t epoll_events, IcmpTime now);
    void on_timer(IcmpTime now);

    const Stats& stats() const;
    std::size_t active() const;

    class Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace pastad::tap

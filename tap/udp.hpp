// SPDX-License-Identifier: GPL-2.0-or-later
// tap/udp.hpp - UDP translation between namespace datagrams and host sockets
//
// Each namespace source (address and port) gets one unconnected host UDP
// socket; datagrams move in batches (sendmmsg, recvmmsg) and flows expire
// when idle. See the theory of operation at the top of tap/udp.cpp.
//
// Threading: one UdpEngine belongs to one data-plane thread, like TcpEngine;
// every call, and every call it makes into its FrameSink and Poller, happens
// there. Nothing here throws on the data path; the constructor may throw
// std::bad_alloc while it sizes its tables.
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
#include "tap/tcp_segment.hpp"

namespace pastad::tap {

using UdpClock = std::chrono::steady_clock;
using UdpTime = UdpClock::time_point;

// Poller token kind of UDP flows (bits 56-63, see tap/tcp.hpp).
inline constexpr std::uint8_t kUdpTokenKind = 0x12;

struct UdpConfig : AddressMapConfig {
    Mac our_mac;                             // source MAC of frames to the namespace
    const Mac* ns_mac = nullptr;             // read per frame; null: broadcast
    std::size_t max_flows = 1024;            // beyond this, the least recently used flow is closed
    std::chrono::seconds idle_timeout{180};  // as pasta's UDP flows
    unsigned mtu = 65520;                    // tap MTU: larger datagrams go in fragments
    std::optional<Ip4> outbound4;            // bound before use (port: the namespace's, else 0)
    std::optional<Ip6> outbound6;
    std::string outbound_if4;  // SO_BINDTODEVICE at open; empty: none
    std::string outbound_if6;
};

class UdpEngine {
public:
    struct Stats {
        std::uint64_t flows_opened = 0;
        std::uint64_t flows_closed = 0;  // idle expiry, eviction or errors
        std::uint64_t datagrams_from_ns = 0;
        std::uint64_t datagrams_to_ns = 0;
        std::uint64_t bytes_from_ns = 0;
        std::uint64_t bytes_to_ns = 0;
        std::uint64_t send_errors = 0;        // sendmmsg() refused a datagram
        std::uint64_t dropped_too_big = 0;    // host datagram larger than a frame slot
        std::uint64_t dropped_unmapped = 0;   // from a loopback source nobody contacted
        std::uint64_t dropped_no_socket = 0;  // socket() or bind() failed
        std::uint64_t icmp_errors_to_ns = 0;  // port unreachable relayed
        std::uint64_t forwarded_to_ns = 0;    // from a forwarded port's client
        std::uint64_t fragmented_to_ns = 0;   // too long for one frame: sent in fragments
    };

    // `sink` and `poller` must outlive the engine.
    UdpEngine(const UdpConfig& cfg, FrameSink& sink, Poller& poller);
    ~UdpEngine();
    UdpEngine(const UdpEngine&) = delete;
    UdpEngine& operator=(const UdpEngine&) = delete;

    // A datagram the namespace sent (parsed, checksum verified): `ep` as the
    // namespace sees it. The payload is copied into the send batch, which
    // leaves at flush() (or earlier when the batch is full).
    void on_datagram(const Endpoints& ep, std::span<const std::byte> payload, UdpTime now);

    // A datagram that reached a forwarded -u port on the host from a client
    // the splice path cannot serve: `ep` as the namespace is to see it
    // (ep.peer_addr may stand in for `real_peer`, e.g. the gateway for the
    // host's own address). It is framed to the namespace at once. The
    // namespace's datagrams from ep.ns_addr:ep.ns_port then leave through a
    // duplicate of `reply_fd` (the forward's bound socket, read by its
    // owner, never by this engine), so replies come from the forwarded port.
    void on_forwarded(const Endpoints& ep, const InAny& real_peer, int reply_fd,
                      std::span<const std::byte> payload, UdpTime now);

    // Sends the queued datagrams. Call once per batch of frames.
    void flush(UdpTime now);

    // A watched socket is ready (level-triggered is fine: at most as many
    // datagrams as free frame slots are read per call).
    void on_socket_event(std::uint64_t token, std::uint32_t epoll_events, UdpTime now);

    // Closes flows idle longer than the configured timeout.
    void on_timer(UdpTime now);

    const Stats& stats() const;
    std::size_t active() const;

    class Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace pastad::tap

// SPDX-License-Identifier: GPL-2.0-or-later
// tap/tcp.hpp - TCP translation between namespace segments and host sockets
//
// The engine pairs each TCP connection the namespace makes (or a port
// forward hands it) with one host socket and moves data between them
// without buffering payload of its own: the host socket is the buffer. See
// the theory of operation at the top of tap/tcp.cpp.
//
// Threading: one TcpEngine belongs to one data-plane thread; every member
// function, and every call the engine makes into its FrameSink and Poller,
// happens on that thread. Nothing here throws on the data path; the
// constructor may throw std::bad_alloc while it sizes its tables.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "daemon/base/inet.hpp"
#include "daemon/base/unique_fd.hpp"
#include "tap/address_map.hpp"
#include "tap/tcp_segment.hpp"

namespace pastad::tap {

using TcpClock = std::chrono::steady_clock;
using TcpTime = TcpClock::time_point;

// Frames towards the namespace, implemented by the data plane. The data plane
// owns a batch of frame slots that it writes to the tap at the end of each
// loop iteration; the engine fills free slots and commits them.
class FrameSink {
public:
    // Number of free slots in the current batch.
    virtual std::size_t free_slots() const = 0;
    // Capacity of one slot in bytes; at least 65536 plus link headers, so a
    // segment of the largest MSS fits.
    virtual std::size_t slot_size() const = 0;
    // The i-th free slot (i < free_slots()). The span stays valid, and slot(i)
    // keeps naming the same memory, until the next commit().
    virtual std::span<std::byte> slot(std::size_t i) = 0;
    // The first `count` free slots now hold frames of lengths lens[0..count).
    // They leave the free set; slot(0) then names the next free slot.
    virtual void commit(std::size_t count, const std::size_t* lens) = 0;
    virtual ~FrameSink() = default;
};

// Readiness of host sockets, implemented by the data plane (epoll, or
// io_uring poll requests behind the same contract).
class Poller {
public:
    // Starts or changes watching `fd` for `epoll_events` (EPOLLIN, EPOLLOUT,
    // EPOLLRDHUP, EPOLLET, ...). Readiness is reported back through
    // TcpEngine::on_socket_event() with `token`. The engine asks for edge
    // triggering (EPOLLET); a back end without it must report readiness at
    // least once after each watch() call and after each new edge.
    virtual void watch(int fd, std::uint32_t epoll_events, std::uint64_t token) = 0;
    // Stops watching `fd`; called before the engine closes it.
    virtual void unwatch(int fd) = 0;
    virtual ~Poller() = default;
};

// Address mapping for connections the namespace opens (DESIGN.md section 2,
// "Address mapping, without NAT tables"): the shared rules of
// tap/address_map.hpp, DNS forwarding included.
struct TcpConfig : AddressMapConfig {
    Mac our_mac;                   // source MAC of frames to the namespace
    const Mac* ns_mac = nullptr;   // the namespace's MAC, read per frame; null: broadcast
    unsigned mtu = 65520;          // of the tap link; bounds both MSS values
    std::size_t max_conns = 4096;  // beyond this, new connections are reset
    // Use SO_PEEK_OFF where the kernel supports it (TCP: Linux 6.10). False
    // forces the fallback that peeks from the oldest unconsumed byte.
    bool peek_offset = true;

    std::optional<Ip4> outbound4;  // bound (port 0) before connect()
    std::optional<Ip6> outbound6;
    std::string outbound_if4;  // SO_BINDTODEVICE before connect(); empty: none
    std::string outbound_if6;
};

// Poller tokens: kind in bits 56-63, connection index in bits 32-55,
// generation in bits 0-31. The data plane dispatches on the kind; a token of a
// closed connection is recognised by its generation and ignored.
inline constexpr std::uint8_t kTcpTokenKind = 0x01;
inline constexpr unsigned kTokenKindShift = 56;
inline constexpr std::uint8_t token_kind(std::uint64_t token) {
    return static_cast<std::uint8_t>(token >> kTokenKindShift);
}
// A watch token: kind in bits 56-63, table index in 32-55, generation in
// 0-31. Shared by every translator so the data plane can route on kind.
inline constexpr std::uint64_t make_token(std::uint8_t kind, std::uint32_t index,
                                          std::uint32_t gen) {
    return (static_cast<std::uint64_t>(kind) << kTokenKindShift) |
           (static_cast<std::uint64_t>(index) << 32) | gen;
}

class TcpEngine {
public:
    struct Stats {
        std::uint64_t opened_by_ns = 0;    // SYNs from the namespace accepted
        std::uint64_t opened_by_host = 0;  // connections from on_accepted()
        std::uint64_t established = 0;     // handshakes completed both ways
        std::uint64_t closed = 0;          // connections released, any reason
        std::uint64_t refused = 0;         // host connect() failed -> RST
        std::uint64_t over_limit = 0;      // refused for max_conns
        std::uint64_t resets_to_ns = 0;    // RST frames sent to the namespace
        std::uint64_t resets_from_ns = 0;  // accepted RSTs from the namespace
        std::uint64_t resets_to_host = 0;  // sockets closed with SO_LINGER 0
        std::uint64_t timeouts = 0;        // handshake, retransmit or idle expiry
        std::uint64_t dup_acks_sent = 0;   // immediate ACKs for out-of-order data
        std::uint64_t retransmits = 0;     // rewinds of the peek position
        std::uint64_t window_shrinks = 0;  // socket took less than the segment
        std::uint64_t bytes_to_ns = 0;     // payload framed (retransmits included)
        std::uint64_t bytes_from_ns = 0;   // payload written to sockets
        std::uint64_t frames_to_ns = 0;
        std::uint64_t segments_from_ns = 0;
        std::uint64_t dropped_no_conn = 0;    // no connection: answered with RST or ignored
        std::uint64_t dropped_bad_seq = 0;    // unacceptable seq/ack, answered or ignored
        std::uint64_t dropped_sink_full = 0;  // a control frame found no slot (retried)
    };

    // `sink` and `poller` must outlive the engine. Sizes the connection
    // table for cfg.max_conns up front.
    TcpEngine(const TcpConfig& cfg, FrameSink& sink, Poller& poller);
    ~TcpEngine();
    TcpEngine(const TcpEngine&) = delete;
    TcpEngine& operator=(const TcpEngine&) = delete;

    // A TCP segment the namespace sent, parsed and checksum-verified. `ep` is
    // as the namespace sees it (ns_* its source). `seg.payload` must stay
    // valid and unchanged until the next flush() returns: in-order payload is
    // gathered by reference and sent to the socket there. Answers that must
    // not wait (RST, SYN-ACK, duplicate ACKs) go to the sink at once;
    // ordinary ACKs wait for flush().
    void on_segment(const Endpoints& ep, const TcpSegment& seg, TcpTime now);

    // Ends a batch of on_segment() calls: consumes acknowledged socket data,
    // sends data the namespace's window now admits and the ACKs owed. Call it
    // once per batch, before the sink is written to the tap.
    void flush(TcpTime now);

    // A watched socket became ready; `token` is the one given to watch().
    void on_socket_event(std::uint64_t token, std::uint32_t epoll_events, TcpTime now);

    // Periodic tick, every 10-50 ms: handshake, retransmission, zero-window
    // and inactivity timers. Also flushes.
    void on_timer(TcpTime now);

    // The sink has free slots again: continue what was held back.
    void on_sink_space(TcpTime now);

    // A host connection accepted by a port forward: pastad opens the
    // connection towards the namespace (sends a SYN) to `ep` (ns_* the
    // namespace's service, peer_* the client as the namespace should see it).
    // `sock` must be a connected, nonblocking TCP socket; the engine owns it
    // from here on (and closes it at once when it cannot take it).
    void on_accepted(UniqueFd sock, const Endpoints& ep, TcpTime now);

    const Stats& stats() const;
    // Connections currently held, in any phase.
    std::size_t active() const;

    class Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace pastad::tap

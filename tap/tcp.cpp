// SPDX-License-Identifier: GPL-2.0-or-later
// tap/tcp.cpp - TCP translation between namespace segments and host sockets
//
// Theory of operation
// ===================
//
// What. Every TCP connection of the namespace that leaves through the tap
// is paired with one ordinary host socket. The namespace's TCP talks to
// pastad in frames; the host kernel does the real TCP with the real peer.
// pastad translates: sequence numbers, windows, MSS and window scaling on the
// tap side are derived from the host socket's state, and data is moved
// between the two without any payload buffer of pastad's own. Two kinds of
// connection exist: opened by the namespace (a SYN on the tap makes pastad
// connect() a host socket) and opened by a port forward (on_accepted(): the
// daemon accepted a host connection, pastad sends a SYN to the namespace).
//
// What not. pastad does not terminate TCP: it keeps no reassembly queue, no
// retransmission buffer, no congestion control and no TIME-WAIT; the host
// kernel does all of that towards the real peer. No SACK, no timestamps,
// no urgent data (URG is ignored, the data delivered inline). Connections
// with both ends on loopback are not handled here but by splice/.
//
// Data from the host (host -> namespace). The socket's receive queue is the
// retransmission buffer. Data is read with MSG_PEEK straight into the
// frame sink's slots (one iovec per MSS-sized segment, at the payload offset
// behind the headers), many segments per recvmsg(). SO_PEEK_OFF (TCP since
// Linux 6.10) makes each peek continue where the last one stopped; without
// it every peek starts at the oldest unacknowledged byte and the bytes
// already in flight land in a discard buffer first. Only when the namespace
// acknowledges bytes are they consumed (recv with MSG_TRUNC, no copy).
// Retransmission rewinds the peek position to the last acknowledged byte.
// Frames respect the namespace's advertised window (scaled by its window
// scale) and its MSS (from its SYN, clamped to MTU - 40 or MTU - 60).
//
// Data from the namespace (namespace -> host). In-order payload is not
// copied: the segments of one connection that arrive in one batch are
// gathered by reference (the frames stay valid until flush()) and handed to
// the socket with one sendmsg() at flush(), or earlier when anything other
// than more in-order data arrives for that connection. Only what the socket
// took is acknowledged: RCV.NXT (seq_from_ns) advances at that sendmsg(),
// and the sequence check of the batch's later segments runs against
// RCV.NXT plus the bytes still pending. The window advertised to the namespace is the payload the
// socket's free send space still takes (SO_SNDBUF less SO_MEMINFO's queued
// memory, less the kernel's per-skb overhead), scaled by the window scale
// pastad announces. A window that promised more would make the socket refuse
// data inside it, which without SACK ends in a retransmission timeout of
// the namespace. When the socket takes less than a segment, the window shrinks,
// to zero if need be (this is deliberate, RFC 9293 section 3.8.6 allows the
// receiver to shrink; the namespace's TCP copes), EPOLLOUT is watched and a
// window update follows when space frees, with duplicate ACKs so the
// namespace resends what was refused without waiting for its RTO. A segment
// beyond the expected sequence number is not queued: it is answered at once
// with a duplicate ACK, which drives the namespace's fast retransmit.
//
// Data structures. A fixed table of Conn (sized max_conns at start, never
// reallocated) with a free list of indices and a list of active indices for
// the timer walk; an unordered_map from Endpoints to index (one node per
// connection, no allocation per packet). Poller tokens are (kind, index,
// generation): a token of a released slot no longer matches. Connections with
// work owed at the end of a batch (ACK, consumption, more data) sit on a dirty
// list, handled by flush(); both lists are reserved to max_conns.
//
// Events. Each connection carries a bitmask of lifecycle events rather than
// one RFC state; the RFC state follows from the bits:
//   SOCK_CONNECTING  namespace SYN seen, host connect() in progress
//   SYN_ACK_TO_NS    host connected, SYN-ACK sent (SYN-RECEIVED)
//   SYN_TO_NS        port-forward connection, SYN sent (SYN-SENT)
//   ESTABLISHED      three-way handshake done with the namespace
//   NS_FIN_RCVD      namespace FIN accepted, socket shut down for writing
//   SOCK_EOF         host peer's FIN seen and every byte before it peeked
//   FIN_TO_NS        FIN sent to the namespace (after all data was acked)
//   FIN_ACKED_BY_NS  namespace acknowledged our FIN
// NS_FIN_RCVD and FIN_ACKED_BY_NS together release the connection. A RST
// either way, a socket error or a timer expiry releases it at once.
//
// Timers (on_timer, every 10-50 ms): handshake (kHandshakeTimeout: connect
// or SYN/SYN-ACK unanswered); ACK (kAckTimeout doubled per retry: data,
// SYN or FIN sent and not acknowledged -> rewind and resend; after
// kMaxRetries the connection is reset both ways); zero window (probe the
// namespace with an ACK when its window is closed and data waits); inactivity
// (kInactivityTimeout, as pasta does, then reset).
//
// Limits. max_conns connections; beyond, a SYN gets RST and a rate-limited
// warning. Up to kMaxFramesPerPeek frames per recvmsg(). Window scale
// kOurWscale (windows up to 8 MiB) when the namespace offers scaling.
//
// Failure behaviour. Host connect() failure -> RST to the namespace. Socket
// error or reset -> RST to the namespace. RST from the namespace -> socket
// closed with SO_LINGER 0, so the host peer sees a reset. Segments for no
// known connection get a RST (RFC 9293 section 3.10.7.1). A full frame sink
// postpones ACKs and data until on_sink_space().
//
// Limitations. The window we advertise shrinks when the socket is full;
// the namespace stays correct but may need a retransmission. A low but
// non-zero window reopens at the next timer tick or ACK, because the kernel
// signals EPOLLOUT only after a write was refused. Half-closed connections
// live until the inactivity timer. Simultaneous open is not supported.
// Checksums are computed in user space for every frame (no IFF_VNET_HDR
// offload yet). ACKs for namespace data go out at flush(), one per
// connection and batch, not per segment.
//
// References. RFC 9293 (TCP; section 3.10.7 segment processing order,
// 3.8.6 window management), RFC 7323 (window scale), RFC 5961 (challenge
// ACKs for in-window RST and SYN), RFC 6528 (random ISNs), RFC 5681 section
// 3.2 (three duplicate ACKs trigger fast retransmit). Linux tcp(7):
// MSG_TRUNC discards, SIOCOUTQ; SO_PEEK_OFF for TCP since Linux 6.10.
#include "tap/tcp.hpp"

#include <fcntl.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/base/check.hpp"
#include "daemon/base/log.hpp"
#include "tap/checksum.hpp"
#include "tap/ip_header.hpp"
#include "tap/outbound.hpp"

namespace pastad::tap {

namespace {

using namespace std::chrono_literals;

constexpr auto kHandshakeTimeout = 10s;
constexpr auto kAckTimeout = 1s;     // first retransmission; doubles per retry
constexpr unsigned kMaxRetries = 6;  // then reset both ways
constexpr auto kZeroWindowProbe = 1s;
constexpr auto kInactivityTimeout = 2h;  // as pasta
constexpr std::uint8_t kOurWscale = 7;   // 65535 << 7: windows up to 8 MiB
constexpr std::size_t kMaxFramesPerPeek = 128;
constexpr unsigned kMaxPeekRounds = 4;  // per service call, for fairness
constexpr std::size_t kDiscardChunk = 65536;
// Segments of one connection gathered for one sendmsg() at most: below
// IOV_MAX (1024), and a batch of full-sized frames is 16 (see io_backend).
constexpr std::uint16_t kMaxPendSegs = 64;
constexpr std::uint32_t kNoPend = ~std::uint32_t{0};
// Send-buffer memory the kernel charges beyond the payload: per skb, its
// struct and shared info (about 830 bytes on Linux 6.x, x86-64), rounded up;
// one send() of up to 64 KiB may start a new skb and spill into another
// (skbs hold up to the GSO size, some 64 KiB).
constexpr std::uint32_t kSkbOverhead = 1024;
constexpr std::uint32_t kSkbSpill = 32768;

// Memory that `len` payload bytes written by one send() may take.
constexpr std::uint32_t skb_charge(std::uint32_t len) {
    return len + kSkbOverhead * (1 + len / kSkbSpill);
}
constexpr std::size_t kMaxDiscardIov = 256;  // 16 MiB in flight without SO_PEEK_OFF
constexpr unsigned kDupAckThreshold = 3;     // RFC 5681 section 3.2
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::size_t kTcpHdrLen = 20;
constexpr std::uint16_t kDefaultMss4 = 536;   // RFC 9293 section 3.7.1
constexpr std::uint16_t kDefaultMss6 = 1220;  // RFC 8200 section 5 minus headers
constexpr std::uint16_t kMinMss = 64;

// Lifecycle events of a connection (see the theory of operation).
enum ConnEvent : std::uint16_t {
    kSockConnecting = 1 << 0,
    kSynAckToNs = 1 << 1,
    kSynToNs = 1 << 2,
    kEstablished = 1 << 3,
    kNsFinRcvd = 1 << 4,
    kSockEof = 1 << 5,
    kFinToNs = 1 << 6,
    kFinAckedByNs = 1 << 7,
};
constexpr std::array<const char*, 8> kEventNames = {
    "SOCK_CONNECTING", "SYN_ACK_TO_NS", "SYN_TO_NS", "ESTABLISHED",
    "NS_FIN_RCVD",     "SOCK_EOF",      "FIN_TO_NS", "FIN_ACKED_BY_NS"};
static_assert(kEventNames.size() == 8 && (1u << (kEventNames.size() - 1)) == kFinAckedByNs,
              "one name per event bit");

// Work and readiness flags, not logged.
enum ConnFlag : std::uint16_t {
    kAckDue = 1 << 0,         // an ACK (or window update) is owed to the namespace
    kSockReadable = 1 << 1,   // the socket may hold data not yet peeked
    kSockRdhup = 1 << 2,      // the host peer's FIN arrived (EPOLLRDHUP)
    kSndBlocked = 1 << 3,     // window to the namespace is low; EPOLLOUT watched
    kNsDataRefused = 1 << 4,  // the socket refused namespace data; resend wanted
    kOnDirty = 1 << 5,        // on the dirty list
    kPeekOff = 1 << 6,        // SO_PEEK_OFF is in effect on the socket
    kNsWscale = 1 << 7,       // window scaling negotiated
};

// Sequence number comparisons modulo 2^32 (RFC 9293 section 3.4).
bool seq_lt(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a - b) < 0;
}
bool seq_le(std::uint32_t a, std::uint32_t b) {
    return static_cast<std::int32_t>(a - b) <= 0;
}
bool seq_gt(std::uint32_t a, std::uint32_t b) {
    return seq_lt(b, a);
}
bool seq_ge(std::uint32_t a, std::uint32_t b) {
    return seq_le(b, a);
}

void put16(std::byte* p, std::uint16_t v) {
    p[0] = static_cast<std::byte>(v >> 8);
    p[1] = static_cast<std::byte>(v & 0xff);
}

void put32(std::byte* p, std::uint32_t v) {
    put16(p, static_cast<std::uint16_t>(v >> 16));
    put16(p + 2, static_cast<std::uint16_t>(v & 0xffff));
}

// What the engine puts in a TCP header towards the namespace.
struct OutSeg {
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 0;
    std::optional<std::uint16_t> mss;    // SYN only
    std::optional<std::uint8_t> wscale;  // SYN only
};

std::size_t tcp_options_len(const OutSeg& s) {
    return (s.mss ? 4 : 0) + (s.wscale ? 4 : 0);
}

// Offset of the payload in a frame from `ep.peer_addr` carrying `s`.
std::size_t payload_offset(const Endpoints& ep, const OutSeg& s) {
    return ip_headers_len(ep.peer_addr) + kTcpHdrLen + tcp_options_len(s);
}

// Writes Ethernet, IP and TCP headers (peer -> namespace) in front of a
// payload of `payload_len` bytes already at payload_offset(ep, s), and the
// TCP checksum over both. Returns the frame length, or 0 if it does not fit.
std::size_t write_frame_headers(std::span<std::byte> frame, const Mac& src_mac, const Mac& dst_mac,
                                const Endpoints& ep, const OutSeg& s, std::size_t payload_len) {
    const std::size_t l3_len = ip_headers_len(ep.peer_addr);
    const std::size_t tcp_len = kTcpHdrLen + tcp_options_len(s);
    if (frame.size() < l3_len + tcp_len + payload_len) {
        return 0;
    }
    if (write_ip_headers(frame, src_mac, dst_mac, ep.peer_addr, ep.ns_addr, kProtoTcp,
                         tcp_len + payload_len) == 0) {
        return 0;
    }
    std::byte* t = frame.data() + l3_len;
    put16(t, ep.peer_port);
    put16(t + 2, ep.ns_port);
    put32(t + 4, s.seq);
    put32(t + 8, s.ack);
    t[12] = static_cast<std::byte>((tcp_len / 4) << 4);
    t[13] = static_cast<std::byte>(s.flags);
    put16(t + 14, s.window);
    put16(t + 16, 0);  // checksum, filled below
    put16(t + 18, 0);  // urgent pointer
    std::byte* o = t + kTcpHdrLen;
    if (s.mss) {  // RFC 9293 section 3.2: kind 2, length 4
        o[0] = std::byte{2};
        o[1] = std::byte{4};
        put16(o + 2, *s.mss);
        o += 4;
    }
    if (s.wscale) {  // RFC 7323 section 2.2: NOP, kind 3, length 3
        o[0] = std::byte{1};
        o[1] = std::byte{3};
        o[2] = std::byte{3};
        o[3] = static_cast<std::byte>(*s.wscale);
    }
    const std::uint16_t sum =
        l4_checksum(ep.peer_addr, ep.ns_addr, kProtoTcp, {t, tcp_len + payload_len});
    put16(t + 16, sum);
    return l3_len + tcp_len + payload_len;
}

struct EndpointsHash {
    std::uint64_t seed;
    std::size_t operator()(const Endpoints& e) const {
        // Multiply-xorshift mixing of the 36 key bytes with a random seed, so
        // the namespace cannot aim its connections at one bucket.
        std::uint64_t h = seed;
        auto mix = [&h](std::uint64_t v) {
            h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
            h *= 0xff51afd7ed558ccdULL;
            h ^= h >> 33;
        };
        std::uint64_t w[4];
        std::memcpy(w, e.ns_addr.a.b.data(), 16);
        std::memcpy(w + 2, e.peer_addr.a.b.data(), 16);
        for (auto v : w) {
            mix(v);
        }
        mix((static_cast<std::uint64_t>(e.ns_port) << 16) | e.peer_port);
        return static_cast<std::size_t>(h);
    }
};

// A socket address for `addr`:`port` in the family of `addr`.
socklen_t make_sockaddr(const InAny& addr, std::uint16_t port, sockaddr_storage& ss) {
    std::memset(&ss, 0, sizeof(ss));
    if (addr.is_v4()) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        std::memcpy(&sin->sin_addr, addr.v4().b.data(), 4);
        return sizeof(sockaddr_in);
    }
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, addr.a.b.data(), 16);
    return sizeof(sockaddr_in6);
}

int sock_error(int fd) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return errno;
    }
    return err;
}

}  // namespace

// ---------------------------------------------------------------------------

struct Conn {
    Endpoints ep;
    UniqueFd sock;
    std::uint32_t gen = 0;
    std::uint32_t active_pos = 0;  // index in active_
    bool in_use = false;
    std::uint16_t events = 0;
    std::uint16_t flags = 0;
    std::uint32_t watched = 0;  // epoll events currently requested

    // Towards the namespace (we send): RFC 9293 SND.* in our words.
    std::uint32_t isn = 0;           // our initial sequence number
    std::uint32_t seq_to_ns = 0;     // next sequence number to send (SND.NXT)
    std::uint32_t seq_max_sent = 0;  // highest SND.NXT ever, survives rewinds
    std::uint32_t seq_acked = 0;     // oldest unacknowledged (SND.UNA)
    std::uint32_t seq_consumed = 0;  // socket data consumed up to here
    std::uint32_t fin_seq = 0;       // sequence number of our FIN, once sent
    std::uint32_t ns_wnd = 0;        // namespace's window in bytes (scaled)
    std::uint32_t wnd_seq = 0;       // SND.WL1 and SND.WL2 of RFC 9293 3.10.7.4
    std::uint32_t wnd_ack = 0;
    std::uint16_t ns_mss = 0;
    std::uint8_t ns_wscale = 0;
    std::uint8_t dup_acks = 0;

    // From the namespace (we receive): RCV.*.
    std::uint32_t ns_isn = 0;
    std::uint32_t seq_from_ns = 0;      // next sequence number expected (RCV.NXT)
    std::uint32_t pend_len = 0;         // bytes after RCV.NXT gathered, not yet sent
    std::uint32_t pend_head = kNoPend;  // first and last gathered segment in pend_
    std::uint32_t pend_tail = kNoPend;
    std::uint16_t pend_segs = 0;
    std::uint32_t wnd_to_ns = 0;  // last window advertised, bytes
    std::uint8_t our_wscale = 0;

    // Host socket send space, for the window we advertise.
    std::uint32_t sndbuf = 0;     // cached SO_SNDBUF
    std::uint32_t sock_free = 0;  // estimated free send space

    // Timers.
    TcpTime created{};
    TcpTime last_activity{};
    TcpTime last_progress{};  // last time the namespace acked something new
    TcpTime last_probe{};
    unsigned retries = 0;
};

class TcpEngine::Impl {
public:
    Impl(const TcpConfig& cfg, FrameSink& sink, Poller& poller);
    ~Impl();

    void on_segment(const Endpoints& ep, const TcpSegment& seg, TcpTime now);
    void flush(TcpTime now);
    void on_socket_event(std::uint64_t token, std::uint32_t ev, TcpTime now);
    void on_timer(TcpTime now);
    void on_accepted(UniqueFd sock, const Endpoints& ep, TcpTime now);

    Stats stats_;
    std::size_t active_count() const { return active_.size(); }

private:
    // Table.
    std::optional<std::uint32_t> lookup(const Endpoints& ep) const;
    Conn* alloc(const Endpoints& ep, TcpTime now);
    void release(Conn& c, bool reset_host);
    std::uint32_t index_of(const Conn& c) const {
        return static_cast<std::uint32_t>(&c - conns_.data());
    }
    std::uint64_t token_of(const Conn& c) const;
    void mark_dirty(Conn& c);

    // Lifecycle.
    void set_event(Conn& c, std::uint16_t ev);
    void log_conn(const Conn& c, const char* what) const;
    void open_from_ns(const Endpoints& ep, const TcpSegment& seg, TcpTime now);
    void finish_connect(Conn& c, TcpTime now);
    void syn_sent_segment(Conn& c, const TcpSegment& seg, TcpTime now);
    void established_segment(Conn& c, const TcpSegment& seg, TcpTime now);
    bool process_ack(Conn& c, const TcpSegment& seg, TcpTime now);
    void process_data(Conn& c, const TcpSegment& seg, TcpTime now);
    void commit_pending(Conn& c);
    void drop_pending(Conn& c);
    void process_fin(Conn& c, const TcpSegment& seg);
    void reset_both(Conn& c, const char* why);
    void maybe_release(Conn& c);
    void timer_conn(Conn& c, TcpTime now);

    // Data movement.
    void service(Conn& c, TcpTime now);
    bool consume_acked(Conn& c);
    void send_from_socket(Conn& c, TcpTime now);
    void maybe_send_fin(Conn& c, TcpTime now);
    void rewind(Conn& c, TcpTime now);
    void update_watch(Conn& c);
    void refresh_send_space(Conn& c, bool sndbuf_too);
    std::uint16_t window_to_ns(Conn& c);
    void window_update(Conn& c, bool writable);

    // Frames.
    bool send_ctl(Conn& c, std::uint8_t flags);
    bool send_syn(Conn& c, bool with_ack);
    bool send_dup_ack(Conn& c, std::uint32_t seq);
    bool emit(const Endpoints& ep, const OutSeg& s);
    void reply_rst_no_conn(const Endpoints& ep, const TcpSegment& seg);

    std::uint16_t our_mss(const InAny& a) const;
    std::uint16_t clamp_ns_mss(const InAny& a, std::optional<std::uint16_t> mss) const;
    InAny map_destination(const InAny& peer, std::uint16_t port) const;
    const Mac& ns_mac() const { return cfg_.ns_mac ? *cfg_.ns_mac : kBroadcast; }

    static constexpr Mac kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

    TcpConfig cfg_;
    FrameSink& sink_;
    Poller& poller_;
    spdlog::logger& log_;
    std::vector<Conn> conns_;
    std::vector<std::uint32_t> free_;
    std::vector<std::uint32_t> active_;
    std::vector<std::uint32_t> dirty_;
    std::vector<std::uint32_t> servicing_;
    // Namespace payload gathered for sendmsg(): per connection, a list
    // through `next` from Conn::pend_head. Emptied by flush().
    struct PendSeg {
        iovec iov;
        std::uint32_t next;
    };
    std::vector<PendSeg> pend_;
    std::vector<std::uint32_t> pend_conns_;  // connections with gathered payload
    std::unordered_map<Endpoints, std::uint32_t, EndpointsHash> map_;
    std::mt19937 rng_;
    std::vector<std::byte> discard_;
    log::RateLimit limit_warn_{std::chrono::seconds(10)};
    log::RateLimit sock_warn_{std::chrono::seconds(10)};
};

// ---------------------------------------------------------------------------
// Table

TcpEngine::Impl::Impl(const TcpConfig& cfg, FrameSink& sink, Poller& poller)
    : cfg_(cfg),
      sink_(sink),
      poller_(poller),
      log_(log::tap()),
      conns_(cfg.max_conns),
      map_(cfg.max_conns, EndpointsHash{0}),
      discard_(kDiscardChunk) {
    std::uint64_t seed[2] = {};
    if (getrandom(seed, sizeof(seed), 0) != static_cast<ssize_t>(sizeof(seed))) {
        seed[0] = static_cast<std::uint64_t>(TcpClock::now().time_since_epoch().count());
        seed[1] = seed[0] * 0x9e3779b97f4a7c15ULL;
    }
    // The hash seed is fixed at construction: rebuild the map with it.
    map_ = decltype(map_)(cfg.max_conns, EndpointsHash{seed[0]});
    std::seed_seq ss{static_cast<std::uint32_t>(seed[1]),
                     static_cast<std::uint32_t>(seed[1] >> 32)};
    rng_.seed(ss);
    free_.reserve(cfg.max_conns);
    for (std::size_t i = cfg.max_conns; i > 0; --i) {
        free_.push_back(static_cast<std::uint32_t>(i - 1));
    }
    active_.reserve(cfg.max_conns);
    dirty_.reserve(cfg.max_conns);
    servicing_.reserve(cfg.max_conns);
    pend_.reserve(kMaxPendSegs * 4);
    pend_conns_.reserve(cfg.max_conns);
}

TcpEngine::Impl::~Impl() {
    for (auto& c : conns_) {
        if (c.in_use && c.sock) {
            poller_.unwatch(c.sock.get());
        }
    }
}

std::optional<std::uint32_t> TcpEngine::Impl::lookup(const Endpoints& ep) const {
    const auto it = map_.find(ep);
    if (it == map_.end()) {
        return std::nullopt;
    }
    return it->second;
}

Conn* TcpEngine::Impl::alloc(const Endpoints& ep, TcpTime now) {
    if (free_.empty()) {
        return nullptr;
    }
    const std::uint32_t idx = free_.back();
    free_.pop_back();
    Conn& c = conns_[idx];
    const std::uint32_t gen = c.gen + 1;
    c = Conn{};
    c.gen = gen;
    c.in_use = true;
    c.ep = ep;
    c.created = now;
    c.last_activity = now;
    c.last_progress = now;
    c.active_pos = static_cast<std::uint32_t>(active_.size());
    active_.push_back(idx);
    map_.emplace(ep, idx);
    c.isn = static_cast<std::uint32_t>(rng_());  // RFC 6528: unpredictable
    return &c;
}

// Releases a connection: closes its socket (with a reset towards the host
// peer when `reset_host`), forgets its endpoints and frees its slot.
void TcpEngine::Impl::release(Conn& c, bool reset_host) {
    PASTAD_CHECK(c.in_use);  // callers hold a Conn looked up from the table
    log_conn(c, reset_host ? "released, host side reset" : "released");
    drop_pending(c);
    if (c.sock) {
        poller_.unwatch(c.sock.get());
        if (reset_host) {
            // SO_LINGER with zero timeout: close() sends RST, not FIN.
            const linger lg{1, 0};
            (void)setsockopt(c.sock.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            ++stats_.resets_to_host;
        }
        c.sock.reset();
    }
    map_.erase(c.ep);
    const std::uint32_t idx = index_of(c);
    const std::uint32_t pos = c.active_pos;
    active_[pos] = active_.back();
    conns_[active_[pos]].active_pos = pos;
    active_.pop_back();
    c.in_use = false;
    c.events = 0;
    c.flags = 0;
    ++c.gen;  // stale tokens and dirty entries no longer match
    free_.push_back(idx);
    ++stats_.closed;
}

std::uint64_t TcpEngine::Impl::token_of(const Conn& c) const {
    return make_token(kTcpTokenKind, index_of(c), c.gen);
}

void TcpEngine::Impl::mark_dirty(Conn& c) {
    if (!(c.flags & kOnDirty)) {
        c.flags |= kOnDirty;
        dirty_.push_back(index_of(c));
    }
}

void TcpEngine::Impl::set_event(Conn& c, std::uint16_t ev) {
    if ((c.events & ev) == ev) {
        return;
    }
    c.events |= ev;
    if (log_.should_log(spdlog::level::debug)) {
        for (std::size_t i = 0; i < kEventNames.size(); ++i) {
            if (ev & (1u << i)) {
                log_conn(c, kEventNames[i]);
            }
        }
    }
}

void TcpEngine::Impl::log_conn(const Conn& c, const char* what) const {
    if (log_.should_log(spdlog::level::debug)) {
        log_.debug("[T{} tcp] {}:{} <-> {}:{}: {}", index_of(c), c.ep.ns_addr.str(), c.ep.ns_port,
                   c.ep.peer_addr.str(), c.ep.peer_port, what);
    }
}

// ---------------------------------------------------------------------------
// Frames

bool TcpEngine::Impl::emit(const Endpoints& ep, const OutSeg& s) {
    if (sink_.free_slots() == 0) {
        ++stats_.dropped_sink_full;
        return false;
    }
    const std::size_t len = write_frame_headers(sink_.slot(0), cfg_.our_mac, ns_mac(), ep, s, 0);
    if (len == 0) {
        return false;
    }
    sink_.commit(1, &len);
    ++stats_.frames_to_ns;
    if (s.flags & kRst) {
        ++stats_.resets_to_ns;
    }
    SPDLOG_LOGGER_TRACE(&log_, "tcp -> ns {}:{} flags {:#04x} seq {} ack {} wnd {}",
                        ep.ns_addr.str(), ep.ns_port, s.flags, s.seq, s.ack, s.window);
    return true;
}

// A control segment (ACK, FIN, RST) at the current send position.
bool TcpEngine::Impl::send_ctl(Conn& c, std::uint8_t flags) {
    OutSeg s;
    s.seq = c.seq_to_ns;
    s.ack = c.seq_from_ns;
    s.flags = flags;
    s.window = window_to_ns(c);
    if (!emit(c.ep, s)) {
        c.flags |= kAckDue;  // retried from on_sink_space()
        mark_dirty(c);
        return false;
    }
    if (flags & kAck) {
        c.flags &= static_cast<std::uint16_t>(~kAckDue);
    }
    return true;
}

// An ACK with an explicit sequence number: duplicate ACKs and window probes.
bool TcpEngine::Impl::send_dup_ack(Conn& c, std::uint32_t seq) {
    OutSeg s;
    s.seq = seq;
    s.ack = c.seq_from_ns;
    s.flags = kAck;
    s.window = window_to_ns(c);
    return emit(c.ep, s);
}

// SYN (port forwards) or SYN-ACK (namespace-opened) with our options. The
// window in a SYN is never scaled (RFC 7323 section 2.2).
bool TcpEngine::Impl::send_syn(Conn& c, bool with_ack) {
    OutSeg s;
    s.seq = c.isn;
    s.ack = with_ack ? c.seq_from_ns : 0;
    s.flags = with_ack ? (kSyn | kAck) : kSyn;
    s.window = static_cast<std::uint16_t>(std::min<std::uint32_t>(c.sock_free, 0xffff));
    s.mss = our_mss(c.ep.peer_addr);
    if (!with_ack || (c.flags & kNsWscale)) {
        s.wscale = kOurWscale;
    }
    c.wnd_to_ns = s.window;
    return emit(c.ep, s);
}

// RFC 9293 section 3.10.7.1: a segment for no connection gets a RST, unless
// it is one.
void TcpEngine::Impl::reply_rst_no_conn(const Endpoints& ep, const TcpSegment& seg) {
    if (seg.has(kRst)) {
        return;
    }
    OutSeg s;
    if (seg.has(kAck)) {
        s.seq = seg.ack;
        s.flags = kRst;
    } else {
        const auto len = static_cast<std::uint32_t>(seg.payload.size()) + (seg.has(kSyn) ? 1 : 0) +
                         (seg.has(kFin) ? 1 : 0);
        s.ack = seg.seq + len;
        s.flags = kRst | kAck;
    }
    (void)emit(ep, s);
}

std::uint16_t TcpEngine::Impl::our_mss(const InAny& a) const {
    const unsigned overhead = a.is_v4() ? 40 : 60;
    unsigned mss = cfg_.mtu > overhead ? cfg_.mtu - overhead : kMinMss;
    const std::size_t room = sink_.slot_size() - ip_headers_len(a) - kTcpHdrLen;
    mss = std::min<unsigned>({mss, 0xffffu, static_cast<unsigned>(room)});
    return static_cast<std::uint16_t>(std::max<unsigned>(mss, kMinMss));
}

std::uint16_t TcpEngine::Impl::clamp_ns_mss(const InAny& a,
                                            std::optional<std::uint16_t> mss) const {
    const std::uint16_t given = mss ? *mss : (a.is_v4() ? kDefaultMss4 : kDefaultMss6);
    return std::clamp<std::uint16_t>(given, kMinMss, our_mss(a));
}

// DESIGN.md section 2; the rules live in tap/address_map.cpp.
InAny TcpEngine::Impl::map_destination(const InAny& peer, std::uint16_t port) const {
    return map_to_host(cfg_, peer, port);
}

// ---------------------------------------------------------------------------
// Host socket state

void TcpEngine::Impl::update_watch(Conn& c) {
    std::uint32_t want = EPOLLIN | EPOLLRDHUP | EPOLLET;
    if ((c.events & kSockConnecting) || (c.flags & kSndBlocked)) {
        want |= EPOLLOUT;
    }
    if (want != c.watched) {
        poller_.watch(c.sock.get(), want, token_of(c));
        c.watched = want;
    }
}

// Free send space, in payload bytes. SO_SNDBUF limits socket memory, which
// the kernel charges per skb (truesize), not per payload byte: the payload
// that still fits is the free memory less the overhead of the skbs it will
// need, counted for segments of our MSS (the size of bulk data). Advertising
// free memory as payload would promise more than send() takes, and every
// refused segment costs the namespace a retransmission timeout (it has no
// SACK, and we keep no out-of-order data). SO_MEMINFO (Linux 4.6) gives the
// memory in use; without it, SO_SNDBUF - SIOCOUTQ stands in.
void TcpEngine::Impl::refresh_send_space(Conn& c, bool sndbuf_too) {
    std::uint32_t mem[SK_MEMINFO_VARS] = {};
    socklen_t mem_len = sizeof(mem);
    std::uint32_t used = 0;
    if (getsockopt(c.sock.get(), SOL_SOCKET, SO_MEMINFO, mem, &mem_len) == 0 &&
        mem_len > SK_MEMINFO_WMEM_QUEUED * sizeof(mem[0]) && mem[SK_MEMINFO_SNDBUF] > 0) {
        c.sndbuf = mem[SK_MEMINFO_SNDBUF];
        used = mem[SK_MEMINFO_WMEM_QUEUED];
    } else {
        if (sndbuf_too || c.sndbuf == 0) {
            int v = 0;
            socklen_t len = sizeof(v);
            if (getsockopt(c.sock.get(), SOL_SOCKET, SO_SNDBUF, &v, &len) == 0 && v > 0) {
                c.sndbuf = static_cast<std::uint32_t>(v);
            }
        }
        int outq = 0;
        if (ioctl(c.sock.get(), SIOCOUTQ, &outq) < 0 || outq < 0) {
            outq = 0;
        }
        used = static_cast<std::uint32_t>(outq);
    }
    const std::uint64_t free_mem = c.sndbuf > used ? c.sndbuf - used : 0;
    const std::uint32_t seg = our_mss(c.ep.peer_addr);
    c.sock_free = static_cast<std::uint32_t>(free_mem * seg / skb_charge(seg));
}

// The window to advertise, in header units. The ioctl is skipped while the
// estimate (decremented by every send()) says more than half is free.
std::uint16_t TcpEngine::Impl::window_to_ns(Conn& c) {
    if (!c.sock) {
        return 0;
    }
    if (c.flags & kNsDataRefused) {
        // The socket refused data: zero until EPOLLOUT says it takes more.
        // SO_SNDBUF - SIOCOUTQ would still show room here, because the
        // kernel charges buffer overhead that SIOCOUTQ does not count.
        c.wnd_to_ns = 0;
        return 0;
    }
    if ((c.flags & kSndBlocked) || c.sock_free < c.sndbuf / 2) {
        refresh_send_space(c, false);
    }
    const std::uint32_t max = 0xffffu << c.our_wscale;
    const std::uint32_t wnd = std::min(c.sock_free, max);
    const auto raw = static_cast<std::uint16_t>(wnd >> c.our_wscale);
    c.wnd_to_ns = static_cast<std::uint32_t>(raw) << c.our_wscale;

    // A low window must reopen without the namespace's help: wait for the
    // socket to become writable.
    const bool low = c.wnd_to_ns < c.sndbuf / 4;
    if (low && !(c.flags & kSndBlocked) && (c.events & kEstablished)) {
        c.flags |= kSndBlocked;
        update_watch(c);
    }
    return raw;
}

// Space freed in the socket: announce the larger window. When data was
// refused, add duplicate ACKs so the namespace resends it at once (RFC
// 5681 section 3.2) instead of waiting for its retransmission timer.
void TcpEngine::Impl::window_update(Conn& c, bool writable) {
    if ((c.flags & kNsDataRefused) && !writable) {
        return;  // only the kernel's EPOLLOUT reopens a window it refused
    }
    refresh_send_space(c, true);
    const std::uint32_t max = 0xffffu << c.our_wscale;
    const std::uint32_t candidate = (std::min(c.sock_free, max) >> c.our_wscale) << c.our_wscale;
    if (candidate <= c.wnd_to_ns) {
        return;  // nothing new to announce; EPOLLOUT stays watched
    }
    const bool refused = (c.flags & kNsDataRefused) != 0;
    c.flags &= static_cast<std::uint16_t>(~(kSndBlocked | kNsDataRefused));
    if (send_ctl(c, kAck) && refused) {  // send_ctl re-blocks if still low
        for (unsigned i = 0; i < kDupAckThreshold; ++i) {
            if (send_dup_ack(c, c.seq_to_ns)) {
                ++stats_.dup_acks_sent;
            }
        }
    }
    update_watch(c);
}

// ---------------------------------------------------------------------------
// Opening connections

void TcpEngine::Impl::open_from_ns(const Endpoints& ep, const TcpSegment& seg, TcpTime now) {
    if (free_.empty()) {
        ++stats_.over_limit;
        if (auto n = limit_warn_.allow(now)) {
            log_.warn("tcp: connection limit {} reached, reset {} new connection(s)",
                      cfg_.max_conns, *n);
        }
        reply_rst_no_conn(ep, seg);
        return;
    }

    // Nonblocking socket, optional binds to the outbound interface and
    // address, connect().
    const InAny dst = map_destination(ep.peer_addr, ep.peer_port);
    const int family = dst.is_v4() ? AF_INET : AF_INET6;
    UniqueFd fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
    if (!fd) {
        if (auto n = sock_warn_.allow(now)) {
            log_.warn("tcp: socket() failed: {} ({} time(s))", std::strerror(errno), *n);
        }
        reply_rst_no_conn(ep, seg);
        return;
    }
    if (!bind_outbound_if(fd.get(), dst, dst.is_v4() ? cfg_.outbound_if4 : cfg_.outbound_if6)) {
        ++stats_.refused;
        reply_rst_no_conn(ep, seg);
        return;
    }
    sockaddr_storage ss;
    if (dst.is_v4() && cfg_.outbound4) {
        const socklen_t len = make_sockaddr(InAny::from(*cfg_.outbound4), 0, ss);
        (void)bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len);
    } else if (!dst.is_v4() && cfg_.outbound6) {
        const socklen_t len = make_sockaddr(InAny::from(*cfg_.outbound6), 0, ss);
        (void)bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len);
    }
    const socklen_t len = make_sockaddr(dst, ep.peer_port, ss);
    const int rc = connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len);
    if (rc < 0 && errno != EINPROGRESS) {
        ++stats_.refused;
        reply_rst_no_conn(ep, seg);
        return;
    }

    Conn* c = alloc(ep, now);
    PASTAD_CHECK(c != nullptr);  // free_ was not empty above
    c->sock = std::move(fd);
    c->ns_isn = seg.seq;
    c->seq_from_ns = seg.seq + 1;
    c->ns_mss = clamp_ns_mss(ep.peer_addr, seg.mss);
    if (seg.wscale) {  // RFC 7323 section 2.2: scaling only if both offer it
        c->flags |= kNsWscale;
        c->ns_wscale = std::min<std::uint8_t>(*seg.wscale, 14);
        c->our_wscale = kOurWscale;
    }
    c->ns_wnd = seg.window;  // a SYN's window is never scaled
    c->wnd_seq = seg.seq;
    ++stats_.opened_by_ns;
    log_conn(*c, "SYN from namespace, connecting");
    set_event(*c, kSockConnecting);
    update_watch(*c);
    if (rc == 0) {
        finish_connect(*c, now);
    }
}

// connect() finished, successfully or not.
void TcpEngine::Impl::finish_connect(Conn& c, TcpTime now) {
    c.events &= static_cast<std::uint16_t>(~kSockConnecting);
    const int err = sock_error(c.sock.get());
    if (err != 0) {
        log_conn(c, std::strerror(err));
        ++stats_.refused;
        OutSeg s;
        s.ack = c.seq_from_ns;
        s.flags = kRst | kAck;
        (void)emit(c.ep, s);
        release(c, false);
        return;
    }
    // SO_PEEK_OFF: from here on peeks continue where the last one ended.
    int zero = 0;
    if (cfg_.peek_offset &&
        setsockopt(c.sock.get(), SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) == 0) {
        c.flags |= kPeekOff;
    }
    refresh_send_space(c, true);
    c.seq_to_ns = c.isn + 1;
    c.seq_max_sent = c.seq_to_ns;
    c.seq_acked = c.isn;
    c.seq_consumed = c.isn + 1;
    c.last_progress = now;
    set_event(c, kSynAckToNs);
    update_watch(c);
    (void)send_syn(c, true);  // if the sink is full, the ACK timer resends it
}

void TcpEngine::Impl::on_accepted(UniqueFd sock, const Endpoints& ep, TcpTime now) {
    if (free_.empty() || lookup(ep)) {
        ++stats_.over_limit;
        if (auto n = limit_warn_.allow(now)) {
            log_.warn("tcp: cannot take forwarded connection ({} time(s)): {}", *n,
                      free_.empty() ? "connection limit reached" : "endpoints in use");
        }
        const linger lg{1, 0};
        (void)setsockopt(sock.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        ++stats_.resets_to_host;
        return;  // `sock` closes here
    }
    Conn* c = alloc(ep, now);
    PASTAD_CHECK(c != nullptr);  // free_ was not empty above
    c->sock = std::move(sock);
    int zero = 0;
    if (cfg_.peek_offset &&
        setsockopt(c->sock.get(), SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) == 0) {
        c->flags |= kPeekOff;
    }
    refresh_send_space(*c, true);
    c->our_wscale = kOurWscale;  // offered; dropped if the SYN-ACK lacks it
    c->seq_to_ns = c->isn + 1;
    c->seq_max_sent = c->seq_to_ns;
    c->seq_acked = c->isn;
    c->seq_consumed = c->isn + 1;
    c->ns_mss = clamp_ns_mss(ep.ns_addr, std::nullopt);
    ++stats_.opened_by_host;
    log_conn(*c, "accepted from host, SYN to namespace");
    set_event(*c, kSynToNs);
    update_watch(*c);
    (void)send_syn(*c, false);  // if the sink is full, the ACK timer resends it
}

// SYN-SENT (RFC 9293 section 3.10.7.3), for port-forward connections.
void TcpEngine::Impl::syn_sent_segment(Conn& c, const TcpSegment& seg, TcpTime now) {
    // First: the ACK must acknowledge our SYN exactly.
    const bool ack_ok = seg.has(kAck) && seg.ack == c.isn + 1;
    if (seg.has(kAck) && !ack_ok) {
        reply_rst_no_conn(c.ep, seg);
        ++stats_.dropped_bad_seq;
        return;
    }
    // Second: RST with an acceptable ACK means "connection refused" inside.
    if (seg.has(kRst)) {
        if (ack_ok) {
            ++stats_.resets_from_ns;
            log_conn(c, "refused by namespace");
            release(c, true);
        }
        return;
    }
    // Fourth: SYN. Simultaneous open (SYN without ACK) is not supported.
    if (!seg.has(kSyn) || !ack_ok) {
        ++stats_.dropped_bad_seq;
        return;
    }
    c.ns_isn = seg.seq;
    c.seq_from_ns = seg.seq + 1;
    c.ns_mss = clamp_ns_mss(c.ep.ns_addr, seg.mss);
    if (seg.wscale) {
        c.flags |= kNsWscale;
        c.ns_wscale = std::min<std::uint8_t>(*seg.wscale, 14);
    } else {
        c.our_wscale = 0;
    }
    c.ns_wnd = seg.window;  // never scaled in a SYN
    c.wnd_seq = seg.seq;
    c.wnd_ack = seg.ack;
    c.seq_acked = seg.ack;
    c.last_progress = now;
    c.retries = 0;
    set_event(c, kEstablished);
    ++stats_.established;
    (void)send_ctl(c, kAck);
    c.flags |= kSockReadable;  // the client may have sent data already
    mark_dirty(c);
}

// ---------------------------------------------------------------------------
// Segments from the namespace

void TcpEngine::Impl::on_segment(const Endpoints& ep, const TcpSegment& seg, TcpTime now) {
    ++stats_.segments_from_ns;
    SPDLOG_LOGGER_TRACE(&log_, "tcp <- ns {}:{} flags {:#04x} seq {} ack {} wnd {} len {}",
                        ep.ns_addr.str(), ep.ns_port, seg.flags, seg.seq, seg.ack, seg.window,
                        seg.payload.size());
    const auto idx = lookup(ep);
    if (!idx) {
        // A SYN alone opens a connection; anything else gets a RST.
        if (seg.has(kSyn) && !seg.has(kAck) && !seg.has(kRst)) {
            open_from_ns(ep, seg, now);
        } else {
            ++stats_.dropped_no_conn;
            reply_rst_no_conn(ep, seg);
        }
        return;
    }
    Conn& c = conns_[*idx];
    c.last_activity = now;

    if (c.events & kSockConnecting) {
        // Host connect() still running: a retransmitted SYN waits for it,
        // a RST abandons the attempt, anything else is premature.
        if (seg.has(kRst) && seg.seq == c.seq_from_ns) {
            ++stats_.resets_from_ns;
            release(c, false);
        } else if (!(seg.has(kSyn) && seg.seq == c.ns_isn)) {
            ++stats_.dropped_bad_seq;
        }
        return;
    }
    if ((c.events & kSynToNs) && !(c.events & kEstablished)) {
        syn_sent_segment(c, seg, now);
        return;
    }
    established_segment(c, seg, now);
}

// SYN-RECEIVED and later states, in the order of RFC 9293 section 3.10.7.4.
void TcpEngine::Impl::established_segment(Conn& c, const TcpSegment& seg, TcpTime now) {
    const auto seg_len = static_cast<std::uint32_t>(seg.payload.size()) + (seg.has(kFin) ? 1 : 0);

    // Only more in-order payload with a plain ACK joins the gathered data;
    // anything else sees the connection as it is after it went out.
    const bool more_data = seg.has(kAck) && !seg.has(kSyn) && !seg.has(kFin) && !seg.has(kRst) &&
                           !seg.payload.empty() && seg.seq == c.seq_from_ns + c.pend_len;
    if (c.pend_len > 0 && !more_data) {
        commit_pending(c);
        if (!c.in_use) {
            return;
        }
    }
    const std::uint32_t rcv_nxt = c.seq_from_ns + c.pend_len;
    const std::uint32_t rcv_wnd = std::max<std::uint32_t>(c.wnd_to_ns, 1);

    // First: sequence number acceptability. Data beyond RCV.NXT is not kept;
    // it is answered below with a duplicate ACK. Segments wholly before
    // RCV.NXT are duplicates: ACK them (the namespace missed our ACK).
    const bool in_window = seq_ge(seg.seq, rcv_nxt) && seq_lt(seg.seq, rcv_nxt + rcv_wnd);
    const bool old_dup = seg_len > 0 && seq_le(seg.seq + seg_len, rcv_nxt);

    // Second: RST. Exact match resets; in-window gets a challenge ACK (RFC
    // 5961 section 3.2); others are dropped.
    if (seg.has(kRst)) {
        if (seg.seq == rcv_nxt) {
            ++stats_.resets_from_ns;
            log_conn(c, "RST from namespace");
            release(c, true);
        } else if (in_window) {
            (void)send_ctl(c, kAck);
        } else {
            ++stats_.dropped_bad_seq;
        }
        return;
    }

    // Third (security and precedence) does not apply. Fourth: SYN. A
    // retransmitted SYN before the handshake completed gets the SYN-ACK again;
    // any other SYN a challenge ACK (RFC 5961 section 4.2).
    if (seg.has(kSyn)) {
        if (!(c.events & kEstablished) && seg.seq == c.ns_isn) {
            (void)send_syn(c, true);
        } else {
            ++stats_.dropped_bad_seq;
            (void)send_ctl(c, kAck);
        }
        return;
    }

    // Fifth: ACK. Segments without it are dropped.
    if (!seg.has(kAck)) {
        ++stats_.dropped_bad_seq;
        return;
    }
    if (!process_ack(c, seg, now)) {
        return;
    }

    // Sixth (URG) is ignored. Seventh: data. Out of order: duplicate ACK at
    // once, nothing written; duplicate: ACK at once, nothing written again.
    if (seg_len > 0 && seq_gt(seg.seq, rcv_nxt)) {
        ++stats_.dropped_bad_seq;
        if (send_dup_ack(c, c.seq_to_ns)) {
            ++stats_.dup_acks_sent;
        }
        return;
    }
    if (old_dup) {
        ++stats_.dropped_bad_seq;
        (void)send_ctl(c, kAck);
        return;
    }
    if (!seg.payload.empty()) {
        process_data(c, seg, now);
        if (!c.in_use) {
            return;
        }
    }

    // Eighth: FIN.
    if (seg.has(kFin)) {
        process_fin(c, seg);
    }
    mark_dirty(c);
}

// RFC 9293 section 3.10.7.4, fifth step. Returns false when the segment must
// be dropped here.
bool TcpEngine::Impl::process_ack(Conn& c, const TcpSegment& seg, TcpTime now) {
    // Completing the handshake we answered with SYN-ACK.
    if (!(c.events & kEstablished)) {
        if (seg.ack != c.isn + 1) {
            ++stats_.dropped_bad_seq;
            reply_rst_no_conn(c.ep, seg);
            return false;
        }
        c.seq_acked = seg.ack;
        c.wnd_seq = seg.seq;
        c.wnd_ack = seg.ack;
        c.ns_wnd = static_cast<std::uint32_t>(seg.window) << c.ns_wscale;
        c.last_progress = now;
        c.retries = 0;
        set_event(c, kEstablished);
        ++stats_.established;
        c.flags |= kSockReadable;  // the host peer may have sent data already
        mark_dirty(c);
        return true;
    }

    // Acknowledging something never sent: answer with an ACK, drop.
    if (seq_gt(seg.ack, c.seq_max_sent)) {
        ++stats_.dropped_bad_seq;
        (void)send_ctl(c, kAck);
        return false;
    }
    const std::uint32_t wnd = static_cast<std::uint32_t>(seg.window) << c.ns_wscale;
    if (seq_gt(seg.ack, c.seq_acked)) {
        // New data acknowledged: consume it in flush(), restart the timer.
        c.seq_acked = seg.ack;
        if (seq_gt(seg.ack, c.seq_to_ns)) {
            c.seq_to_ns = seg.ack;  // acked beyond a rewind: skip ahead
        }
        c.dup_acks = 0;
        c.retries = 0;
        c.last_progress = now;
        if ((c.events & kFinToNs) && seg.ack == c.fin_seq + 1) {
            set_event(c, kFinAckedByNs);
        }
        mark_dirty(c);
    } else if (seg.ack == c.seq_acked && seg.payload.empty() && !seg.has(kFin) && wnd == c.ns_wnd &&
               c.seq_to_ns != c.seq_acked) {
        // Duplicate ACK (RFC 5681 section 2): the namespace misses data.
        if (++c.dup_acks == kDupAckThreshold) {
            rewind(c, now);
        }
    }

    // Window update, unless the segment is older than the last one that
    // updated it (SND.WL1/SND.WL2 rule).
    if (seq_gt(seg.seq, c.wnd_seq) || (seg.seq == c.wnd_seq && seq_ge(seg.ack, c.wnd_ack))) {
        if (wnd > c.ns_wnd) {
            mark_dirty(c);  // more may be sent now
        }
        c.ns_wnd = wnd;
        c.wnd_seq = seg.seq;
        c.wnd_ack = seg.ack;
    }
    return true;
}

// Seventh step: in-order payload (a prefix may be old and is skipped) is
// gathered for the socket; commit_pending() sends it.
void TcpEngine::Impl::process_data(Conn& c, const TcpSegment& seg, TcpTime now) {
    (void)now;
    if (c.events & kNsFinRcvd) {
        return;  // data after FIN: the socket is already shut down
    }
    const std::uint32_t skip = c.seq_from_ns + c.pend_len - seg.seq;  // in [0, len) here
    const auto data = seg.payload.subspan(std::min<std::size_t>(skip, seg.payload.size()));
    if (data.empty()) {
        return;
    }
    if (c.pend_len == 0) {
        pend_conns_.push_back(index_of(c));
    }
    const auto at = static_cast<std::uint32_t>(pend_.size());
    pend_.push_back(
        {{const_cast<std::byte*>(data.data()), data.size()}, kNoPend});  // sendmsg reads only
    if (c.pend_tail == kNoPend) {
        c.pend_head = at;
    } else {
        pend_[c.pend_tail].next = at;
    }
    c.pend_tail = at;
    c.pend_len += static_cast<std::uint32_t>(data.size());
    if (++c.pend_segs == kMaxPendSegs) {
        commit_pending(c);
    }
}

// Hands the gathered payload to the socket in one sendmsg(); RCV.NXT moves
// by what it took, and the rest is refused: the window shrinks to zero and
// the namespace sends it again once EPOLLOUT reopens the window.
void TcpEngine::Impl::commit_pending(Conn& c) {
    if (c.pend_len == 0) {
        return;
    }
    std::array<iovec, kMaxPendSegs> iov;
    std::size_t n_iov = 0;
    for (std::uint32_t i = c.pend_head; i != kNoPend; i = pend_[i].next) {
        iov[n_iov++] = pend_[i].iov;
    }
    const std::uint32_t want = c.pend_len;
    drop_pending(c);
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = n_iov;
    const ssize_t n = sendmsg(c.sock.get(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        log_conn(c, std::strerror(errno));
        reset_both(c, "send failed");
        return;
    }
    const auto taken = static_cast<std::uint32_t>(n < 0 ? 0 : n);
    c.seq_from_ns += taken;
    const std::uint32_t charge = skb_charge(taken);
    c.sock_free = c.sock_free > charge ? c.sock_free - charge : 0;
    stats_.bytes_from_ns += taken;
    c.flags |= kAckDue;
    mark_dirty(c);
    if (taken < want) {
        // The socket is full: shrink the window to what it has (zero) and
        // reopen it from EPOLLOUT; the refused rest is resent by the namespace.
        ++stats_.window_shrinks;
        c.sock_free = 0;
        c.flags |= kSndBlocked | kNsDataRefused;
        update_watch(c);
    }
}

// Forgets gathered payload without sending it (the connection is going).
void TcpEngine::Impl::drop_pending(Conn& c) {
    c.pend_len = 0;
    c.pend_segs = 0;
    c.pend_head = kNoPend;
    c.pend_tail = kNoPend;
}

// Eighth step: a FIN is accepted once every byte before it went into the
// socket; the socket then gets shutdown(SHUT_WR), the host peer a FIN.
void TcpEngine::Impl::process_fin(Conn& c, const TcpSegment& seg) {
    commit_pending(c);
    if (!c.in_use) {
        return;
    }
    const std::uint32_t fin_seq = seg.seq + static_cast<std::uint32_t>(seg.payload.size());
    if ((c.events & kNsFinRcvd) || fin_seq != c.seq_from_ns) {
        return;  // a duplicate, or data before it is still missing
    }
    c.seq_from_ns += 1;
    (void)shutdown(c.sock.get(), SHUT_WR);
    set_event(c, kNsFinRcvd);
    c.flags |= kAckDue;
}

void TcpEngine::Impl::reset_both(Conn& c, const char* why) {
    log_conn(c, why);
    OutSeg s;
    s.seq = c.seq_to_ns;
    s.ack = c.seq_from_ns;
    s.flags = kRst | kAck;
    (void)emit(c.ep, s);
    release(c, true);
}

void TcpEngine::Impl::maybe_release(Conn& c) {
    // Only once the ACK of the namespace's FIN went out.
    if ((c.events & kNsFinRcvd) && (c.events & kFinAckedByNs) && !(c.flags & kAckDue)) {
        release(c, false);
    }
}

// ---------------------------------------------------------------------------
// Data from the host socket

// Consumes from the socket the bytes the namespace acknowledged. Returns
// false when the connection was reset.
bool TcpEngine::Impl::consume_acked(Conn& c) {
    std::uint32_t end = c.seq_acked;
    if ((c.events & kFinToNs) && seq_gt(end, c.fin_seq)) {
        end = c.fin_seq;  // the FIN occupies no socket byte
    }
    if (!seq_gt(end, c.seq_consumed)) {
        return true;
    }
    const std::uint32_t n = end - c.seq_consumed;
    // MSG_TRUNC on TCP discards without copying (tcp(7)); no buffer needed.
    const ssize_t got = recv(c.sock.get(), nullptr, n, MSG_TRUNC | MSG_DONTWAIT);
    if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return true;
        }
        reset_both(c, "recv failed");
        return false;
    }
    c.seq_consumed += static_cast<std::uint32_t>(got);
    return true;
}

// Peeks socket data straight into sink slots and frames it, within the
// namespace's window, in rounds of up to kMaxFramesPerPeek segments.
void TcpEngine::Impl::send_from_socket(Conn& c, TcpTime now) {
    std::array<iovec, kMaxDiscardIov + kMaxFramesPerPeek> iov;
    std::array<std::size_t, kMaxFramesPerPeek> lens;
    OutSeg s;
    s.flags = kAck;
    const std::size_t hdr = payload_offset(c.ep, s);
    const std::size_t seg_max = std::min<std::size_t>(c.ns_mss, sink_.slot_size() - hdr);

    for (unsigned round = 0; round < kMaxPeekRounds; ++round) {
        if (!(c.flags & kSockReadable) || !(c.events & kEstablished) || (c.events & kFinToNs)) {
            return;
        }
        const std::uint32_t wnd_end = c.seq_acked + c.ns_wnd;
        if (!seq_gt(wnd_end, c.seq_to_ns)) {
            return;  // window full or closed; the zero-window timer probes
        }
        std::size_t want = wnd_end - c.seq_to_ns;
        const std::size_t in_flight = c.seq_to_ns - c.seq_consumed;
        std::size_t niov = 0;
        std::size_t discard_len = 0;
        if (!(c.flags & kPeekOff)) {
            // Without SO_PEEK_OFF the peek starts at the oldest unconsumed
            // byte: lay the discard buffer over the bytes already in flight.
            const std::size_t cap = kMaxDiscardIov * kDiscardChunk;
            if (in_flight >= cap) {
                return;
            }
            want = std::min(want, cap - in_flight);
            for (std::size_t left = in_flight; left > 0; ++niov) {
                const std::size_t chunk = std::min(left, kDiscardChunk);
                iov[niov] = {discard_.data(), chunk};
                left -= chunk;
            }
            discard_len = in_flight;
        }
        const std::size_t slots = std::min(sink_.free_slots(), kMaxFramesPerPeek);
        if (slots == 0) {
            mark_dirty(c);  // resumed by on_sink_space()
            return;
        }
        const std::size_t frames = std::min(slots, (want + seg_max - 1) / seg_max);
        std::size_t asked = 0;
        for (std::size_t i = 0; i < frames; ++i) {
            const std::size_t l = std::min(seg_max, want - asked);
            iov[niov++] = {sink_.slot(i).data() + hdr, l};
            asked += l;
        }
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = niov;
        const ssize_t got = recvmsg(c.sock.get(), &msg, MSG_PEEK | MSG_DONTWAIT);
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c.flags &= static_cast<std::uint16_t>(~kSockReadable);
                return;
            }
            reset_both(c, std::strerror(errno));
            return;
        }
        const std::size_t fresh = static_cast<std::size_t>(got) > discard_len
                                      ? static_cast<std::size_t>(got) - discard_len
                                      : 0;
        if (fresh < asked) {
            c.flags &= static_cast<std::uint16_t>(~kSockReadable);  // drained
            // With the peer's FIN already in, nothing follows what was just
            // peeked; with edge-triggered readiness no further event says so.
            if (c.flags & kSockRdhup) {
                set_event(c, kSockEof);
            }
        }
        if (fresh == 0) {
            // Nothing new: end of stream if the peer's FIN is in.
            if (got == 0 || (c.flags & kSockRdhup)) {
                set_event(c, kSockEof);
            }
            return;
        }

        // Headers in front of each payload; PSH on the last of the batch.
        std::size_t done = 0;
        std::size_t n = 0;
        const std::uint16_t window = window_to_ns(c);
        for (; done < fresh; ++n) {
            const std::size_t l = std::min(seg_max, fresh - done);
            s.seq = c.seq_to_ns + static_cast<std::uint32_t>(done);
            s.ack = c.seq_from_ns;
            s.flags = kAck | (done + l == fresh ? kPsh : 0);
            s.window = window;
            lens[n] = write_frame_headers(sink_.slot(n), cfg_.our_mac, ns_mac(), c.ep, s, l);
            PASTAD_CHECK(lens[n] != 0);  // slot size was checked through seg_max
            done += l;
        }
        sink_.commit(n, lens.data());
        stats_.frames_to_ns += n;
        stats_.bytes_to_ns += fresh;
        if (c.seq_to_ns == c.seq_acked) {
            c.last_progress = now;  // the ACK timer runs from the first byte out
        }
        c.seq_to_ns += static_cast<std::uint32_t>(fresh);
        if (seq_gt(c.seq_to_ns, c.seq_max_sent)) {
            c.seq_max_sent = c.seq_to_ns;
        }
        c.flags &= static_cast<std::uint16_t>(~kAckDue);  // piggybacked
    }
    mark_dirty(c);  // more rounds may follow at the next flush
}

// FIN to the namespace once the host peer closed and every byte before its
// FIN was acknowledged by the namespace.
void TcpEngine::Impl::maybe_send_fin(Conn& c, TcpTime now) {
    if (!(c.events & kSockEof) || (c.events & kFinToNs) || !(c.events & kEstablished) ||
        c.seq_acked != c.seq_to_ns) {
        return;
    }
    c.fin_seq = c.seq_to_ns;
    if (!send_ctl(c, kFin | kAck)) {
        return;  // retried from flush
    }
    c.seq_to_ns += 1;
    c.seq_max_sent = c.seq_to_ns;
    c.last_progress = now;
    set_event(c, kFinToNs);
}

// Go back to the oldest unacknowledged byte and send again from there: on
// three duplicate ACKs and on ACK timeout.
void TcpEngine::Impl::rewind(Conn& c, TcpTime now) {
    ++stats_.retransmits;
    c.dup_acks = 0;
    c.last_progress = now;
    if (!(c.events & kEstablished)) {
        // Handshake: resend our SYN or SYN-ACK.
        (void)send_syn(c, (c.events & kSynAckToNs) != 0);
        return;
    }
    if (!consume_acked(c)) {
        return;
    }
    if ((c.events & kFinToNs) && c.seq_acked == c.fin_seq) {
        // Only the FIN is outstanding: send it again.
        OutSeg s;
        s.seq = c.fin_seq;
        s.ack = c.seq_from_ns;
        s.flags = kFin | kAck;
        s.window = window_to_ns(c);
        (void)emit(c.ep, s);
        return;
    }
    if (c.flags & kPeekOff) {
        int zero = 0;
        if (setsockopt(c.sock.get(), SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0) {
            reset_both(c, "SO_PEEK_OFF reset failed");
            return;
        }
    }
    c.seq_to_ns = c.seq_acked;
    c.flags |= kSockReadable;
    send_from_socket(c, now);
}

// Work owed by a connection: consume acked data, send more, FIN, ACK.
void TcpEngine::Impl::service(Conn& c, TcpTime now) {
    if (!(c.events & kEstablished)) {
        if (c.flags & kAckDue) {
            (void)send_ctl(c, kAck);
        }
        return;
    }
    if (!consume_acked(c)) {
        return;
    }
    send_from_socket(c, now);
    if (!c.in_use) {
        return;
    }
    maybe_send_fin(c, now);
    if (c.flags & kAckDue) {
        (void)send_ctl(c, kAck);
    }
    maybe_release(c);
}

void TcpEngine::Impl::flush(TcpTime now) {
    for (const std::uint32_t idx : pend_conns_) {
        Conn& c = conns_[idx];
        if (c.in_use) {
            commit_pending(c);  // nothing left for a slot released since
        }
    }
    pend_conns_.clear();
    pend_.clear();
    servicing_.swap(dirty_);
    for (const std::uint32_t idx : servicing_) {
        Conn& c = conns_[idx];
        if (!c.in_use || !(c.flags & kOnDirty)) {
            continue;  // released since it was queued
        }
        c.flags &= static_cast<std::uint16_t>(~kOnDirty);
        service(c, now);
    }
    servicing_.clear();
}

// ---------------------------------------------------------------------------
// Socket events and timers

void TcpEngine::Impl::on_socket_event(std::uint64_t token, std::uint32_t ev, TcpTime now) {
    const auto idx = static_cast<std::uint32_t>((token >> 32) & 0xffffff);
    const auto gen = static_cast<std::uint32_t>(token);
    if (token_kind(token) != kTcpTokenKind || idx >= conns_.size()) {
        return;
    }
    Conn& c = conns_[idx];
    if (!c.in_use || c.gen != gen) {
        return;  // a connection released after the event was queued
    }
    c.last_activity = now;
    if (c.events & kSockConnecting) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            finish_connect(c, now);
        }
        return;
    }
    if (ev & EPOLLERR) {
        const int err = sock_error(c.sock.get());
        reset_both(c, err ? std::strerror(err) : "socket error");
        return;
    }
    if (ev & (EPOLLIN | EPOLLHUP)) {
        c.flags |= kSockReadable;
    }
    if (ev & (EPOLLRDHUP | EPOLLHUP)) {
        c.flags |= kSockRdhup | kSockReadable;
    }
    if ((ev & EPOLLOUT) && (c.flags & kSndBlocked) && (c.events & kEstablished)) {
        window_update(c, true);
    }
    service(c, now);
}

void TcpEngine::Impl::timer_conn(Conn& c, TcpTime now) {
    // Handshake: connect() or our SYN / SYN-ACK unanswered for too long.
    if (!(c.events & kEstablished)) {
        if (now - c.created >= kHandshakeTimeout) {
            ++stats_.timeouts;
            log_conn(c, "handshake timeout");
            if (!(c.events & kSynToNs)) {
                OutSeg s;
                s.seq = c.isn + 1;
                s.ack = c.seq_from_ns;
                s.flags = kRst | kAck;
                (void)emit(c.ep, s);
            }
            // A host peer that is connected already sees a reset.
            release(c, !(c.events & kSockConnecting));
            return;
        }
        if (!(c.events & kSockConnecting) && now - c.last_progress >= kAckTimeout) {
            rewind(c, now);
        }
        return;
    }

    // Inactivity.
    if (now - c.last_activity >= kInactivityTimeout) {
        ++stats_.timeouts;
        reset_both(c, "inactivity timeout");
        return;
    }

    // ACK timeout: data or FIN outstanding, no progress. Back off per retry.
    if (c.seq_to_ns != c.seq_acked || seq_gt(c.seq_max_sent, c.seq_acked)) {
        if (now - c.last_progress >= kAckTimeout * (1u << c.retries)) {
            if (++c.retries > kMaxRetries) {
                ++stats_.timeouts;
                reset_both(c, "retransmissions exhausted");
                return;
            }
            log_conn(c, "ACK timeout, retransmitting");
            rewind(c, now);
            if (!c.in_use) {
                return;
            }
        }
    } else if (c.ns_wnd == 0 && (c.flags & kSockReadable) &&
               now - c.last_probe >= kZeroWindowProbe) {
        // Zero window with data waiting: an ACK one below SND.NXT makes the
        // namespace answer with its current window (RFC 9293 section 3.8.6.1).
        c.last_probe = now;
        (void)send_dup_ack(c, c.seq_to_ns - 1);
    }

    // Send space may have grown without an EPOLLOUT edge (buffer autotuning).
    if (c.flags & kSndBlocked) {
        window_update(c, false);
    }
}

void TcpEngine::Impl::on_timer(TcpTime now) {
    // Walk backwards: release() moves the last active entry into the hole.
    for (std::size_t i = active_.size(); i > 0; --i) {
        if (i - 1 < active_.size()) {
            timer_conn(conns_[active_[i - 1]], now);
        }
    }
    flush(now);
}

// ---------------------------------------------------------------------------

TcpEngine::TcpEngine(const TcpConfig& cfg, FrameSink& sink, Poller& poller)
    : impl_(std::make_unique<Impl>(cfg, sink, poller)) {}

TcpEngine::~TcpEngine() = default;

void TcpEngine::on_segment(const Endpoints& ep, const TcpSegment& seg, TcpTime now) {
    impl_->on_segment(ep, seg, now);
}
void TcpEngine::flush(TcpTime now) {
    impl_->flush(now);
}
void TcpEngine::on_socket_event(std::uint64_t token, std::uint32_t epoll_events, TcpTime now) {
    impl_->on_socket_event(token, epoll_events, now);
}
void TcpEngine::on_timer(TcpTime now) {
    impl_->on_timer(now);
}
void TcpEngine::on_sink_space(TcpTime now) {
    impl_->flush(now);
}
void TcpEngine::on_accepted(UniqueFd sock, const Endpoints& ep, TcpTime now) {
    impl_->on_accepted(std::move(sock), ep, now);
}
const TcpEngine::Stats& TcpEngine::stats() const {
    return impl_->stats_;
}
std::size_t TcpEngine::active() const {
    return impl_->active_count();
}

}  // namespace pastad::tap

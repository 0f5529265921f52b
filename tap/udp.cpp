// SPDX-License-Identifier: GPL-2.0-or-later
// tap/udp.cpp - UDP translation between namespace datagrams and host sockets
//
// Theory of operation
// ===================
//
// What. Every UDP source the namespace uses (its address and port) becomes
// one flow with one host socket. The socket is unconnected: the namespace
// may send from one port to many peers, and a reply may come from another
// address or port than the one contacted (DNS servers behind anycast, TFTP,
// STUN); each datagram received is framed towards the namespace as coming
// from the address it really came from, mapped back where the namespace
// addressed a stand-in (the gateway for the host's loopback, the
// --map-guest-addr or DNS forwarding address).
//
// What not. No port forwarding sockets here (the forwarding module owns
// and reads them; it hands over datagrams from clients that cannot take the
// splice path, see "Forwarded ports" below). DHCP and DHCPv6 never reach
// this engine (the data plane answers them).
//
// Data structures. A fixed table of Flow (max_flows, never reallocated)
// with a free list, an active list for the expiry walk and a hash map from
// the namespace's (address, port) to the index. Each flow remembers up to
// kAliases (real address, port) -> (shown address) pairs, one per mapped
// destination it used, for the way back. Poller tokens are (kind, index,
// generation), so a stale token of a reused slot is ignored.
//
// Namespace -> host. Each datagram is copied into a send batch (up to
// kBatch datagrams and kStageBytes bytes) and leaves at flush(), with one
// sendmmsg() per run of datagrams of one flow. A datagram the socket
// refuses (buffer full, no route) is dropped and counted: UDP may lose.
//
// Host -> namespace. recvmmsg() reads straight into the frame sink's slots
// behind the room for the headers, as many datagrams as free slots (at most
// kBatch per round, kRounds rounds per event for fairness); the headers and
// checksum are written in place. A truncated datagram is dropped.
//
// Errors. IP_RECVERR / IPV6_RECVERR queue ICMP errors on the socket; a port
// unreachable (ECONNREFUSED) for a datagram the namespace sent comes back
// to it as ICMP destination unreachable / port unreachable (ICMPv6 type 1
// code 4), quoting the namespace's own headers, so a connect()ed socket in
// the namespace sees ECONNREFUSED as it would on the host.
//
// Forwarded ports. on_forwarded() frames a datagram that a -u port's socket
// received towards the namespace's server, and opens (or reuses) the flow of
// that server's address and port with a duplicate of the forward's socket:
// the server's replies then leave from the forwarded port, as its client
// expects. Such a flow's socket is never watched (the forwarding module
// reads it); an alias records the stand-in shown for the client, so a
// reply to the stand-in reaches the real client.
// Limitation: the flow's duplicate keeps the forward's port bound until the
// flow expires, also after an `auto` rescan has stopped forwarding it.
//
// Timers. A flow idle (no datagram either way) for idle_timeout, 180 s by
// default as in pasta, is closed. When the table is full the least recently
// used flow makes room.
//
// Binding. The socket binds to the namespace's source port where the host
// allows it (so peers that answer to the source port, and logs, agree),
// else to an ephemeral port; to --outbound's address when given. With
// --outbound-if4/6 it is bound to that interface too, unless the flow's
// first destination is on the host's loopback.
// Limitation: a flow bound to an interface cannot later reach the host's
// loopback (a gateway-mapped destination): such datagrams are dropped by
// the kernel, and a flow that began on loopback stays unbound.
//
// Datagrams longer than the tap MTU. From the namespace they arrive as
// fragments, which the data plane reassembles (tap/reassembly) before
// on_datagram(). To the namespace, receive() reads a datagram longer than
// a frame slot's room (65494 bytes over IPv4, 65474 over IPv6) with its
// tail into a spill buffer and write_fragments() frames it in fragments at
// the tap MTU, in order with the datagrams around it. Limitation: the
// fragments need spare frame slots (one at MTU 65520; receive() keeps one);
// without them the datagram is dropped (dropped_too_big). on_forwarded()
// does not fragment at all.
//
// Limitations. Only port unreachable errors are relayed; other ICMP errors
// (host unreachable, fragmentation needed) only end up in the counters.
//
// References. RFC 768 (UDP), RFC 792 and RFC 4443 section 3.1 (port
// unreachable), RFC 1122 section 4.1.3.3 (errors reach the application);
// Linux ip(7) IP_RECVERR, udp(7).
#include "tap/udp.hpp"

#include <fcntl.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/base/check.hpp"
#include "daemon/base/log.hpp"
#include "tap/checksum.hpp"
#include "tap/frame.hpp"
#include "tap/ip_header.hpp"
#include "tap/outbound.hpp"

namespace pastad::tap {

namespace {

constexpr std::size_t kBatch = 64;
constexpr std::size_t kStageBytes = 1 << 20;  // room for 16 datagrams of 64 KiB
constexpr unsigned kRounds = 4;
constexpr std::size_t kAliases = 4;
constexpr std::size_t kMaxUdpPayload = 65535 - kUdpHeaderLen;
// Bytes a datagram of kMaxUdpPayload may exceed a frame slot's room by:
// 65527 - (65536 - 62) for IPv6, 13 for IPv4; rounded up.
constexpr std::size_t kSpill = 64;
constexpr std::uint8_t kIpv6FragmentHeader = 44;
constexpr std::uint8_t kIcmpUnreach = 3;
constexpr std::uint8_t kIcmpPortUnreach = 3;
constexpr std::uint8_t kIcmp6Unreach = 1;
constexpr std::uint8_t kIcmp6PortUnreach = 4;
constexpr Mac kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

void put16(std::span<std::byte> s, std::size_t off, std::uint16_t v) {
    s[off] = static_cast<std::byte>(v >> 8);
    s[off + 1] = static_cast<std::byte>(v & 0xff);
}

struct Key {
    InAny addr;
    std::uint16_t port = 0;
    bool operator==(const Key&) const = default;
};

struct KeyHash {
    std::size_t operator()(const Key& k) const { return hash_addr16(k.addr, k.port); }
};

// The address the namespace addressed in place of a real one.
struct Alias {
    InAny real;
    std::uint16_t port = 0;
    bool any_port = false;  // true: the stand-in covers every port of `real`
    InAny shown;
};

struct Flow {
    UniqueFd sock;
    Key key;
    std::uint32_t gen = 0;
    std::uint32_t active_pos = 0;  // index in active_
    UdpTime last{};
    std::array<Alias, kAliases> aliases{};
    std::uint8_t n_aliases = 0;
    std::uint8_t next_alias = 0;  // replaced next when all are used
    bool watched = false;         // false: a forward's socket, read by its owner
};

}  // namespace

class UdpEngine::Impl {
public:
    Impl(const UdpConfig& cfg, FrameSink& sink, Poller& poller);
    ~Impl();

    void on_datagram(const Endpoints& ep, std::span<const std::byte> payload, UdpTime now);
    void on_forwarded(const Endpoints& ep, const InAny& real_peer, int reply_fd,
                      std::span<const std::byte> payload, UdpTime now);
    void flush();
    void on_socket_event(std::uint64_t token, std::uint32_t events, UdpTime now);
    void on_timer(UdpTime now);
    std::size_t fragment_chunk(bool v4) const;
    std::size_t fragments_needed(bool v4, std::size_t len) const;
    std::size_t write_fragments(const Endpoints& ep, std::size_t len, std::size_t first);

    Stats stats_;
    std::vector<std::uint32_t> active_;

private:
    Flow* lookup_or_open(const Key& key, UdpTime now, int reply_fd = -1,
                         const InAny* first_dst = nullptr);
    Flow* flow_of(std::uint64_t token);
    void close(std::uint32_t idx, const char* why);
    void remember_alias(Flow& f, const InAny& real, std::uint16_t port, const InAny& shown);
    bool shown_source(const Flow& f, const InAny& real, std::uint16_t port, InAny& shown) const;
    const InAny* forwarded_client(const Flow& f, const InAny& shown, std::uint16_t port) const;
    void receive(Flow& f, std::uint32_t idx, UdpTime now);
    void drain_errors(Flow& f);
    void relay_unreachable(const Flow& f, const InAny& peer, std::uint16_t peer_port,
                           std::size_t payload_len);
    std::uint64_t token_of(std::uint32_t idx) const {
        return make_token(kUdpTokenKind, idx, flows_[idx].gen);
    }
    const Mac& ns_mac() const { return cfg_.ns_mac ? *cfg_.ns_mac : kBroadcast; }

    UdpConfig cfg_;
    FrameSink& sink_;
    Poller& poller_;
    spdlog::logger& log_;
    std::vector<Flow> flows_;
    std::vector<std::uint32_t> free_;
    std::unordered_map<Key, std::uint32_t, KeyHash> map_;

    // The send batch: datagrams from the namespace waiting for flush().
    std::vector<std::byte> stage_;
    std::size_t stage_used_ = 0;
    std::array<mmsghdr, kBatch> out_msgs_{};
    std::array<iovec, kBatch> out_iov_{};
    std::array<sockaddr_storage, kBatch> out_addr_{};
    std::array<std::uint32_t, kBatch> out_flow_{};
    std::size_t out_count_ = 0;

    // Receive scratch.
    std::array<mmsghdr, kBatch> in_msgs_{};
    std::array<std::array<iovec, 2>, kBatch> in_iov_{};
    // The tail of a datagram too long for a frame slot lands here; such a
    // datagram is then sent to the namespace in IPv4/IPv6 fragments.
    std::array<std::array<std::byte, kSpill>, kBatch> in_spill_{};
    std::vector<std::byte> big_;  // UDP header + payload of that datagram
    std::uint32_t frag_id_ = 0;
    std::array<sockaddr_storage, kBatch> in_addr_{};
    std::array<std::size_t, 2 * kBatch> in_lens_{};  // fragments take more than one

    log::RateLimit sock_warn_{std::chrono::seconds(10)};
};

UdpEngine::Impl::Impl(const UdpConfig& cfg, FrameSink& sink, Poller& poller)
    : cfg_(cfg),
      sink_(sink),
      poller_(poller),
      log_(log::tap()),
      flows_(cfg.max_flows),
      map_(cfg.max_flows),
      stage_(kStageBytes),
      big_(65536 + kSpill) {
    free_.reserve(cfg.max_flows);
    active_.reserve(cfg.max_flows);
    for (std::size_t i = cfg.max_flows; i > 0; --i) {
        free_.push_back(static_cast<std::uint32_t>(i - 1));
    }
}

UdpEngine::Impl::~Impl() {
    while (!active_.empty()) {
        close(active_.back(), "engine stopped");
    }
}

// ---------------------------------------------------------------------------
// Flow table

Flow* UdpEngine::Impl::lookup_or_open(const Key& key, UdpTime now, int reply_fd,
                                      const InAny* first_dst) {
    if (const auto it = map_.find(key); it != map_.end()) {
        return &flows_[it->second];
    }
    if (free_.empty()) {
        // Full: the least recently used flow makes room.
        const auto lru = std::min_element(active_.begin(), active_.end(), [&](auto a, auto b) {
            return flows_[a].last < flows_[b].last;
        });
        PASTAD_CHECK(lru != active_.end());  // max_flows > 0 and none free
        close(*lru, "table full, least recently used");
    }

    const bool v4 = key.addr.is_v4();
    UniqueFd fd(reply_fd >= 0 ? fcntl(reply_fd, F_DUPFD_CLOEXEC, 0)
                              : socket(v4 ? AF_INET : AF_INET6,
                                       SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        ++stats_.dropped_no_socket;
        if (auto n = sock_warn_.allow(now)) {
            log_.warn("udp: socket() failed: {} ({} time(s))", std::strerror(errno), *n);
        }
        return nullptr;
    }
    const int one = 1;
    if (reply_fd >= 0) {
        // Bound by the forwarding module; its owner reads it.
    } else if (v4) {
        (void)setsockopt(fd.get(), SOL_IP, IP_RECVERR, &one, sizeof(one));
    } else {
        (void)setsockopt(fd.get(), SOL_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        (void)setsockopt(fd.get(), SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
    }
    if (reply_fd < 0 && first_dst != nullptr &&
        !bind_outbound_if(fd.get(), *first_dst, v4 ? cfg_.outbound_if4 : cfg_.outbound_if6)) {
        ++stats_.dropped_no_socket;
        return nullptr;
    }
    if (reply_fd < 0) {
        InAny local = v4 ? InAny::from(cfg_.outbound4.value_or(Ip4{}))
                         : InAny::from(cfg_.outbound6.value_or(Ip6{}));
        sockaddr_storage ss;
        socklen_t len = to_sockaddr(local, key.port, ss);
        if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0) {
            len = to_sockaddr(local, 0, ss);  // the port is taken or privileged
            (void)bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len);
        }
    }

    const std::uint32_t idx = free_.back();
    free_.pop_back();
    Flow& f = flows_[idx];
    f.sock = std::move(fd);
    f.key = key;
    ++f.gen;
    f.last = now;
    f.n_aliases = 0;
    f.next_alias = 0;
    f.active_pos = static_cast<std::uint32_t>(active_.size());
    active_.push_back(idx);
    map_.emplace(key, idx);
    f.watched = reply_fd < 0;
    if (f.watched) {
        poller_.watch(f.sock.get(), EPOLLIN, token_of(idx));
    }
    ++stats_.flows_opened;
    log_.debug("[U{} udp] opened for {}:{}", idx, key.addr.str(), key.port);
    return &f;
}

Flow* UdpEngine::Impl::flow_of(std::uint64_t token) {
    const auto idx = static_cast<std::uint32_t>((token >> 32) & 0xffffff);
    if (idx >= flows_.size()) {
        return nullptr;
    }
    Flow& f = flows_[idx];
    if (!f.sock || f.gen != static_cast<std::uint32_t>(token)) {
        return nullptr;
    }
    return &f;
}

void UdpEngine::Impl::close(std::uint32_t idx, const char* why) {
    Flow& f = flows_[idx];
    log_.debug("[U{} udp] closed for {}:{}: {}", idx, f.key.addr.str(), f.key.port, why);
    // Queued datagrams of this flow lose their socket: drop them from the batch.
    for (std::size_t i = 0; i < out_count_; ++i) {
        if (out_flow_[i] == idx) {
            out_flow_[i] = UINT32_MAX;
        }
    }
    if (f.watched) {
        poller_.unwatch(f.sock.get());
    }
    f.sock.reset();
    map_.erase(f.key);
    const std::uint32_t pos = f.active_pos;
    active_[pos] = active_.back();
    flows_[active_[pos]].active_pos = pos;
    active_.pop_back();
    free_.push_back(idx);
    ++stats_.flows_closed;
}

void UdpEngine::Impl::remember_alias(Flow& f, const InAny& real, std::uint16_t port,
                                     const InAny& shown) {
    const bool any_port = map_to_host(cfg_, shown, 0) == real;
    for (std::size_t i = 0; i < f.n_aliases; ++i) {
        Alias& a = f.aliases[i];
        if (a.real == real && a.shown == shown && (a.any_port || a.port == port)) {
            return;
        }
    }
    const std::size_t slot = f.n_aliases < kAliases ? f.n_aliases++ : f.next_alias;
    f.next_alias = static_cast<std::uint8_t>((slot + 1) % kAliases);
    f.aliases[slot] = Alias{real, port, any_port, shown};
}

// The source address the namespace should see for a datagram from
// `real`:`port`. False when the datagram must be dropped: a loopback source
// the namespace never addressed through a stand-in cannot be shown to it.
bool UdpEngine::Impl::shown_source(const Flow& f, const InAny& real, std::uint16_t port,
                                   InAny& shown) const {
    for (std::size_t i = 0; i < f.n_aliases; ++i) {
        const Alias& a = f.aliases[i];
        if (a.real == real && a.port == port && !a.any_port) {
            shown = a.shown;
            return true;
        }
    }
    for (std::size_t i = 0; i < f.n_aliases; ++i) {
        const Alias& a = f.aliases[i];
        if (a.real == real && a.any_port) {
            shown = a.shown;
            return true;
        }
    }
    const bool loopback = real.is_v4() ? real.v4().is_loopback() : real.a.is_loopback();
    shown = real;
    return !loopback;
}

// ---------------------------------------------------------------------------
// Namespace -> host

void UdpEngine::Impl::on_datagram(const Endpoints& ep, std::span<const std::byte> payload,
                                  UdpTime now) {
    if (out_count_ == kBatch || stage_.size() - stage_used_ < payload.size()) {
        flush();
    }
    InAny dst = map_to_host(cfg_, ep.peer_addr, ep.peer_port);
    Flow* f = lookup_or_open(Key{ep.ns_addr, ep.ns_port}, now, -1, &dst);
    if (f == nullptr) {
        return;
    }
    f->last = now;
    if (const InAny* real = forwarded_client(*f, ep.peer_addr, ep.peer_port)) {
        dst = *real;
    } else if (dst != ep.peer_addr) {
        remember_alias(*f, dst, ep.peer_port, ep.peer_addr);
    }

    const std::size_t i = out_count_++;
    std::byte* at = stage_.data() + stage_used_;
    if (!payload.empty()) {
        std::memcpy(at, payload.data(), payload.size());
    }
    stage_used_ += payload.size();
    out_iov_[i] = iovec{at, payload.size()};
    const socklen_t alen = to_sockaddr(dst, ep.peer_port, out_addr_[i]);
    out_msgs_[i] = mmsghdr{};
    out_msgs_[i].msg_hdr.msg_name = &out_addr_[i];
    out_msgs_[i].msg_hdr.msg_namelen = alen;
    out_msgs_[i].msg_hdr.msg_iov = &out_iov_[i];
    out_msgs_[i].msg_hdr.msg_iovlen = 1;
    out_flow_[i] = static_cast<std::uint32_t>(f - flows_.data());
    ++stats_.datagrams_from_ns;
    stats_.bytes_from_ns += payload.size();
}

// A forwarded port's client the namespace sees under a stand-in.
const InAny* UdpEngine::Impl::forwarded_client(const Flow& f, const InAny& shown,
                                               std::uint16_t port) const {
    if (f.watched) {
        return nullptr;
    }
    for (std::size_t i = 0; i < f.n_aliases; ++i) {
        const Alias& a = f.aliases[i];
        if (a.shown == shown && a.port == port && !a.any_port) {
            return &a.real;
        }
    }
    return nullptr;
}

void UdpEngine::Impl::on_forwarded(const Endpoints& ep, const InAny& real_peer, int reply_fd,
                                   std::span<const std::byte> payload, UdpTime now) {
    if (sink_.free_slots() == 0) {
        ++stats_.send_errors;  // the tap is full: UDP may lose
        return;
    }
    Flow* f = lookup_or_open(Key{ep.ns_addr, ep.ns_port}, now, reply_fd);
    if (f == nullptr) {
        return;
    }
    f->last = now;
    // Also when shown as itself: a client that is the gateway must not have
    // its replies taken for the host's loopback.
    remember_alias(*f, real_peer, ep.peer_port, ep.peer_addr);
    const std::size_t hlen = udp_header_len(ep.ns_addr.is_v4());
    const auto slot = sink_.slot(0);
    if (payload.size() > std::min(slot.size() - hlen, kMaxUdpPayload)) {
        ++stats_.dropped_too_big;
        return;
    }
    if (!payload.empty()) {
        std::memcpy(slot.data() + hlen, payload.data(), payload.size());
    }
    const std::size_t len = write_udp_headers(slot, cfg_.our_mac, ns_mac(), ep, payload.size());
    if (len == 0) {
        ++stats_.dropped_too_big;
        return;
    }
    sink_.commit(1, &len);
    ++stats_.datagrams_to_ns;
    ++stats_.forwarded_to_ns;
    stats_.bytes_to_ns += payload.size();
}

void UdpEngine::Impl::flush() {
    std::size_t i = 0;
    while (i < out_count_) {
        const std::uint32_t idx = out_flow_[i];
        std::size_t run = 1;
        while (i + run < out_count_ && out_flow_[i + run] == idx) {
            ++run;
        }
        if (idx == UINT32_MAX) {
            i += run;  // its flow was closed meanwhile
            continue;
        }
        const int fd = flows_[idx].sock.get();
        std::size_t done = 0;
        while (done < run) {
            const int n =
                sendmmsg(fd, &out_msgs_[i + done], static_cast<unsigned>(run - done), MSG_DONTWAIT);
            if (n > 0) {
                done += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) {
                continue;
            }
            // This datagram was refused (buffer full, unreachable): UDP may
            // lose it; go on with the next one.
            ++stats_.send_errors;
            ++done;
        }
        i += run;
    }
    out_count_ = 0;
    stage_used_ = 0;
}

// ---------------------------------------------------------------------------
// Host -> namespace

void UdpEngine::Impl::on_socket_event(std::uint64_t token, std::uint32_t events, UdpTime now) {
    Flow* f = flow_of(token);
    if (f == nullptr) {
        return;
    }
    const auto idx = static_cast<std::uint32_t>(f - flows_.data());
    if (events & EPOLLERR) {
        drain_errors(*f);
    }
    if (events & EPOLLIN) {
        receive(*f, idx, now);
    }
}

void UdpEngine::Impl::receive(Flow& f, std::uint32_t idx, UdpTime now) {
    const bool v4 = f.key.addr.is_v4();
    const std::size_t hlen = udp_header_len(v4);
    for (unsigned round = 0; round < kRounds; ++round) {
        // One slot stays spare when possible: a datagram too long for one
        // frame takes two (or more at a small MTU).
        const std::size_t free = sink_.free_slots();
        const std::size_t want = std::min(free > 1 ? free - 1 : free, kBatch);
        if (want == 0) {
            return;  // level-triggered: the socket is reported again later
        }
        for (std::size_t i = 0; i < want; ++i) {
            const auto slot = sink_.slot(i);
            const std::size_t room = std::min(slot.size() - hlen, kMaxUdpPayload);
            in_iov_[i][0] = iovec{slot.data() + hlen, room};
            in_iov_[i][1] = iovec{in_spill_[i].data(), kSpill};
            in_msgs_[i] = mmsghdr{};
            in_msgs_[i].msg_hdr.msg_name = &in_addr_[i];
            in_msgs_[i].msg_hdr.msg_namelen = sizeof(in_addr_[i]);
            in_msgs_[i].msg_hdr.msg_iov = in_iov_[i].data();
            in_msgs_[i].msg_hdr.msg_iovlen = 2;
        }
        const int n = recvmmsg(f.sock.get(), in_msgs_.data(), static_cast<unsigned>(want),
                               MSG_DONTWAIT, nullptr);
        if (n <= 0) {
            return;  // EAGAIN, or an error the error queue will explain
        }
        f.last = now;
        const auto count = static_cast<std::size_t>(n);

        // Frame each datagram in place; a dropped one leaves a gap that the
        // next good one fills, because only the first slots can be committed.
        // A datagram sent in fragments needs more slots than it had: the
        // datagrams behind it move up by `shift` slots to make room, so the
        // namespace still gets them in the order they came.
        std::size_t kept = 0;
        std::size_t shift = 0;
        for (std::size_t j = 0; j < count; ++j) {
            const mmsghdr& m = in_msgs_[j];
            const std::size_t at = j + shift;  // the slot holding datagram j
            InAny real;
            std::uint16_t port = 0;
            InAny shown;
            if (m.msg_hdr.msg_flags & MSG_TRUNC) {
                ++stats_.dropped_too_big;
                continue;
            }
            if (!from_sockaddr(in_addr_[j], real, port) || !shown_source(f, real, port, shown)) {
                ++stats_.dropped_unmapped;
                continue;
            }
            const Endpoints ep{f.key.addr, shown, f.key.port, port};
            const std::size_t room = in_iov_[j][0].iov_len;
            if (m.msg_len > room) {
                const std::size_t pieces = fragments_needed(v4, m.msg_len);
                const std::size_t extra = pieces - 1;
                if (pieces == 0 || count + shift + extra > std::min(free, in_lens_.size())) {
                    ++stats_.dropped_too_big;  // no slots to spare now: UDP may lose
                    continue;
                }
                std::memcpy(big_.data() + kUdpHeaderLen, sink_.slot(at).data() + hlen, room);
                std::memcpy(big_.data() + kUdpHeaderLen + room, in_spill_[j].data(),
                            m.msg_len - room);
                for (std::size_t k = count; k-- > j + 1;) {
                    const std::size_t len = std::min<std::size_t>(in_msgs_[k].msg_len, room);
                    std::memmove(sink_.slot(k + shift + extra).data() + hlen,
                                 sink_.slot(k + shift).data() + hlen, len);
                }
                shift += extra;
                if (write_fragments(ep, m.msg_len, kept) != pieces) {
                    ++stats_.dropped_too_big;
                    continue;
                }
                kept += pieces;
                ++stats_.datagrams_to_ns;
                ++stats_.fragmented_to_ns;
                stats_.bytes_to_ns += m.msg_len;
                continue;
            }
            if (kept != at) {
                std::memmove(sink_.slot(kept).data() + hlen, sink_.slot(at).data() + hlen,
                             m.msg_len);
            }
            const std::size_t len =
                write_udp_headers(sink_.slot(kept), cfg_.our_mac, ns_mac(), ep, m.msg_len);
            if (len == 0) {
                ++stats_.dropped_too_big;
                continue;
            }
            in_lens_[kept++] = len;
            ++stats_.datagrams_to_ns;
            stats_.bytes_to_ns += m.msg_len;
        }
        if (kept > 0) {
            sink_.commit(kept, in_lens_.data());
        }
        if (count < want) {
            return;  // drained
        }
    }
    SPDLOG_LOGGER_TRACE(&log_, "[U{} udp] more to read after {} rounds", idx, kRounds);
    (void)idx;
}

// Bytes of the UDP datagram each fragment carries: as many as the tap MTU
// and a frame slot allow, a multiple of 8 (RFC 791 section 3.2).
std::size_t UdpEngine::Impl::fragment_chunk(bool v4) const {
    const std::size_t ip_len = v4 ? kIpv4HeaderLen : kIpv6HeaderLen + 8;
    const std::size_t mtu = std::min<std::size_t>(cfg_.mtu, sink_.slot_size() - kEthHeaderLen);
    return mtu > ip_len ? (mtu - ip_len) & ~std::size_t{7} : 0;
}

// Fragments a payload of `len` bytes takes, or 0 when it cannot be sent.
std::size_t UdpEngine::Impl::fragments_needed(bool v4, std::size_t len) const {
    const std::size_t chunk = fragment_chunk(v4);
    const std::size_t l4_len = kUdpHeaderLen + len;
    if (chunk == 0 || len > kMaxUdpPayload) {
        return 0;
    }
    const std::size_t n = (l4_len + chunk - 1) / chunk;
    return n <= kBatch ? n : 0;
}

// Writes the datagram in big_ (a payload of `len` bytes behind room for the
// UDP header) as IPv4 fragments or IPv6 packets with a fragment header
// (RFC 8200 section 4.5) into the free slots from `first` on, their lengths
// into in_lens_. The UDP checksum covers the whole datagram. Returns the
// number of fragments written.
std::size_t UdpEngine::Impl::write_fragments(const Endpoints& ep, std::size_t len,
                                             std::size_t first) {
    const bool v4 = ep.ns_addr.is_v4();
    const std::size_t l4_len = kUdpHeaderLen + len;
    const auto l4 = std::span(big_).first(l4_len);
    put16(l4, 0, ep.peer_port);
    put16(l4, 2, ep.ns_port);
    put16(l4, 4, static_cast<std::uint16_t>(l4_len));
    put16(l4, 6, 0);
    const std::uint16_t sum = l4_checksum(ep.peer_addr, ep.ns_addr, kProtoUdp, l4);
    put16(l4, 6, sum == 0 ? 0xffff : sum);  // RFC 768: zero means "no checksum"

    const std::size_t chunk = fragment_chunk(v4);
    const std::size_t count = fragments_needed(v4, len);
    const std::uint32_t id = ++frag_id_;
    for (std::size_t i = 0; i < count; ++i) {
        const std::size_t off = i * chunk;
        const std::size_t n = std::min(chunk, l4_len - off);
        const bool more = off + n < l4_len;
        const auto slot = sink_.slot(first + i);
        const std::size_t hdr =
            write_ip_headers(slot, cfg_.our_mac, ns_mac(), ep.peer_addr, ep.ns_addr,
                             v4 ? kProtoUdp : kIpv6FragmentHeader, n + (v4 ? 0 : 8));
        if (hdr == 0) {
            return 0;
        }
        std::size_t at = hdr;
        if (v4) {
            const auto ip = slot.subspan(kEthHeaderLen, kIpv4HeaderLen);
            put16(ip, 4, static_cast<std::uint16_t>(id));
            put16(ip, 6, static_cast<std::uint16_t>((more ? 0x2000 : 0) | (off / 8)));
            put16(ip, 10, 0);
            put16(ip, 10, csum_fold(csum_add(ip)));
        } else {
            const auto fh = slot.subspan(hdr, 8);
            fh[0] = std::byte{kProtoUdp};
            fh[1] = std::byte{0};
            put16(fh, 2, static_cast<std::uint16_t>(off | (more ? 1 : 0)));
            put16(fh, 4, static_cast<std::uint16_t>(id >> 16));
            put16(fh, 6, static_cast<std::uint16_t>(id & 0xffff));
            at += 8;
        }
        std::memcpy(slot.data() + at, l4.data() + off, n);
        in_lens_[first + i] = at + n;
    }
    return count;
}

// ICMP errors the host received for datagrams of this flow.
void UdpEngine::Impl::drain_errors(Flow& f) {
    for (unsigned guard = 0; guard < kBatch; ++guard) {
        std::array<std::byte, 512> data{};
        alignas(cmsghdr) std::array<std::byte, 512> ctrl{};
        sockaddr_storage orig{};
        iovec iov{data.data(), data.size()};
        msghdr mh{};
        mh.msg_name = &orig;
        mh.msg_namelen = sizeof(orig);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctrl.data();
        mh.msg_controllen = ctrl.size();
        const ssize_t n = recvmsg(f.sock.get(), &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
        if (n < 0) {
            return;
        }
        for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
            const bool is_err = (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                                (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
            if (!is_err || c->cmsg_len < CMSG_LEN(sizeof(sock_extended_err))) {
                continue;
            }
            sock_extended_err ee{};
            std::memcpy(&ee, CMSG_DATA(c), sizeof(ee));
            InAny real;
            std::uint16_t port = 0;
            InAny shown;
            if (ee.ee_errno != ECONNREFUSED || !from_sockaddr(orig, real, port) ||
                !shown_source(f, real, port, shown)) {
                continue;
            }
            relay_unreachable(f, shown, port, static_cast<std::size_t>(n));
        }
    }
}

// ICMP port unreachable to the namespace, quoting the IP and UDP headers of
// the datagram it sent (RFC 792; RFC 4443 section 3.1) so its kernel finds
// the socket.
void UdpEngine::Impl::relay_unreachable(const Flow& f, const InAny& peer, std::uint16_t peer_port,
                                        std::size_t payload_len) {
    if (sink_.free_slots() == 0) {
        return;
    }
    const bool v4 = peer.is_v4();
    std::array<std::byte, kEthHeaderLen + kIpv6HeaderLen + kUdpHeaderLen> scratch{};
    const std::size_t ip_end = write_ip_headers(scratch, cfg_.our_mac, cfg_.our_mac, f.key.addr,
                                                peer, kProtoUdp, kUdpHeaderLen + payload_len);
    if (ip_end == 0) {
        return;
    }
    const auto put16 = [&](std::size_t at, std::uint16_t v) {
        scratch[at] = static_cast<std::byte>(v >> 8);
        scratch[at + 1] = static_cast<std::byte>(v & 0xff);
    };
    put16(ip_end, f.key.port);
    put16(ip_end + 2, peer_port);
    put16(ip_end + 4,
          static_cast<std::uint16_t>(std::min<std::size_t>(kUdpHeaderLen + payload_len, 0xffff)));
    const auto quoted = std::span<const std::byte>(scratch).subspan(
        kEthHeaderLen, ip_end - kEthHeaderLen + kUdpHeaderLen);
    const std::size_t len = build_icmp_frame(
        sink_.slot(0), cfg_.our_mac, ns_mac(), peer, f.key.addr, v4 ? kIcmpUnreach : kIcmp6Unreach,
        v4 ? kIcmpPortUnreach : kIcmp6PortUnreach, 0, 0, quoted);
    if (len > 0) {
        sink_.commit(1, &len);
        ++stats_.icmp_errors_to_ns;
    }
}

void UdpEngine::Impl::on_timer(UdpTime now) {
    for (std::size_t i = active_.size(); i > 0; --i) {
        const std::uint32_t idx = active_[i - 1];
        if (now - flows_[idx].last >= cfg_.idle_timeout) {
            close(idx, "idle");
        }
    }
}

// ---------------------------------------------------------------------------
// Public face

UdpEngine::UdpEngine(const UdpConfig& cfg, FrameSink& sink, Poller& poller)
    : impl_(std::make_unique<Impl>(cfg, sink, poller)) {}
UdpEngine::~UdpEngine() = default;

void UdpEngine::on_datagram(const Endpoints& ep, std::span<const std::byte> payload, UdpTime now) {
    impl_->on_datagram(ep, payload, now);
}
void UdpEngine::on_forwarded(const Endpoints& ep, const InAny& real_peer, int reply_fd,
                             std::span<const std::byte> payload, UdpTime now) {
    impl_->on_forwarded(ep, real_peer, reply_fd, payload, now);
}
void UdpEngine::flush(UdpTime /*now*/) {
    impl_->flush();
}
void UdpEngine::on_socket_event(std::uint64_t token, std::uint32_t epoll_events, UdpTime now) {
    impl_->on_socket_event(token, epoll_events, now);
}
void UdpEngine::on_timer(UdpTime now) {
    impl_->on_timer(now);
}
const UdpEngine::Stats& UdpEngine::stats() const {
    return impl_->stats_;
}
std::size_t UdpEngine::active() const {
    return impl_->active_.size();
}

}  // namespace pastad::tap

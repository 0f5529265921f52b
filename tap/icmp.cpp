// SPDX-License-Identifier: GPL-2.0-or-later
// tap/icmp.cpp - ICMP and ICMPv6 echo between the namespace and host ping sockets
//
// Theory of operation
// ===================
//
// What. An echo request the namespace sends (ICMP type 8, ICMPv6 type 128)
// is sent again from a host "ping" socket (socket(AF_INET, SOCK_DGRAM,
// IPPROTO_ICMP), and its IPv6 twin), which needs no privilege, only a group
// inside net.ipv4.ping_group_range (the sysctl covers both families). The
// kernel writes its own identifier into what it sends and filters replies
// by it, so each (namespace address, identifier) pair gets its own socket
// and replies are framed back with the namespace's identifier and the
// sequence number and data of the reply.
//
// What not. No other ICMP message is relayed from the namespace (errors it
// generates stay local; the host kernel makes its own). No raw sockets.
//
// Data structures. A fixed table of flows (max_flows) with a free list, an
// active list for expiry and a hash map from (address, identifier) to the
// index; one alias per flow (real address pinged -> address the namespace
// named, for the gateway and --map-guest-addr stand-ins). Tokens are (kind,
// index, generation).
//
// Timers. A flow idle for idle_timeout (60 s, as pasta's echo flows) is
// closed; when the table is full the least recently used one is.
//
// Failure. When socket() is refused (EACCES: our group is outside
// ping_group_range) one warning explains why ping does not work and how to
// allow it; further requests are counted and dropped.
//
// References. RFC 792 (echo), RFC 4443 section 4 (ICMPv6 echo); Linux
// icmp(7) "ping sockets" (net.ipv4.ping_group_range), commit c319b4d76b9e
// (ping sockets, Linux 3.0) and 6d0bfe226116 (IPv6, Linux 3.11).
#include "tap/icmp.hpp"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "daemon/base/check.hpp"
#include "daemon/base/log.hpp"
#include "tap/frame.hpp"
#include "tap/ip_header.hpp"
#include "tap/outbound.hpp"

namespace pastad::tap {

namespace {

constexpr Mac kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
constexpr unsigned kMaxRepliesPerEvent = 16;

struct Key {
    InAny addr;
    std::uint16_t id = 0;
    bool operator==(const Key&) const = default;
};

struct KeyHash {
    std::size_t operator()(const Key& k) const { return hash_addr16(k.addr, k.id); }
};

struct Flow {
    UniqueFd sock;
    Key key;
    std::uint32_t gen = 0;
    std::uint32_t active_pos = 0;
    IcmpTime last{};
    bool has_alias = false;
    InAny alias_real;   // the address pinged on the host...
    InAny alias_shown;  // ...for this one the namespace named
};

std::string ping_group_range() {
    std::ifstream f("/proc/sys/net/ipv4/ping_group_range");
    std::string lo, hi;
    f >> lo >> hi;
    return f ? lo + " " + hi : std::string("unknown");
}

}  // namespace

class IcmpEngine::Impl {
public:
    Impl(const IcmpConfig& cfg, FrameSink& sink, Poller& poller)
        : cfg_(cfg),
          sink_(sink),
          poller_(poller),
          log_(log::tap()),
          flows_(cfg.max_flows),
          map_(cfg.max_flows) {
        for (std::size_t i = cfg.max_flows; i > 0; --i) {
            free_.push_back(static_cast<std::uint32_t>(i - 1));
        }
        active_.reserve(cfg.max_flows);
    }
    ~Impl() {
        while (!active_.empty()) {
            close(active_.back(), "engine stopped");
        }
    }

    void on_echo_request(const InAny& src, const InAny& dst, std::uint16_t id, std::uint16_t seq,
                         std::span<const std::byte> data, IcmpTime now);
    void on_socket_event(std::uint64_t token, IcmpTime now);
    void on_timer(IcmpTime now);

    Stats stats_;
    std::vector<std::uint32_t> active_;

private:
    Flow* open(const Key& key, const InAny& dst, IcmpTime now);
    void close(std::uint32_t idx, const char* why);
    void explain_not_permitted();
    std::uint64_t token_of(std::uint32_t idx) const {
        return make_token(kIcmpTokenKind, idx, flows_[idx].gen);
    }
    const Mac& ns_mac() const { return cfg_.ns_mac ? *cfg_.ns_mac : kBroadcast; }

    IcmpConfig cfg_;
    FrameSink& sink_;
    Poller& poller_;
    spdlog::logger& log_;
    std::vector<Flow> flows_;
    std::vector<std::uint32_t> free_;
    std::unordered_map<Key, std::uint32_t, KeyHash> map_;
    bool explained_ = false;
    std::array<std::byte, 65536> out_{};
};

void IcmpEngine::Impl::explain_not_permitted() {
    if (explained_) {
        return;
    }
    explained_ = true;
    log_.warn(
        "ping from the namespace cannot work: the host refuses ping sockets to group {} "
        "(net.ipv4.ping_group_range is \"{}\"); allow them with "
        "`sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"`",
        static_cast<unsigned>(getegid()), ping_group_range());
}

// `dst`: the host-side destination of the first request, for the
// outbound interface binding.
Flow* IcmpEngine::Impl::open(const Key& key, const InAny& dst, IcmpTime now) {
    if (free_.empty()) {
        const auto lru = std::min_element(active_.begin(), active_.end(), [&](auto a, auto b) {
            return flows_[a].last < flows_[b].last;
        });
        PASTAD_CHECK(lru != active_.end());  // max_flows > 0 and none free
        close(*lru, "table full, least recently used");
    }
    const bool v4 = key.addr.is_v4();
    const int proto = v4 ? static_cast<int>(IPPROTO_ICMP) : static_cast<int>(IPPROTO_ICMPV6);
    UniqueFd fd(socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto));
    if (!fd) {
        if (errno == EACCES || errno == EPERM) {
            ++stats_.not_permitted;
            explain_not_permitted();
        } else {
            ++stats_.send_errors;
        }
        return nullptr;
    }
    if (!bind_outbound_if(fd.get(), dst, v4 ? cfg_.outbound_if4 : cfg_.outbound_if6)) {
        ++stats_.send_errors;
        return nullptr;
    }
    const auto& ob =
        v4 ? (cfg_.outbound4 ? std::optional<InAny>(InAny::from(*cfg_.outbound4)) : std::nullopt)
           : (cfg_.outbound6 ? std::optional<InAny>(InAny::from(*cfg_.outbound6)) : std::nullopt);
    if (ob) {
        sockaddr_storage ss;
        const socklen_t len = to_sockaddr(*ob, 0, ss);
        (void)bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len);
    }
    const std::uint32_t idx = free_.back();
    free_.pop_back();
    Flow& f = flows_[idx];
    f.sock = std::move(fd);
    f.key = key;
    ++f.gen;
    f.last = now;
    f.has_alias = false;
    f.active_pos = static_cast<std::uint32_t>(active_.size());
    active_.push_back(idx);
    map_.emplace(key, idx);
    poller_.watch(f.sock.get(), EPOLLIN, token_of(idx));
    ++stats_.flows_opened;
    log_.debug("[I{} icmp] opened for {} id {}", idx, key.addr.str(), key.id);
    return &f;
}

void IcmpEngine::Impl::close(std::uint32_t idx, const char* why) {
    Flow& f = flows_[idx];
    log_.debug("[I{} icmp] closed for {} id {}: {}", idx, f.key.addr.str(), f.key.id, why);
    poller_.unwatch(f.sock.get());
    f.sock.reset();
    map_.erase(f.key);
    const std::uint32_t pos = f.active_pos;
    active_[pos] = active_.back();
    flows_[active_[pos]].active_pos = pos;
    active_.pop_back();
    free_.push_back(idx);
    ++stats_.flows_closed;
}

void IcmpEngine::Impl::on_echo_request(const InAny& src, const InAny& dst, std::uint16_t id,
                                       std::uint16_t seq, std::span<const std::byte> data,
                                       IcmpTime now) {
    const Key key{src, id};
    const InAny real = map_to_host(cfg_, dst, 0);
    Flow* f = nullptr;
    if (const auto it = map_.find(key); it != map_.end()) {
        f = &flows_[it->second];
    } else {
        f = open(key, real, now);
    }
    if (f == nullptr) {
        return;
    }
    f->last = now;
    f->has_alias = real != dst;
    f->alias_real = real;
    f->alias_shown = dst;

    // The kernel fills in the identifier and the checksum.
    if (data.size() > out_.size() - kIcmpHeaderLen) {
        ++stats_.send_errors;
        return;
    }
    out_[0] = std::byte{src.is_v4() ? kIcmpEchoRequest : kIcmp6EchoRequest};
    out_[1] = std::byte{0};
    out_[2] = out_[3] = std::byte{0};
    out_[4] = static_cast<std::byte>(id >> 8);
    out_[5] = static_cast<std::byte>(id & 0xff);
    out_[6] = static_cast<std::byte>(seq >> 8);
    out_[7] = static_cast<std::byte>(seq & 0xff);
    if (!data.empty()) {
        std::memcpy(out_.data() + kIcmpHeaderLen, data.data(), data.size());
    }
    sockaddr_storage ss;
    const socklen_t alen = to_sockaddr(real, 0, ss);
    if (sendto(f->sock.get(), out_.data(), kIcmpHeaderLen + data.size(), MSG_DONTWAIT,
               reinterpret_cast<sockaddr*>(&ss), alen) < 0) {
        ++stats_.send_errors;
        SPDLOG_LOGGER_TRACE(&log_, "icmp: sendto {}: {}", real.str(), std::strerror(errno));
        return;
    }
    ++stats_.requests;
}

void IcmpEngine::Impl::on_socket_event(std::uint64_t token, IcmpTime now) {
    const auto idx = static_cast<std::uint32_t>((token >> 32) & 0xffffff);
    if (idx >= flows_.size()) {
        return;
    }
    Flow& f = flows_[idx];
    if (!f.sock || f.gen != static_cast<std::uint32_t>(token)) {
        return;
    }
    const bool v4 = f.key.addr.is_v4();
    // The reply's ICMP header lands where the frame's ICMP header goes; its
    // data is then already in place for build_icmp_frame().
    const std::size_t at = ip_headers_len(f.key.addr);
    for (unsigned i = 0; i < kMaxRepliesPerEvent && sink_.free_slots() > 0; ++i) {
        const auto slot = sink_.slot(0);
        sockaddr_storage ss{};
        socklen_t alen = sizeof(ss);
        const ssize_t n = recvfrom(f.sock.get(), slot.data() + at, slot.size() - at, MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&ss), &alen);
        if (n < 0) {
            return;
        }
        InAny from;
        std::uint16_t port = 0;
        if (static_cast<std::size_t>(n) < kIcmpHeaderLen || !from_sockaddr(ss, from, port)) {
            continue;
        }
        const auto type = static_cast<std::uint8_t>(slot[at]);
        if (type != (v4 ? kIcmpEchoReply : kIcmp6EchoReply)) {
            continue;
        }
        InAny shown = from;
        if (f.has_alias && from == f.alias_real) {
            shown = f.alias_shown;
        } else if (v4 ? from.v4().is_loopback() : from.a.is_loopback()) {
            ++stats_.dropped_unmapped;
            continue;
        }
        const auto seq = static_cast<std::uint16_t>((std::to_integer<unsigned>(slot[at + 6]) << 8) |
                                                    std::to_integer<unsigned>(slot[at + 7]));
        const auto data = std::span<const std::byte>(slot).subspan(
            at + kIcmpHeaderLen, static_cast<std::size_t>(n) - kIcmpHeaderLen);
        const std::size_t len = build_icmp_frame(slot, cfg_.our_mac, ns_mac(), shown, f.key.addr,
                                                 type, 0, f.key.id, seq, data);
        if (len > 0) {
            sink_.commit(1, &len);
            ++stats_.replies;
            f.last = now;
        }
    }
}

void IcmpEngine::Impl::on_timer(IcmpTime now) {
    for (std::size_t i = active_.size(); i > 0; --i) {
        const std::uint32_t idx = active_[i - 1];
        if (now - flows_[idx].last >= cfg_.idle_timeout) {
            close(idx, "idle");
        }
    }
}

IcmpEngine::IcmpEngine(const IcmpConfig& cfg, FrameSink& sink, Poller& poller)
    : impl_(std::make_unique<Impl>(cfg, sink, poller)) {}
IcmpEngine::~IcmpEngine() = default;

void IcmpEngine::on_echo_request(const InAny& src, const InAny& dst, std::uint16_t id,
                                 std::uint16_t seq, std::span<const std::byte> data, IcmpTime now) {
    impl_->on_echo_request(src, dst, id, seq, data, now);
}
void IcmpEngine::on_socket_event(std::uint64_t token, std::uint32_t /*epoll_events*/,
                                 IcmpTime now) {
    impl_->on_socket_event(token, now);
}
void IcmpEngine::on_timer(IcmpTime now) {
    impl_->on_timer(now);
}
const IcmpEngine::Stats& IcmpEngine::stats() const {
    return impl_->stats_;
}
std::size_t IcmpEngine::active() const {
    return impl_->active_.size();
}

}  // namespace pastad::tap

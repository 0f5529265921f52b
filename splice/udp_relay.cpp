// SPDX-License-Identifier: GPL-2.0-or-later
// splice/udp_relay.cpp - relaying forwarded UDP datagrams between loopback sockets
//
// Theory of operation
// -------------------
// What: the UDP half of the splice path. A forwarded UDP port is a bound
// socket (the listener) on one side; each client address/port seen on it
// gets a flow: a socket on the other side connected to the forward's
// target. Datagrams move in batches with recvmmsg(2)/sendmmsg(2): from the
// listener to the flow sockets, and from a flow socket back out of the
// listener to the flow's client, so the client sees replies from the port it
// sent to. Clients the caller's ClientFilter refuses (non-loopback ones, for
// the tap path) go to the Elsewhere callback one datagram at a time, or are
// dropped and counted without one.
//
// Ownership: a UdpRelay (shared_ptr, so queued handlers keep it alive) owns
// the listener and a map (client address, port) -> Flow; each Flow owns its
// socket. close() closes all of them; handlers that run later see closed_
// and do nothing.
//
// Events: listener readable -> receive a batch, find or open each source's
// flow, send each datagram through it; flow readable -> receive a batch,
// send it to the client from the listener; expire() (about once a second,
// from the owner's timer) -> close flows idle for kIdle (180 s).
//
// Limits: DatagramBatch::kBatch (32) datagrams of up to 64 KiB per system
// call. A flow whose socket cannot be made (EMFILE) drops its datagram.
//
// Limitations: replies leave the listener with the source address the
// kernel picks, which differs from the one the client sent to when the
// listener is bound to a wildcard and the client used another loopback
// address (127.0.0.2). ICMP errors from the target (port unreachable) are
// not relayed back to the client.
#include "udp_relay.hpp"

#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "daemon/base/log.hpp"

namespace pastad::splice {

namespace asio = boost::asio;
using Desc = asio::posix::stream_descriptor;

DatagramBatch::DatagramBatch()
    : data(kBatch * kMaxDatagram), msgs(kBatch), iov(kBatch), addrs(kBatch) {}

void DatagramBatch::prepare_receive() {
    for (std::size_t i = 0; i < kBatch; ++i) {
        iov[i] = {data.data() + i * kMaxDatagram, kMaxDatagram};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
}

std::pair<InAny, std::uint16_t> endpoint_of(const sockaddr_storage& sa) {
    if (sa.ss_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, &sa, sizeof(in));
        Ip4 a;
        std::memcpy(a.b.data(), &in.sin_addr, 4);
        return {InAny::from(a), ntohs(in.sin_port)};
    }
    sockaddr_in6 in6{};
    std::memcpy(&in6, &sa, sizeof(in6));
    Ip6 a;
    std::memcpy(a.b.data(), &in6.sin6_addr, 16);
    return {InAny::from(a), ntohs(in6.sin6_port)};
}

UdpRelay::UdpRelay(asio::io_context& io, UniqueFd listener, SocketFactory make_socket,
                   const sockaddr_storage& dest, socklen_t dest_len, ClientFilter filter,
                   DatagramBatch& batch)
    : io_(io),
      listener_(io, listener.release()),
      make_socket_(std::move(make_socket)),
      dest_(dest),
      dest_len_(dest_len),
      filter_(std::move(filter)),
      batch_(batch) {}

UdpRelay::~UdpRelay() {
    close();
}

void UdpRelay::start() {
    wait_listener();
}

void UdpRelay::close() {
    if (closed_) {
        return;
    }
    closed_ = true;
    boost::system::error_code ignored;
    listener_.close(ignored);
    for (auto& [key, f] : flows_) {
        f->closed = true;
        f->sock.close(ignored);
    }
    flows_.clear();
}

void UdpRelay::wait_listener() {
    listener_.async_wait(Desc::wait_read, [self = shared_from_this()](auto ec) {
        if (!ec && !self->closed_) {
            self->on_listener();
        }
    });
}

std::shared_ptr<UdpRelay::Flow> UdpRelay::flow_for(const sockaddr_storage& src, socklen_t len) {
    const Key key = endpoint_of(src);
    if (const auto it = flows_.find(key); it != flows_.end()) {
        return it->second;
    }
    if (filter_ && !filter_(src)) {
        return nullptr;
    }
    auto sock = make_socket_(dest_.ss_family);
    if (!sock) {
        return nullptr;
    }
    if (::connect(sock->get(), reinterpret_cast<const sockaddr*>(&dest_), dest_len_) != 0) {
        return nullptr;
    }
    auto f = std::make_shared<Flow>(Flow{Desc(io_, sock->release()), src, len, {}, false});
    flows_.emplace(key, f);
    ++stats_.flows_opened;
    log::splice().debug("[U udp] flow from {} port {} opened", key.first.str(), key.second);
    wait_flow(f);
    return f;
}

void UdpRelay::on_listener() {
    const auto now = Clock::now();
    for (;;) {
        batch_.prepare_receive();
        const int n = ::recvmmsg(listener_.native_handle(), batch_.msgs.data(),
                                 DatagramBatch::kBatch, MSG_DONTWAIT, nullptr);
        if (n <= 0) {
            break;
        }
        // Consecutive datagrams of one flow leave in one sendmmsg().
        for (int i = 0; i < n;) {
            if (elsewhere_ && filter_ && !filter_(batch_.addrs[i])) {
                elsewhere_(batch_.addrs[i],
                           std::span<const std::byte>(
                               static_cast<const std::byte*>(batch_.iov[i].iov_base),
                               batch_.msgs[i].msg_len),
                           listener_.native_handle());
                ++i;
                continue;
            }
            auto f = flow_for(batch_.addrs[i], batch_.msgs[i].msg_hdr.msg_namelen);
            int j = i + 1;
            while (j < n && f && endpoint_of(batch_.addrs[j]) == endpoint_of(batch_.addrs[i])) {
                ++j;
            }
            if (!f) {
                stats_.dropped += static_cast<std::uint64_t>(j - i);
                i = j;
                continue;
            }
            for (int k = i; k < j; ++k) {
                batch_.iov[k].iov_len = batch_.msgs[k].msg_len;
                batch_.msgs[k].msg_hdr.msg_name = nullptr;
                batch_.msgs[k].msg_hdr.msg_namelen = 0;
            }
            const int sent = ::sendmmsg(f->sock.native_handle(), &batch_.msgs[i],
                                        static_cast<unsigned>(j - i), MSG_DONTWAIT);
            stats_.to_target += sent > 0 ? static_cast<std::uint64_t>(sent) : 0;
            stats_.dropped += static_cast<std::uint64_t>(j - i - (sent > 0 ? sent : 0));
            f->last = now;
            i = j;
        }
        if (static_cast<std::size_t>(n) < DatagramBatch::kBatch) {
            break;
        }
    }
    wait_listener();
}

void UdpRelay::wait_flow(const std::shared_ptr<Flow>& f) {
    f->sock.async_wait(Desc::wait_read, [self = shared_from_this(), f](auto ec) {
        if (!ec && !f->closed && !self->closed_) {
            self->on_flow(f);
        }
    });
}

void UdpRelay::on_flow(const std::shared_ptr<Flow>& f) {
    for (;;) {
        batch_.prepare_receive();
        for (auto& m : batch_.msgs) {
            m.msg_hdr.msg_name = nullptr;
            m.msg_hdr.msg_namelen = 0;
        }
        const int n = ::recvmmsg(f->sock.native_handle(), batch_.msgs.data(), DatagramBatch::kBatch,
                                 MSG_DONTWAIT, nullptr);
        if (n <= 0) {
            break;
        }
        for (int k = 0; k < n; ++k) {
            batch_.iov[k].iov_len = batch_.msgs[k].msg_len;
            batch_.msgs[k].msg_hdr.msg_name = &f->client;
            batch_.msgs[k].msg_hdr.msg_namelen = f->client_len;
        }
        const int sent = ::sendmmsg(listener_.native_handle(), batch_.msgs.data(),
                                    static_cast<unsigned>(n), MSG_DONTWAIT);
        stats_.to_client += sent > 0 ? static_cast<std::uint64_t>(sent) : 0;
        stats_.dropped += static_cast<std::uint64_t>(n - (sent > 0 ? sent : 0));
        f->last = Clock::now();
        if (static_cast<std::size_t>(n) < DatagramBatch::kBatch) {
            break;
        }
    }
    wait_flow(f);
}

void UdpRelay::expire(Clock::time_point now) {
    for (auto it = flows_.begin(); it != flows_.end();) {
        if (now - it->second->last >= kIdle) {
            boost::system::error_code ignored;
            it->second->closed = true;
            it->second->sock.close(ignored);
            ++stats_.flows_expired;
            it = flows_.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace pastad::splice

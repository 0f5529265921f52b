// SPDX-License-Identifier: GPL-2.0-or-later
// splice/udp_relay.hpp - relaying forwarded UDP datagrams between loopback sockets
//
// Threading: like TcpSplicer, everything runs on the io_context's thread.
#pragma once

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "daemon/base/inet.hpp"
#include "daemon/base/result.hpp"
#include "daemon/base/unique_fd.hpp"

namespace pastad::splice {

// Receive and send buffers for one batch, shared by every relay of a loop
// (they are used only within one handler, never across a wait).
struct DatagramBatch {
    static constexpr std::size_t kBatch = 32;
    static constexpr std::size_t kMaxDatagram = 65536;
    DatagramBatch();
    std::vector<std::byte> data;
    std::vector<mmsghdr> msgs;
    std::vector<iovec> iov;
    std::vector<sockaddr_storage> addrs;
    void prepare_receive();  // every slot: full buffer, room for an address
};

class UdpRelay : public std::enable_shared_from_this<UdpRelay> {
public:
    using Clock = std::chrono::steady_clock;
    // Makes an unconnected, nonblocking UDP socket of `family` on the target
    // side (possibly inside another namespace).
    using SocketFactory = std::function<Result<UniqueFd>(int family)>;
    // Whether datagrams from this source may use the relay.
    using ClientFilter = std::function<bool(const sockaddr_storage&)>;
    // Takes a datagram the filter refused (source, payload; valid during
    // the call only) instead of dropping it.
    using Elsewhere =
        std::function<void(const sockaddr_storage&, std::span<const std::byte>, int listener)>;

    struct Stats {
        std::uint64_t flows_opened = 0, flows_expired = 0;
        std::uint64_t to_target = 0, to_client = 0;  // datagrams
        std::uint64_t dropped = 0;                   // filtered, or no socket for a flow
    };

    // Idle time after which a flow is closed (pasta's UDP timeout).
    static constexpr auto kIdle = std::chrono::seconds(180);

    // `listener` is a bound UDP socket (taken). Datagrams from each client
    // address go out through a socket of their own, connected to `dest`, and
    // replies come back to the client from `listener`. Call start() next.
    UdpRelay(boost::asio::io_context& io, UniqueFd listener, SocketFactory make_socket,
             const sockaddr_storage& dest, socklen_t dest_len, ClientFilter filter,
             DatagramBatch& batch);
    ~UdpRelay();

    void start();
    // Where refused datagrams go (by default they are dropped and counted).
    void set_elsewhere(Elsewhere e) { elsewhere_ = std::move(e); }
    // Closes the listener and every flow; pending handlers then do nothing.
    void close();
    // Closes flows idle for kIdle or longer.
    void expire(Clock::time_point now);

    std::size_t flows() const { return flows_.size(); }
    const Stats& stats() const { return stats_; }

private:
    struct Flow {
        boost::asio::posix::stream_descriptor sock;
        sockaddr_storage client{};
        socklen_t client_len = 0;
        Clock::time_point last{};
        bool closed = false;
    };
    using Key = std::pair<InAny, std::uint16_t>;

    void wait_listener();
    void on_listener();
    void wait_flow(const std::shared_ptr<Flow>& f);
    void on_flow(const std::shared_ptr<Flow>& f);
    std::shared_ptr<Flow> flow_for(const sockaddr_storage& src, socklen_t len);

    boost::asio::io_context& io_;
    boost::asio::posix::stream_descriptor listener_;
    SocketFactory make_socket_;
    sockaddr_storage dest_;
    socklen_t dest_len_;
    ClientFilter filter_;
    Elsewhere elsewhere_;
    DatagramBatch& batch_;
    std::map<Key, std::shared_ptr<Flow>> flows_;
    Stats stats_;
    bool closed_ = false;
};

// The address and port of a socket address, for keys and logs.
std::pair<InAny, std::uint16_t> endpoint_of(const sockaddr_storage& sa);

}  // namespace pastad::splice

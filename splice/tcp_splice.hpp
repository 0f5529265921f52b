// SPDX-License-Identifier: GPL-2.0-or-later
// splice/tcp_splice.hpp - moving a forwarded TCP connection between two sockets with splice(2)
//
// Threading: a TcpSplicer and its connections live on the thread running the
// io_context given to it; call every member from that thread. Nothing here
// throws once a connection is set up; failures close or reset the connection.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include <boost/asio/io_context.hpp>

#include "daemon/base/unique_fd.hpp"

namespace pastad::splice {

class TcpSplicer {
public:
    struct Stats {
        std::uint64_t opened = 0;         // connections handed to start()
        std::uint64_t closed = 0;         // released, any reason
        std::uint64_t refused = 0;        // the outbound connect() failed
        std::uint64_t resets = 0;         // closed with SO_LINGER 0 after an error or reset
        std::uint64_t bytes[2] = {0, 0};  // [0]: accepted -> connected side, [1]: back
        std::uint64_t pipes_grown = 0;    // pipes enlarged to kPipeSize for bulk data
    };

    explicit TcpSplicer(boost::asio::io_context& io);
    ~TcpSplicer();
    TcpSplicer(const TcpSplicer&) = delete;
    TcpSplicer& operator=(const TcpSplicer&) = delete;

    // Takes an accepted connection `in` (nonblocking) and an unconnected
    // nonblocking TCP socket `out` of dest's family, possibly made in another
    // namespace; connects `out` to `dest` and then moves bytes both ways until
    // both directions are closed. When the connect fails, `in` is reset.
    void start(UniqueFd in, UniqueFd out, const sockaddr_storage& dest, socklen_t dest_len);

    // Connections currently held.
    std::size_t active() const { return conns_.size(); }
    const Stats& stats() const { return stats_; }

    // Pipe capacity asked for with F_SETPIPE_SZ once a direction carries bulk
    // data (the kernel may give less); pipes start at the default size.
    static constexpr int kPipeSize = 1 << 20;

    class Conn;

private:
    friend class Conn;
    void release(std::uint64_t id);

    boost::asio::io_context& io_;
    std::unordered_map<std::uint64_t, std::shared_ptr<Conn>> conns_;
    std::uint64_t next_id_ = 1;
    Stats stats_;
};

}  // namespace pastad::splice

// SPDX-License-Identifier: GPL-2.0-or-later
// splice/port_scan.hpp - which ports are bound, from /proc/net/{tcp,tcp6,udp,udp6}
//
// `auto` forwarding binds a port on one side while its target port is bound
// on the other side. The kernel lists sockets per namespace in procfs; a
// file opened inside a namespace keeps describing that namespace, so the
// files are opened once (in the right namespace) and re-read every scan.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/base/unique_fd.hpp"

namespace pastad::splice {

// Socket states as /proc/net/tcp prints them (include/net/tcp_states.h).
inline constexpr unsigned kTcpListen = 0x0a;
inline constexpr unsigned kUdpUnconnected = 0x07;  // TCP_CLOSE: a bound, unconnected UDP socket

struct BoundSocket {
    std::uint16_t port = 0;
    std::uint64_t inode = 0;
};

// The sockets in `state` listed in the text of one /proc/net/{tcp,udp}{,6}
// file (header line first). Malformed lines are skipped.
std::vector<BoundSocket> parse_proc_net(std::string_view text, unsigned state);

// One procfs table, opened in the calling thread's namespace.
class ProcNetTable {
public:
    ProcNetTable() = default;
    // `name` is "tcp", "tcp6", "udp" or "udp6". Opens
    // /proc/thread-self/net/NAME: /proc/self/net would describe the main
    // thread's namespace instead. A missing file (IPv6 disabled) leaves the
    // table empty, not an error.
    explicit ProcNetTable(const char* name);

    // Re-reads the table; empty when it could not be opened.
    std::vector<BoundSocket> read(unsigned state) const;

private:
    UniqueFd fd_;
};

}  // namespace pastad::splice

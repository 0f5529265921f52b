// SPDX-License-Identifier: GPL-2.0-or-later
// netlink/netlink.cpp - rtnetlink socket: dump the host's set-up, configure the namespace
//
// Theory of operation
// ===================
// What it does
//   pastad reads the host's links, global addresses and main-table routes
//   (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE dumps) to pick the template
//   interface (template.cpp), and writes the chosen values into the
//   namespace's tap: link up, MTU, MAC (RTM_NEWLINK), addresses
//   (RTM_NEWADDR), routes (RTM_NEWROUTE, main table, protocol "boot").
//
// Which namespace
//   A netlink socket belongs to the network namespace its creator was in
//   when socket(2) ran, for its whole life. Socket::open() therefore binds
//   the caller's current namespace: the daemon opens one socket on the host
//   thread and one from a thread that has entered the target namespace, and
//   may then use either from any thread (one at a time). Nothing here
//   changes namespaces. Link names are resolved over the same socket
//   (RTM_GETLINK with IFLA_IFNAME), never with if_nametoindex(), which would
//   ask the calling thread's namespace instead.
//
// Exchanges
//   One request at a time, each with its own sequence number. Change
//   requests carry NLM_F_ACK and block until the kernel's NLMSG_ERROR
//   answer (0 for success). Dumps end with NLMSG_DONE, which the kernel sends
//   whether or not NLM_F_ACK is set, so dumps do not ask for an ack. Replies
//   are read into a 32 KiB buffer, the most the kernel puts in one datagram
//   of a dump. Replies are walked by feed_datagram() rather than
//   mnl_cb_run(): it reads every exchange to its end even after a reply was
//   rejected or the dump was flagged as interrupted, so nothing is left
//   queued to confuse the next request; messages with another sequence
//   number are skipped for the same reason.
//
// Parsing (message.cpp)
//   Every message and attribute length is checked against what is left
//   before it is read, each attribute used is validated with libmnl for its
//   type and exact size, and bytes left over after the last attribute
//   reject the whole message. A malformed message fails the dump with
//   std::errc::bad_message rather than being skipped: the kernel never sends
//   one, so something is badly wrong. What is kept:
//   - links: index, name, MTU, 6-byte hardware address, IFF_UP, IFF_LOOPBACK;
//   - addresses: global scope only; IFA_LOCAL when present (the address of
//     the interface itself), else IFA_ADDRESS; IPv6 addresses that are
//     deprecated or failed DAD are left out, tentative ones are kept;
//   - routes: main table (RTA_TABLE, else rtm_table), RTN_UNICAST, not
//     cloned; destination, gateway, output interface, metric.
//
// Errors
//   The kernel's negative errno becomes a std::error_code in the system
//   category and is returned as is: EEXIST from an addition is for the
//   caller to judge (the prefix route of a new address, for one, exists
//   before the same route is copied). A dump flagged NLM_F_DUMP_INTR (the
//   tables changed while it ran) is repeated, at most kDumpAttempts times,
//   then fails with std::errc::interrupted. Nothing here throws.
//
// Routes through gateways
//   A route's gateway must normally lie in a prefix on the output link; the
//   kernel refuses other gateways (ENETUNREACH for IPv4, EHOSTUNREACH for
//   IPv6). The host's gateway can lie outside the prefix copied into the
//   namespace (a /32 host address, a gateway reached by a host route), so
//   such a refusal is retried once with RTNH_F_ONLINK: the namespace's tap
//   reaches every next hop directly anyway, as pastad answers for all of
//   them. Onlink IPv6 gateways need kernel 4.16 or later.
//
// Limitations
//   - Only the first next hop of a multipath route is kept (message.cpp).
//   - IPv4 routes with an IPv6 next hop (RTA_VIA) are read without gateway.
//   - Policy routing is ignored: only the main table is read and written.
//   - Extended ack messages (NETLINK_EXT_ACK) are not requested; errors are
//     reported by errno only.
#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include "daemon/base/log.hpp"
#include "netlink/netlink.hpp"

namespace pastad::netlink {

namespace {

// netlink_dump() sizes each dump datagram after the largest receive buffer
// the reader has offered, up to 32 KiB; offering that much keeps dumps in
// few datagrams, and a bigger buffer would never be filled.
constexpr std::size_t kReceiveSize = 32768;
constexpr int kDumpAttempts = 5;

// A request buffer aligned as netlink messages need.
struct alignas(NLMSG_ALIGNTO) RequestBuffer {
    std::array<std::byte, kRequestSize> bytes{};
};

}  // namespace

Socket::Socket(mnl_socket* s) : nl_(s, mnl_socket_close) {}
Socket::Socket(Socket&&) noexcept = default;
Socket& Socket::operator=(Socket&&) noexcept = default;
Socket::~Socket() = default;

Result<Socket> Socket::open() {
    mnl_socket* raw = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (raw == nullptr) {
        return errno_code();
    }
    Socket s(raw);
    if (mnl_socket_bind(raw, 0, MNL_SOCKET_AUTOPID) < 0) {
        return errno_code();
    }
    return s;
}

std::error_code Socket::exchange(std::span<const std::byte> req, std::uint32_t seq,
                                 const MessageFn& on_msg) {
    if (mnl_socket_sendto(nl_.get(), req.data(), req.size()) < 0) {
        return errno_code();
    }
    const unsigned portid = mnl_socket_get_portid(nl_.get());
    // Set-up path: one allocation per exchange is fine; std::vector's
    // storage is aligned well beyond the 4 bytes netlink needs.
    std::vector<std::byte> buf(kReceiveSize);
    Exchange ex;
    while (!ex.finished) {
        const ssize_t n = mnl_socket_recvfrom(nl_.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno_code();
        }
        feed_datagram(ex, {buf.data(), static_cast<std::size_t>(n)}, seq, portid, on_msg);
    }
    if (!ex.error && ex.interrupted) {
        return std::make_error_code(std::errc::interrupted);
    }
    return ex.error;
}

template <typename T>
Result<std::vector<T>> Socket::dump(std::uint16_t type, std::uint8_t family,
                                    Result<std::optional<T>> (*parse)(std::span<const std::byte>)) {
    for (int attempt = 1; attempt <= kDumpAttempts; ++attempt) {
        RequestBuffer req;
        const auto seq = next_seq();
        const auto len = build_dump(req.bytes, seq, type, family);
        if (!len) {
            return len.error();
        }
        std::vector<T> out;
        const auto ec = exchange({req.bytes.data(), len.value()}, seq,
                                 [&](std::span<const std::byte> msg) -> std::error_code {
                                     auto r = parse(msg);
                                     if (!r) {
                                         return r.error();
                                     }
                                     if (r.value()) {
                                         out.push_back(std::move(*r.value()));
                                     }
                                     return {};
                                 });
        if (ec == std::errc::interrupted) {
            log::netlink().debug("dump of type {} changed while read, attempt {}", type, attempt);
            continue;
        }
        if (ec) {
            return ec;
        }
        return out;
    }
    return std::make_error_code(std::errc::interrupted);
}

Result<std::vector<Link>> Socket::links() {
    return dump(RTM_GETLINK, AF_UNSPEC, parse_link);
}

Result<std::vector<std::pair<int, Prefix4>>> Socket::addrs4() {
    return dump(RTM_GETADDR, AF_INET, parse_addr4);
}

Result<std::vector<std::pair<int, Prefix6>>> Socket::addrs6() {
    return dump(RTM_GETADDR, AF_INET6, parse_addr6);
}

Result<std::vector<Route4>> Socket::routes4() {
    return dump(RTM_GETROUTE, AF_INET, parse_route4);
}

Result<std::vector<Route6>> Socket::routes6() {
    return dump(RTM_GETROUTE, AF_INET6, parse_route6);
}

std::error_code Socket::run_change(std::span<const std::byte> buf, std::uint32_t seq,
                                   const Result<std::size_t>& len) {
    if (!len) {
        return len.error();
    }
    // A change request has no reply besides its ack.
    return exchange(buf.first(len.value()), seq,
                    [](std::span<const std::byte>) { return std::error_code{}; });
}

Result<int> Socket::link_index(const std::string& name) {
    RequestBuffer req;
    const auto seq = next_seq();
    const auto len = build_get_link(req.bytes, seq, name);
    if (!len) {
        return len.error();
    }
    int index = 0;
    const auto ec = exchange({req.bytes.data(), len.value()}, seq,
                             [&](std::span<const std::byte> msg) -> std::error_code {
                                 auto r = parse_link(msg);
                                 if (!r) {
                                     return r.error();
                                 }
                                 if (r.value() && r.value()->name == name) {
                                     index = r.value()->index;
                                 }
                                 return {};
                             });
    if (ec) {
        return ec;
    }
    if (index == 0) {
        return errno_code(ENODEV);
    }
    return index;
}

std::error_code Socket::set_link_up(int ifindex) {
    LinkChange change;
    change.up = true;
    RequestBuffer req;
    const auto seq = next_seq();
    return run_change(req.bytes, seq, build_link_change(req.bytes, seq, ifindex, change));
}

std::error_code Socket::set_mtu(int ifindex, unsigned mtu) {
    LinkChange change;
    change.mtu = mtu;
    RequestBuffer req;
    const auto seq = next_seq();
    return run_change(req.bytes, seq, build_link_change(req.bytes, seq, ifindex, change));
}

std::error_code Socket::set_mac(int ifindex, const Mac& mac) {
    LinkChange change;
    change.mac = mac;
    RequestBuffer req;
    const auto seq = next_seq();
    return run_change(req.bytes, seq, build_link_change(req.bytes, seq, ifindex, change));
}

std::error_code Socket::add_addr(int ifindex, const Prefix4& p) {
    RequestBuffer req;
    const auto seq = next_seq();
    return run_change(req.bytes, seq, build_add_addr(req.bytes, seq, ifindex, p));
}

std::error_code Socket::add_addr(int ifindex, const Prefix6& p, bool nodad) {
    RequestBuffer req;
    const auto seq = next_seq();
    return run_change(req.bytes, seq, build_add_addr(req.bytes, seq, ifindex, p, nodad));
}

template <typename Addr>
std::error_code Socket::add_route_any(int ifindex, const Route<Addr>& r) {
    RequestBuffer req;
    auto seq = next_seq();
    auto ec = run_change(req.bytes, seq, build_add_route(req.bytes, seq, ifindex, r, false));
    // The kernel's answer for a gateway no prefix on the link covers.
    const bool off_link = ec == std::errc::network_unreachable || ec == std::errc::host_unreachable;
    if (!r.gw || !off_link) {
        return ec;
    }
    log::netlink().debug("gateway {} is off-link on ifindex {}, adding route {} as onlink",
                         r.gw->str(), ifindex, to_string(r.dst));
    seq = next_seq();
    return run_change(req.bytes, seq, build_add_route(req.bytes, seq, ifindex, r, true));
}

std::error_code Socket::add_route(int ifindex, const Route4& r) {
    return add_route_any(ifindex, r);
}

std::error_code Socket::add_route(int ifindex, const Route6& r) {
    return add_route_any(ifindex, r);
}

}  // namespace pastad::netlink

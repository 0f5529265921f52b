// SPDX-License-Identifier: GPL-2.0-or-later
// netlink/netlink.hpp - reading the host's network set-up and writing it into a namespace
//
// All calls act on the network namespace of the calling thread: to read the
// host, call from a thread in the host's namespace; to configure the target,
// call from a thread that has entered it. Set-up code only: none of this is
// called from the data plane.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "daemon/base/inet.hpp"
#include "daemon/base/result.hpp"

struct mnl_socket;

namespace pastad::netlink {

struct Link {
    int index = 0;
    std::string name;
    unsigned mtu = 0;
    Mac mac;
    bool up = false;
    bool loopback = false;
};

template <typename Addr>
struct Route {
    Prefix<Addr> dst;          // 0.0.0.0/0 or ::/0 for a default route
    std::optional<Addr> gw;    // next hop, if any
    int oif = 0;               // output interface index
    std::uint32_t metric = 0;  // RTA_PRIORITY
    bool operator==(const Route&) const = default;
};
using Route4 = Route<Ip4>;
using Route6 = Route<Ip6>;

// What pastad copies from one host interface for one address family.
template <typename Addr>
struct Template {
    Link link;
    std::vector<Prefix<Addr>> addrs;  // global-scope addresses, in kernel order
    std::vector<Route<Addr>> routes;  // main-table unicast routes through `link`
    std::optional<Addr> gw;           // next hop of the chosen default route
};
using Template4 = Template<Ip4>;
using Template6 = Template<Ip6>;

// ---------------------------------------------------------------------------
// Message building and parsing. Pure functions over caller-owned buffers: no
// socket, no kernel, so they can be tested with crafted bytes. Socket uses
// them for every request and reply.
//
// Buffers hold whole netlink messages and must be aligned to 4 bytes
// (NLMSG_ALIGNTO) as the kernel delivers them; a misaligned buffer is
// rejected with std::errc::invalid_argument.

// Enough for any request built here (the largest, an IPv6 route with
// gateway, needs about 100 bytes).
inline constexpr std::size_t kRequestSize = 256;

// One RTM_NEWLINK change; unset members are left as they are.
struct LinkChange {
    bool up = false;  // set IFF_UP (never clears it)
    std::optional<unsigned> mtu;
    std::optional<Mac> mac;
};

// Each build_*() writes one request into `buf` (header sequence `seq`, port
// id 0) and returns its length, or std::errc::no_buffer_space when `buf` is
// too small. Change requests carry NLM_F_ACK; additions also NLM_F_CREATE
// and NLM_F_EXCL, so an existing object is reported as EEXIST.
Result<std::size_t> build_dump(std::span<std::byte> buf, std::uint32_t seq, std::uint16_t type,
                               std::uint8_t family);
Result<std::size_t> build_get_link(std::span<std::byte> buf, std::uint32_t seq,
                                   const std::string& name);  // EINVAL: name too long
Result<std::size_t> build_link_change(std::span<std::byte> buf, std::uint32_t seq, int ifindex,
                                      const LinkChange& change);
Result<std::size_t> build_add_addr(std::span<std::byte> buf, std::uint32_t seq, int ifindex,
                                   const Prefix4& p);
Result<std::size_t> build_add_addr(std::span<std::byte> buf, std::uint32_t seq, int ifindex,
                                   const Prefix6& p, bool nodad);
// `onlink` sets RTNH_F_ONLINK: the gateway is taken as directly reachable
// through `ifindex` even when no prefix on that link covers it.
Result<std::size_t> build_add_route(std::span<std::byte> buf, std::uint32_t seq, int ifindex,
                                    const Route4& r, bool onlink);
Result<std::size_t> build_add_route(std::span<std::byte> buf, std::uint32_t seq, int ifindex,
                                    const Route6& r, bool onlink);

// Each parse_*() takes one whole message (header included) and returns:
// the value; nothing when the message is well-formed but not wanted (other
// message type or family, non-main table, non-unicast route, non-global or
// unusable address); or std::errc::bad_message when the message is malformed
// (short header, lengths running past the buffer, attributes of the wrong
// size, bytes left over after the last attribute). Nothing is trusted before
// it is checked.
Result<std::optional<Link>> parse_link(std::span<const std::byte> msg);
Result<std::optional<std::pair<int, Prefix4>>> parse_addr4(std::span<const std::byte> msg);
Result<std::optional<std::pair<int, Prefix6>>> parse_addr6(std::span<const std::byte> msg);
Result<std::optional<Route4>> parse_route4(std::span<const std::byte> msg);
Result<std::optional<Route6>> parse_route6(std::span<const std::byte> msg);

// Progress of one request/reply exchange, fed one received datagram at a
// time by feed_datagram().
struct Exchange {
    bool finished = false;     // NLMSG_DONE or NLMSG_ERROR (ack) seen
    bool interrupted = false;  // NLM_F_DUMP_INTR: the dump may be inconsistent, retry it
    std::error_code error;     // the kernel's error, or the first failure of `on_msg`
};

// Called with each reply message (type >= NLMSG_MIN_TYPE) of the exchange;
// a returned error is kept in Exchange::error and the rest is drained.
using MessageFn = std::function<std::error_code(std::span<const std::byte>)>;

// Walks the messages of one datagram that belong to request `seq` from
// port `portid` (others, left over from an earlier exchange, are skipped),
// until the exchange finishes. A message whose length runs past the datagram
// finishes it with std::errc::bad_message.
void feed_datagram(Exchange& ex, std::span<const std::byte> datagram, std::uint32_t seq,
                   std::uint32_t portid, const MessageFn& on_msg);

// ---------------------------------------------------------------------------

// Owns one NETLINK_ROUTE socket, bound in the caller's network namespace.
//
// The namespace is fixed when open() runs: the socket keeps acting on that
// namespace even when the calling thread later moves to another one. All
// calls block until the kernel has answered; one thread at a time.
class Socket {
public:
    // Fails with the errno of socket(2) or bind(2).
    static Result<Socket> open();
    Socket(Socket&&) noexcept;
    Socket& operator=(Socket&&) noexcept;
    ~Socket();

    // Dumps, in kernel order.
    Result<std::vector<Link>> links();
    Result<std::vector<std::pair<int, Prefix4>>> addrs4();  // (ifindex, address)
    Result<std::vector<std::pair<int, Prefix6>>> addrs6();
    Result<std::vector<Route4>> routes4();  // main table, unicast only
    Result<std::vector<Route6>> routes6();

    // Changes, each acknowledged by the kernel before returning. Errors are
    // the kernel's (ENODEV for a missing link, EEXIST for an address or route
    // that exists already: the caller decides whether that matters).
    Result<int> link_index(const std::string& name);  // asked over this socket
    std::error_code set_link_up(int ifindex);
    std::error_code set_mtu(int ifindex, unsigned mtu);
    std::error_code set_mac(int ifindex, const Mac& mac);
    std::error_code add_addr(int ifindex, const Prefix4& p);
    std::error_code add_addr(int ifindex, const Prefix6& p, bool nodad);
    // The route goes out of `ifindex` (r.oif is ignored), in the main table.
    // A gateway that no prefix on the link covers is retried as on-link
    // (RTNH_F_ONLINK).
    std::error_code add_route(int ifindex, const Route4& r);
    std::error_code add_route(int ifindex, const Route6& r);

private:
    explicit Socket(mnl_socket* s);
    std::uint32_t next_seq() { return seq_++; }
    // Sends the request in `req` (sequence `seq`) and reads replies until it
    // is acknowledged or its dump is done, handing each reply to `on_msg`.
    std::error_code exchange(std::span<const std::byte> req, std::uint32_t seq,
                             const MessageFn& on_msg);
    // Runs a change request that a build_*() call wrote into `buf` with
    // sequence `seq`, returning `len`'s error when building failed.
    std::error_code run_change(std::span<const std::byte> buf, std::uint32_t seq,
                               const Result<std::size_t>& len);
    template <typename T>
    Result<std::vector<T>> dump(std::uint16_t type, std::uint8_t family,
                                Result<std::optional<T>> (*parse)(std::span<const std::byte>));
    template <typename Addr>
    std::error_code add_route_any(int ifindex, const Route<Addr>& r);
    std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> nl_;
    std::uint32_t seq_ = 1;
};

// Picks the template interface for one family. With `wanted` non-empty, the
// link of that name; nothing (and `why` says so) when it does not exist or
// has no global address of this family, which the caller treats as fatal.
// Otherwise the link of the default route (prefix length 0) with the lowest
// metric, ties to the lower ifindex, skipping loopback links and links that
// are down; nothing when no such default route exists. `why` receives a
// one-line explanation for the log naming the choice and, when there were
// several default routes, every candidate with its metric. The template
// holds the link's global addresses in kernel order, every route whose oif
// is the link, and the chosen default route's gateway.
std::optional<Template4> choose_template4(const std::vector<Link>& links,
                                          const std::vector<std::pair<int, Prefix4>>& addrs,
                                          const std::vector<Route4>& routes,
                                          const std::string& wanted, std::string& why);
std::optional<Template6> choose_template6(const std::vector<Link>& links,
                                          const std::vector<std::pair<int, Prefix6>>& addrs,
                                          const std::vector<Route6>& routes,
                                          const std::string& wanted, std::string& why);

}  // namespace pastad::netlink

// SPDX-License-Identifier: GPL-2.0-or-later
// netlink/netlink.hpp - reading the host's network set-up and writing it into a namespace
//
// All calls act on the network namespace of the calling thread: to read the
// host, call from a thread in the host's namespace; to configure the target,
// call from a thread that has entered it. Set-up code only: none of this is
// called from the data plane.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
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
    Prefix<Addr> dst;           // 0.0.0.0/0 or ::/0 for a default route
    std::optional<Addr> gw;     // next hop, if any
    int oif = 0;                // output interface index
    std::uint32_t metric = 0;   // RTA_PRIORITY
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

// Owns one NETLINK_ROUTE socket, bound in the caller's network namespace.
class Socket {
public:
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

    // Changes, each acknowledged by the kernel before returning.
    Result<int> link_index(const std::string& name);
    std::error_code set_link_up(int ifindex);
    std::error_code set_mtu(int ifindex, unsigned mtu);
    std::error_code set_mac(int ifindex, const Mac& mac);
    std::error_code add_addr(int ifindex, const Prefix4& p);
    std::error_code add_addr(int ifindex, const Prefix6& p, bool nodad);
    std::error_code add_route(int ifindex, const Route4& r);
    std::error_code add_route(int ifindex, const Route6& r);

private:
    explicit Socket(mnl_socket* s);
    std::unique_ptr<mnl_socket, int (*)(mnl_socket*)> nl_;
    unsigned seq_ = 1;
};

// Picks the template interface for one family. With `wanted` non-empty, the
// link of that name (an error naming it when absent). Otherwise the link of
// the default route with the lowest metric; ties go to the lower ifindex.
// Returns nothing when no default route exists. `why` receives a one-line
// explanation of the choice for the log (which candidates there were).
std::optional<Template4> choose_template4(const std::vector<Link>& links,
                                          const std::vector<std::pair<int, Prefix4>>& addrs,
                                          const std::vector<Route4>& routes,
                                          const std::string& wanted, std::string& why);
std::optional<Template6> choose_template6(const std::vector<Link>& links,
                                          const std::vector<std::pair<int, Prefix6>>& addrs,
                                          const std::vector<Route6>& routes,
                                          const std::string& wanted, std::string& why);

}  // namespace pastad::netlink

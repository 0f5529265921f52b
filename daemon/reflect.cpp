// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/reflect.cpp - copying the host's addressing into the namespace
//
// Theory of operation
// -------------------
// What: at start, pick one host interface per family as the template (the
// one holding the default route with the lowest metric, or -i), and give the
// namespace's tap the same addresses, routes, gateway and a large MTU, so
// that the namespace believes it sits on the host's own uplink. No NAT is
// then needed: outbound connections leave from the host's own address.
// What not: the plan is not refreshed when the host's addressing changes
// later; a namespace keeps what it got at start.
// MTU 0 (-m 0) leaves the tap's MTU as the kernel made it.
// Overrides: -a replaces the address list with one address (prefix from -n,
// else the template's, else /24 or /64); -g replaces the gateway; -m the MTU;
// -4/-6 drop a family; --no-copy-addrs keeps only the first address,
// --no-copy-routes only the default route.
// Local mode: with no default route in either family, the namespace gets a
// link-local setup only (IPv4 169.254.2.1/16 via 169.254.2.2, and the
// kernel's IPv6 link-local address), and the log says so.
// Failure: any netlink error while applying is fatal at start-up (the caller
// exits non-zero before reporting readiness). EEXIST on an address or route
// is tolerated: the namespace may already carry it.
#include "reflect.hpp"

#include <fstream>
#include <stdexcept>

#include "daemon/base/log.hpp"

namespace pastad {

namespace {

// Default source MAC when the template has none (e.g. a tun-based VPN): a
// locally administered unicast address.
constexpr Mac kFallbackMac{{0x02, 0x70, 0x61, 0x73, 0x74, 0x61}};

// Local mode's IPv4 addressing, inside 169.254.0.0/16.
constexpr Ip4 kLocalAddr4{{169, 254, 2, 1}};
constexpr Ip4 kLocalGw4{{169, 254, 2, 2}};

template <typename Addr>
std::uint8_t default_prefix_len();
template <>
std::uint8_t default_prefix_len<Ip4>() {
    return 24;
}
template <>
std::uint8_t default_prefix_len<Ip6>() {
    return 64;
}

// Applies -a / -g and the copy options to one family's template.
template <typename Addr>
void fill_family(const std::optional<netlink::Template<Addr>>& t, const std::optional<Addr>& addr,
                 std::optional<unsigned> prefix, const std::optional<Addr>& gw, const Config& cfg,
                 std::vector<Prefix<Addr>>& addrs, std::vector<netlink::Route<Addr>>& routes,
                 std::optional<Addr>& out_gw) {
    if (t) {
        addrs = t->addrs;
        routes = t->routes;
        out_gw = t->gw;
    }
    if (addr) {
        std::uint8_t len = default_prefix_len<Addr>();
        if (prefix) {
            len = static_cast<std::uint8_t>(*prefix);
        } else if (!addrs.empty()) {
            len = addrs.front().len;
        }
        addrs = {Prefix<Addr>{*addr, len}};
    }
    if (!cfg.copy_addrs && addrs.size() > 1) {
        addrs.resize(1);
    }
    if (gw) {
        out_gw = gw;
        std::erase_if(routes, [](const auto& r) { return r.dst.len == 0; });
        netlink::Route<Addr> def;
        def.gw = gw;
        routes.insert(routes.begin(), def);
    }
    if (!cfg.copy_routes) {
        std::erase_if(routes, [](const auto& r) { return r.dst.len != 0; });
    }
}

}  // namespace

NetPlan make_plan(const Config& cfg, const std::optional<netlink::Template4>& t4,
                  const std::optional<netlink::Template6>& t6) {
    NetPlan p;
    p.mtu = cfg.mtu.value_or(65520);
    p.ns_mac = cfg.ns_mac;

    const bool want4 = cfg.ipv4 && (t4 || cfg.addr4);
    const bool want6 = cfg.ipv6 && (t6 || cfg.addr6);
    if (want4) {
        p.v4 = true;
        p.host_if4 = t4 ? t4->link.name : "";
        fill_family(t4, cfg.addr4, cfg.prefix4, cfg.gw4, cfg, p.addrs4, p.routes4, p.gw4);
    }
    if (want6) {
        p.v6 = true;
        p.host_if6 = t6 ? t6->link.name : "";
        fill_family(t6, cfg.addr6, cfg.prefix6, cfg.gw6, cfg, p.addrs6, p.routes6, p.gw6);
    }
    p.local_mode = !p.v4 && !p.v6;
    if (p.local_mode && cfg.ipv4) {
        // Nothing to reflect: an IPv4 link-local address (RFC 3927) and a
        // gateway beside it, so forwarded ports and the gateway mapping to
        // the host's loopback still work. IPv6 keeps its kernel link-local.
        p.v4 = true;
        p.addrs4 = {Prefix4{kLocalAddr4, 16}};
        p.gw4 = kLocalGw4;
        netlink::Route4 def;
        def.gw = kLocalGw4;
        p.routes4 = {def};
    }

    // The tap is named after the template unless -I says otherwise.
    if (!cfg.ns_ifname.empty()) {
        p.ifname = cfg.ns_ifname;
    } else if (t4 && p.v4) {
        p.ifname = t4->link.name;
    } else if (t6 && p.v6) {
        p.ifname = t6->link.name;
    } else {
        p.ifname = "tap0";
    }

    if (cfg.our_mac) {
        p.our_mac = *cfg.our_mac;
    } else {
        const Mac* m = t4 ? &t4->link.mac : (t6 ? &t6->link.mac : nullptr);
        p.our_mac = (m != nullptr && !m->is_zero() && !m->is_multicast()) ? *m : kFallbackMac;
    }
    return p;
}

NetPlan plan_network(const Config& cfg) {
    auto nl = netlink::Socket::open().value_or_throw("opening a netlink socket");
    const auto links = nl.links().value_or_throw("reading the host's links");

    std::optional<netlink::Template4> t4;
    std::optional<netlink::Template6> t6;
    if (cfg.ipv4) {
        const auto addrs = nl.addrs4().value_or_throw("reading the host's IPv4 addresses");
        const auto routes = nl.routes4().value_or_throw("reading the host's IPv4 routes");
        std::string why;
        t4 = netlink::choose_template4(links, addrs, routes, cfg.template_if4, why);
        if (!t4 && !cfg.template_if4.empty()) {
            throw std::invalid_argument("IPv4 template interface: " + why);
        }
        log::netlink().info("{}", why);
    }
    if (cfg.ipv6) {
        const auto addrs = nl.addrs6().value_or_throw("reading the host's IPv6 addresses");
        const auto routes = nl.routes6().value_or_throw("reading the host's IPv6 routes");
        std::string why;
        t6 = netlink::choose_template6(links, addrs, routes, cfg.template_if6, why);
        if (!t6 && !cfg.template_if6.empty()) {
            throw std::invalid_argument("IPv6 template interface: " + why);
        }
        log::netlink().info("{}", why);
    }
    NetPlan p = make_plan(cfg, t4, t6);
    if (p.local_mode) {
        log::netlink().warn(
            "no host interface with a default route: local mode, the namespace gets link-local "
            "addressing only ({} via {})",
            to_string(p.addrs4.empty() ? Prefix4{} : p.addrs4.front()),
            p.gw4 ? p.gw4->str() : "none");
    }
    return p;
}

namespace {

void tolerate_exists(std::error_code ec, const std::string& what) {
    if (ec && ec != std::errc::file_exists) {
        throw std::system_error(ec, what);
    }
}

}  // namespace

void apply_network(const Config& cfg, const NetPlan& plan) {
    auto nl = netlink::Socket::open().value_or_throw("opening a netlink socket in the namespace");

    const int lo = nl.link_index("lo").value_or_throw("finding lo in the namespace");
    tolerate_exists(nl.set_link_up(lo), "bringing lo up");
    if (cfg.splice_only) {
        return;
    }

    const std::string finding = "finding the tap " + plan.ifname + " in the namespace";
    const int tap = nl.link_index(plan.ifname).value_or_throw(finding.c_str());
    if (plan.ns_mac) {
        tolerate_exists(nl.set_mac(tap, *plan.ns_mac), "setting the tap's MAC address");
    }
    if (!cfg.config_net) {
        return;
    }
    // Addresses and routes are given: router advertisements must not add
    // more of either, or the namespace would differ from the host.
    if (plan.v6) {
        const std::string conf = "/proc/sys/net/ipv6/conf/" + plan.ifname + "/";
        std::ofstream(conf + "autoconf") << "0\n";
        if (plan.gw6) {
            std::ofstream(conf + "accept_ra") << "0\n";
        }
    }
    if (plan.mtu != 0) {
        tolerate_exists(nl.set_mtu(tap, plan.mtu), "setting the tap's MTU");
    }
    tolerate_exists(nl.set_link_up(tap), "bringing the tap up");
    for (const auto& a : plan.addrs4) {
        tolerate_exists(nl.add_addr(tap, a), "adding address " + to_string(a));
    }
    for (const auto& a : plan.addrs6) {
        tolerate_exists(nl.add_addr(tap, a, true), "adding address " + to_string(a));
    }
    // Routes with a gateway need the gateway reachable first: on-link
    // prefixes come with the addresses, other routes are added in order.
    for (const auto& r : plan.routes4) {
        tolerate_exists(nl.add_route(tap, r), "adding IPv4 route to " + to_string(r.dst));
    }
    for (const auto& r : plan.routes6) {
        tolerate_exists(nl.add_route(tap, r), "adding IPv6 route to " + to_string(r.dst));
    }
}

std::vector<std::string> describe(const NetPlan& plan) {
    std::vector<std::string> lines;
    auto join = [](const auto& v) {
        std::string s;
        for (const auto& x : v) {
            s += (s.empty() ? "" : ", ") + to_string(x);
        }
        return s.empty() ? std::string("none") : s;
    };
    if (plan.v4) {
        lines.push_back(fmt::format("IPv4 from {}: address {}, gateway {}, {} route(s)",
                                    plan.host_if4.empty() ? "options" : plan.host_if4,
                                    join(plan.addrs4), plan.gw4 ? plan.gw4->str() : "none",
                                    plan.routes4.size()));
    }
    if (plan.v6) {
        lines.push_back(fmt::format("IPv6 from {}: address {}, gateway {}, {} route(s)",
                                    plan.host_if6.empty() ? "options" : plan.host_if6,
                                    join(plan.addrs6), plan.gw6 ? plan.gw6->str() : "none",
                                    plan.routes6.size()));
    }
    lines.push_back(fmt::format("interface {} in the namespace, MTU {}, pastad's MAC {}",
                                plan.ifname, plan.mtu, plan.our_mac.str()));
    return lines;
}

}  // namespace pastad

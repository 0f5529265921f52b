// SPDX-License-Identifier: GPL-2.0-or-later
// netlink/template.cpp - choosing the host interface whose set-up the namespace copies
#include <spdlog/fmt/fmt.h>

#include <algorithm>

#include "netlink/netlink.hpp"

namespace pastad::netlink {

namespace {

template <typename Addr>
constexpr const char* kFamilyName = std::is_same_v<Addr, Ip4> ? "IPv4" : "IPv6";

const Link* find_index(const std::vector<Link>& links, int index) {
    const auto it = std::find_if(links.begin(), links.end(),
                                 [index](const Link& l) { return l.index == index; });
    return it == links.end() ? nullptr : &*it;
}

const Link* find_name(const std::vector<Link>& links, const std::string& name) {
    const auto it =
        std::find_if(links.begin(), links.end(), [&name](const Link& l) { return l.name == name; });
    return it == links.end() ? nullptr : &*it;
}

// "eth0 metric 100 via 192.0.2.1", or with a reason it cannot be used.
template <typename Addr>
std::string describe(const std::vector<Link>& links, const Route<Addr>& r) {
    const Link* l = find_index(links, r.oif);
    std::string s = l ? l->name : fmt::format("ifindex {}", r.oif);
    s += fmt::format(" metric {}", r.metric);
    s += r.gw ? " via " + r.gw->str() : std::string(" (no gateway)");
    if (!l) {
        s += " [unknown link]";
    } else if (l->loopback) {
        s += " [loopback, skipped]";
    } else if (!l->up) {
        s += " [down, skipped]";
    }
    return s;
}

// Copies what the namespace needs from `link` into a template.
template <typename Addr>
Template<Addr> fill(const Link& link, const std::vector<std::pair<int, Prefix<Addr>>>& addrs,
                    const std::vector<Route<Addr>>& routes) {
    Template<Addr> t;
    t.link = link;
    for (const auto& [index, prefix] : addrs) {
        if (index == link.index) {
            t.addrs.push_back(prefix);
        }
    }
    for (const auto& r : routes) {
        if (r.oif == link.index) {
            t.routes.push_back(r);
        }
    }
    return t;
}

// The interface named by the user (-i): it must exist and hold an address.
template <typename Addr>
std::optional<Template<Addr>> choose_wanted(const std::vector<Link>& links,
                                            const std::vector<std::pair<int, Prefix<Addr>>>& addrs,
                                            const std::vector<Route<Addr>>& routes,
                                            const std::string& wanted, std::string& why) {
    const char* family = kFamilyName<Addr>;
    const Link* link = find_name(links, wanted);
    if (!link) {
        why = fmt::format("{}: requested interface {} does not exist", family, wanted);
        return std::nullopt;
    }
    auto t = fill(*link, addrs, routes);
    if (t.addrs.empty()) {
        why = fmt::format("{}: requested interface {} has no global {} address", family, wanted,
                          family);
        return std::nullopt;
    }
    // The gateway: its own default route with the lowest metric, if any.
    const Route<Addr>* best = nullptr;
    for (const auto& r : t.routes) {
        if (r.dst.len == 0 && (!best || r.metric < best->metric)) {
            best = &r;
        }
    }
    t.gw = best ? best->gw : std::nullopt;
    why = fmt::format("{}: using {} as requested, {}", family, wanted,
                      best ? "default route " + describe(links, *best)
                           : std::string("no default route through it"));
    return t;
}

// The link of the best default route, explaining the choice.
template <typename Addr>
std::optional<Template<Addr>> choose_default(const std::vector<Link>& links,
                                             const std::vector<std::pair<int, Prefix<Addr>>>& addrs,
                                             const std::vector<Route<Addr>>& routes,
                                             std::string& why) {
    const char* family = kFamilyName<Addr>;
    std::vector<const Route<Addr>*> defaults;
    const Route<Addr>* best = nullptr;
    const Link* best_link = nullptr;
    for (const auto& r : routes) {
        if (r.dst.len != 0) {
            continue;
        }
        defaults.push_back(&r);
        const Link* l = find_index(links, r.oif);
        if (!l || l->loopback || !l->up) {
            continue;
        }
        if (!best || r.metric < best->metric || (r.metric == best->metric && r.oif < best->oif)) {
            best = &r;
            best_link = l;
        }
    }

    std::string candidates;
    if (defaults.size() > 1 || (!best && !defaults.empty())) {
        candidates = "; candidates: ";
        for (std::size_t i = 0; i < defaults.size(); ++i) {
            candidates += (i ? ", " : "") + describe(links, *defaults[i]);
        }
    }
    if (!best) {
        why = fmt::format("{}: no usable default route{}", family, candidates);
        return std::nullopt;
    }
    auto t = fill(*best_link, addrs, routes);
    t.gw = best->gw;
    why = fmt::format("{}: using {}, default route {}{}{}", family, best_link->name,
                      describe(links, *best), t.addrs.empty() ? " (no global address)" : "",
                      candidates);
    return t;
}

}  // namespace

std::optional<Template4> choose_template4(const std::vector<Link>& links,
                                          const std::vector<std::pair<int, Prefix4>>& addrs,
                                          const std::vector<Route4>& routes,
                                          const std::string& wanted, std::string& why) {
    return wanted.empty() ? choose_default(links, addrs, routes, why)
                          : choose_wanted(links, addrs, routes, wanted, why);
}

std::optional<Template6> choose_template6(const std::vector<Link>& links,
                                          const std::vector<std::pair<int, Prefix6>>& addrs,
                                          const std::vector<Route6>& routes,
                                          const std::string& wanted, std::string& why) {
    return wanted.empty() ? choose_default(links, addrs, routes, why)
                          : choose_wanted(links, addrs, routes, wanted, why);
}

}  // namespace pastad::netlink

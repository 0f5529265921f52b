// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/dns.cpp - the host's resolvers, what the namespace is told, and DNS forwarding
#include "daemon/dns.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "daemon/base/log.hpp"

namespace pastad {

namespace {

template <typename T>
void add_unique(std::vector<T>& v, const T& x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) {
        v.push_back(x);
    }
}

// One family's decision. `forward`: --dns-forward; `host_override`:
// --dns-host; `gw`: the gateway, used as forwarding address when a
// loopback resolver must be replaced and no --dns-forward was given.
template <typename Addr>
void plan_family(const char* fam, const std::vector<Addr>& given, bool dns_none,
                 const std::vector<Addr>& host_ns, const std::optional<Addr>& forward,
                 const std::optional<Addr>& host_override, const std::optional<Addr>& gw,
                 std::vector<Addr>& out, std::optional<Addr>& match, std::optional<Addr>& host,
                 std::vector<std::string>& notes) {
    // Where forwarded queries go: --dns-host, else the host's first resolver
    // (the first loopback one when the loop rule is what needs forwarding).
    const auto first_loopback =
        std::find_if(host_ns.begin(), host_ns.end(), [](const Addr& a) { return a.is_loopback(); });
    if (forward) {
        match = forward;
        if (host_override) {
            host = host_override;
        } else if (!host_ns.empty()) {
            host = host_ns.front();
        }
    } else if (first_loopback != host_ns.end() && gw) {
        match = gw;
        host = host_override ? *host_override : *first_loopback;
    }
    if (match && !host) {
        notes.push_back(
            fmt::format("DNS: no {} resolver on the host to forward {} to", fam, match->str()));
        match.reset();
    }
    if (match) {
        notes.push_back(fmt::format("DNS: queries to {} port 53 go to the host's resolver {}",
                                    match->str(), host->str()));
    }

    if (dns_none) {
        return;
    }
    if (!given.empty()) {
        out = given;
        return;
    }
    for (const Addr& a : host_ns) {
        if (match && a == *host) {
            add_unique(out, *match);
        } else if (a.is_loopback()) {
            if (match) {
                add_unique(out, *match);
            }
            notes.push_back(fmt::format(
                "DNS: host resolver {} is on loopback; the namespace is told {} instead", a.str(),
                match ? match->str() : std::string("nothing (no gateway to forward)")));
        } else {
            add_unique(out, a);
        }
    }
}

}  // namespace

ResolvConf parse_resolv_conf(std::string_view text) {
    ResolvConf rc;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key;
        if (!(words >> key) || key[0] == '#' || key[0] == ';') {
            continue;
        }
        if (key == "nameserver") {
            std::string addr;
            words >> addr;
            addr = addr.substr(0, addr.find('%'));  // fe80::1%eth0: the zone is the host's
            if (const auto a4 = Ip4::parse(addr)) {
                rc.ns4.push_back(*a4);
            } else if (const auto a6 = Ip6::parse(addr)) {
                rc.ns6.push_back(*a6);
            }
        } else if (key == "search" || key == "domain") {
            // resolv.conf(5): the last search or domain line wins.
            rc.search.clear();
            std::string d;
            while (words >> d && d[0] != '#' && d[0] != ';') {
                rc.search.push_back(d);
            }
        }
    }
    return rc;
}

ResolvConf read_resolv_conf(const std::string& path) {
    std::ifstream f(path);
    if (!f) {
        log::daemon().info("DNS: cannot read {}; the host's resolvers are unknown", path);
        return {};
    }
    std::ostringstream text;
    text << f.rdbuf();
    return parse_resolv_conf(text.str());
}

std::string resolv_conf_path() {
    const char* env = std::getenv("PASTAD_RESOLV_CONF");
    return env != nullptr && *env != '\0' ? env : "/etc/resolv.conf";
}

DnsPlan plan_dns(const Config& cfg, const ResolvConf& host, const std::optional<Ip4>& gw4,
                 const std::optional<Ip6>& gw6) {
    DnsPlan p;
    plan_family("IPv4", cfg.dns4, cfg.dns_none, host.ns4, cfg.dns_forward4, cfg.dns_host4, gw4,
                p.ns4, p.match4, p.host4, p.notes);
    plan_family("IPv6", cfg.dns6, cfg.dns_none, host.ns6, cfg.dns_forward6, cfg.dns_host6, gw6,
                p.ns6, p.match6, p.host6, p.notes);
    if (!cfg.search_none) {
        p.search = cfg.search.empty() ? host.search : cfg.search;
    }
    return p;
}

std::string namespace_resolv_conf(const DnsPlan& plan, const ResolvConf& host) {
    if (plan.ns4 == host.ns4 && plan.ns6 == host.ns6 && plan.search == host.search) {
        return {};
    }
    std::string text = "# written by pastad for this namespace\n";
    for (const auto& a : plan.ns4) {
        text += "nameserver " + a.str() + "\n";
    }
    for (const auto& a : plan.ns6) {
        text += "nameserver " + a.str() + "\n";
    }
    if (!plan.search.empty()) {
        text += "search";
        for (const auto& d : plan.search) {
            text += " " + d;
        }
        text += "\n";
    }
    return text;
}

DnsAnnouncement announced_dns(const Config& cfg, const DnsPlan& plan) {
    DnsAnnouncement a;
    if (cfg.dhcp_dns) {
        a.ns4 = plan.ns4;
        a.ns6 = plan.ns6;
    }
    if (cfg.dhcp_search) {
        a.search = plan.search;
    }
    return a;
}

void log_dns_plan(const DnsPlan& plan) {
    for (const auto& n : plan.notes) {
        log::daemon().info("{}", n);
    }
    std::string v4, v6;
    for (const auto& a : plan.ns4) {
        v4.append(" ").append(a.str());
    }
    for (const auto& a : plan.ns6) {
        v6.append(" ").append(a.str());
    }
    log::daemon().debug("DNS: nameservers for the namespace:{}{}, search list of {} domain(s)",
                        v4.empty() ? " (no IPv4)" : v4, v6.empty() ? " (no IPv6)" : v6,
                        plan.search.size());
}

}  // namespace pastad

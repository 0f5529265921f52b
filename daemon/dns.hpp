// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/dns.hpp - the host's resolvers, what the namespace is told, and DNS forwarding
//
// pastad reads the host's nameservers and search list from resolv.conf(5)
// (/etc/resolv.conf, or the file named by the environment variable
// PASTAD_RESOLV_CONF, for tests and unusual hosts) and decides, once at
// start, which nameservers and search domains the namespace is handed over
// DHCP, DHCPv6 and router advertisements, and which destination gets DNS
// forwarding (tap/address_map.hpp).
//
// The rule that matters: a resolver on a loopback address (127.0.0.53 of
// systemd-resolved, 127.0.0.1 of dnsmasq, ::1) means the host's loopback,
// not the namespace's; handing it out as is makes every query of the
// namespace go to its own loopback, where nothing answers (the classic DNS
// loop). Such a resolver is replaced by a forwarding address (the one of
// --dns-forward, else the gateway), and queries to that address on port 53
// are sent to the resolver on the host.
//
// Setup code: may allocate, never throws for a missing or odd file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/base/inet.hpp"
#include "daemon/config.hpp"

namespace pastad {

// What resolv.conf says: nameservers in file order, the last search (or
// domain) line's domains. Lines it does not know are ignored.
struct ResolvConf {
    std::vector<Ip4> ns4;
    std::vector<Ip6> ns6;
    std::vector<std::string> search;
};

ResolvConf parse_resolv_conf(std::string_view text);

// Reads `path`; a file that cannot be read gives an empty ResolvConf.
ResolvConf read_resolv_conf(const std::string& path);

// PASTAD_RESOLV_CONF when set and not empty, else /etc/resolv.conf.
std::string resolv_conf_path();

// The decision: what the namespace is told, and the forwarding rule.
struct DnsPlan {
    std::vector<Ip4> ns4;             // announced over DHCP (option 6)
    std::vector<Ip6> ns6;             // announced over RA RDNSS and DHCPv6 (option 23)
    std::vector<std::string> search;  // DHCP option 119, DHCPv6 24, RA DNSSL
    std::optional<Ip4> match4;        // queries to match*:53 go to host*:53
    std::optional<Ip4> host4;
    std::optional<Ip6> match6;
    std::optional<Ip6> host6;
    std::vector<std::string> notes;  // why: one line each, for the log
};

// Applies pasta's options (-D, --dns-forward, --dns-host, -S and their
// "none") to the host's configuration. `gw4`/`gw6` are the namespace's
// gateways, the default forwarding addresses.
DnsPlan plan_dns(const Config& cfg, const ResolvConf& host, const std::optional<Ip4>& gw4,
                 const std::optional<Ip6>& gw6);

// What DHCP, DHCPv6 and router advertisements hand out for `plan`: its
// nameservers only with --dhcp-dns and its search list only with
// --dhcp-search, as in pasta's namespace mode.
struct DnsAnnouncement {
    std::vector<Ip4> ns4;
    std::vector<Ip6> ns6;
    std::vector<std::string> search;
};

DnsAnnouncement announced_dns(const Config& cfg, const DnsPlan& plan);

// Logs the plan's notes at info, or debug when nothing notable was decided.
void log_dns_plan(const DnsPlan& plan);

// The resolv.conf a namespace should see for `plan`: its nameservers and
// search list, as DHCP would hand them out. Empty when it would say the same
// as the host's file, so the host's file can be left alone.
std::string namespace_resolv_conf(const DnsPlan& plan, const ResolvConf& host);

}  // namespace pastad

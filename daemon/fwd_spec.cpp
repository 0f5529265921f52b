// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/fwd_spec.cpp - parsing pasta's port forwarding specifications (-t -u -T -U)
#include "fwd_spec.hpp"

#include <fmt/format.h>

#include <net/if.h>

#include <algorithm>
#include <bitset>
#include <charconv>
#include <fstream>
#include <stdexcept>
#include <string_view>

namespace pastad {

namespace {

constexpr unsigned kNumPorts = 65536;
using PortSet = std::bitset<kNumPorts>;

[[noreturn]] void fail(char option, const std::string& arg, const std::string& why) {
    throw std::invalid_argument("invalid port forwarding specification '-" +
                                std::string(1, option) + " " + arg + "': " + why);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    for (;;) {
        const auto pos = s.find(sep, start);
        out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
        if (pos == std::string_view::npos) {
            return out;
        }
        start = pos + 1;
    }
}

// One port number, 1-65535, all digits.
std::optional<unsigned> parse_port(std::string_view s, std::string& why) {
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) {
        why = fmt::format("'{}' is not a port number", s);
        return std::nullopt;
    }
    if (v == 0 || v >= kNumPorts) {
        why = fmt::format("port {} is out of range (1-65535)", s);
        return std::nullopt;
    }
    return v;
}

// FIRST[-LAST]
std::optional<PortRange> parse_range(std::string_view s, std::string& why) {
    const auto dash = s.find('-');
    const auto first = parse_port(s.substr(0, dash), why);
    if (!first) {
        return std::nullopt;
    }
    auto last = first;
    if (dash != std::string_view::npos) {
        last = parse_port(s.substr(dash + 1), why);
        if (!last) {
            return std::nullopt;
        }
    }
    if (*last < *first) {
        why = "range " + std::string(s) + " ends before it starts";
        return std::nullopt;
    }
    return PortRange{static_cast<std::uint16_t>(*first), static_cast<std::uint16_t>(*last)};
}

// The part before '/': [ADDR][%IFACE], brackets around ADDR allowed.
void parse_address(char option, const std::string& arg, std::string_view text, FwdGroup& g) {
    const auto pct = text.find('%');
    std::string_view addr = text.substr(0, pct);
    if (pct != std::string_view::npos) {
        g.ifname = std::string(text.substr(pct + 1));
        if (g.ifname.empty() || g.ifname.size() >= IFNAMSIZ) {
            fail(option, arg, "bad interface name '" + g.ifname + "'");
        }
    }
    if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') {
        addr = addr.substr(1, addr.size() - 2);
    }
    if (addr.empty()) {
        if (g.ifname.empty()) {
            fail(option, arg, "empty address before '/'");
        }
        return;
    }
    if (const auto v4 = Ip4::parse(addr)) {
        g.addr = InAny::from(*v4);
    } else if (const auto v6 = Ip6::parse(addr)) {
        g.addr = InAny::from(*v6);
    } else {
        fail(option, arg, "'" + std::string(addr) + "' is not an IPv4 or IPv6 address");
    }
}

FwdGroup parse_group(char option, const std::string& arg, PortRange ephemeral) {
    FwdGroup g;
    g.text = arg;
    std::string_view ports = arg;
    if (const auto slash = ports.find('/'); slash != std::string_view::npos) {
        if (option == 'T' || option == 'U') {
            fail(option, arg, "a listening address is only allowed with -t and -u");
        }
        parse_address(option, arg, ports.substr(0, slash), g);
        ports = ports.substr(slash + 1);
    }

    // Exclusions first: they win over include ranges given before them.
    PortSet excluded;
    bool any_include = false;
    bool all = false;
    std::string why;
    for (const auto chunk : split(ports, ',')) {
        if (chunk.empty()) {
            fail(option, arg, "empty entry in the port list");
        }
        if (chunk.front() != '~') {
            continue;
        }
        const auto r = parse_range(chunk.substr(1), why);
        if (!r) {
            fail(option, arg, why);
        }
        for (unsigned p = r->first; p <= r->last; ++p) {
            if (excluded.test(p)) {
                fail(option, arg, "excluded ranges overlap");
            }
            excluded.set(p);
        }
    }

    std::vector<int> to(kNumPorts, -1);
    for (const auto chunk : split(ports, ',')) {
        if (chunk.front() == '~') {
            continue;
        }
        if (chunk == "auto") {
            g.scan = true;
            continue;
        }
        if (chunk == "all") {
            all = true;
            continue;
        }
        if (chunk == "none") {
            fail(option, arg, "'none' must be given alone");
        }
        any_include = true;
        const auto colon = chunk.find(':');
        const auto from = parse_range(chunk.substr(0, colon), why);
        if (!from) {
            fail(option, arg, why);
        }
        PortRange dest = *from;
        if (colon != std::string_view::npos) {
            const auto d = parse_range(chunk.substr(colon + 1), why);
            if (!d) {
                fail(option, arg, why);
            }
            if (d->last - d->first != from->last - from->first) {
                fail(option, arg,
                     "ranges " + std::string(chunk.substr(0, colon)) + " and " +
                         std::string(chunk.substr(colon + 1)) + " differ in size");
            }
            dest = *d;
        }
        for (unsigned p = from->first; p <= from->last; ++p) {
            to[p] = static_cast<int>(dest.first + (p - from->first));
        }
    }
    if (all && any_include) {
        fail(option, arg, "'all' cannot be combined with port ranges");
    }

    // No include entry: every non-ephemeral port (port 0 never).
    if (!any_include) {
        g.best_effort = true;
        for (unsigned p = 1; p < kNumPorts; ++p) {
            if (!ephemeral.contains(p)) {
                to[p] = static_cast<int>(p);
            }
        }
    }
    for (unsigned p = 1; p < kNumPorts; ++p) {
        if (to[p] >= 0 && !excluded.test(p)) {
            g.ports.push_back({static_cast<std::uint16_t>(p), static_cast<std::uint16_t>(to[p])});
        }
    }
    if (g.ports.empty()) {
        fail(option, arg, "no port left to forward");
    }
    return g;
}

}  // namespace

bool FwdSpec::scans() const {
    return std::any_of(groups.begin(), groups.end(), [](const FwdGroup& g) { return g.scan; });
}

FwdSpec parse_fwd_spec(char option, const std::vector<std::string>& args, PortRange ephemeral) {
    FwdSpec spec;
    spec.option = option;
    spec.proto = (option == 't' || option == 'T') ? FwdProto::Tcp : FwdProto::Udp;
    spec.dir = (option == 't' || option == 'u') ? FwdDir::HostToNs : FwdDir::NsToHost;
    if (args.empty()) {
        spec.groups.push_back(parse_group(option, "auto", ephemeral));
        return spec;
    }
    const bool has_none = std::find(args.begin(), args.end(), "none") != args.end();
    if (has_none && args.size() > 1) {
        const auto& other = args.front() == "none" ? args[1] : args.front();
        fail(option, "none", "conflicts with '-" + std::string(1, option) + " " + other + "'");
    }
    if (has_none) {
        return spec;
    }
    for (const auto& arg : args) {
        if (arg.empty()) {
            fail(option, arg, "empty specification");
        }
        spec.groups.push_back(parse_group(option, arg, ephemeral));
    }
    return spec;
}

FwdSpecs parse_forwards(const Config& cfg, PortRange ephemeral) {
    const auto one = [&](char option, const std::vector<std::string>& args, bool disabled) {
        if (disabled) {
            if (!args.empty() && !(args.size() == 1 && args.front() == "none")) {
                fail(option, args.front(),
                     option == 't' || option == 'T' ? "TCP is disabled (--no-tcp)"
                                                    : "UDP is disabled (--no-udp)");
            }
            FwdSpec s = parse_fwd_spec(option, {"none"}, ephemeral);
            return s;
        }
        return parse_fwd_spec(option, args, ephemeral);
    };
    FwdSpecs s;
    s.tcp_in = one('t', cfg.tcp_host, cfg.no_tcp);
    s.udp_in = one('u', cfg.udp_host, cfg.no_udp);
    s.tcp_out = one('T', cfg.tcp_ns, cfg.no_tcp);
    s.udp_out = one('U', cfg.udp_ns, cfg.no_udp);
    return s;
}

PortRange read_ephemeral_range() {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned first = 0;
    unsigned last = 0;
    if (in >> first >> last && first >= 1 && first <= last && last < kNumPorts) {
        return {static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)};
    }
    return {32768, 60999};
}

}  // namespace pastad

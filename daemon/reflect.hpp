// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/reflect.hpp - what the namespace's interface gets, copied from the host
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/config.hpp"
#include "netlink/netlink.hpp"

namespace pastad {

// The namespace's view of the network: the host's template interfaces with
// the command line's overrides applied. Built once at start.
struct NetPlan {
    std::string ifname;  // name of the tap inside the namespace
    unsigned mtu = 65520;
    Mac our_mac;                // source of every frame pastad sends
    std::optional<Mac> ns_mac;  // set on the tap when given

    bool v4 = false;
    std::string host_if4;  // template interface for IPv4, for the log
    std::vector<Prefix4> addrs4;
    std::vector<netlink::Route4> routes4;  // oif is ignored: all go through the tap
    std::optional<Ip4> gw4;

    bool v6 = false;
    std::string host_if6;
    std::vector<Prefix6> addrs6;
    std::vector<netlink::Route6> routes6;
    std::optional<Ip6> gw6;

    bool local_mode = false;  // no usable host interface: link-local only
};

// Reads the host's links, addresses and routes over netlink in the calling
// thread's namespace and builds the plan. Throws std::system_error or
// std::invalid_argument (an -i interface that does not exist) naming the cause.
NetPlan plan_network(const Config& cfg);

// Pure part of plan_network(), for tests: `t4`/`t6` are the chosen templates.
NetPlan make_plan(const Config& cfg, const std::optional<netlink::Template4>& t4,
                  const std::optional<netlink::Template6>& t6);

// Writes the plan into the namespace of the calling thread: tap MAC, MTU and
// link state always (and `lo` up); addresses and routes only with
// cfg.config_net; with cfg.splice_only only `lo` up. Throws
// std::system_error naming the failed step.
void apply_network(const Config& cfg, const NetPlan& plan);

// One line per family describing what was reflected, for the log.
std::vector<std::string> describe(const NetPlan& plan);

}  // namespace pastad

// SPDX-License-Identifier: GPL-2.0-or-later
// tests/fuzz/resolv_fuzz.cpp - libFuzzer target: resolv.conf parsing and the DNS plan
//
// pastad does not parse DNS messages (forwarded queries are relayed as
// opaque UDP and TCP payloads); the DNS input it does parse is the host's
// resolv.conf, whose contents it does not control. Each input is parsed as
// such a file, planned with and without a gateway, and turned into the
// namespace's resolv.conf and the DHCP/RA search list encoding. Properties:
// a loopback resolver is never handed to the namespace, and the namespace's
// resolv.conf parses back to exactly the plan's servers and search list.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "daemon/config.hpp"
#include "daemon/dns.hpp"
#include "tap/dhcp.hpp"

namespace pastad::fuzz {
namespace {

void require(bool ok) {
    if (!ok) {
        std::abort();
    }
}

void run(std::string_view text) {
    const ResolvConf host = parse_resolv_conf(text);
    const Config cfg;
    for (const bool with_gw : {true, false}) {
        const auto gw4 = with_gw ? Ip4::parse("10.0.2.2") : std::nullopt;
        const auto gw6 = with_gw ? Ip6::parse("fe80::1") : std::nullopt;
        const DnsPlan plan = plan_dns(cfg, host, gw4, gw6);
        for (const auto& a : plan.ns4) {
            require(!a.is_loopback());
        }
        for (const auto& a : plan.ns6) {
            require(!a.is_loopback());
        }
        require(plan.match4.has_value() == plan.host4.has_value());
        require(plan.match6.has_value() == plan.host6.has_value());
        const std::string ns_text = namespace_resolv_conf(plan, host);
        if (!ns_text.empty()) {
            const ResolvConf back = parse_resolv_conf(ns_text);
            require(back.ns4 == plan.ns4 && back.ns6 == plan.ns6);
            require(back.search == plan.search);
        }
        const auto wire = tap::encode_domain_names(plan.search);
        require(wire.size() <= 256 * plan.search.size());
    }
}

}  // namespace
}  // namespace pastad::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    pastad::fuzz::run({reinterpret_cast<const char*>(data), size});
    return 0;
}

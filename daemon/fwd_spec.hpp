// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/fwd_spec.hpp - parsing pasta's port forwarding specifications (-t -u -T -U)
//
// The grammar, as pasta documents it (one option argument):
//   none                     forward nothing (must stand alone)
//   [ADDR][%IFACE]/PORTS     listen on ADDR and/or IFACE only (-t and -u only)
//   PORTS                    comma-separated entries, each one of:
//     FIRST[-LAST][:TOFIRST[-TOLAST]]   forward FIRST..LAST to TOFIRST..TOLAST
//     ~FIRST[-LAST]                     never forward these (wins over ranges)
//     auto                              forward a port only while its target
//                                       port is bound on the other side
//     all                               every non-ephemeral port
// A PORTS list with no include entry (only exclusions, `all`, bare `auto`)
// means every non-ephemeral port; binding those is best effort.
// Options repeat; each argument becomes one FwdGroup. No option at all means
// `auto` (pasta's default for all four options).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/base/inet.hpp"
#include "daemon/config.hpp"

namespace pastad {

// An inclusive range of port numbers.
struct PortRange {
    std::uint16_t first = 0;
    std::uint16_t last = 0;
    bool contains(unsigned port) const { return port >= first && port <= last; }
};

// One forwarded port: listen on `port`, deliver to `to_port` on the other side.
struct PortMap {
    std::uint16_t port = 0;
    std::uint16_t to_port = 0;
    bool operator==(const PortMap&) const = default;
};

// What one option argument asks for.
struct FwdGroup {
    std::string text;            // the argument as given, for messages
    std::optional<InAny> addr;   // listening address; unset: each enabled family's wildcard
    std::string ifname;          // listen on this interface only; empty: any
    bool scan = false;           // `auto`: bind a port only while its target is bound
    bool best_effort = false;    // no explicit range: failures to bind are tolerated
    std::vector<PortMap> ports;  // sorted by port, exclusions already removed
};

enum class FwdProto { Tcp, Udp };
enum class FwdDir { HostToNs, NsToHost };  // -t/-u listen on the host; -T/-U in the namespace

struct FwdSpec {
    char option = 't';  // 't', 'u', 'T' or 'U', for messages
    FwdProto proto = FwdProto::Tcp;
    FwdDir dir = FwdDir::HostToNs;
    std::vector<FwdGroup> groups;  // empty: nothing is forwarded (`none`)

    bool scans() const;
};

struct FwdSpecs {
    FwdSpec tcp_in;   // -t
    FwdSpec udp_in;   // -u
    FwdSpec tcp_out;  // -T
    FwdSpec udp_out;  // -U
};

// Parses the arguments of one option (`option` is 't', 'u', 'T' or 'U').
// `args` empty means the option was not given: pasta's default, `auto`.
// `ephemeral` is the kernel's ephemeral port range, left out of `all`, of
// exclusion-only lists and of bare `auto`. Throws std::invalid_argument with
// a message naming the option and the bad argument. Pure: touches no socket.
FwdSpec parse_fwd_spec(char option, const std::vector<std::string>& args, PortRange ephemeral);

// All four options of `cfg`; with --no-tcp/--no-udp the matching specs are
// empty, and an explicit forward of a disabled protocol is an error.
FwdSpecs parse_forwards(const Config& cfg, PortRange ephemeral);

// net.ipv4.ip_local_port_range of the calling thread's namespace, or the
// kernel's default (32768-60999) when it cannot be read.
PortRange read_ephemeral_range();

}  // namespace pastad

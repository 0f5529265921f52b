// SPDX-License-Identifier: GPL-2.0-or-later
// tap/outbound.hpp - binding host sockets of namespace flows to an outbound interface
//
// --outbound-if4 and --outbound-if6 bind every host socket that carries a
// flow the namespace opened (TCP connections, UDP flows, ICMP echo) to one
// host interface (SO_BINDTODEVICE), so that the traffic leaves by that
// interface whatever the routing table prefers. Shared by the TCP, UDP and
// ICMP translators.
#pragma once

#include <string>

#include "daemon/base/inet.hpp"

namespace pastad::tap {

// Binds `fd`, a fresh host socket of the family of `dst`, to interface
// `ifname`; an empty name binds nothing. A loopback `dst` (the gateway or
// DNS stand-ins mapped to the host's loopback) is left unbound, as only
// `lo` reaches it. Returns false when the kernel refuses: the caller then
// closes the socket rather than let the flow leave by another interface.
// The first refusal of each family is logged with its likely cause
// (a missing interface, or CAP_NET_RAW on kernels before 5.7); later ones
// are not, since they repeat per flow. Any thread.
bool bind_outbound_if(int fd, const InAny& dst, const std::string& ifname);

}  // namespace pastad::tap

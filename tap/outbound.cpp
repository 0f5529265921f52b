// SPDX-License-Identifier: GPL-2.0-or-later
// tap/outbound.cpp - binding host sockets of namespace flows to an outbound interface
#include "tap/outbound.hpp"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "daemon/base/log.hpp"

namespace pastad::tap {

namespace {

// Why SO_BINDTODEVICE failed, in the operator's terms.
std::string explain(int err, const std::string& ifname) {
    switch (err) {
        case ENODEV:
            return "the host has no interface " + ifname;
        case EPERM:
            // Linux 5.7 (commit c427bfec18f2, "net: core: enable
            // SO_BINDTODEVICE for non-root users") dropped the capability
            // check for a socket not yet bound to a device.
            return "the kernel asks for CAP_NET_RAW (kernels before 5.7 do)";
        default:
            return std::strerror(err);
    }
}

}  // namespace

bool bind_outbound_if(int fd, const InAny& dst, const std::string& ifname) {
    if (ifname.empty() || (dst.is_v4() ? dst.v4().is_loopback() : dst.a.is_loopback())) {
        return true;
    }
    if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(),
                     static_cast<socklen_t>(ifname.size())) == 0) {
        return true;
    }
    const int err = errno;
    static std::atomic<bool> warned4{false};
    static std::atomic<bool> warned6{false};
    std::atomic<bool>& warned = dst.is_v4() ? warned4 : warned6;
    if (!warned.exchange(true)) {
        log::tap().error(
            "cannot bind IPv{} outbound sockets to {} ({}): such flows are refused; "
            "further failures are not logged",
            dst.is_v4() ? 4 : 6, ifname, explain(err, ifname));
    }
    return false;
}

}  // namespace pastad::tap

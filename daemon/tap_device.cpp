// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/tap_device.cpp - creating the namespace's tap interface
#include "tap_device.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "daemon/base/log.hpp"
#include "daemon/base/result.hpp"
#include "daemon/vnet_header.hpp"

namespace pastad {

UniqueFd open_tap(const std::string& name) {
    UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
        const int err = errno;
        std::string what = "opening /dev/net/tun";
        if (err == EACCES || err == EPERM) {
            what += " (it must be readable and writable by this user: mode 0666 is usual)";
        } else if (err == ENOENT) {
            what += " (load the tun module, or create the node: mknod /dev/net/tun c 10 200)";
        }
        throw std::system_error(errno_code(err), what);
    }
    ifreq ifr{};
    // A virtio-net header in front of each frame lets the namespace's kernel
    // leave TCP and UDP checksums to us (TUN_F_CSUM): it would otherwise
    // compute them in software, often in pastad's own system calls (its ACK
    // lets the namespace send more). The I/O back end reads the header
    // length back from the descriptor.
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) {
        throw std::system_error(errno_code(), "creating tap interface " + name);
    }
    const int hdr_len = sizeof(VnetHeader);
    if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &hdr_len) != 0 ||
        ::ioctl(fd.get(), TUNSETOFFLOAD, static_cast<unsigned long>(TUN_F_CSUM)) != 0) {
        // Limitation: without the offload the namespace computes checksums
        // itself; frames still carry the (zero) header, which stays correct.
        log::daemon().debug("tap {}: no checksum offload: {}", name, std::strerror(errno));
    }
    return fd;
}

}  // namespace pastad

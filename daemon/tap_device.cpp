// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/tap_device.cpp - creating the namespace's tap interface, or adopting one
#include "tap_device.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
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

UniqueFd adopt_tap(int fd, std::string& name) {
    const std::string which = "-F/--fd " + std::to_string(fd);
    if (::fcntl(fd, F_GETFD) < 0) {
        throw std::invalid_argument(which + ": not an open file descriptor");
    }
    // TUNGETIFF answers only on a tun file attached to an interface; other
    // files refuse the ioctl (ENOTTY, EINVAL), an unattached one gives EBADFD.
    ifreq ifr{};
    if (::ioctl(fd, TUNGETIFF, &ifr) != 0) {
        const int err = errno;
        if (err == EBADFD) {
            throw std::invalid_argument(which + ": a /dev/net/tun file with no interface attached");
        }
        throw std::invalid_argument(which + ": not a tap device (" + std::strerror(err) + ")");
    }
    const std::string ifname(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
    const auto flags = static_cast<unsigned short>(ifr.ifr_flags);
    if ((flags & IFF_TAP) == 0) {
        throw std::invalid_argument(which + ": " + ifname +
                                    " is a tun (IP) device; pastad needs a tap (Ethernet) one");
    }
    if ((flags & IFF_NO_PI) == 0 || (flags & IFF_VNET_HDR) != 0) {
        throw std::invalid_argument(which + ": tap " + ifname +
                                    " must be made with IFF_NO_PI and without IFF_VNET_HDR, "
                                    "so that each read is one Ethernet frame");
    }
    const int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        ::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        throw std::system_error(errno_code(), which + ": setting it non-blocking");
    }
    name = ifname;
    return UniqueFd(fd);
}

}  // namespace pastad

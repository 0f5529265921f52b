// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/tap_device.hpp - creating the namespace's tap interface, or adopting one
#pragma once

#include <string>

#include "daemon/base/unique_fd.hpp"

namespace pastad {

// Creates tap interface `name` in the calling thread's network namespace
// (the namespace is fixed when /dev/net/tun is opened) and returns its
// descriptor, non-blocking, without packet information headers: each read or
// write is one Ethernet frame. Throws std::system_error naming the cause, with
// a hint when /dev/net/tun is not accessible.
UniqueFd open_tap(const std::string& name);

// -F/--fd: takes over `fd`, a tap device the caller created and attached,
// and returns it non-blocking and close-on-exec, with the interface's name
// in `name` (from TUNGETIFF), so that netlink can find and configure it.
// Throws std::invalid_argument when `fd` is not open, is not a tun/tap file,
// is a tun (layer 3) device, or carries packet information or virtio-net
// headers pastad does not expect; std::system_error for other failures.
// On error `fd` is left open, owned by the caller.
UniqueFd adopt_tap(int fd, std::string& name);

}  // namespace pastad

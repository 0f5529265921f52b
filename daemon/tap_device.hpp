// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/tap_device.hpp - creating the namespace's tap interface
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

}  // namespace pastad

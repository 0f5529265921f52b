// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/vnet_header.hpp - the virtio-net header a tap with IFF_VNET_HDR uses
//
// Declared here because <linux/virtio_net.h> does not compile as C++ (a
// member is named `class`). Layout of struct virtio_net_hdr, in the
// kernel's byte order for a tap (native: TUNSETVNETLE/BE are not used).
#pragma once

#include <cstdint>

namespace pastad {

struct VnetHeader {
    std::uint8_t flags;
    std::uint8_t gso_type;
    std::uint16_t hdr_len;
    std::uint16_t gso_size;
    std::uint16_t csum_start;   // where the checksummed data starts
    std::uint16_t csum_offset;  // where the checksum goes, from csum_start
};
static_assert(sizeof(VnetHeader) == 10, "the kernel's struct virtio_net_hdr is 10 bytes");

inline constexpr std::uint8_t kVnetNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM

}  // namespace pastad

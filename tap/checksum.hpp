// SPDX-License-Identifier: GPL-2.0-or-later
// tap/checksum.hpp - Internet checksum (RFC 1071) and pseudo-header sums
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "daemon/base/inet.hpp"

namespace pastad::tap {

// Adds `data` to a running one's-complement sum of 16-bit big-endian words.
// The sum is kept unfolded in 32+ bits; fold it with csum_fold(). Odd-length
// data is padded with a zero byte, so only the last chunk may be odd.
std::uint32_t csum_add(std::span<const std::byte> data, std::uint32_t sum = 0);

// Folds a running sum to 16 bits and complements it: the value for the header.
std::uint16_t csum_fold(std::uint32_t sum);

// Pseudo-header sums (RFC 768, RFC 9293 section 3.1, RFC 8200 section 8.1).
std::uint32_t pseudo_sum4(const Ip4& src, const Ip4& dst, std::uint8_t proto, std::uint16_t len);
std::uint32_t pseudo_sum6(const Ip6& src, const Ip6& dst, std::uint8_t proto, std::uint32_t len);

// Checksum of a whole L4 segment (header with its checksum field zeroed, or
// included when verifying: a correct segment then yields 0).
std::uint16_t l4_checksum(const InAny& src, const InAny& dst, std::uint8_t proto,
                          std::span<const std::byte> segment);

// Completes a checksum its sender left partial (a kernel's CHECKSUM_PARTIAL,
// virtio-net's NEEDS_CSUM): the 16-bit field at `start + offset` holds the
// pseudo-header sum, and the checksum covers `frame` from `start` to its end.
// Returns false, leaving `frame` alone, when the field lies outside it.
bool complete_checksum(std::span<std::byte> frame, std::size_t start, std::size_t offset);

}  // namespace pastad::tap

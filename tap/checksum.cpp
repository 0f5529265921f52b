// SPDX-License-Identifier: GPL-2.0-or-later
// tap/checksum.cpp - Internet checksum over byte spans
//
// The sum is computed 64 bits at a time with end-around carry, which is
// byte-order independent (RFC 1071 section 2(B)): words are added in host
// order and the folded result is swapped to network order once at the end.
#include "checksum.hpp"

#include <arpa/inet.h>
#include <endian.h>

#include <cstring>

namespace pastad::tap {

namespace {

// Sums `data` as native-order 16-bit words into a 64-bit accumulator.
std::uint64_t sum_native(const std::byte* p, std::size_t n, std::uint64_t acc) {
    while (n >= 32) {
        std::uint64_t w[4];
        std::memcpy(w, p, sizeof(w));
        for (auto x : w) {
            acc += x;
            acc += (acc < x);  // end-around carry
        }
        p += 32;
        n -= 32;
    }
    while (n >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        acc += w;
        acc += (acc < w);
        p += 8;
        n -= 8;
    }
    std::uint64_t tail = 0;
    if (n > 0) {
        // An empty span may carry a null pointer, which memcpy must not see.
        std::memcpy(&tail, p, n);  // zero-padded, as RFC 1071 asks for odd lengths
    }
    acc += tail;
    acc += (acc < tail);
    return acc;
}

std::uint32_t fold64(std::uint64_t acc) {
    acc = (acc & 0xffffffff) + (acc >> 32);
    acc = (acc & 0xffffffff) + (acc >> 32);
    return static_cast<std::uint32_t>(acc);
}

}  // namespace

std::uint32_t csum_add(std::span<const std::byte> data, std::uint32_t sum) {
    // `sum` arrives in big-endian word arithmetic; convert to native words.
    static_assert(__BYTE_ORDER == __LITTLE_ENDIAN || __BYTE_ORDER == __BIG_ENDIAN);
    std::uint32_t folded = fold64(sum_native(data.data(), data.size(), 0));
    folded = (folded & 0xffff) + (folded >> 16);
    folded = (folded & 0xffff) + (folded >> 16);
    const std::uint16_t native16 = static_cast<std::uint16_t>(folded);
    // Words were added in host order; RFC 1071 section 2(B) lets us swap once.
    const std::uint32_t be = ntohs(native16);
    return sum + be;
}

std::uint16_t csum_fold(std::uint32_t sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum & 0xffff);
}

std::uint32_t pseudo_sum4(const Ip4& src, const Ip4& dst, std::uint8_t proto, std::uint16_t len) {
    std::uint32_t s = 0;
    s += (static_cast<std::uint32_t>(src.b[0]) << 8) | src.b[1];
    s += (static_cast<std::uint32_t>(src.b[2]) << 8) | src.b[3];
    s += (static_cast<std::uint32_t>(dst.b[0]) << 8) | dst.b[1];
    s += (static_cast<std::uint32_t>(dst.b[2]) << 8) | dst.b[3];
    s += proto;
    s += len;
    return s;
}

std::uint32_t pseudo_sum6(const Ip6& src, const Ip6& dst, std::uint8_t proto, std::uint32_t len) {
    std::uint32_t s = 0;
    for (std::size_t i = 0; i < 16; i += 2) {
        s += (static_cast<std::uint32_t>(src.b[i]) << 8) | src.b[i + 1];
        s += (static_cast<std::uint32_t>(dst.b[i]) << 8) | dst.b[i + 1];
    }
    s += len >> 16;
    s += len & 0xffff;
    s += proto;
    return s;
}

std::uint16_t l4_checksum(const InAny& src, const InAny& dst, std::uint8_t proto,
                          std::span<const std::byte> segment) {
    std::uint32_t s;
    if (src.is_v4()) {
        s = pseudo_sum4(src.v4(), dst.v4(), proto, static_cast<std::uint16_t>(segment.size()));
    } else {
        s = pseudo_sum6(src.a, dst.a, proto, static_cast<std::uint32_t>(segment.size()));
    }
    return csum_fold(csum_add(segment, s));
}

bool complete_checksum(std::span<std::byte> frame, std::size_t start, std::size_t offset) {
    if (start > frame.size() || offset > frame.size() - start ||
        frame.size() - start - offset < 2) {
        return false;
    }
    std::byte* field = frame.data() + start + offset;
    std::uint16_t sum = csum_fold(csum_add(frame.subspan(start)));
    // A computed zero is sent as all ones: the same value in one's
    // complement, and UDP reserves zero for "no checksum" (RFC 768).
    if (sum == 0) {
        sum = 0xffff;
    }
    field[0] = static_cast<std::byte>(sum >> 8);
    field[1] = static_cast<std::byte>(sum & 0xff);
    return true;
}

}  // namespace pastad::tap

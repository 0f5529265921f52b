// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/base/inet.hpp - IPv4, IPv6 and MAC address values shared by all folders
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pastad {

// An IPv4 address in network byte order, as it appears on the wire.
struct Ip4 {
    std::array<std::uint8_t, 4> b{};

    static std::optional<Ip4> parse(std::string_view text);
    static Ip4 from_host(std::uint32_t host_order);
    std::uint32_t host_order() const;
    std::string str() const;
    bool is_unspecified() const { return host_order() == 0; }
    bool is_loopback() const { return b[0] == 127; }
    bool is_link_local() const { return b[0] == 169 && b[1] == 254; }
    bool is_multicast() const { return (b[0] & 0xf0) == 0xe0; }
    auto operator<=>(const Ip4&) const = default;
};

// An IPv6 address in network byte order.
struct Ip6 {
    std::array<std::uint8_t, 16> b{};

    static std::optional<Ip6> parse(std::string_view text);
    std::string str() const;
    bool is_unspecified() const;
    bool is_loopback() const;
    bool is_link_local() const { return b[0] == 0xfe && (b[1] & 0xc0) == 0x80; }
    bool is_multicast() const { return b[0] == 0xff; }
    auto operator<=>(const Ip6&) const = default;
};

// A 48-bit Ethernet address.
struct Mac {
    std::array<std::uint8_t, 6> b{};

    static std::optional<Mac> parse(std::string_view text);
    std::string str() const;
    bool is_zero() const { return b == std::array<std::uint8_t, 6>{}; }
    bool is_broadcast() const;
    bool is_multicast() const { return (b[0] & 1) != 0; }
    auto operator<=>(const Mac&) const = default;
};

// Either family in one value: IPv4 is held as an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d), so flow tables need one key type.
struct InAny {
    Ip6 a;

    static InAny from(const Ip4& v4);
    static InAny from(const Ip6& v6) { return InAny{v6}; }
    bool is_v4() const;
    Ip4 v4() const;  // only when is_v4()
    std::string str() const;
    auto operator<=>(const InAny&) const = default;
};

// Hash of an address and a 16-bit value (a port, an echo identifier), for
// flow tables keyed by both.
std::size_t hash_addr16(const InAny& a, std::uint16_t v);

// An address with a prefix length, e.g. 198.51.100.2/24.
template <typename Addr>
struct Prefix {
    Addr addr{};
    std::uint8_t len = 0;
    auto operator<=>(const Prefix&) const = default;
};
using Prefix4 = Prefix<Ip4>;
using Prefix6 = Prefix<Ip6>;

// True when `a` and `b` agree in their first `len` bits.
bool same_prefix(const Ip4& a, const Ip4& b, unsigned len);
bool same_prefix(const Ip6& a, const Ip6& b, unsigned len);

std::string to_string(const Prefix4& p);
std::string to_string(const Prefix6& p);

}  // namespace pastad

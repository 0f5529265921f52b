// SPDX-License-Identifier: GPL-2.0-or-later
// tap/arp.hpp - answering the namespace's ARP requests with pastad's MAC
#pragma once

#include <cstddef>
#include <optional>
#include <span>

#include "daemon/base/inet.hpp"
#include "tap/frame.hpp"

namespace pastad::tap {

inline constexpr std::size_t kArpLen = 28;  // Ethernet/IPv4 ARP body (RFC 826)
inline constexpr std::size_t kArpFrameLen = kEthHeaderLen + kArpLen;

// Answers ARP requests from the namespace so that the gateway and every
// off-link address resolve to pastad's MAC: requests for any IPv4 address
// get a reply, except for the namespace's own address, gratuitous ARP
// (sender == target), probes (sender 0.0.0.0, RFC 5227) and anything that
// is not an Ethernet/IPv4 request. Used by the tap event loop only; not
// thread-safe.
class ArpResponder {
public:
    // `our_mac`: pastad's MAC, the answer to every request. `ns_addr`: the
    // namespace's own address, never answered for (unspecified: none).
    ArpResponder(const Mac& our_mac, const Ip4& ns_addr) : mac_(our_mac), ns_addr_(ns_addr) {}

    void set_ns_addr(const Ip4& a) { ns_addr_ = a; }

    // Writes the reply to `f` into `out` and returns its length, 0 when there
    // is none. `why` is BadArp for a malformed ARP frame, None otherwise
    // (including frames that are not ARP at all). Also learns the namespace's
    // MAC from `f`, as observe() does.
    std::size_t handle(const Frame& f, std::span<std::byte> out, DropReason& why);
    std::size_t handle(const Frame& f, std::span<std::byte> out) {
        DropReason why = DropReason::None;
        return handle(f, out, why);
    }

    // MAC learning: the namespace's MAC is the source MAC of its frames.
    // Records the source of `f` when it is a usable unicast address; returns
    // true when the learnt MAC changed. Call for every frame from the tap.
    bool observe(const Frame& f);
    const std::optional<Mac>& ns_mac() const { return ns_mac_; }

private:
    Mac mac_;
    Ip4 ns_addr_;
    std::optional<Mac> ns_mac_;
};

}  // namespace pastad::tap

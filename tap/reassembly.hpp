// SPDX-License-Identifier: GPL-2.0-or-later
// tap/reassembly.hpp - reassembly of the namespace's fragmented IPv4 and IPv6 datagrams
//
// The namespace's kernel fragments a UDP datagram larger than the tap MTU;
// the data plane hands each fragment here (parsed by parse_fragment()) and
// gets the whole L4 part back when the last missing piece arrives. Memory
// is fixed at construction (kContexts buffers of 64 KiB); nothing allocates
// afterwards. Event-loop only.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "daemon/base/inet.hpp"
#include "tap/frame.hpp"

namespace pastad::tap {

class Reassembler {
public:
    using Clock = std::chrono::steady_clock;

    // Datagrams in reassembly at once; a new one beyond evicts the oldest.
    static constexpr std::size_t kContexts = 4;
    // Largest fragmented part: the IP length fields allow no more.
    static constexpr std::size_t kMaxLen = 65535;

    struct Stats {
        std::uint64_t fragments = 0;    // handed to add()
        std::uint64_t reassembled = 0;  // datagrams completed
        std::uint64_t timed_out = 0;    // datagrams given up after the timeout
        std::uint64_t evicted = 0;      // datagrams given up for a newer one
        std::uint64_t malformed = 0;    // overlap, beyond 65535, misaligned, inconsistent end
    };

    // Fragments on a tap arrive back to back; a datagram not complete after
    // `timeout` lost a fragment and is given up.
    explicit Reassembler(std::chrono::milliseconds timeout = std::chrono::seconds(5));

    // Adds fragment `f` (`frag.is_fragment` set). Returns the reassembled
    // L4 part (header and payload) when this fragment completed it: valid
    // until the next call. A malformed fragment discards its whole datagram
    // (RFC 5722 for overlaps).
    std::optional<std::span<const std::byte>> add(const Frame& f, const FragmentInfo& frag,
                                                  Clock::time_point now);

    // Gives up datagrams older than the timeout.
    void expire(Clock::time_point now);

    const Stats& stats() const { return stats_; }
    std::size_t pending() const;

private:
    struct Context {
        bool used = false;
        InAny src;
        InAny dst;
        std::uint8_t proto = 0;
        std::uint32_t id = 0;
        Clock::time_point started;
        std::size_t received = 0;         // bytes
        std::size_t total = 0;            // known once the last fragment came; 0 before
        std::size_t end = 0;              // highest byte received + 1
        std::vector<std::uint64_t> have;  // one bit per 8-byte block
        std::vector<std::byte> data;
    };

    Context* find_or_start(const Frame& f, const FragmentInfo& frag, Clock::time_point now);
    void discard(Context& c);

    std::chrono::milliseconds timeout_;
    std::array<Context, kContexts> ctx_;
    Stats stats_;
};

}  // namespace pastad::tap

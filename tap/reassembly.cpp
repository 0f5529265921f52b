// SPDX-License-Identifier: GPL-2.0-or-later
// tap/reassembly.cpp - reassembly of the namespace's fragmented IPv4 and IPv6 datagrams
//
// A datagram is identified by source, destination, protocol and
// identification (RFC 791 section 3.2; RFC 8200 section 4.5 without the
// protocol). Each context keeps the bytes at their offset and a bitmap of
// the 8-byte blocks received: fragment offsets count in 8-byte units and
// every fragment but the last carries a multiple of 8 bytes, so a block is
// received whole or not at all. Any overlap discards the datagram (RFC 5722
// requires it for IPv6; for IPv4 it is the safe choice, as an overlap is
// either a retransmission the sender repeats whole or an attack). The
// datagram is complete when the last fragment fixed its length and every
// byte below it arrived.
#include "tap/reassembly.hpp"

#include <algorithm>
#include <cstring>

namespace pastad::tap {

namespace {

constexpr std::size_t kBlocks = (Reassembler::kMaxLen + 7) / 8;
constexpr std::size_t kWords = (kBlocks + 63) / 64;

bool any_set(const std::vector<std::uint64_t>& bits, std::size_t from, std::size_t to) {
    for (std::size_t b = from; b < to; ++b) {
        if (bits[b / 64] & (std::uint64_t{1} << (b % 64))) {
            return true;
        }
    }
    return false;
}

void set_range(std::vector<std::uint64_t>& bits, std::size_t from, std::size_t to) {
    for (std::size_t b = from; b < to; ++b) {
        bits[b / 64] |= std::uint64_t{1} << (b % 64);
    }
}

}  // namespace

Reassembler::Reassembler(std::chrono::milliseconds timeout) : timeout_(timeout) {
    for (auto& c : ctx_) {
        c.have.assign(kWords, 0);
        c.data.resize(kMaxLen);
    }
}

std::size_t Reassembler::pending() const {
    return static_cast<std::size_t>(
        std::count_if(ctx_.begin(), ctx_.end(), [](const Context& c) { return c.used; }));
}

void Reassembler::discard(Context& c) {
    c.used = false;
}

Reassembler::Context* Reassembler::find_or_start(const Frame& f, const FragmentInfo& frag,
                                                 Clock::time_point now) {
    Context* oldest = nullptr;
    Context* free_one = nullptr;
    for (auto& c : ctx_) {
        if (!c.used) {
            free_one = free_one != nullptr ? free_one : &c;
            continue;
        }
        if (c.id == frag.id && c.proto == f.proto && c.src == f.src_ip && c.dst == f.dst_ip) {
            return &c;
        }
        if (oldest == nullptr || c.started < oldest->started) {
            oldest = &c;
        }
    }
    Context* c = free_one;
    if (c == nullptr) {
        ++stats_.evicted;
        c = oldest;
    }
    c->used = true;
    c->src = f.src_ip;
    c->dst = f.dst_ip;
    c->proto = f.proto;
    c->id = frag.id;
    c->started = now;
    c->received = 0;
    c->total = 0;
    c->end = 0;
    std::fill(c->have.begin(), c->have.end(), 0);
    return c;
}

std::optional<std::span<const std::byte>> Reassembler::add(const Frame& f, const FragmentInfo& frag,
                                                           Clock::time_point now) {
    ++stats_.fragments;
    const std::size_t off = frag.offset;
    const std::size_t len = f.l4.size();
    Context* c = find_or_start(f, frag, now);
    const bool misaligned = frag.more && (len == 0 || len % 8 != 0);
    const bool inconsistent_end =
        (!frag.more && ((c->total != 0 && c->total != off + len) || c->end > off + len)) ||
        (frag.more && c->total != 0 && off + len > c->total);
    const std::size_t first = off / 8;
    const std::size_t last = (off + len + 7) / 8;
    if (off + len > kMaxLen || misaligned || inconsistent_end || any_set(c->have, first, last)) {
        ++stats_.malformed;
        discard(*c);
        return std::nullopt;
    }
    if (len > 0) {
        std::memcpy(c->data.data() + off, f.l4.data(), len);
    }
    set_range(c->have, first, last);
    c->received += len;
    c->end = std::max(c->end, off + len);
    if (!frag.more) {
        c->total = off + len;
    }
    if (c->total == 0 || c->received != c->total) {
        return std::nullopt;
    }
    ++stats_.reassembled;
    discard(*c);  // its buffer stays as it is until the next add()
    return std::span<const std::byte>(c->data.data(), c->total);
}

void Reassembler::expire(Clock::time_point now) {
    for (auto& c : ctx_) {
        if (c.used && now - c.started > timeout_) {
            ++stats_.timed_out;
            discard(c);
        }
    }
}

}  // namespace pastad::tap

// SPDX-License-Identifier: GPL-2.0-or-later
// bench/frame_bench.cpp - cost of parsing and building the TCP frames of the tap path
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "tap/frame.hpp"

namespace {

using pastad::InAny;
using pastad::Ip4;
using pastad::Mac;
using namespace pastad::tap;

const Mac kOurMac{{0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55}};
const Mac kNsMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};

Endpoints endpoints() {
    return Endpoints{InAny::from(*Ip4::parse("198.51.100.2")),
                     InAny::from(*Ip4::parse("203.0.113.10")), 40000, 5201};
}

TcpSegment data_segment() {
    TcpSegment seg;
    seg.seq = 0x01020304;
    seg.ack = 0x0a0b0c0d;
    seg.flags = kAck | kPsh;
    seg.window = 0xffff;
    return seg;
}

// A complete frame of `frame_len` bytes (Ethernet + IPv4 + TCP + payload) as
// the namespace would send it. IPv4's 16-bit total length caps a frame at
// 14 + 65535 bytes, so "64 KiB" means the largest frame IPv4 allows.
std::vector<std::byte> built_frame(std::size_t frame_len) {
    std::vector<std::byte> frame(frame_len);
    const auto seg = data_segment();
    const std::size_t hdr = tcp_header_len(true, seg);
    for (std::size_t i = hdr; i < frame_len; ++i) {
        frame[i] = static_cast<std::byte>(i * 7);
    }
    // The frame comes from the namespace: its address is the source.
    const Endpoints ep = endpoints();
    const Endpoints reversed{ep.peer_addr, ep.ns_addr, ep.peer_port, ep.ns_port};
    if (write_tcp_headers(frame, kNsMac, kOurMac, reversed, seg, frame_len - hdr) != frame_len) {
        throw std::runtime_error("frame_bench: could not build the frame");
    }
    return frame;
}

void BM_FrameParseTcp(benchmark::State& state) {
    const auto frame = built_frame(static_cast<std::size_t>(state.range(0)));
    DropReason why = DropReason::None;
    if (!parse_frame(frame, why) || !parse_tcp(*parse_frame(frame, why), why)) {
        state.SkipWithError("the built frame does not parse");
        return;
    }
    for (auto _ : state) {
        auto f = parse_frame(frame, why);
        auto tcp = parse_tcp(*f, why);
        benchmark::DoNotOptimize(tcp);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_FrameParseTcp)->Arg(1514)->Arg(14 + 65535);

// Parsing without the checksum check: what is left is header walking.
void BM_FrameParseTcpNoChecksum(benchmark::State& state) {
    const auto frame = built_frame(static_cast<std::size_t>(state.range(0)));
    DropReason why = DropReason::None;
    for (auto _ : state) {
        auto f = parse_frame(frame, why);
        auto tcp = parse_tcp(*f, why, false);
        benchmark::DoNotOptimize(tcp);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_FrameParseTcpNoChecksum)->Arg(1514)->Arg(14 + 65535);

// Headers in front of a payload already in place, checksum included: what
// the host -> namespace path pays per peeked segment.
void BM_FrameBuildTcpHeaders(benchmark::State& state) {
    const std::size_t payload_len = static_cast<std::size_t>(state.range(0));
    const auto seg = data_segment();
    const std::size_t hdr = tcp_header_len(true, seg);
    std::vector<std::byte> frame(hdr + payload_len, std::byte{0x5a});
    const Endpoints ep = endpoints();
    for (auto _ : state) {
        std::size_t n = write_tcp_headers(frame, kOurMac, kNsMac, ep, seg, payload_len);
        benchmark::DoNotOptimize(n);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(payload_len));
}
BENCHMARK(BM_FrameBuildTcpHeaders)->Arg(0)->Arg(1460)->Arg(65535 - 40);

}  // namespace

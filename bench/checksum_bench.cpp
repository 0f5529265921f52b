// SPDX-License-Identifier: GPL-2.0-or-later
// bench/checksum_bench.cpp - speed of the Internet checksum over payload-sized buffers
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tap/checksum.hpp"

namespace {

// Bytes that are not all zero, so no shortcut on the data can flatter the sum.
std::vector<std::byte> pattern(std::size_t len) {
    std::vector<std::byte> buf(len);
    std::uint32_t x = 0x12345678;
    for (auto& b : buf) {
        x = x * 1664525U + 1013904223U;
        b = static_cast<std::byte>(x >> 24);
    }
    return buf;
}

void BM_ChecksumCsumAdd(benchmark::State& state) {
    const auto buf = pattern(static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        std::uint32_t sum = pastad::tap::csum_add(buf);
        benchmark::DoNotOptimize(sum);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ChecksumCsumAdd)->RangeMultiplier(4)->Range(64, 64 << 10);

// The value that goes into a header: sum, then fold.
void BM_ChecksumFold(benchmark::State& state) {
    const auto buf = pattern(1460);
    for (auto _ : state) {
        std::uint16_t c = pastad::tap::csum_fold(pastad::tap::csum_add(buf));
        benchmark::DoNotOptimize(c);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * 1460);
}
BENCHMARK(BM_ChecksumFold);

}  // namespace

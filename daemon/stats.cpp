// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/stats.cpp - the event statistics table of --stats
#include "daemon/stats.hpp"

#include <fmt/format.h>

namespace pastad {

namespace {

constexpr std::array<const char*, kStatsColumns> kNames = {
    "tap-in", "tap-out",  "dropped",   "arp",       "ndp",
    "dhcp",   "tcp-open", "tcp-close", "udp-flows", "ping",
};
static_assert(kNames.size() == kStatsColumns, "one name per column");

constexpr unsigned kRowsPerHeader = 20;
constexpr int kWidth = 10;  // a 32-bit count and a space

}  // namespace

std::string StatsPrinter::header() {
    std::string out;
    for (const char* name : kNames) {
        out += fmt::format("{:>{}}", name, kWidth);
    }
    return out + "\n";
}

std::string StatsPrinter::update(Clock::time_point now, const EventCounts& counts) {
    // Nothing happened since the last row: print nothing, however long ago.
    if (counts == printed_) {
        return {};
    }
    if (last_ && now - *last_ < delay_) {
        return {};
    }
    std::string out;
    if (rows_ % kRowsPerHeader == 0) {
        out += header();
    }
    for (const auto v : counts.v) {
        out += fmt::format("{:>{}}", v, kWidth);
    }
    out += "\n";
    last_ = now;
    printed_ = counts;
    ++rows_;
    return out;
}

}  // namespace pastad

// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/stats.hpp - the event statistics table of --stats
//
// With --stats DELAY, pastad prints a table of event counters to standard
// error: a row at most every DELAY seconds, and none while nothing happens,
// so an idle namespace leaves the terminal alone (pasta's meaning). The
// counters are cumulative since start; a header line names the columns
// before the first row and again every 20 rows, so it stays in view.
// Control loop only.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pastad {

// The columns, in print order. Each counts events since start.
enum class StatsColumn : std::size_t {
    TapIn,     // frames read from the tap
    TapOut,    // frames written to the tap
    Dropped,   // frames from the namespace dropped as malformed or unsupported
    Arp,       // ARP replies
    Ndp,       // NDP replies and router advertisements
    Dhcp,      // DHCP and DHCPv6 replies
    TcpOpen,   // TCP connections opened, either side
    TcpClose,  // TCP connections closed
    UdpFlows,  // UDP flows opened
    Ping,      // ICMP and ICMPv6 echo requests
    Count,
};

inline constexpr std::size_t kStatsColumns = static_cast<std::size_t>(StatsColumn::Count);

struct EventCounts {
    std::array<std::uint64_t, kStatsColumns> v{};

    std::uint64_t& operator[](StatsColumn c) { return v[static_cast<std::size_t>(c)]; }
    bool operator==(const EventCounts&) const = default;
};

class StatsPrinter {
public:
    using Clock = std::chrono::steady_clock;

    // `delay` must be at least one second (0 means --stats is off: build none).
    explicit StatsPrinter(std::chrono::seconds delay) : delay_(delay) {}

    // The text to print now for `counts`: empty unless `delay` has passed
    // since the last row and the counts changed since then. Rows end in a
    // newline; a header comes first every 20 rows.
    std::string update(Clock::time_point now, const EventCounts& counts);

    // The column header line, newline included.
    static std::string header();

private:
    std::chrono::seconds delay_;
    std::optional<Clock::time_point> last_;
    EventCounts printed_;
    unsigned rows_ = 0;
};

}  // namespace pastad

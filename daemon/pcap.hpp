// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/pcap.hpp - capture of tap frames to a pcap file (-p/--pcap)
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "daemon/base/unique_fd.hpp"

namespace pastad {

// Writes frames to a file in the classic libpcap format (tcpdump -r reads
// it): Ethernet link type, microsecond timestamps, frames cut at kSnapLen.
// Used from the data-plane thread only.
class PcapWriter {
public:
    static constexpr std::uint32_t kSnapLen = 65535;
    static constexpr std::uint32_t kLinkTypeEthernet = 1;
    static constexpr std::size_t kFileHeaderSize = 24;
    static constexpr std::size_t kRecordHeaderSize = 16;

    // Creates or truncates `path` (mode 0600, close-on-exec) and writes the
    // file header. Throws std::system_error naming the file on failure.
    explicit PcapWriter(const std::string& path);

    // Takes an open descriptor instead (a pipe, say) and writes the header
    // to it. Throws std::system_error on failure.
    PcapWriter(UniqueFd fd, std::string name);

    PcapWriter(const PcapWriter&) = delete;
    PcapWriter& operator=(const PcapWriter&) = delete;

    // Appends one frame with the current time. The first failing write is
    // logged and turns capture off for good; nothing here throws or
    // allocates. `frame` is only read during the call.
    void record(std::span<const std::byte> frame);

    // False once a write failed.
    bool active() const { return !failed_; }

    // Frames recorded so far.
    std::uint64_t frames() const { return frames_; }

private:
    void write_header();

    UniqueFd fd_;
    std::string name_;
    bool failed_ = false;
    std::uint64_t frames_ = 0;
};

}  // namespace pastad

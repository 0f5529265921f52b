// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/pcap.cpp - capture of tap frames to a pcap file (-p/--pcap)
//
// The classic libpcap file: a 24-byte header (magic 0xa1b2c3d4, version 2.4,
// zone 0, accuracy 0, snap length, link type), then per frame a 16-byte
// record header (seconds, microseconds, captured length, original length)
// and the captured bytes. Fields are in host byte order; readers tell the
// order from the magic number. One writev() per frame keeps a record whole
// in the file even if a later write fails.
#include "pcap.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "daemon/base/log.hpp"
#include "daemon/base/result.hpp"

namespace pastad {

namespace {

constexpr std::uint32_t kMagicMicroseconds = 0xa1b2c3d4;
constexpr std::uint16_t kVersionMajor = 2;
constexpr std::uint16_t kVersionMinor = 4;

template <typename T>
std::byte* put(std::byte* p, T v) {
    std::memcpy(p, &v, sizeof(v));
    return p + sizeof(v);
}

}  // namespace

PcapWriter::PcapWriter(const std::string& path) : name_(path) {
    fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd_) {
        throw std::system_error(errno_code(), "opening pcap file " + path);
    }
    write_header();
}

PcapWriter::PcapWriter(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {
    write_header();
}

void PcapWriter::write_header() {
    std::byte h[kFileHeaderSize];
    std::byte* p = h;
    p = put(p, kMagicMicroseconds);
    p = put(p, kVersionMajor);
    p = put(p, kVersionMinor);
    p = put(p, std::int32_t{0});   // time zone offset: UTC
    p = put(p, std::uint32_t{0});  // timestamp accuracy
    p = put(p, kSnapLen);
    p = put(p, kLinkTypeEthernet);
    if (::write(fd_.get(), h, sizeof(h)) != static_cast<ssize_t>(sizeof(h))) {
        throw std::system_error(errno_code(), "writing the pcap header to " + name_);
    }
}

void PcapWriter::record(std::span<const std::byte> frame) {
    if (failed_) {
        return;
    }
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    const auto captured = static_cast<std::uint32_t>(std::min<std::size_t>(frame.size(), kSnapLen));
    std::byte h[kRecordHeaderSize];
    std::byte* p = h;
    p = put(p, static_cast<std::uint32_t>(now.tv_sec));
    p = put(p, static_cast<std::uint32_t>(now.tv_nsec / 1000));
    p = put(p, captured);
    p = put(p, static_cast<std::uint32_t>(frame.size()));
    iovec iov[2] = {{h, sizeof(h)}, {const_cast<std::byte*>(frame.data()), captured}};
    const ssize_t n = ::writev(fd_.get(), iov, 2);
    if (n != static_cast<ssize_t>(sizeof(h) + captured)) {
        // A short write leaves a torn record: nothing after it would parse.
        failed_ = true;
        log::daemon().error("pcap capture to {} stopped after {} frames: {}", name_, frames_,
                            n < 0 ? std::strerror(errno) : "short write");
        return;
    }
    ++frames_;
}

}  // namespace pastad

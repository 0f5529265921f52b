// SPDX-License-Identifier: GPL-2.0-or-later
// splice/port_scan.cpp - which ports are bound, from /proc/net/{tcp,tcp6,udp,udp6}
#include "port_scan.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <string>

namespace pastad::splice {

namespace {

// Splits off the next whitespace-separated field of `line`.
std::string_view next_field(std::string_view& line) {
    const auto start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        line = {};
        return {};
    }
    line.remove_prefix(start);
    const auto end = line.find(' ');
    const auto field = line.substr(0, end);
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
    return field;
}

template <typename T>
bool parse_num(std::string_view s, T& out, int base) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
    return !s.empty() && ec == std::errc{} && end == s.data() + s.size();
}

}  // namespace

std::vector<BoundSocket> parse_proc_net(std::string_view text, unsigned state) {
    // Line: "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ..."
    std::vector<BoundSocket> out;
    bool header = true;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (std::exchange(header, false)) {
            continue;
        }
        std::string_view f[10];
        for (auto& field : f) {
            field = next_field(line);
        }
        const auto colon = f[1].rfind(':');
        unsigned port = 0;
        unsigned st = 0;
        std::uint64_t inode = 0;
        if (colon == std::string_view::npos || !parse_num(f[1].substr(colon + 1), port, 16) ||
            !parse_num(f[3], st, 16) || !parse_num(f[9], inode, 10) || port == 0 || port > 65535) {
            continue;
        }
        if (st == state) {
            out.push_back({static_cast<std::uint16_t>(port), inode});
        }
    }
    return out;
}

ProcNetTable::ProcNetTable(const char* name)
    : fd_(::open((std::string("/proc/thread-self/net/") + name).c_str(), O_RDONLY | O_CLOEXEC)) {}

std::vector<BoundSocket> ProcNetTable::read(unsigned state) const {
    if (!fd_) {
        return {};
    }
    std::string text;
    char buf[16384];
    off_t off = 0;
    for (;;) {
        const ssize_t n = ::pread(fd_.get(), buf, sizeof(buf), off);
        if (n <= 0) {
            break;
        }
        text.append(buf, static_cast<std::size_t>(n));
        off += n;
    }
    return parse_proc_net(text, state);
}

}  // namespace pastad::splice

// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/base/log.hpp - one spdlog logger per folder, one shared sink
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace pastad::log {

// Where log lines go. Stderr in the foreground; syslog or a size-limited file
// once daemonised.
struct Settings {
    spdlog::level::level_enum level = spdlog::level::info;
    bool to_stderr = true;
    bool to_syslog = false;
    std::string file;                 // empty: no log file
    std::size_t file_size = 1 << 20;  // bytes kept in the log file
};

// Installs the sinks for every folder's logger. Call from the main thread
// before other threads start, and again when daemonising.
void configure(const Settings& s);

// The logger of one folder: "daemon", "tap", "splice" or "netlink". Always
// valid; before configure() it logs to stderr at info.
spdlog::logger& get(const char* name);

inline spdlog::logger& daemon() {
    return get("daemon");
}
inline spdlog::logger& tap() {
    return get("tap");
}
inline spdlog::logger& splice() {
    return get("splice");
}
inline spdlog::logger& netlink() {
    return get("netlink");
}

// Lets one log line through per interval from a hot call site and counts what
// it held back: allow() returns the number of events since the last line
// (including this one) when a line may be written, nothing otherwise.
class RateLimit {
public:
    explicit RateLimit(std::chrono::steady_clock::duration interval) : interval_(interval) {}

    std::optional<std::uint64_t> allow(std::chrono::steady_clock::time_point now) {
        ++held_;
        if (last_ && now - *last_ < interval_) {
            return std::nullopt;
        }
        last_ = now;
        return std::exchange(held_, 0);
    }

private:
    std::chrono::steady_clock::duration interval_;
    std::optional<std::chrono::steady_clock::time_point> last_;
    std::uint64_t held_ = 0;
};

}  // namespace pastad::log

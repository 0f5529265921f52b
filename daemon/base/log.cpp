// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/base/log.cpp - logger registry and sink set-up
#include "log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

#include "check.hpp"

namespace pastad::log {

namespace {

constexpr std::array<const char*, 4> kNames = {"daemon", "tap", "splice", "netlink"};

struct Registry {
    std::array<std::shared_ptr<spdlog::logger>, kNames.size()> loggers;

    Registry() {
        auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
        for (std::size_t i = 0; i < kNames.size(); ++i) {
            loggers[i] = std::make_shared<spdlog::logger>(kNames[i], sink);
            loggers[i]->set_pattern("%n: %v");
            loggers[i]->set_level(spdlog::level::info);
        }
    }
};

Registry& registry() {
    static Registry r;
    return r;
}

}  // namespace

spdlog::logger& get(const char* name) {
    auto& r = registry();
    for (std::size_t i = 0; i < kNames.size(); ++i) {
        if (std::strcmp(kNames[i], name) == 0) {
            return *r.loggers[i];
        }
    }
    return *r.loggers[0];
}

void configure(const Settings& s) {
    std::vector<spdlog::sink_ptr> sinks;
    if (s.to_stderr) {
        sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
    }
    if (s.to_syslog) {
        sinks.push_back(
            std::make_shared<spdlog::sinks::syslog_sink_mt>("pastad", LOG_PID, LOG_DAEMON, false));
    }
    if (!s.file.empty()) {
        // Open it once here: the file sink would create missing directories
        // and its exception names no reason a user can act on.
        const int fd = ::open(s.file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            throw std::system_error(errno, std::generic_category(), "opening log file " + s.file);
        }
        ::close(fd);
        // Keep one rotated file so the total stays near the requested size.
        const std::size_t half = s.file_size / 2 > 0 ? s.file_size / 2 : 1;
        sinks.push_back(
            std::make_shared<spdlog::sinks::rotating_file_sink_mt>(s.file, half, 1, false));
    }
    for (auto& logger : registry().loggers) {
        logger->sinks() = sinks;
        logger->set_level(s.level);
        // Timestamps only in files, which outlive the terminal that saw them.
        if (!s.file.empty()) {
            logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %l: %v");
        } else {
            logger->set_pattern("%n: %v");
        }
        logger->flush_on(spdlog::level::trace);
    }
}

}  // namespace pastad::log

namespace pastad::detail {

void check_failed(const char* cond, const char* file, int line) {
    pastad::log::daemon().critical("internal check failed: {} ({}:{})", cond, file, line);
    std::abort();
}

}  // namespace pastad::detail

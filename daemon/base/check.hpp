// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/base/check.hpp - always-on invariant checks
#pragma once

namespace pastad::detail {
[[noreturn]] void check_failed(const char* cond, const char* file, int line);
}  // namespace pastad::detail

// Aborts with a log line when an internal invariant is broken. Never use it
// for anything the network, the kernel or the user can cause.
#define PASTAD_CHECK(cond)                                             \
    do {                                                               \
        if (!(cond)) [[unlikely]] {                                    \
            ::pastad::detail::check_failed(#cond, __FILE__, __LINE__); \
        }                                                              \
    } while (0)

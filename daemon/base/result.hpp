// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/base/result.hpp - value-or-error return type for code that must not throw
#pragma once

#include <cerrno>
#include <system_error>
#include <utility>
#include <variant>

namespace pastad {

// Result<T> holds either a T or a std::error_code. Data-plane code returns it
// instead of throwing; set-up code may call value_or_throw() at its boundary.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
    Result(std::error_code ec) : v_(ec) {}     // NOLINT: implicit by design

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }

    std::error_code error() const { return ok() ? std::error_code{} : std::get<1>(v_); }

    // For set-up paths only: turns an error into std::system_error naming `what`.
    T value_or_throw(const char* what) && {
        if (!ok()) {
            throw std::system_error(error(), what);
        }
        return std::get<0>(std::move(v_));
    }

private:
    std::variant<T, std::error_code> v_;
};

// The error code for the current errno, for wrapping failed system calls.
inline std::error_code errno_code() {
    return {errno, std::system_category()};
}
inline std::error_code errno_code(int err) {
    return {err, std::system_category()};
}

// Throws std::system_error for errno when `rc` is negative; for set-up code.
inline int check_syscall(int rc, const char* what) {
    if (rc < 0) {
        throw std::system_error(errno_code(), what);
    }
    return rc;
}

}  // namespace pastad

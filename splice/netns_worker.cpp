// SPDX-License-Identifier: GPL-2.0-or-later
// splice/netns_worker.cpp - a thread parked in the target namespace that makes sockets there
#include "netns_worker.hpp"

#include <sched.h>
#include <sys/socket.h>

#include <system_error>

namespace pastad::splice {

NetnsWorker::NetnsWorker(int netns) {
    pools_[0].family = AF_INET;
    pools_[0].type = SOCK_STREAM;
    pools_[1].family = AF_INET6;
    pools_[1].type = SOCK_STREAM;
    pools_[2].family = AF_INET;
    pools_[2].type = SOCK_DGRAM;
    pools_[3].family = AF_INET6;
    pools_[3].type = SOCK_DGRAM;
    thread_ = std::thread([this, netns] { run(netns); });
    std::unique_lock lock(mu_);
    done_.wait(lock, [this] { return started_; });
    if (start_error_) {
        lock.unlock();
        thread_.join();
        throw std::system_error(start_error_, "entering the target namespace for the splice path");
    }
}

NetnsWorker::~NetnsWorker() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

void NetnsWorker::run(int netns) {
    {
        std::lock_guard lock(mu_);
        if (::setns(netns, CLONE_NEWNET) != 0) {
            start_error_ = errno_code();
        }
        started_ = true;
    }
    done_.notify_all();
    if (start_error_) {
        return;
    }
    std::unique_lock lock(mu_);
    while (!stop_) {
        if (task_ != nullptr && !task_done_) {
            const auto* fn = task_;
            lock.unlock();
            std::exception_ptr error;
            try {
                (*fn)();
            } catch (...) {
                error = std::current_exception();
            }
            lock.lock();
            task_error_ = error;
            task_done_ = true;
            done_.notify_all();
            continue;
        }
        refill_locked(lock);
        wake_.wait(lock, [this] {
            if (stop_ || (task_ != nullptr && !task_done_)) {
                return true;
            }
            for (const auto& p : pools_) {
                if (p.active && !p.error && p.fds.size() < kRefillBelow) {
                    return true;
                }
            }
            return false;
        });
    }
}

// Creates sockets for every active pool up to kPoolSize. socket() runs
// without the lock so the owner can take sockets meanwhile.
void NetnsWorker::refill_locked(std::unique_lock<std::mutex>& lock) {
    for (auto& p : pools_) {
        while (p.active && !p.error && p.fds.size() < kPoolSize && !stop_) {
            lock.unlock();
            const int fd = ::socket(p.family, p.type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            const std::error_code ec = fd < 0 ? errno_code() : std::error_code{};
            lock.lock();
            if (fd < 0) {
                p.error = ec;
            } else {
                p.fds.emplace_back(fd);
            }
            done_.notify_all();
            if (task_ != nullptr && !task_done_) {
                return;  // a call() waits: serve it first
            }
        }
    }
}

NetnsWorker::Pool& NetnsWorker::pool_of(int family, int type) {
    const std::size_t i = (family == AF_INET6 ? 1 : 0) + (type == SOCK_DGRAM ? 2 : 0);
    return pools_[i];
}

void NetnsWorker::call(const std::function<void()>& fn) {
    std::unique_lock lock(mu_);
    task_ = &fn;
    task_done_ = false;
    wake_.notify_all();
    done_.wait(lock, [this] { return task_done_; });
    task_ = nullptr;
    const auto error = std::exchange(task_error_, nullptr);
    lock.unlock();
    if (error) {
        std::rethrow_exception(error);
    }
}

Result<UniqueFd> NetnsWorker::take_socket(int family, int type) {
    std::unique_lock lock(mu_);
    Pool& p = pool_of(family, type);
    if (!p.active) {
        p.active = true;
        wake_.notify_all();
    }
    if (p.fds.empty()) {
        wake_.notify_all();
    }
    done_.wait(lock, [&] { return !p.fds.empty() || p.error; });
    if (p.fds.empty()) {
        // Try again later: the failure may be transient (EMFILE).
        return std::exchange(p.error, std::error_code{});
    }
    UniqueFd fd = std::move(p.fds.front());
    p.fds.pop_front();
    if (p.fds.size() < kRefillBelow) {
        wake_.notify_all();  // top the pool up again, off this thread
    }
    return fd;
}

std::size_t NetnsWorker::pooled() const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& p : pools_) {
        n += p.fds.size();
    }
    return n;
}

}  // namespace pastad::splice

// SPDX-License-Identifier: GPL-2.0-or-later
// splice/netns_worker.hpp - a thread parked in the target namespace that makes sockets there
//
// A socket belongs to the namespace of the thread that created it, for life.
// The splice path needs a socket inside the namespace for every forwarded
// connection; entering the namespace per connection (a new thread, or setns()
// twice) costs far more than the connection itself. NetnsWorker keeps one
// thread inside the namespace for pastad's lifetime and a small pool of
// ready sockets per (family, type) that it tops up in the background. The
// thread is woken only once a pool falls below kRefillBelow and then refills
// it to kPoolSize in one go: waking it for every take costs a futex wake and
// two context switches per connection, more than the socket() it saves.
//
// Threading: every public member is called from one owner thread (the event
// loop); the worker thread only runs what call() hands it and the refills.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "daemon/base/result.hpp"
#include "daemon/base/unique_fd.hpp"

namespace pastad::splice {

class NetnsWorker {
public:
    // Starts the thread and waits until it has entered `netns` (borrowed; only
    // used during the constructor). Throws std::system_error when setns()
    // fails. Create it after any fork(): threads do not survive one.
    explicit NetnsWorker(int netns);
    ~NetnsWorker();
    NetnsWorker(const NetnsWorker&) = delete;
    NetnsWorker& operator=(const NetnsWorker&) = delete;

    // Runs `fn` inside the namespace and waits for it. Exceptions from `fn`
    // are rethrown here.
    void call(const std::function<void()>& fn);

    // A nonblocking, close-on-exec socket of `family` (AF_INET, AF_INET6)
    // and `type` (SOCK_STREAM, SOCK_DGRAM) made inside the namespace. Usually
    // from the pool, without waiting; the first request for a kind, or an
    // empty pool, waits for the worker. Errors are socket()'s.
    Result<UniqueFd> take_socket(int family, int type);

    // Sockets currently pooled, all kinds together; for tests and stats.
    std::size_t pooled() const;

    static constexpr std::size_t kPoolSize = 16;
    static constexpr std::size_t kRefillBelow = kPoolSize / 2;

private:
    struct Pool {
        int family = 0;
        int type = 0;
        bool active = false;  // refilled once something asked for this kind
        std::deque<UniqueFd> fds;
        std::error_code error;  // the last socket() failure, stops refills
    };

    void run(int netns);
    Pool& pool_of(int family, int type);
    void refill_locked(std::unique_lock<std::mutex>& lock);

    mutable std::mutex mu_;
    std::condition_variable wake_;  // the worker: a task or a refill is due
    std::condition_variable done_;  // the owner: a task finished or sockets arrived
    const std::function<void()>* task_ = nullptr;
    std::exception_ptr task_error_;
    bool task_done_ = false;
    bool started_ = false;
    bool stop_ = false;
    std::error_code start_error_;
    Pool pools_[4];
    std::thread thread_;
};

}  // namespace pastad::splice

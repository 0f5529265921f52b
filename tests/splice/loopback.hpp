// SPDX-License-Identifier: GPL-2.0-or-later
// tests/splice/loopback.hpp - loopback sockets and a loop thread for splice tests
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <future>
#include <thread>

#include "daemon/base/unique_fd.hpp"

namespace pastad::splice::test {

inline sockaddr_storage loopback4(std::uint16_t port, socklen_t& len) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sockaddr_storage ss{};
    std::memcpy(&ss, &in, sizeof(in));
    len = sizeof(in);
    return ss;
}

inline std::uint16_t port_of(int fd) {
    sockaddr_in in{};
    socklen_t len = sizeof(in);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&in), &len);
    return ntohs(in.sin_port);
}

// A bound socket on 127.0.0.1 with a kernel-chosen port (listening for TCP).
inline UniqueFd bound4(int type, int flags = 0) {
    UniqueFd s(::socket(AF_INET, type | SOCK_CLOEXEC | flags, 0));
    socklen_t len;
    const auto ss = loopback4(0, len);
    ::bind(s.get(), reinterpret_cast<const sockaddr*>(&ss), len);
    if (type == SOCK_STREAM) {
        ::listen(s.get(), 64);
    }
    return s;
}

// An io_context running on its own thread; run_on() executes on it and waits.
class LoopThread {
public:
    LoopThread() : work_(io.get_executor()), thread_([this] { io.run(); }) {}
    ~LoopThread() {
        work_.reset();
        io.stop();
        thread_.join();
    }
    template <typename Fn>
    auto run_on(Fn fn) {
        std::packaged_task<decltype(fn())()> task(std::move(fn));
        auto fut = task.get_future();
        boost::asio::post(io, [&task] { task(); });
        return fut.get();
    }
    boost::asio::io_context io;

private:
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::thread thread_;
};

}  // namespace pastad::splice::test

namespace pastad::splice::test {

// Polls `fn` until it returns 0 or two seconds pass.
template <typename Fn>
bool eventually_zero(Fn fn) {
    for (int i = 0; i < 200; ++i) {
        if (fn() == 0) {
            return true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return fn() == 0;
}

}  // namespace pastad::splice::test

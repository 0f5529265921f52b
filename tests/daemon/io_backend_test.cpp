// SPDX-License-Identifier: GPL-2.0-or-later
// tests/daemon/io_backend_test.cpp - the data plane's back ends under an edge-triggered loop
//
// A SOCK_SEQPACKET socket pair stands in for the tap: like a tap, each read
// returns one whole message. The control loop watches wait_fd() the way
// Boost.Asio's reactor does on Linux, edge-triggered, so a back end that
// leaves work behind must make a fresh edge itself.
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <vector>

#include "daemon/base/unique_fd.hpp"
#include "daemon/io_backend.hpp"

namespace pastad {
namespace {

class CountingHandler : public IoHandler {
public:
    void on_frame(std::span<const std::byte> frame) override {
        ++frames;
        bytes += frame.size();
    }
    void on_socket(std::uint64_t, std::uint32_t) override { ++socket_events; }
    void on_tx_space() override {}
    void on_batch_end() override { ++batches; }

    std::size_t frames = 0, bytes = 0, socket_events = 0, batches = 0;
};

class IoBackendTest : public ::testing::TestWithParam<IoKind> {
protected:
    void SetUp() override {
        int sv[2];
        ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        tap_.reset(sv[0]);
        peer_.reset(sv[1]);
        // Room for many queued frames on the "tap".
        const int big = 8 << 20;
        ::setsockopt(peer_.get(), SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
        ::setsockopt(tap_.get(), SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
        try {
            io_ = IoBackend::create(GetParam(), tap_.get());
        } catch (const std::system_error& e) {
            GTEST_SKIP() << "back end unavailable: " << e.what();
        }
        outer_.reset(::epoll_create1(EPOLL_CLOEXEC));
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLET;
        ASSERT_EQ(::epoll_ctl(outer_.get(), EPOLL_CTL_ADD, io_->wait_fd(), &ev), 0);
    }

    // Runs the loop until no wake-up comes for `idle_ms`.
    void run_until_idle(CountingHandler& h, int idle_ms = 300) {
        epoll_event ev{};
        while (::epoll_wait(outer_.get(), &ev, 1, idle_ms) == 1) {
            io_->process(h);
        }
    }

    UniqueFd tap_, peer_, outer_;
    std::unique_ptr<IoBackend> io_;
};

TEST_P(IoBackendTest, BacklogLargerThanOneBatchIsDrained) {
    // Far more frames than one process() call reads.
    constexpr std::size_t kFrames = 1000;
    std::vector<char> frame(200, 'x');
    for (std::size_t i = 0; i < kFrames; ++i) {
        ASSERT_EQ(::send(peer_.get(), frame.data(), frame.size(), 0), 200) << std::strerror(errno);
    }
    CountingHandler h;
    run_until_idle(h);
    EXPECT_EQ(h.frames, kFrames);
    EXPECT_EQ(h.bytes, kFrames * 200);
}

TEST_P(IoBackendTest, CommittedFramesReachTheTapInOrder) {
    CountingHandler h;
    constexpr std::size_t kFrames = 300;  // more than the ring holds at once
    std::size_t sent = 0;
    std::size_t received = 0;
    std::vector<char> buf(IoBackend::kSlotSize);
    for (int spin = 0; spin < 10000 && received < kFrames; ++spin) {
        while (sent < kFrames && io_->free_slots() > 0) {
            auto slot = io_->slot(0);
            std::memcpy(slot.data(), &sent, sizeof(sent));
            const std::size_t len = 64;
            io_->commit(1, &len);
            ++sent;
        }
        io_->flush();
        epoll_event ev{};
        if (::epoll_wait(outer_.get(), &ev, 1, 10) == 1) {
            io_->process(h);
        }
        ssize_t n;
        while ((n = ::recv(peer_.get(), buf.data(), buf.size(), 0)) > 0) {
            std::size_t seq = 0;
            std::memcpy(&seq, buf.data(), sizeof(seq));
            ASSERT_EQ(n, 64);
            ASSERT_EQ(seq, received) << "frames were reordered";
            ++received;
        }
    }
    EXPECT_EQ(received, kFrames);
}

INSTANTIATE_TEST_SUITE_P(Kinds, IoBackendTest, ::testing::Values(IoKind::Epoll, IoKind::Uring),
                         [](const auto& p) {
                             return p.param == IoKind::Epoll ? "Epoll" : "Uring";
                         });

}  // namespace
}  // namespace pastad

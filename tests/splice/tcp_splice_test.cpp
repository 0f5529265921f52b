// SPDX-License-Identifier: GPL-2.0-or-later
// tests/splice/tcp_splice_test.cpp - splice(2) relay: data, half-close, reset, refusal
#include "splice/tcp_splice.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "loopback.hpp"

namespace pastad::splice {
namespace {

using test::LoopThread;

// client <-> [front listener | splicer | out socket] <-> server
struct Pair {
    UniqueFd client;
    UniqueFd server;
};

class TcpSpliceTest : public ::testing::Test {
protected:
    Pair connect_through() {
        UniqueFd front = test::bound4(SOCK_STREAM);
        UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        socklen_t len;
        auto fa = test::loopback4(test::port_of(front.get()), len);
        EXPECT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&fa), len), 0);
        UniqueFd in(::accept4(front.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        UniqueFd out(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        auto dest = test::loopback4(test::port_of(server_listener_.get()), len);
        loop_.run_on([&] {
            splicer_.start(std::move(in), std::move(out), dest, len);
            return 0;
        });
        UniqueFd server(::accept4(server_listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        return {std::move(client), std::move(server)};
    }

    static std::string read_all(int fd) {
        std::string s;
        char buf[65536];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof(buf))) > 0) {
            s.append(buf, static_cast<std::size_t>(n));
        }
        return s;
    }

    LoopThread loop_;
    TcpSplicer splicer_{loop_.io};
    UniqueFd server_listener_ = test::bound4(SOCK_STREAM);
};

TEST_F(TcpSpliceTest, BytesFlowBothWaysAndAreCounted) {
    auto p = connect_through();
    ASSERT_EQ(::write(p.client.get(), "hello", 5), 5);
    char buf[16] = {};
    ASSERT_EQ(::read(p.server.get(), buf, sizeof(buf)), 5);
    EXPECT_EQ(std::string(buf, 5), "hello");
    ASSERT_EQ(::write(p.server.get(), "hi!", 3), 3);
    ASSERT_EQ(::read(p.client.get(), buf, sizeof(buf)), 3);
    EXPECT_EQ(std::string(buf, 3), "hi!");
    const auto st = loop_.run_on([&] { return splicer_.stats(); });
    EXPECT_EQ(st.bytes[0], 5u);
    EXPECT_EQ(st.bytes[1], 3u);
    EXPECT_EQ(st.pipes_grown, 0u) << "a short exchange keeps the default pipes";
}

TEST_F(TcpSpliceTest, LargeTransferArrivesIntact) {
    auto p = connect_through();
    std::string data(8 << 20, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<char>(i * 2654435761u >> 24);
    }
    std::thread writer([&] {
        std::size_t off = 0;
        while (off < data.size()) {
            const ssize_t n = ::write(p.client.get(), data.data() + off, data.size() - off);
            ASSERT_GT(n, 0);
            off += static_cast<std::size_t>(n);
        }
        ::shutdown(p.client.get(), SHUT_WR);
    });
    const auto got = read_all(p.server.get());
    writer.join();
    EXPECT_EQ(got.size(), data.size());
    EXPECT_TRUE(got == data);
    const auto st = loop_.run_on([&] { return splicer_.stats(); });
    EXPECT_EQ(st.pipes_grown, 1u) << "only the direction that carried bulk data";
}

TEST_F(TcpSpliceTest, HalfClosePropagatesAndOtherDirectionContinues) {
    auto p = connect_through();
    ::shutdown(p.client.get(), SHUT_WR);
    char buf[8];
    EXPECT_EQ(::read(p.server.get(), buf, sizeof(buf)), 0) << "server sees EOF";
    ASSERT_EQ(::write(p.server.get(), "late", 4), 4);
    ASSERT_EQ(::read(p.client.get(), buf, sizeof(buf)), 4);
    ::close(p.server.release());
    EXPECT_EQ(::read(p.client.get(), buf, sizeof(buf)), 0);
    EXPECT_TRUE(
        test::eventually_zero([&] { return loop_.run_on([&] { return splicer_.active(); }); }));
}

TEST_F(TcpSpliceTest, ResetPropagatesToTheOtherSide) {
    auto p = connect_through();
    const linger lg{1, 0};
    ::setsockopt(p.server.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    ::close(p.server.release());
    char buf[8];
    pollfd pfd{p.client.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
    EXPECT_EQ(::read(p.client.get(), buf, sizeof(buf)), -1);
    EXPECT_EQ(errno, ECONNRESET);
    EXPECT_EQ(loop_.run_on([&] { return splicer_.stats().resets; }), 1u);
}

TEST_F(TcpSpliceTest, RefusedTargetResetsClient) {
    server_listener_.reset();  // nothing listens on the target port any more
    UniqueFd front = test::bound4(SOCK_STREAM);
    UniqueFd dead = test::bound4(SOCK_STREAM);
    const auto dead_port = test::port_of(dead.get());
    dead.reset();
    UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    socklen_t len;
    auto fa = test::loopback4(test::port_of(front.get()), len);
    ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&fa), len), 0);
    UniqueFd in(::accept4(front.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    UniqueFd out(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    auto dest = test::loopback4(dead_port, len);
    loop_.run_on([&] {
        splicer_.start(std::move(in), std::move(out), dest, len);
        return 0;
    });
    char buf[8];
    pollfd pfd{client.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&pfd, 1, 2000), 1);
    EXPECT_EQ(::read(client.get(), buf, sizeof(buf)), -1);
    EXPECT_EQ(errno, ECONNRESET);
    EXPECT_EQ(loop_.run_on([&] { return splicer_.stats().refused; }), 1u);
}

}  // namespace
}  // namespace pastad::splice

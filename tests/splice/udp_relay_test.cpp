// SPDX-License-Identifier: GPL-2.0-or-later
// tests/splice/udp_relay_test.cpp - datagrams out through per-client flows and back
#include "splice/udp_relay.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "loopback.hpp"

namespace pastad::splice {
namespace {

class UdpRelayTest : public ::testing::Test {
protected:
    void start(UdpRelay::ClientFilter filter = nullptr) {
        UniqueFd listener = test::bound4(SOCK_DGRAM, SOCK_NONBLOCK);
        front_port_ = test::port_of(listener.get());
        socklen_t len;
        const auto dest = test::loopback4(test::port_of(server_.get()), len);
        relay_ = loop_.run_on([&] {
            auto r = std::make_shared<UdpRelay>(
                loop_.io, std::move(listener),
                [](int family) -> Result<UniqueFd> {
                    return UniqueFd(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
                },
                dest, len, std::move(filter), batch_);
            r->start();
            return r;
        });
    }
    void TearDown() override {
        if (relay_) {
            loop_.run_on([&] {
                relay_->close();
                return 0;
            });
        }
    }

    UniqueFd client() {
        UniqueFd c(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        socklen_t len;
        const auto fa = test::loopback4(front_port_, len);
        ::connect(c.get(), reinterpret_cast<const sockaddr*>(&fa), len);
        return c;
    }

    static bool readable(int fd, int ms = 2000) {
        pollfd p{fd, POLLIN, 0};
        return ::poll(&p, 1, ms) == 1;
    }

    // Echoes one datagram on the server socket; returns it.
    std::string echo_one() {
        if (!readable(server_.get())) {
            return "";
        }
        char buf[2048];
        sockaddr_storage from{};
        socklen_t fl = sizeof(from);
        const ssize_t n =
            ::recvfrom(server_.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &fl);
        ::sendto(server_.get(), buf, static_cast<std::size_t>(n), 0,
                 reinterpret_cast<sockaddr*>(&from), fl);
        return std::string(buf, static_cast<std::size_t>(n));
    }

    test::LoopThread loop_;
    DatagramBatch batch_;
    UniqueFd server_ = test::bound4(SOCK_DGRAM);
    std::uint16_t front_port_ = 0;
    std::shared_ptr<UdpRelay> relay_;
};

TEST_F(UdpRelayTest, ReplyReachesTheClientThatAsked) {
    start();
    auto a = client();
    auto b = client();
    ASSERT_EQ(::send(a.get(), "from-a", 6, 0), 6);
    EXPECT_EQ(echo_one(), "from-a");
    ASSERT_EQ(::send(b.get(), "from-b", 6, 0), 6);
    EXPECT_EQ(echo_one(), "from-b");
    char buf[64];
    ASSERT_TRUE(readable(a.get()));
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(::recv(a.get(), buf, sizeof(buf), 0))),
              "from-a");
    ASSERT_TRUE(readable(b.get()));
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(::recv(b.get(), buf, sizeof(buf), 0))),
              "from-b");
    EXPECT_EQ(loop_.run_on([&] { return relay_->flows(); }), 2u);
}

TEST_F(UdpRelayTest, ManyDatagramsOfOneClientShareOneFlow) {
    start();
    auto a = client();
    for (int i = 0; i < 100; ++i) {
        ASSERT_EQ(::send(a.get(), "x", 1, 0), 1);
    }
    int got = 0;
    char buf[8];
    while (got < 100 && readable(server_.get(), 1000)) {
        got += ::recv(server_.get(), buf, sizeof(buf), 0) == 1;
    }
    EXPECT_EQ(got, 100);
    EXPECT_EQ(loop_.run_on([&] { return relay_->stats().flows_opened; }), 1u);
}

TEST_F(UdpRelayTest, FilteredClientIsDroppedAndCounted) {
    start([](const sockaddr_storage&) { return false; });
    auto a = client();
    ASSERT_EQ(::send(a.get(), "no", 2, 0), 2);
    EXPECT_FALSE(readable(server_.get(), 200));
    EXPECT_EQ(loop_.run_on([&] { return relay_->stats().dropped; }), 1u);
}

TEST_F(UdpRelayTest, IdleFlowsExpire) {
    start();
    auto a = client();
    ASSERT_EQ(::send(a.get(), "x", 1, 0), 1);
    EXPECT_EQ(echo_one(), "x");
    EXPECT_EQ(loop_.run_on([&] {
        relay_->expire(UdpRelay::Clock::now());
        return relay_->flows();
    }),
              1u);
    EXPECT_EQ(loop_.run_on([&] {
        relay_->expire(UdpRelay::Clock::now() + UdpRelay::kIdle);
        return relay_->flows();
    }),
              0u);
}

}  // namespace
}  // namespace pastad::splice

// SPDX-License-Identifier: GPL-2.0-or-later
// tests/tap/icmp_test.cpp - echo through ping sockets, in a private network namespace
#include "tap/icmp.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <vector>

#include "tap/frame.hpp"

namespace pastad::tap {
namespace {

using Bytes = std::vector<std::byte>;

class FakeSink : public FrameSink {
public:
    std::size_t free_slots() const override { return 8 - used_; }
    std::size_t slot_size() const override { return 65536; }
    std::span<std::byte> slot(std::size_t i) override { return buf_.at(used_ + i); }
    void commit(std::size_t count, const std::size_t* lens) override {
        for (std::size_t i = 0; i < count; ++i) {
            const Bytes& b = buf_.at(used_ + i);
            frames.emplace_back(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(lens[i]));
        }
        used_ += count;
    }
    std::vector<Bytes> frames;

private:
    std::vector<Bytes> buf_ = std::vector<Bytes>(8, Bytes(65536));
    std::size_t used_ = 0;
};

class FakePoller : public Poller {
public:
    void watch(int fd, std::uint32_t, std::uint64_t token) override { tokens[fd] = token; }
    void unwatch(int fd) override { tokens.erase(fd); }
    std::map<int, std::uint64_t> tokens;
};

// Moves this test process into a network namespace of its own (once), with
// lo up and ping sockets allowed or not: the host's setting is never touched.
bool private_netns(const char* range, std::string& why) {
    static bool done = false;
    if (!done) {
        if (unshare(CLONE_NEWNET) != 0) {
            why = "needs CAP_SYS_ADMIN for a private network namespace";
            return false;
        }
        if (std::system("ip link set lo up") != 0) {
            why = "cannot bring lo up";
            return false;
        }
        done = true;
    }
    std::ofstream("/proc/sys/net/ipv4/ping_group_range") << range;
    return true;
}

class IcmpEngineTest : public ::testing::Test {
protected:
    IcmpEngineTest() {
        cfg_.gw4 = Ip4::parse("192.0.2.1");
        cfg_.gw6 = Ip6::parse("2001:db8::1");
        cfg_.our_mac = *Mac::parse("02:00:00:00:00:01");
    }
    void pump(IcmpEngine& e) {
        for (const auto& [fd, token] : poller_.tokens) {
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, 2000) == 1) {
                e.on_socket_event(token, EPOLLIN, IcmpClock::now());
            }
        }
    }
    IcmpConfig cfg_;
    FakeSink sink_;
    FakePoller poller_;
};

TEST_F(IcmpEngineTest, EchoToGatewayIsAnsweredWithNamespaceIdentifier) {
    std::string why;
    if (!private_netns("0 2147483647", why)) {
        GTEST_SKIP() << why;
    }
    IcmpEngine e(cfg_, sink_, poller_);
    const InAny ns = InAny::from(*Ip4::parse("192.0.2.7"));
    const InAny gw = InAny::from(*cfg_.gw4);
    const Bytes data(56, std::byte{0x5a});
    e.on_echo_request(ns, gw, 0x1234, 7, data, IcmpClock::now());
    pump(e);

    ASSERT_EQ(sink_.frames.size(), 1u);
    DropReason r;
    const auto f = parse_frame(sink_.frames[0], r);
    ASSERT_TRUE(f);
    const auto p = parse_icmp(*f, r);
    ASSERT_TRUE(p) << to_string(r);
    EXPECT_EQ(p->type, kIcmpEchoReply);
    EXPECT_EQ(p->echo_id(), 0x1234);
    EXPECT_EQ(p->echo_seq(), 7);
    EXPECT_EQ(f->src_ip, gw);
    EXPECT_EQ(f->dst_ip, ns);
    EXPECT_TRUE(std::equal(p->data.begin(), p->data.end(), data.begin(), data.end()));
}

TEST_F(IcmpEngineTest, Echo6ToGatewayIsAnswered) {
    std::string why;
    if (!private_netns("0 2147483647", why)) {
        GTEST_SKIP() << why;
    }
    IcmpEngine e(cfg_, sink_, poller_);
    const InAny ns = InAny::from(*Ip6::parse("2001:db8::7"));
    const InAny gw = InAny::from(*cfg_.gw6);
    e.on_echo_request(ns, gw, 99, 1, Bytes(8), IcmpClock::now());
    pump(e);
    ASSERT_EQ(sink_.frames.size(), 1u);
    DropReason r;
    const auto f = parse_frame(sink_.frames[0], r);
    ASSERT_TRUE(f);
    const auto p = parse_icmpv6(*f, r);
    ASSERT_TRUE(p) << to_string(r);
    EXPECT_EQ(p->type, kIcmp6EchoReply);
    EXPECT_EQ(p->echo_id(), 99);
}

TEST_F(IcmpEngineTest, PingSocketsRefusedAreCountedNotFatal) {
    std::string why;
    if (!private_netns("1 0", why)) {
        GTEST_SKIP() << why;
    }
    if (geteuid() != 0) {
        GTEST_SKIP() << "needs root, whose group the range excludes";
    }
    IcmpEngine e(cfg_, sink_, poller_);
    const InAny ns = InAny::from(*Ip4::parse("192.0.2.7"));
    e.on_echo_request(ns, InAny::from(*cfg_.gw4), 1, 1, Bytes(8), IcmpClock::now());
    e.on_echo_request(ns, InAny::from(*cfg_.gw4), 1, 2, Bytes(8), IcmpClock::now());
    EXPECT_EQ(e.stats().not_permitted, 2u);
    EXPECT_EQ(e.active(), 0u);
    EXPECT_TRUE(sink_.frames.empty());
}

TEST_F(IcmpEngineTest, IdleFlowExpires) {
    std::string why;
    if (!private_netns("0 2147483647", why)) {
        GTEST_SKIP() << why;
    }
    IcmpEngine e(cfg_, sink_, poller_);
    const auto t0 = IcmpClock::now();
    e.on_echo_request(InAny::from(*Ip4::parse("192.0.2.7")), InAny::from(*cfg_.gw4), 5, 1, Bytes(8),
                      t0);
    ASSERT_EQ(e.active(), 1u);
    e.on_timer(t0 + std::chrono::seconds(59));
    EXPECT_EQ(e.active(), 1u);
    e.on_timer(t0 + std::chrono::seconds(61));
    EXPECT_EQ(e.active(), 0u);
}

}  // namespace
}  // namespace pastad::tap

// SPDX-License-Identifier: GPL-2.0-or-later
// tests/integration/outbound_if_test.cpp - --outbound-if4/6 bind namespace flows to an interface
//
// The sandbox's host namespace gets a second uplink, a veth into a "side"
// namespace that holds the same far-away server addresses as "up" but
// answers differently. The host's routes prefer "up"; a second default
// route through the side link, with a worse metric, is what a socket bound
// to the side interface finds. So a reply names the interface the traffic
// left by.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "sandbox.hpp"

namespace pastad::test {
namespace {

class OutboundIfTest : public SandboxTest<> {
protected:
    void SetUp() override {
        SandboxTest::SetUp();
        if (IsSkipped()) {
            return;
        }
        side_ = sb_->new_target();
        side_if_ = sb_->veth_host + "o";
        const std::string peer = sb_->veth_host + "p";
        const std::string h = "ip -n " + sb_->host + " ";
        const std::string s = "ip -n " + side_ + " ";
        for (const std::string& cmd : {
                 "ip link add " + side_if_ + " type veth peer name " + peer,
                 "ip link set " + side_if_ + " netns " + sb_->host,
                 "ip link set " + peer + " netns " + side_,
                 h + "addr add 192.0.2.2/24 dev " + side_if_,
                 h + "addr add 2001:db8:2::2/64 dev " + side_if_ + " nodad",
                 h + "link set " + side_if_ + " up",
                 s + "link set lo up",
                 s + "addr add 192.0.2.1/24 dev " + peer,
                 s + "addr add 2001:db8:2::1/64 dev " + peer + " nodad",
                 s + "addr add 203.0.113.10/32 dev lo",
                 s + "addr add 2001:db8:ff::10/128 dev lo",
                 s + "link set " + peer + " up",
                 // Worse than the sandbox's defaults (0 for IPv4, 1024 for IPv6).
                 h + "route add default via 192.0.2.1 dev " + side_if_ + " metric 2000",
                 h + "-6 route add default via 2001:db8:2::1 dev " + side_if_ + " metric 2000",
             }) {
            const auto r = sh(cmd + " 2>&1");
            ASSERT_EQ(r.status, 0) << cmd << ": " << r.out;
        }
        pid_file_ = "/tmp/pastad-obif-" + sb_->host + ".pid";
        serve("ip netns exec " + sb_->up, "up");
        serve("ip netns exec " + side_, "side");
    }
    // A TCP server on port 7000 and UDP ones on 7001, both families,
    // answering `word`. The UDP servers are bound to the far addresses, so
    // that replies leave from the address the client's socket is connected to.
    void serve(const std::string& in_ns, const std::string& word) {
        const std::string reply = " SYSTEM:'echo " + word + "' >/dev/null 2>&1 &";
        sh(in_ns + " socat TCP6-LISTEN:7000,ipv6only=0,reuseaddr,fork" + reply);
        sh(in_ns + " socat UDP4-RECVFROM:7001,bind=203.0.113.10,fork" + reply);
        sh(in_ns + " socat UDP6-RECVFROM:7001,bind=[2001:db8:ff::10],fork" + reply);
        ASSERT_TRUE(eventually([&] {
            return sh(in_ns + " ss -Hlntu 'sport = :7000 or sport = :7001' | wc -l").out == "3\n";
        }));
    }
    CmdResult start(const std::string& opts) {
        return sh(sb_->in_host(pastad_binary() + " --config-net -q -P " + pid_file_ + " -i " +
                               sb_->veth_host + " -t none -u none -T none -U none " + opts +
                               " --netns /run/netns/" + target_ + " 2>&1"));
    }
    std::string in_target(const std::string& cmd) const {
        return "ip netns exec " + target_ + " sh -c " + quote(cmd);
    }
    std::string tcp(const std::string& addr) {
        return sh(in_target("socat -T3 - TCP:" + addr + ":7000 </dev/null")).out;
    }
    // UDP may lose a datagram on a loaded machine: a few tries.
    std::string udp(const std::string& addr) {
        std::string out;
        for (int i = 0; i < 3 && out.empty(); ++i) {
            out = sh(in_target("echo ask | socat -t3 -T2 - UDP:" + addr + ":7001")).out;
        }
        return out;
    }

    std::string side_, side_if_;
};

TEST_F(OutboundIfTest, WithoutOptionTrafficFollowsTheHostRoutes) {
    ASSERT_EQ(start("").status, 0);
    EXPECT_EQ(tcp("203.0.113.10"), "up\n");
    EXPECT_EQ(tcp("[2001:db8:ff::10]"), "up\n");
    EXPECT_EQ(udp("203.0.113.10"), "up\n");
}

TEST_F(OutboundIfTest, BoundFlowsLeaveByTheGivenInterface) {
    const auto r = start("--outbound-if4 " + side_if_ + " --outbound-if6 " + side_if_);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(tcp("203.0.113.10"), "side\n");
    EXPECT_EQ(tcp("[2001:db8:ff::10]"), "side\n");
    EXPECT_EQ(udp("203.0.113.10"), "side\n");
    EXPECT_EQ(udp("[2001:db8:ff::10]"), "side\n");
    // The template stays -i's: the namespace kept the host's main address.
    EXPECT_NE(sh(in_target("ip -4 addr")).out.find("198.51.100.2"), std::string::npos);
}

TEST_F(OutboundIfTest, OneFamilysInterfaceLeavesTheOtherFamilyAlone) {
    ASSERT_EQ(start("--outbound-if4 " + side_if_).status, 0);
    EXPECT_EQ(tcp("203.0.113.10"), "side\n");
    EXPECT_EQ(tcp("[2001:db8:ff::10]"), "up\n");
}

TEST_F(OutboundIfTest, MissingInterfaceFailsTheStart) {
    const auto r = start("--outbound-if6 nosuchif0");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.out.find("--outbound-if6 nosuchif0: the host has no such interface"),
              std::string::npos)
        << r.out;
}

}  // namespace
}  // namespace pastad::test

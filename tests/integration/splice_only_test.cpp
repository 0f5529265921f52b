// SPDX-License-Identifier: GPL-2.0-or-later
// tests/integration/splice_only_test.cpp - --splice-only: forwards over loopback, no tap at all
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "sandbox.hpp"

namespace pastad::test {
namespace {

class SpliceOnlyTest : public SandboxTest<> {
protected:
    CmdResult start(const std::string& opts) {
        return sh(sb_->in_host(pastad_binary() + " -q -P " + pid_file_ + " " + opts +
                               " --netns /run/netns/" + target_ + " 2>&1"));
    }
    std::string in_target(const std::string& cmd) const {
        return "ip netns exec " + target_ + " sh -c " + quote(cmd);
    }
    std::string in_host(const std::string& cmd) const {
        return sb_->in_host("sh -c " + quote(cmd));
    }
};

TEST_F(SpliceOnlyTest, ForwardsReachNamespaceLoopbackWithNoTapPresent) {
    const auto r = start("--splice-only -t 18080:80 -u 18081:81 -T 18082:82 -U none");
    ASSERT_EQ(r.status, 0) << r.out;

    // Nothing but lo, and lo up.
    const auto links = ip_json(target_, "link show");
    ASSERT_EQ(links.size(), 1U) << links.dump();
    EXPECT_EQ(links[0]["ifname"], "lo");
    EXPECT_NE(links[0]["flags"].dump().find("\"UP\""), std::string::npos) << links.dump();

    // Servers bound to the namespace's loopback only.
    sh(
        in_target("socat TCP4-LISTEN:80,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo lo4' "
                  ">/dev/null 2>&1 &"));
    sh(
        in_target("socat TCP6-LISTEN:80,bind=[::1],ipv6only=1,reuseaddr,fork SYSTEM:'echo lo6' "
                  ">/dev/null 2>&1 &"));
    sh(
        in_target("socat UDP4-RECVFROM:81,bind=127.0.0.1,fork SYSTEM:'echo udp-lo' "
                  ">/dev/null 2>&1 &"));
    sh(
        in_host("socat TCP4-LISTEN:82,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo host-lo' "
                ">/dev/null 2>&1 &"));
    ASSERT_TRUE(eventually([&] {
        return sh(in_target("ss -Hlntu 'sport = :80 or sport = :81' | wc -l")).out == "3\n" &&
               sh(in_host("ss -Hlntu 'sport = :82' | wc -l")).out == "1\n";
    }));

    EXPECT_EQ(sh(in_host("socat -T3 - TCP4:127.0.0.1:18080 </dev/null")).out, "lo4\n");
    EXPECT_EQ(sh(in_host("socat -T3 - TCP6:[::1]:18080 </dev/null")).out, "lo6\n");
    // A client on the host's own address has no tap to cross: spliced too.
    EXPECT_EQ(sh(in_host("socat -T3 - TCP4:198.51.100.2:18080 </dev/null")).out, "lo4\n");
    // UDP may lose a datagram on a loaded machine: a few tries.
    std::string udp;
    for (int i = 0; i < 3 && udp.empty(); ++i) {
        udp = sh(in_host("echo ask | socat -t3 -T2 - UDP4:198.51.100.2:18081")).out;
    }
    EXPECT_EQ(udp, "udp-lo\n");
    EXPECT_EQ(sh(in_target("socat -T3 - TCP4:127.0.0.1:18082 </dev/null")).out, "host-lo\n");
}

TEST_F(SpliceOnlyTest, OptionsThatNeedTheTapAreRefused) {
    const auto r = start("--splice-only --config-net -t none");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.out.find("--config-net needs the tap that --splice-only leaves out"),
              std::string::npos)
        << r.out;
}

}  // namespace
}  // namespace pastad::test

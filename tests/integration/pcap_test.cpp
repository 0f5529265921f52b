// SPDX-License-Identifier: GPL-2.0-or-later
// tests/integration/pcap_test.cpp - -p/--pcap records the tap's frames both ways
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>

#include "sandbox.hpp"

namespace pastad::test {
namespace {

using std::chrono::milliseconds;

class PcapTest : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override {
        std::string why;
        if (!can_sandbox(why)) {
            GTEST_SKIP() << why;
        }
        if (sh("command -v tcpdump >/dev/null && command -v socat >/dev/null").status != 0) {
            GTEST_SKIP() << "needs tcpdump and socat";
        }
        sb_ = std::make_unique<Sandbox>();
        target_ = sb_->new_target();
        pid_file_ = "/tmp/pastad-pcap-" + target_ + ".pid";
        pcap_file_ = "/tmp/pastad-pcap-" + target_ + ".pcap";
    }

    void TearDown() override {
        if (!pid_file_.empty()) {
            const pid_t pid = read_pid_file(pid_file_);
            if (alive(pid)) {
                ::kill(pid, SIGKILL);
            }
            ::unlink(pid_file_.c_str());
            ::unlink(pcap_file_.c_str());
        }
    }

    // One short TCP exchange from the namespace to `server` in "up", with
    // pastad capturing; returns what tcpdump reads back from the file.
    std::string capture_exchange(const std::string& server) {
        const auto r = sh(sb_->in_host(
            pastad_binary() + " --config-net -q --io-backend=" + GetParam() + " -p " + pcap_file_ +
            " -P " + pid_file_ + " --netns /run/netns/" + target_ + " 2>&1"));
        EXPECT_EQ(r.status, 0) << r.out;
        const pid_t pid = read_pid_file(pid_file_);
        EXPECT_TRUE(alive(pid));

        const bool v6 = server.find(':') != std::string::npos;
        const std::string listen =
            v6 ? "TCP6-LISTEN:5000,bind=[" + server + "]" : "TCP4-LISTEN:5000,bind=" + server;
        sh(sb_->in_up("timeout 20 socat " + listen + ",reuseaddr SYSTEM:'echo pcap-ok'") +
           " >/dev/null 2>&1 &");
        EXPECT_TRUE(
            eventually([&] { return !sh(sb_->in_up("ss -Hltn 'sport = :5000'")).out.empty(); }));
        const std::string connect = v6 ? "TCP6:[" + server + "]:5000" : "TCP4:" + server + ":5000";
        const auto got =
            sh("ip netns exec " + target_ + " timeout 10 socat -T5 - " + connect + " </dev/null");
        EXPECT_EQ(got.out, "pcap-ok\n");

        // Stop pastad so the file is complete, then read it back.
        ::kill(pid, SIGTERM);
        EXPECT_TRUE(eventually([&] { return !alive(pid); }, milliseconds(3000)));
        const auto dump = sh("tcpdump -r " + pcap_file_ + " -nn 2>&1");
        EXPECT_EQ(dump.status, 0) << dump.out;
        return dump.out;
    }

    std::unique_ptr<Sandbox> sb_;
    std::string target_;
    std::string pid_file_;
    std::string pcap_file_;
};

TEST_P(PcapTest, Ipv4SynBothWaysIsRecorded) {
    const auto dump = capture_exchange("203.0.113.10");
    EXPECT_NE(dump.find("link-type EN10MB"), std::string::npos) << dump;
    // The namespace's SYN (read from the tap) and pastad's SYN-ACK (written).
    EXPECT_NE(dump.find("198.51.100.2."), std::string::npos) << dump;
    EXPECT_NE(dump.find("> 203.0.113.10.5000: Flags [S],"), std::string::npos) << dump;
    EXPECT_NE(dump.find("IP 203.0.113.10.5000 > 198.51.100.2."), std::string::npos) << dump;
    EXPECT_NE(dump.find("Flags [S.],"), std::string::npos) << dump;
    // ARP is on the tap too: the request in, the reply out.
    EXPECT_NE(dump.find("ARP, Request who-has 198.51.100.1"), std::string::npos) << dump;
    EXPECT_NE(dump.find("ARP, Reply 198.51.100.1 is-at"), std::string::npos) << dump;
}

TEST_P(PcapTest, Ipv6SynBothWaysIsRecorded) {
    const auto dump = capture_exchange("2001:db8:ff::10");
    EXPECT_NE(dump.find("> 2001:db8:ff::10.5000: Flags [S],"), std::string::npos) << dump;
    EXPECT_NE(dump.find("IP6 2001:db8:ff::10.5000 > 2001:db8::2."), std::string::npos) << dump;
    EXPECT_NE(dump.find("Flags [S.],"), std::string::npos) << dump;
}

TEST_P(PcapTest, UnwritableCaptureFileFailsTheStart) {
    // The caller must learn of it from the exit status, before readiness,
    // not from a daemon that vanishes after reporting success.
    const auto r = sh(sb_->in_host(pastad_binary() + " --config-net --io-backend=" + GetParam() +
                                   " -p /nonexistent-dir/x.pcap -P " + pid_file_ +
                                   " --netns /run/netns/" + target_ + " 2>&1"));
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("/nonexistent-dir/x.pcap"), std::string::npos) << r.out;
    EXPECT_FALSE(alive(read_pid_file(pid_file_)));
}

INSTANTIATE_TEST_SUITE_P(Backends, PcapTest, ::testing::Values("uring", "epoll"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                             return std::string(p.param);
                         });

}  // namespace
}  // namespace pastad::test

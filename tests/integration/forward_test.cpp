// SPDX-License-Identifier: GPL-2.0-or-later
// tests/integration/forward_test.cpp - port forwards through splice and tap, both ways
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "sandbox.hpp"

namespace pastad::test {
namespace {

using std::chrono::milliseconds;

class ForwardTest : public SandboxTest<> {
protected:
    void TearDown() override {
        SandboxTest::TearDown();
        for (const auto& f : files_) {
            ::unlink(f.c_str());
        }
    }

    // Starts pastad in the host namespace for the target; returns its output.
    CmdResult start(const std::string& opts) {
        auto r = sh(sb_->in_host(pastad_binary() + " --config-net -q -P " + pid_file_ + " " + opts +
                                 " --netns /run/netns/" + target_ + " 2>&1"));
        pid_ = read_pid_file(pid_file_);
        return r;
    }
    std::string in_target(const std::string& cmd) const {
        return "ip netns exec " + target_ + " sh -c " + quote(cmd);
    }
    std::string in_host(const std::string& cmd) const {
        return sb_->in_host("sh -c " + quote(cmd));
    }
    // A server in the background, inside the target; waits until it listens.
    void serve_in_target(const std::string& cmd, const std::string& ss_filter) {
        sh(in_target(cmd + " >/dev/null 2>&1 &"));
        ASSERT_TRUE(eventually([&] {
            return sh(in_target("ss -Hln " + ss_filter)).out.find(':') != std::string::npos;
        }));
    }
    void serve_in_host(const std::string& cmd, const std::string& ss_filter) {
        sh(in_host(cmd + " >/dev/null 2>&1 &"));
        ASSERT_TRUE(eventually([&] {
            return sh(in_host("ss -Hln " + ss_filter)).out.find(':') != std::string::npos;
        }));
    }
    std::string temp(const std::string& tag) {
        files_.push_back("/tmp/pastad-fwd-" + sb_->host + "-" + tag);
        return files_.back();
    }
    // pastad's open descriptors; with `prefix`, only those whose link
    // starts with it ("pipe:", "socket:").
    int fd_count(const std::string& prefix = "") const {
        int n = 0;
        for (const auto& e :
             std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd")) {
            std::error_code ec;
            const auto target = std::filesystem::read_symlink(e.path(), ec).string();
            n += target.rfind(prefix, 0) == 0 ? 1 : 0;
        }
        return n;
    }

    pid_t pid_ = -1;
    std::vector<std::string> files_;
};

TEST_F(ForwardTest, HostLoopbackReachesNamespaceServerIpv4AndIpv6) {
    ASSERT_EQ(start("-t 18080:80 -u none -T none -U none").status, 0);
    serve_in_target("socat TCP6-LISTEN:80,ipv6only=0,reuseaddr,fork SYSTEM:'echo served'",
                    "sport = :80");
    EXPECT_EQ(sh(in_host("socat -T3 - TCP4:127.0.0.1:18080 </dev/null")).out, "served\n");
    EXPECT_EQ(sh(in_host("socat -T3 - TCP6:[::1]:18080 </dev/null")).out, "served\n");
}

TEST_F(ForwardTest, PodmanSpecsBindWhereAsked) {
    ASSERT_EQ(start("-t 8080-8080:80-80 -u 127.0.0.1/8081-8081:80-80 -t ::1/8092-8092:92-92 "
                    "-u 8093-8094:93-94 -T 8082 -U none")
                  .status,
              0);
    const auto host = sh(in_host("ss -Hlntu")).out;
    EXPECT_NE(host.find("0.0.0.0:8080"), std::string::npos) << host;
    EXPECT_NE(host.find("127.0.0.1:8081"), std::string::npos) << host;
    EXPECT_NE(host.find("[::1]:8092"), std::string::npos) << host;
    EXPECT_EQ(host.find("0.0.0.0:8092"), std::string::npos) << host;
    EXPECT_NE(host.find(":8093"), std::string::npos) << host;
    EXPECT_NE(host.find(":8094"), std::string::npos) << host;
    const auto ns = sh(in_target("ss -Hlnt")).out;
    EXPECT_NE(ns.find("127.0.0.1:8082"), std::string::npos) << ns;
}

TEST_F(ForwardTest, NamespaceLoopbackReachesHostServer) {
    ASSERT_EQ(start("-t none -u none -T 18082:82 -U none").status, 0);
    serve_in_host("socat TCP-LISTEN:82,reuseaddr,fork SYSTEM:'echo host-side'", "sport = :82");
    EXPECT_EQ(sh(in_target("socat -T3 - TCP:127.0.0.1:18082 </dev/null")).out, "host-side\n");
}

TEST_F(ForwardTest, NamespaceSideForwardsListenOnLoopbackOnly) {
    // -T/-U forward the namespace's loopback to the host's: a service
    // reached that way must not be offered on the namespace's other
    // addresses, where it would be visible to whatever can reach them.
    ASSERT_EQ(start("-t none -u none -T 18082:82 -U 18083:83").status, 0);
    serve_in_host("socat -t5 TCP6-LISTEN:82,ipv6only=0,reuseaddr,fork SYSTEM:'echo host-side'",
                  "-t sport = :82");
    serve_in_host("socat UDP6-LISTEN:83,ipv6only=0,reuseaddr,fork EXEC:cat", "-u sport = :83");
    EXPECT_EQ(sh(in_target("socat -T3 - TCP4:127.0.0.1:18082 </dev/null")).out, "host-side\n");
    EXPECT_EQ(sh(in_target("socat -T3 - TCP6:[::1]:18082 </dev/null")).out, "host-side\n");
    EXPECT_EQ(sh(in_target("echo lo4 | socat -T2 - UDP4:127.0.0.1:18083")).out, "lo4\n");
    EXPECT_EQ(sh(in_target("echo lo6 | socat -T2 - UDP6:[::1]:18083")).out, "lo6\n");
    // The namespace's own (non-loopback) addresses.
    EXPECT_EQ(sh(in_target("socat -T3 - TCP4:198.51.100.2:18082 </dev/null")).out, "");
    EXPECT_EQ(sh(in_target("socat -T3 - TCP6:[2001:db8::2]:18082 </dev/null")).out, "");
    EXPECT_EQ(sh(in_target("echo own4 | socat -T1 - UDP4:198.51.100.2:18083")).out, "");
    EXPECT_EQ(sh(in_target("echo own6 | socat -T1 - UDP6:[2001:db8::2]:18083")).out, "");
    const auto ns = sh(in_target("ss -Hlntu 'sport = :18082 or sport = :18083'")).out;
    for (const auto& line : {"127.0.0.1:18082", "[::1]:18082", "127.0.0.1:18083", "[::1]:18083"}) {
        EXPECT_NE(ns.find(line), std::string::npos) << line << " missing in\n" << ns;
    }
    EXPECT_EQ(ns.find("*:1808"), std::string::npos) << ns;
    EXPECT_EQ(ns.find("0.0.0.0:1808"), std::string::npos) << ns;
    EXPECT_EQ(ns.find("[::]:1808"), std::string::npos) << ns;
}

TEST_F(ForwardTest, AutoFollowsServerStartAndExit) {
    ASSERT_EQ(start("").status, 0) << "pasta's default for every option is auto";
    // The promise: a server started in the namespace is reachable from the
    // host within two seconds of listening, and stops being forwarded within
    // two seconds of exiting.
    constexpr auto kPromise = std::chrono::seconds(2);
    const auto reachable = [&] {
        return sh(in_host("socat -T1 - TCP:127.0.0.1:18123 </dev/null")).out == "auto\n";
    };
    sh(
        in_target("socat TCP-LISTEN:18123,reuseaddr,fork SYSTEM:'echo auto' >/dev/null 2>&1 & "
                  "echo $! > " +
                  temp("auto.pid")));
    ASSERT_TRUE(
        eventually([&] { return !sh(in_target("ss -Hlnt 'sport = :18123'")).out.empty(); }));
    auto began = std::chrono::steady_clock::now();
    EXPECT_TRUE(eventually(reachable, kPromise));
    EXPECT_LT(std::chrono::steady_clock::now() - began, kPromise);

    sh("kill $(cat " + temp("auto.pid") + ")");
    ASSERT_TRUE(eventually([&] { return sh(in_target("ss -Hlnt 'sport = :18123'")).out.empty(); }));
    began = std::chrono::steady_clock::now();
    EXPECT_TRUE(
        eventually([&] { return sh(in_host("ss -Hlnt 'sport = :18123'")).out.empty(); }, kPromise));
    EXPECT_LT(std::chrono::steady_clock::now() - began, kPromise);
    EXPECT_FALSE(reachable());
}

TEST_F(ForwardTest, OneGibibyteEachWayThroughSpliceKeepsItsHash) {
    ASSERT_EQ(start("-t 18080:80 -u none -T 18082:82 -U none").status, 0);
    const auto src = temp("src");
    ASSERT_EQ(sh("head -c 1073741824 /dev/urandom > " + src).status, 0);
    const auto want = sh("sha256sum < " + src).out;
    // Host -> namespace.
    const auto got_ns = temp("ns.sum");
    serve_in_target("(socat -u TCP-LISTEN:80,reuseaddr STDOUT | sha256sum > " + got_ns + ")",
                    "sport = :80");
    ASSERT_EQ(sh(in_host("socat -u FILE:" + src + " TCP:127.0.0.1:18080")).status, 0);
    EXPECT_TRUE(eventually([&] { return sh("cat " + got_ns).out == want; }, milliseconds(30000)));
    // Namespace -> host, through -T.
    serve_in_host("socat -u FILE:" + src + " TCP-LISTEN:82,reuseaddr", "sport = :82");
    EXPECT_EQ(sh(in_target("socat -u TCP:127.0.0.1:18082 STDOUT | sha256sum")).out, want);
}

// Connects from inside the host namespace, in-process, so 1000 connections
// take no process spawning.
int connect_in_ns(const std::string& ns, std::uint16_t port, int count) {
    int ok = 0;
    std::thread t([&] {
        const int nsfd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || ::setns(nsfd, CLONE_NEWNET) != 0) {
            return;
        }
        ::close(nsfd);
        for (int i = 0; i < count; ++i) {
            const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(port);
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            char buf[16];
            if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
                ::read(s, buf, sizeof(buf)) > 0) {
                ++ok;
            }
            ::close(s);
        }
    });
    t.join();
    return ok;
}

TEST_F(ForwardTest, ThousandShortConnectionsLeaveNoDescriptorBehind) {
    ASSERT_EQ(start("-t 18080:80 -u none -T none -U none").status, 0);
    serve_in_target("socat TCP-LISTEN:80,reuseaddr,fork,backlog=512 SYSTEM:'echo x'",
                    "sport = :80");
    ASSERT_EQ(connect_in_ns(sb_->host, 18080, 5), 5);  // warms the socket pool
    sh("sleep 0.3");
    const int before = fd_count();
    const int pipes_before = fd_count("pipe:");
    EXPECT_EQ(connect_in_ns(sb_->host, 18080, 1000), 1000);
    // The namespace's socket pool holds anywhere between its refill mark and
    // its size (NetnsWorker::kPoolSize), so the count may differ by that
    // much; a leak of one connection in a hundred is far more, and every
    // spliced connection has its own pipes.
    constexpr int kPoolSlack = 16;
    EXPECT_TRUE(eventually(
        [&] {
            return fd_count("pipe:") == pipes_before && std::abs(fd_count() - before) <= kPoolSlack;
        },
        milliseconds(3000)))
        << "before " << before << " after " << fd_count() << ", pipes " << fd_count("pipe:");
}

TEST_F(ForwardTest, RemoteClientReachesNamespaceWithItsOwnAddress) {
    ASSERT_EQ(start("-t 18080:80 -u none -T none -U none").status, 0);
    serve_in_target("socat TCP-LISTEN:80,reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'",
                    "sport = :80");
    EXPECT_EQ(sh(sb_->in_up("socat -T3 - TCP:198.51.100.2:18080")).out, "198.51.100.1\n");
}

TEST_F(ForwardTest, HostOwnAddressClientReachesNamespaceAsGateway) {
    // The namespace has the host's address too: a client there must not
    // appear with it (the namespace would drop such segments).
    ASSERT_EQ(start("-t 18080:80 -u none -T none -U none").status, 0);
    serve_in_target("socat TCP4-LISTEN:80,reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'",
                    "-4 sport = :80");
    serve_in_target("socat TCP6-LISTEN:80,ipv6only=1,reuseaddr,fork SYSTEM:'echo $SOCAT_PEERADDR'",
                    "-6 sport = :80");
    EXPECT_EQ(sh(in_host("socat -T3 - TCP4:198.51.100.2:18080 </dev/null")).out, "198.51.100.1\n");
    EXPECT_EQ(sh(in_host("socat -T3 - TCP6:[2001:db8::2]:18080 </dev/null")).out,
              "[2001:0db8:0000:0000:0000:0000:0000:0001]\n");
}

TEST_F(ForwardTest, UdpEchoesThroughBothDirections) {
    ASSERT_EQ(start("-t none -u 18081:81 -T none -U 18083:83").status, 0);
    serve_in_target("socat UDP4-LISTEN:81,reuseaddr,fork EXEC:cat", "-u sport = :81");
    serve_in_host("socat UDP4-LISTEN:83,reuseaddr,fork EXEC:cat", "-u sport = :83");
    EXPECT_EQ(sh(in_host("echo ping-u | socat -T2 - UDP4:127.0.0.1:18081")).out, "ping-u\n");
    EXPECT_EQ(sh(in_target("echo ping-U | socat -T2 - UDP4:127.0.0.1:18083")).out, "ping-U\n");
}

TEST_F(ForwardTest, NonLoopbackUdpClientsReachNamespaceThroughTap) {
    ASSERT_EQ(start("-t none -u 18081:81 -T none -U none").status, 0);
    serve_in_target("socat UDP6-LISTEN:81,ipv6only=0,reuseaddr,fork EXEC:cat", "-u sport = :81");
    // A remote client, and one on the host's own address (shown as the
    // gateway inside); each answer must come back to it.
    EXPECT_EQ(sh(sb_->in_up("sh -c 'echo remote | socat -T2 - UDP4:198.51.100.2:18081'")).out,
              "remote\n");
    EXPECT_EQ(sh(in_host("echo own4 | socat -T2 - UDP4:198.51.100.2:18081")).out, "own4\n");
    EXPECT_EQ(sh(in_host("echo own6 | socat -T2 - UDP6:[2001:db8::2]:18081")).out, "own6\n");
}

TEST_F(ForwardTest, BadSpecIsRejectedNamingIt) {
    for (const std::string spec : {"-t 0", "-u 10-5", "-T 80:81-82", "-U 127.0.0.1/53"}) {
        const auto r = start(spec);
        EXPECT_NE(r.status, 0) << spec;
        EXPECT_NE(r.out.find("'" + spec + "'"), std::string::npos) << r.out;
    }
}

TEST_F(ForwardTest, LowPortWithoutPrivilegeSaysHowToAllowIt) {
    const auto probe = sh(
        sb_->in_host("setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Ur true 2>&1"));
    if (probe.status != 0) {
        GTEST_SKIP() << "unprivileged user namespaces are not available: " << probe.out;
    }
    const auto r =
        sh(sb_->in_host("setpriv --reuid=65534 --regid=65534 --clear-groups " + pastad_binary() +
                        " -q -t 80 -u none -T none -U none -- true 2>&1"));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("-t 80"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("net.ipv4.ip_unprivileged_port_start"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace pastad::test

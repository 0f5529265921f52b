// SPDX-License-Identifier: GPL-2.0-or-later
// tests/integration/lifecycle_test.cpp - readiness, exit rules and rootless spawning
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "sandbox.hpp"

namespace pastad::test {
namespace {

using std::chrono::milliseconds;

class LifecycleTest : public SandboxTest<> {
protected:
    // Each test makes the target namespaces it needs.
    LifecycleTest() { make_target_ = false; }
};

// A log file that cannot be opened is a clear start-up error, and no
// directory on its path is created.
TEST_F(LifecycleTest, UnopenableLogFileFailsTheStartAndCreatesNothing) {
    const auto target = sb_->new_target();
    const std::string dir = "/tmp/pastad-nolog-" + sb_->host;
    for (const std::string& path : {dir + "/sub/log", std::string("/tmp")}) {
        const auto r = sh(sb_->in_host(pastad_binary() + " -f -q -l " + path +
                                       " --netns /run/netns/" + target + " 2>&1"));
        EXPECT_EQ(r.status, 1) << r.out;
        EXPECT_NE(r.out.find("pastad: opening log file " + path + ": "), std::string::npos)
            << r.out;
        EXPECT_EQ(r.out.find("terminate"), std::string::npos) << r.out;
    }
    EXPECT_NE(sh("test -e " + dir).status, 0) << dir << " was created";
}

TEST_F(LifecycleTest, NetnsFileRemovalEndsDaemonWithinOneSecond) {
    const auto target = sb_->new_target();
    // `timeout` proves the caller gets end-of-file on the output pipe: a
    // daemon that kept our stdout would make this read hang.
    const auto r = sh("timeout 10 " + sb_->in_host(pastad_binary() + " --config-net -q -P " +
                                                   pid_file_ + " --netns /run/netns/" + target));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out, "") << "--quiet prints nothing on success";
    const pid_t pid = read_pid_file(pid_file_);
    ASSERT_TRUE(alive(pid));
    ASSERT_EQ(sh("ip netns del " + target).status, 0);
    EXPECT_TRUE(eventually([&] { return !alive(pid); }, milliseconds(1000)));
}

TEST_F(LifecycleTest, NoNetnsQuitKeepsDaemonAfterRemoval) {
    const auto target = sb_->new_target();
    ASSERT_EQ(sh(sb_->in_host(pastad_binary() + " --config-net --no-netns-quit -P " + pid_file_ +
                              " --netns /run/netns/" + target + " 2>&1"))
                  .status,
              0);
    const pid_t pid = read_pid_file(pid_file_);
    ASSERT_EQ(sh("ip netns del " + target).status, 0);
    sh("sleep 0.5");
    EXPECT_TRUE(alive(pid));
}

TEST_F(LifecycleTest, SigtermEndsDaemonWithStatusZero) {
    const auto target = sb_->new_target();
    // In the foreground, so the shell can collect the exit status.
    const auto r = sh(sb_->in_host(
        "sh -c '" + pastad_binary() + " -f -q --config-net --netns /run/netns/" + target +
        " & p=$!; for i in $(seq 100); do ip -n " + target + " link show " + sb_->veth_host +
        " >/dev/null 2>&1 && break; sleep 0.05; done; "
        "kill -TERM $p; wait $p; echo status=$?'"));
    EXPECT_NE(r.out.find("status=0"), std::string::npos) << r.out;
}

TEST_F(LifecycleTest, SpawnedCommandStatusBecomesExitStatus) {
    const auto r = sh(sb_->in_host(pastad_binary() + " -q --config-net -- sh -c 'exit 7'"));
    EXPECT_EQ(r.status, 7) << r.out;
}

TEST_F(LifecycleTest, SpawnedCommandSeesReflectedNetwork) {
    const auto r = sh(sb_->in_host(pastad_binary() + " -q --config-net -- ip -4 -o addr show"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("198.51.100.2/24"), std::string::npos) << r.out;
}

TEST_F(LifecycleTest, TargetProcessExitEndsDaemon) {
    // A process in a namespace of its own; pastad attaches by PID.
    const auto started = sh(sb_->in_host("sh -c 'unshare -n sleep 30 >/dev/null 2>&1 & echo $!'"));
    const pid_t target = std::stoi(started.out);
    ASSERT_TRUE(eventually([&] {
        return sh("readlink /proc/" + std::to_string(target) + "/ns/net").out !=
               sh("readlink /proc/self/ns/net").out;
    }));
    const auto r = sh(sb_->in_host(pastad_binary() + " -q --config-net -P " + pid_file_ + " " +
                                   std::to_string(target) + " 2>&1"));
    ASSERT_EQ(r.status, 0) << r.out;
    const pid_t pid = read_pid_file(pid_file_);
    ASSERT_TRUE(alive(pid));
    ::kill(target, SIGKILL);
    EXPECT_TRUE(eventually([&] { return !alive(pid); }, milliseconds(2000)));
}

TEST_F(LifecycleTest, FailureBeforeReadinessExitsNonZeroWithReason) {
    const auto r = sh(sb_->in_host(pastad_binary() + " --netns /run/netns/does-not-exist 2>&1"));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("does-not-exist"), std::string::npos) << r.out;
}

TEST_F(LifecycleTest, UnknownOptionIsNamed) {
    const auto r = sh(pastad_binary() + " --frobnicate 2>&1");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("--frobnicate"), std::string::npos) << r.out;
}

TEST_F(LifecycleTest, RootlessSpawnGetsReflectedNetwork) {
    // Distributions ship /dev/net/tun as 0666; some images do not.
    struct stat st {};
    ASSERT_EQ(::stat("/dev/net/tun", &st), 0);
    if ((st.st_mode & 0666) != 0666) {
        ASSERT_EQ(::chmod("/dev/net/tun", 0666), 0);
    }
    const auto probe = sh(
        sb_->in_host("setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Ur true 2>&1"));
    if (probe.status != 0) {
        GTEST_SKIP() << "unprivileged user namespaces are not available: " << probe.out;
    }
    const auto r =
        sh(sb_->in_host("setpriv --reuid=65534 --regid=65534 --clear-groups " + pastad_binary() +
                        " -q --config-net -- sh -c 'id -u; ip -o addr show' 2>&1"));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out.substr(0, 2), "0\n") << "the command runs as root of its user namespace";
    EXPECT_NE(r.out.find("198.51.100.2/24"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("2001:db8::2/64"), std::string::npos) << r.out;
}

TEST_F(LifecycleTest, HostWithoutUplinkStartsInLocalMode) {
    // The target namespace itself has no default route: nothing to reflect.
    const auto bare = sb_->new_target();
    ASSERT_EQ(sh("ip -n " + bare + " link set lo up").status, 0);
    const auto r = sh("ip netns exec " + bare + " " + pastad_binary() +
                      " --config-net -- ip -4 -o addr show 2>&1");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("local mode"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("169.254.2.1/16"), std::string::npos) << r.out;
}

TEST_F(LifecycleTest, LogFileReceivesDaemonLines) {
    const auto target = sb_->new_target();
    const std::string log = "/tmp/pastad-log-" + target + ".log";
    ASSERT_EQ(sh(sb_->in_host(pastad_binary() + " --config-net -l " + log + " -P " + pid_file_ +
                              " --netns /run/netns/" + target))
                  .status,
              0);
    const pid_t pid = read_pid_file(pid_file_);
    ASSERT_EQ(sh("ip netns del " + target).status, 0);
    EXPECT_TRUE(eventually([&] { return !alive(pid); }));
    const auto content = sh("cat " + log).out;
    ::unlink(log.c_str());
    EXPECT_NE(content.find("was removed"), std::string::npos) << content;
}

TEST_F(LifecycleTest, SpawnedCommandNeverSeesLoopbackResolver) {
    // The host's only resolver is on its loopback (systemd-resolved style):
    // the command must get the forwarding address instead, and the host's
    // own file must stay as it was.
    const std::string conf = "/tmp/pastad-rc-" + sb_->host;
    ASSERT_EQ(sh("printf 'nameserver 127.0.0.53\\nsearch example.test\\n' > " + conf).status, 0);
    const auto before = sh("cat /etc/resolv.conf").out;
    const auto r = sh(sb_->in_host("env PASTAD_RESOLV_CONF=" + conf + " " + pastad_binary() +
                                   " -q --config-net -- cat /etc/resolv.conf"));
    ::unlink(conf.c_str());
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out.find("127.0.0.53"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("nameserver 198.51.100.1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("search example.test"), std::string::npos) << r.out;
    EXPECT_EQ(sh("cat /etc/resolv.conf").out, before);
}

}  // namespace
}  // namespace pastad::test

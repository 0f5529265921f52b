// SPDX-License-Identifier: GPL-2.0-or-later
// tests/integration/tap_fd_test.cpp - -F/--fd: a tap the caller made, and pastad's end with it
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "sandbox.hpp"

namespace pastad::test {
namespace {

constexpr const char* kTapName = "ftap0";

// Opens /dev/net/tun inside namespace `ns` and attaches it to a new device
// `name` with `flags`, from a thread of its own so this one stays where it
// is. Returns the descriptor (inheritable, as a caller passing it on would
// make it) or -1.
int make_tun_in(const std::string& ns, const char* name, short flags) {
    int fd = -1;
    std::thread([&] {
        const int nsfd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
        if (nsfd < 0 || ::setns(nsfd, CLONE_NEWNET) != 0) {
            return;
        }
        ::close(nsfd);
        const int t = ::open("/dev/net/tun", O_RDWR);
        ifreq ifr{};
        ifr.ifr_flags = flags;
        std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
        if (t >= 0 && ::ioctl(t, TUNSETIFF, &ifr) == 0) {
            fd = t;
        } else if (t >= 0) {
            ::close(t);
        }
    }).join();
    return fd;
}

class TapFdTest : public SandboxTest<> {
protected:
    void TearDown() override {
        if (child_ > 0) {
            ::kill(child_, SIGKILL);
            ::waitpid(child_, nullptr, 0);
        }
        if (tap_ >= 0) {
            ::close(tap_);
        }
        SandboxTest::TearDown();
    }

    // Runs pastad in the foreground in the sandbox's host namespace; a
    // descriptor named in `extra` (-F) is inherited across exec.
    void spawn(const std::string& extra) {
        const std::string cmd = "exec ip netns exec " + sb_->host + " " + pastad_binary() +
                                " -f -q --config-net -P " + pid_file_ +
                                " -t none -u none -T none -U none " + extra +
                                " --netns /run/netns/" + target_;
        child_ = ::fork();
        ASSERT_GE(child_, 0);
        if (child_ == 0) {
            ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
            ::_exit(127);
        }
    }
    // Waits up to `limit` for the child; its exit status, or -1.
    int wait_exit(std::chrono::milliseconds limit) {
        int status = 0;
        const bool done =
            eventually([&] { return ::waitpid(child_, &status, WNOHANG) == child_; }, limit);
        if (!done) {
            return -1;
        }
        child_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::string in_target(const std::string& cmd) const {
        return "ip netns exec " + target_ + " sh -c " + quote(cmd);
    }

    int tap_ = -1;
    pid_t child_ = -1;
};

TEST_F(TapFdTest, GivenTapIsConfiguredCarriesTrafficAndItsRemovalEndsPastad) {
    tap_ = make_tun_in(target_, kTapName, IFF_TAP | IFF_NO_PI);
    ASSERT_GE(tap_, 0) << std::strerror(errno);
    sh(sb_->in_up("socat TCP-LISTEN:7100,reuseaddr,fork SYSTEM:'echo far' >/dev/null 2>&1 &"));
    ASSERT_TRUE(eventually([&] {
        return sh(sb_->in_up("ss -Hlntu 'sport = :7100'")).out.find(':') != std::string::npos;
    }));

    spawn("-F " + std::to_string(tap_));
    ASSERT_TRUE(eventually([&] { return read_pid_file(pid_file_) > 0; }));
    // The caller's copy is not what pastad's life hangs on.
    ::close(tap_);
    tap_ = -1;

    // --config-net found the device by the name the descriptor reports.
    const auto addrs = ip_json(target_, "addr show dev " + std::string(kTapName));
    ASSERT_EQ(addrs.size(), 1U);
    EXPECT_NE(addrs[0].dump().find("198.51.100.2"), std::string::npos) << addrs.dump();
    EXPECT_EQ(sh(in_target("socat -T3 - TCP:203.0.113.10:7100 </dev/null")).out, "far\n");
    EXPECT_EQ(::waitpid(child_, nullptr, WNOHANG), 0) << "pastad ended early";

    sh("ip -n " + target_ + " link del " + kTapName);
    EXPECT_EQ(wait_exit(std::chrono::milliseconds(5000)), 0);
}

// A caller's tap may carry virtio-net headers; frames still flow both ways.
TEST_F(TapFdTest, GivenTapWithVirtioNetHeadersCarriesTraffic) {
    tap_ = make_tun_in(target_, kTapName, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
    ASSERT_GE(tap_, 0) << std::strerror(errno);
    sh(
        sb_->in_up("socat TCP-LISTEN:7101,reuseaddr,fork SYSTEM:'head -c 300000 /dev/zero' "
                   ">/dev/null 2>&1 &"));
    ASSERT_TRUE(eventually([&] {
        return sh(sb_->in_up("ss -Hlntu 'sport = :7101'")).out.find(':') != std::string::npos;
    }));
    spawn("-F " + std::to_string(tap_));
    ASSERT_TRUE(eventually([&] { return read_pid_file(pid_file_) > 0; }));
    EXPECT_EQ(sh(in_target("socat -T3 - TCP:203.0.113.10:7101 </dev/null | wc -c")).out,
              "300000\n");
    sh("ip -n " + target_ + " link del " + kTapName);
    EXPECT_EQ(wait_exit(std::chrono::milliseconds(5000)), 0);
}

// The epoll back end learns of the removal differently (EPOLLERR alone).
TEST_F(TapFdTest, GivenTapRemovalEndsPastadOnEpollToo) {
    tap_ = make_tun_in(target_, kTapName, IFF_TAP | IFF_NO_PI);
    ASSERT_GE(tap_, 0) << std::strerror(errno);
    spawn("--io-backend=epoll -F " + std::to_string(tap_));
    ASSERT_TRUE(eventually([&] { return read_pid_file(pid_file_) > 0; }));
    sh("ip -n " + target_ + " link del " + kTapName);
    EXPECT_EQ(wait_exit(std::chrono::milliseconds(5000)), 0);
}

// Without -F the tap is pastad's own: its disappearance is a failure.
TEST_F(TapFdTest, RemovalOfPastadsOwnTapIsAnError) {
    spawn("-I owntap0");
    ASSERT_TRUE(eventually([&] { return read_pid_file(pid_file_) > 0; }));
    sh("ip -n " + target_ + " link del owntap0");
    EXPECT_EQ(wait_exit(std::chrono::milliseconds(5000)), 1);
}

TEST_F(TapFdTest, DescriptorThatIsNoTapIsRefused) {
    const auto r = sh(sb_->in_host(pastad_binary() + " -f -q -F 9 --netns /run/netns/" + target_ +
                                   " 9</dev/null 2>&1"));
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.out.find("-F/--fd 9: not a tap device"), std::string::npos) << r.out;
}

TEST_F(TapFdTest, TunDeviceIsRefused) {
    tap_ = make_tun_in(target_, "ftun0", IFF_TUN | IFF_NO_PI);
    ASSERT_GE(tap_, 0);
    const auto r = sh(sb_->in_host(pastad_binary() + " -f -q -F " + std::to_string(tap_) +
                                   " --netns /run/netns/" + target_ + " 2>&1"));
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.out.find("ftun0 is a tun (IP) device"), std::string::npos) << r.out;
}

TEST_F(TapFdTest, ClosedDescriptorIsRefused) {
    const auto r =
        sh(sb_->in_host(pastad_binary() + " -f -q -F 77 --netns /run/netns/" + target_ + " 2>&1"));
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.out.find("-F/--fd 77: not an open file descriptor"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace pastad::test

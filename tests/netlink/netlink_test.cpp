// SPDX-License-Identifier: GPL-2.0-or-later
// tests/netlink/netlink_test.cpp - Socket against the kernel, inside a namespace of its own
//
// Each test makes a uniquely named network namespace with `ip netns add`,
// opens a Socket from a thread that entered it with setns(), configures a
// veth pair inside it through the Socket and reads the result back with the
// dumps. Nothing outside that namespace is changed, and no packet is sent.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include "daemon/base/unique_fd.hpp"
#include "netlink/netlink.hpp"

namespace pastad::netlink {
namespace {

using ::testing::Contains;
using ::testing::Not;

Ip4 ip4(const char* s) {
    return *Ip4::parse(s);
}
Ip6 ip6(const char* s) {
    return *Ip6::parse(s);
}

// Owns a named network namespace: made in the constructor, deleted in the
// destructor whatever way the test leaves.
class NetnsGuard {
public:
    NetnsGuard() {
        static std::atomic<int> counter{0};
        name_ = "pastad-nl-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
        ok_ = std::system(("ip netns add " + name_ + " 2>/dev/null").c_str()) == 0;
    }
    NetnsGuard(const NetnsGuard&) = delete;
    NetnsGuard& operator=(const NetnsGuard&) = delete;
    ~NetnsGuard() {
        if (ok_) {
            [[maybe_unused]] const int rc = std::system(("ip netns del " + name_).c_str());
        }
    }

    bool ok() const { return ok_; }
    std::string path() const { return "/run/netns/" + name_; }
    // Runs `ip -n NAME <args>` for set-up the code under test does not do.
    int ip(const std::string& args) const {
        return std::system(("ip -n " + name_ + " " + args).c_str());
    }

private:
    std::string name_;
    bool ok_ = false;
};

// Opens a Socket from a thread that has entered the namespace at `path`; the
// socket stays in that namespace after the thread ends.
Result<Socket> open_in(const std::string& path) {
    std::optional<Result<Socket>> out;
    std::thread t([&] {
        const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) {
            out.emplace(errno_code());
            return;
        }
        if (setns(fd.get(), CLONE_NEWNET) != 0) {
            out.emplace(errno_code());
            return;
        }
        out.emplace(Socket::open());
    });
    t.join();
    return std::move(*out);
}

// Skips the test unless namespaces can be made; leaves `ns` ready otherwise.
#define PASTAD_NEED_NETNS(ns)                                                        \
    do {                                                                             \
        if (geteuid() != 0) {                                                        \
            GTEST_SKIP() << "needs root to create network namespaces";               \
        }                                                                            \
        if (!(ns).ok()) {                                                            \
            GTEST_SKIP() << "`ip netns add` failed: network namespaces unavailable"; \
        }                                                                            \
    } while (0)

const Link* find_link(const std::vector<Link>& links, const std::string& name) {
    const auto it =
        std::find_if(links.begin(), links.end(), [&](const Link& l) { return l.name == name; });
    return it == links.end() ? nullptr : &*it;
}

TEST(SocketTest, ConfiguresVethAndReadsItBack) {
    NetnsGuard ns;
    PASTAD_NEED_NETNS(ns);
    ASSERT_EQ(ns.ip("link add nlta type veth peer name nltb"), 0);
    ASSERT_EQ(ns.ip("link set nltb up"), 0);  // carrier for nlta
    auto sock = open_in(ns.path());
    ASSERT_TRUE(sock) << sock.error().message();

    auto index = sock->link_index("nlta");
    ASSERT_TRUE(index) << index.error().message();
    const int ifindex = *index;
    const Mac mac = *Mac::parse("02:00:5e:10:20:30");
    EXPECT_FALSE(sock->set_mtu(ifindex, 1400));
    EXPECT_FALSE(sock->set_mac(ifindex, mac));
    EXPECT_FALSE(sock->set_link_up(ifindex));

    const Prefix4 a4{ip4("198.51.100.2"), 24};
    const Prefix6 a6{ip6("2001:db8::2"), 64};
    EXPECT_FALSE(sock->add_addr(ifindex, a4));
    EXPECT_FALSE(sock->add_addr(ifindex, a6, true));

    const Route4 def4{Prefix4{}, ip4("198.51.100.1"), ifindex, 100};
    const Route4 via4{Prefix4{ip4("203.0.113.0"), 24}, ip4("198.51.100.254"), ifindex, 20};
    // 192.0.2.1 is covered by no prefix on the link: accepted only as onlink.
    const Route4 offlink4{Prefix4{ip4("192.0.2.0"), 24}, ip4("10.9.9.9"), ifindex, 30};
    const Route6 def6{Prefix6{}, ip6("2001:db8::1"), ifindex, 200};
    const Route6 offlink6{Prefix6{ip6("2001:db8:5::"), 64}, ip6("2001:db8:9::9"), ifindex, 300};
    EXPECT_FALSE(sock->add_route(ifindex, def4));
    EXPECT_FALSE(sock->add_route(ifindex, via4));
    EXPECT_FALSE(sock->add_route(ifindex, offlink4));
    EXPECT_FALSE(sock->add_route(ifindex, def6));
    EXPECT_FALSE(sock->add_route(ifindex, offlink6));

    auto links = sock->links();
    ASSERT_TRUE(links) << links.error().message();
    const Link* l = find_link(*links, "nlta");
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->index, ifindex);
    EXPECT_EQ(l->mtu, 1400u);
    EXPECT_EQ(l->mac, mac);
    EXPECT_TRUE(l->up);
    EXPECT_FALSE(l->loopback);
    const Link* lo = find_link(*links, "lo");
    ASSERT_NE(lo, nullptr);
    EXPECT_TRUE(lo->loopback);

    auto addrs4 = sock->addrs4();
    ASSERT_TRUE(addrs4) << addrs4.error().message();
    EXPECT_THAT(*addrs4, Contains(std::pair{ifindex, a4}));
    auto addrs6 = sock->addrs6();
    ASSERT_TRUE(addrs6) << addrs6.error().message();
    EXPECT_THAT(*addrs6, Contains(std::pair{ifindex, a6}));
    for (const auto& [i, p] : *addrs6) {
        EXPECT_FALSE(p.addr.is_link_local()) << "link-scope address reported as global";
    }

    auto routes4 = sock->routes4();
    ASSERT_TRUE(routes4) << routes4.error().message();
    EXPECT_THAT(*routes4, Contains(def4));
    EXPECT_THAT(*routes4, Contains(via4));
    EXPECT_THAT(*routes4, Contains(offlink4));
    // The prefix route the kernel made for the address.
    EXPECT_THAT(*routes4, Contains(Route4{Prefix4{ip4("198.51.100.0"), 24}, {}, ifindex, 0}));
    auto routes6 = sock->routes6();
    ASSERT_TRUE(routes6) << routes6.error().message();
    EXPECT_THAT(*routes6, Contains(def6));
    EXPECT_THAT(*routes6, Contains(offlink6));

    // The same tables, as the daemon reads the host's.
    std::string why;
    const auto t4 = choose_template4(*links, *addrs4, *routes4, "", why);
    ASSERT_TRUE(t4) << why;
    EXPECT_EQ(t4->link.name, "nlta");
    EXPECT_EQ(t4->gw, ip4("198.51.100.1"));
    const auto t6 = choose_template6(*links, *addrs6, *routes6, "", why);
    ASSERT_TRUE(t6) << why;
    EXPECT_EQ(t6->gw, ip6("2001:db8::1"));
    EXPECT_EQ(t6->addrs, std::vector<Prefix6>{a6});
}

TEST(SocketTest, KernelErrorsComeBackAsErrorCodes) {
    NetnsGuard ns;
    PASTAD_NEED_NETNS(ns);
    ASSERT_EQ(ns.ip("link add nlta type veth peer name nltb"), 0);
    auto sock = open_in(ns.path());
    ASSERT_TRUE(sock) << sock.error().message();
    auto index = sock->link_index("nlta");
    ASSERT_TRUE(index) << index.error().message();

    const auto missing = sock->link_index("nlt-missing");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error(), std::errc::no_such_device);
    EXPECT_EQ(sock->set_mtu(999999, 1400), std::errc::no_such_device);

    const Prefix4 a4{ip4("198.51.100.2"), 24};
    EXPECT_FALSE(sock->add_addr(*index, a4));
    EXPECT_EQ(sock->add_addr(*index, a4), std::errc::file_exists);

    // A route on a link that is down is refused; the socket stays usable.
    const Route4 r{Prefix4{ip4("203.0.113.0"), 24}, ip4("198.51.100.1"), *index, 0};
    EXPECT_TRUE(sock->add_route(*index, r));
    EXPECT_FALSE(sock->set_link_up(*index));
    EXPECT_FALSE(sock->add_route(*index, r));
    EXPECT_EQ(sock->add_route(*index, r), std::errc::file_exists);
    auto routes = sock->routes4();
    ASSERT_TRUE(routes) << routes.error().message();
    EXPECT_THAT(*routes, Contains(r));
}

TEST(SocketTest, SocketStaysInNamespaceItWasOpenedIn) {
    NetnsGuard ns;
    PASTAD_NEED_NETNS(ns);
    ASSERT_EQ(ns.ip("link add nlta type veth peer name nltb"), 0);
    auto inside = open_in(ns.path());
    ASSERT_TRUE(inside) << inside.error().message();
    auto here = Socket::open();
    ASSERT_TRUE(here) << here.error().message();

    auto in_links = inside->links();
    ASSERT_TRUE(in_links) << in_links.error().message();
    EXPECT_EQ(in_links->size(), 3u);  // lo and the veth pair
    EXPECT_NE(find_link(*in_links, "nltb"), nullptr);
    auto here_links = here->links();
    ASSERT_TRUE(here_links) << here_links.error().message();
    EXPECT_EQ(find_link(*here_links, "nlta"), nullptr);

    // Name lookups go through the socket, not the calling thread's namespace.
    EXPECT_TRUE(inside->link_index("nltb"));
    EXPECT_FALSE(here->link_index("nltb"));
}

TEST(SocketTest, MovedSocketKeepsWorking) {
    NetnsGuard ns;
    PASTAD_NEED_NETNS(ns);
    auto opened = open_in(ns.path());
    ASSERT_TRUE(opened) << opened.error().message();
    Socket moved = std::move(opened).value();
    Socket target = std::move(moved);
    auto lo = target.link_index("lo");
    ASSERT_TRUE(lo) << lo.error().message();
    EXPECT_EQ(*lo, 1);
}

}  // namespace
}  // namespace pastad::netlink

// SPDX-License-Identifier: GPL-2.0-or-later
// tests/netlink/template_test.cpp - choosing the template interface from dumped tables
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "netlink/netlink.hpp"

namespace pastad::netlink {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Ip4 ip4(const char* s) {
    return *Ip4::parse(s);
}
Ip6 ip6(const char* s) {
    return *Ip6::parse(s);
}

Link link(int index, const char* name, bool up = true, bool loopback = false) {
    Link l;
    l.index = index;
    l.name = name;
    l.mtu = loopback ? 65536 : 1500;
    l.mac = loopback ? Mac{} : Mac{{0x02, 0, 0, 0, 0, static_cast<std::uint8_t>(index)}};
    l.up = up;
    l.loopback = loopback;
    return l;
}

// lo, two uplinks, a VPN tunnel and a link that is down.
std::vector<Link> host_links() {
    return {link(1, "lo", true, true), link(2, "eth0"), link(3, "wlan0"), link(4, "tun0"),
            link(5, "down0", false)};
}

std::vector<std::pair<int, Prefix4>> host_addrs4() {
    return {{2, {ip4("198.51.100.2"), 24}},
            {3, {ip4("192.0.2.20"), 24}},
            {2, {ip4("198.51.100.3"), 24}},
            {4, {ip4("10.8.0.2"), 32}}};
}

Route4 route4(const char* dst, std::uint8_t len, std::optional<Ip4> gw, int oif,
              std::uint32_t metric) {
    return Route4{Prefix4{ip4(dst), len}, gw, oif, metric};
}

TEST(ChooseTemplateTest, OneDefaultRoutePicksItsLink) {
    const std::vector<Route4> routes{
        route4("0.0.0.0", 0, ip4("198.51.100.1"), 2, 100),
        route4("198.51.100.0", 24, std::nullopt, 2, 100),
        route4("192.0.2.0", 24, std::nullopt, 3, 600),
    };
    std::string why;
    const auto t = choose_template4(host_links(), host_addrs4(), routes, "", why);
    ASSERT_TRUE(t) << why;
    EXPECT_EQ(t->link.name, "eth0");
    EXPECT_EQ(t->link.mtu, 1500u);
    EXPECT_EQ(t->link.mac, host_links()[1].mac);
    EXPECT_EQ(t->gw, ip4("198.51.100.1"));
    const std::vector<Prefix4> want_addrs{{ip4("198.51.100.2"), 24}, {ip4("198.51.100.3"), 24}};
    EXPECT_EQ(t->addrs, want_addrs);
    const std::vector<Route4> want_routes{routes[0], routes[1]};
    EXPECT_EQ(t->routes, want_routes);
    EXPECT_THAT(why, HasSubstr("eth0"));
    EXPECT_THAT(why, HasSubstr("198.51.100.1"));
    EXPECT_THAT(why, Not(HasSubstr("candidates")));
}

TEST(ChooseTemplateTest, LowestMetricWinsAndAllCandidatesAreNamed) {
    const std::vector<Route4> routes{
        route4("0.0.0.0", 0, ip4("198.51.100.1"), 2, 600),
        route4("0.0.0.0", 0, ip4("192.0.2.1"), 3, 100),
        route4("0.0.0.0", 0, std::nullopt, 4, 50),  // VPN, but its link is tun0 (up)
    };
    std::string why;
    const auto t = choose_template4(host_links(), host_addrs4(), routes, "", why);
    ASSERT_TRUE(t) << why;
    EXPECT_EQ(t->link.name, "tun0");
    EXPECT_FALSE(t->gw);
    EXPECT_THAT(why, HasSubstr("candidates"));
    EXPECT_THAT(why, HasSubstr("eth0 metric 600"));
    EXPECT_THAT(why, HasSubstr("wlan0 metric 100"));
    EXPECT_THAT(why, HasSubstr("tun0 metric 50"));
}

TEST(ChooseTemplateTest, LowerMetricOnLaterLinkWins) {
    const std::vector<Route4> routes{
        route4("0.0.0.0", 0, ip4("198.51.100.1"), 2, 600),
        route4("0.0.0.0", 0, ip4("192.0.2.1"), 3, 100),
    };
    std::string why;
    const auto t = choose_template4(host_links(), host_addrs4(), routes, "", why);
    ASSERT_TRUE(t) << why;
    EXPECT_EQ(t->link.name, "wlan0");
    EXPECT_EQ(t->gw, ip4("192.0.2.1"));
    const std::vector<Prefix4> want_addrs{{ip4("192.0.2.20"), 24}};
    EXPECT_EQ(t->addrs, want_addrs);
}

TEST(ChooseTemplateTest, EqualMetricsGoToLowerIfindex) {
    const std::vector<Route4> routes{
        route4("0.0.0.0", 0, ip4("192.0.2.1"), 3, 100),
        route4("0.0.0.0", 0, ip4("198.51.100.1"), 2, 100),
    };
    std::string why;
    const auto t = choose_template4(host_links(), host_addrs4(), routes, "", why);
    ASSERT_TRUE(t) << why;
    EXPECT_EQ(t->link.name, "eth0");
    EXPECT_EQ(t->gw, ip4("198.51.100.1"));
    EXPECT_THAT(why, HasSubstr("wlan0 metric 100"));
}

TEST(ChooseTemplateTest, LoopbackAndDownLinksAreSkipped) {
    const std::vector<Route4> routes{
        route4("0.0.0.0", 0, ip4("203.0.113.1"), 5, 0),
        route4("0.0.0.0", 0, std::nullopt, 1, 1),
        route4("0.0.0.0", 0, ip4("198.51.100.1"), 2, 900),
    };
    std::string why;
    const auto t = choose_template4(host_links(), host_addrs4(), routes, "", why);
    ASSERT_TRUE(t) << why;
    EXPECT_EQ(t->link.name, "eth0");
    EXPECT_THAT(why, HasSubstr("down0 metric 0"));
    EXPECT_THAT(why, HasSubstr("down"));
    EXPECT_THAT(why, HasSubstr("loopback"));
}

TEST(ChooseTemplateTest, NoDefaultRouteReturnsNothing) {
    const std::vector<Route4> routes{route4("198.51.100.0", 24, std::nullopt, 2, 0)};
    std::string why;
    const auto t = choose_template4(host_links(), host_addrs4(), routes, "", why);
    EXPECT_FALSE(t);
    EXPECT_THAT(why, HasSubstr("no usable default route"));
}

TEST(ChooseTemplateTest, OnlyUnusableDefaultRoutesReturnNothingAndNameThem) {
    const std::vector<Route4> routes{route4("0.0.0.0", 0, ip4("203.0.113.1"), 5, 0),
                                     route4("0.0.0.0", 0, ip4("203.0.113.1"), 77, 0)};
    std::string why;
    const auto t = choose_template4(host_links(), host_addrs4(), routes, "", why);
    EXPECT_FALSE(t);
    EXPECT_THAT(why, HasSubstr("down0"));
    EXPECT_THAT(why, HasSubstr("ifindex 77"));
}

TEST(ChooseTemplateTest, WantedLinkIsUsedWithoutDefaultRoute) {
    const std::vector<Route4> routes{
        route4("0.0.0.0", 0, ip4("198.51.100.1"), 2, 100),
        route4("10.8.0.0", 16, std::nullopt, 4, 0),
    };
    std::string why;
    const auto t = choose_template4(host_links(), host_addrs4(), routes, "tun0", why);
    ASSERT_TRUE(t) << why;
    EXPECT_EQ(t->link.name, "tun0");
    EXPECT_FALSE(t->gw);
    const std::vector<Route4> want_routes{routes[1]};
    EXPECT_EQ(t->routes, want_routes);
    EXPECT_THAT(why, HasSubstr("requested"));
}

TEST(ChooseTemplateTest, WantedLinkTakesItsOwnBestGateway) {
    const std::vector<Route4> routes{
        route4("0.0.0.0", 0, ip4("198.51.100.1"), 2, 100),
        route4("0.0.0.0", 0, ip4("192.0.2.2"), 3, 700),
        route4("0.0.0.0", 0, ip4("192.0.2.1"), 3, 600),
    };
    std::string why;
    const auto t = choose_template4(host_links(), host_addrs4(), routes, "wlan0", why);
    ASSERT_TRUE(t) << why;
    EXPECT_EQ(t->link.name, "wlan0");
    EXPECT_EQ(t->gw, ip4("192.0.2.1"));
}

TEST(ChooseTemplateTest, WantedLinkAbsentReturnsNothingAndNamesIt) {
    const std::vector<Route4> routes{route4("0.0.0.0", 0, ip4("198.51.100.1"), 2, 100)};
    std::string why;
    const auto t = choose_template4(host_links(), host_addrs4(), routes, "eth7", why);
    EXPECT_FALSE(t);
    EXPECT_THAT(why, HasSubstr("eth7"));
    EXPECT_THAT(why, HasSubstr("does not exist"));
}

TEST(ChooseTemplateTest, WantedLinkWithoutAddressReturnsNothing) {
    const std::vector<Route4> routes{route4("0.0.0.0", 0, ip4("198.51.100.1"), 2, 100)};
    std::string why;
    const auto t = choose_template4(host_links(), host_addrs4(), routes, "down0", why);
    EXPECT_FALSE(t);
    EXPECT_THAT(why, HasSubstr("down0"));
    EXPECT_THAT(why, HasSubstr("no global IPv4 address"));
}

TEST(ChooseTemplateTest, Ipv6LowestMetricWins) {
    const std::vector<std::pair<int, Prefix6>> addrs{{2, {ip6("2001:db8::2"), 64}},
                                                     {3, {ip6("2001:db8:1::2"), 64}},
                                                     {3, {ip6("2001:db8:1::3"), 64}}};
    const std::vector<Route6> routes{
        Route6{Prefix6{ip6("2001:db8:1::"), 64}, std::nullopt, 3, 256},
        Route6{Prefix6{}, ip6("fe80::1"), 2, 1024},
        Route6{Prefix6{}, ip6("fe80::2"), 3, 600},
    };
    std::string why;
    const auto t = choose_template6(host_links(), addrs, routes, "", why);
    ASSERT_TRUE(t) << why;
    EXPECT_EQ(t->link.name, "wlan0");
    EXPECT_EQ(t->gw, ip6("fe80::2"));
    const std::vector<Prefix6> want_addrs{{ip6("2001:db8:1::2"), 64}, {ip6("2001:db8:1::3"), 64}};
    EXPECT_EQ(t->addrs, want_addrs);
    const std::vector<Route6> want_routes{routes[0], routes[2]};
    EXPECT_EQ(t->routes, want_routes);
    EXPECT_THAT(why, HasSubstr("IPv6"));
    EXPECT_THAT(why, HasSubstr("eth0 metric 1024"));
}

TEST(ChooseTemplateTest, Ipv6WantedLinkWithoutAddressReturnsNothing) {
    const std::vector<std::pair<int, Prefix6>> addrs{{2, {ip6("2001:db8::2"), 64}}};
    const std::vector<Route6> routes{Route6{Prefix6{}, ip6("fe80::1"), 3, 1024}};
    std::string why;
    EXPECT_FALSE(choose_template6(host_links(), addrs, routes, "wlan0", why));
    EXPECT_THAT(why, HasSubstr("no global IPv6 address"));
}

TEST(ChooseTemplateTest, Ipv6NoDefaultRouteReturnsNothing) {
    const std::vector<std::pair<int, Prefix6>> addrs{{2, {ip6("2001:db8::2"), 64}}};
    const std::vector<Route6> routes{Route6{Prefix6{ip6("2001:db8::"), 64}, std::nullopt, 2, 256}};
    std::string why;
    EXPECT_FALSE(choose_template6(host_links(), addrs, routes, "", why));
    EXPECT_THAT(why, HasSubstr("IPv6"));
}

}  // namespace
}  // namespace pastad::netlink

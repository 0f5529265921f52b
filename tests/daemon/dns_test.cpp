// SPDX-License-Identifier: GPL-2.0-or-later
// tests/daemon/dns_test.cpp - resolv.conf reading and the choice of what the namespace is told
#include "daemon/dns.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

namespace pastad {
namespace {

Ip4 a4(const char* s) {
    return *Ip4::parse(s);
}
Ip6 a6(const char* s) {
    return *Ip6::parse(s);
}

TEST(ResolvConfTest, NameserversAndLastSearchLineAreRead) {
    const auto rc = parse_resolv_conf(
        "# comment\nnameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch a.example b.example\n"
        "options edns0\nnameserver fe80::1%eth0\ndomain c.example\n");
    ASSERT_EQ(rc.ns4.size(), 1u);
    EXPECT_EQ(rc.ns4[0], a4("192.0.2.53"));
    ASSERT_EQ(rc.ns6.size(), 2u);
    EXPECT_EQ(rc.ns6[1], a6("fe80::1"));
    EXPECT_EQ(rc.search, std::vector<std::string>{"c.example"});
}

TEST(ResolvConfTest, GarbageIsIgnored) {
    const auto rc = parse_resolv_conf("nameserver\nnameserver not-an-address\n\x01\x02\nsearch\n");
    EXPECT_TRUE(rc.ns4.empty());
    EXPECT_TRUE(rc.ns6.empty());
    EXPECT_TRUE(rc.search.empty());
}

TEST(ResolvConfTest, TruncatedAndBinaryEntriesAreSkippedAndTheRestIsRead) {
    using namespace std::string_literals;
    const std::string text =
        "nameserver 192.0.2\n"             // truncated address
        "nameserver 192.0.2.1.5\n"         // one part too many
        "nameserver 2001:db8::\x00\x01\n"  // binary inside
        "nameserver 2001:db8:\n"           // truncated IPv6
        "nameserver %eth0\n"               // a zone alone
        "search \x00\n"s +
        std::string(100000, 'x') +  // one very long line
        "\nnameserver 192.0.2.53\nnameserver 2001:db8::53%eth0\nnameserver"s;
    const auto rc = parse_resolv_conf(text);
    ASSERT_EQ(rc.ns4.size(), 1u);
    EXPECT_EQ(rc.ns4[0], a4("192.0.2.53"));
    ASSERT_EQ(rc.ns6.size(), 1u);
    EXPECT_EQ(rc.ns6[0], a6("2001:db8::53"));
}

TEST(ResolvConfTest, PathComesFromEnvironmentWhenSet) {
    ::setenv("PASTAD_RESOLV_CONF", "/tmp/some-resolv.conf", 1);
    EXPECT_EQ(resolv_conf_path(), "/tmp/some-resolv.conf");
    ::unsetenv("PASTAD_RESOLV_CONF");
    EXPECT_EQ(resolv_conf_path(), "/etc/resolv.conf");
}

TEST(ResolvConfTest, MissingFileGivesNothing) {
    const auto rc = read_resolv_conf("/nonexistent/resolv.conf");
    EXPECT_TRUE(rc.ns4.empty());
}

TEST(DnsPlanTest, LoopbackResolverIsReplacedByGatewayAndForwarded) {
    Config cfg;
    ResolvConf host;
    host.ns4 = {a4("127.0.0.53")};
    host.ns6 = {a6("::1")};
    const auto p = plan_dns(cfg, host, a4("198.51.100.1"), a6("fe80::1"));
    EXPECT_EQ(p.ns4, std::vector<Ip4>{a4("198.51.100.1")});
    EXPECT_EQ(p.match4, a4("198.51.100.1"));
    EXPECT_EQ(p.host4, a4("127.0.0.53"));
    EXPECT_EQ(p.ns6, std::vector<Ip6>{a6("fe80::1")});
    EXPECT_EQ(p.host6, a6("::1"));
}

TEST(DnsPlanTest, ReachableResolverIsHandedOutAsIs) {
    Config cfg;
    ResolvConf host;
    host.ns4 = {a4("192.0.2.53"), a4("192.0.2.54")};
    const auto p = plan_dns(cfg, host, a4("198.51.100.1"), std::nullopt);
    EXPECT_EQ(p.ns4, host.ns4);
    EXPECT_FALSE(p.match4);
}

TEST(DnsPlanTest, DnsForwardIsToldAndForwardedToFirstResolver) {
    Config cfg;
    cfg.dns_forward4 = a4("169.254.1.1");
    ResolvConf host;
    host.ns4 = {a4("127.0.0.53"), a4("192.0.2.54")};
    const auto p = plan_dns(cfg, host, a4("198.51.100.1"), std::nullopt);
    EXPECT_EQ(p.match4, a4("169.254.1.1"));
    EXPECT_EQ(p.host4, a4("127.0.0.53"));
    EXPECT_EQ(p.ns4, (std::vector<Ip4>{a4("169.254.1.1"), a4("192.0.2.54")}));
}

TEST(DnsPlanTest, DnsHostOverridesForwardTarget) {
    Config cfg;
    cfg.dns_forward4 = a4("169.254.1.1");
    cfg.dns_host4 = a4("192.0.2.99");
    ResolvConf host;
    host.ns4 = {a4("127.0.0.53")};
    const auto p = plan_dns(cfg, host, a4("198.51.100.1"), std::nullopt);
    EXPECT_EQ(p.host4, a4("192.0.2.99"));
}

TEST(DnsPlanTest, ExplicitDnsWinsAndNoneAnnouncesNothing) {
    Config cfg;
    cfg.dns4 = {a4("192.0.2.7")};
    ResolvConf host;
    host.ns4 = {a4("192.0.2.53")};
    host.search = {"host.example"};
    EXPECT_EQ(plan_dns(cfg, host, std::nullopt, std::nullopt).ns4, cfg.dns4);
    cfg.dns4.clear();
    cfg.dns_none = true;
    cfg.search_none = true;
    const auto p = plan_dns(cfg, host, std::nullopt, std::nullopt);
    EXPECT_TRUE(p.ns4.empty());
    EXPECT_TRUE(p.search.empty());
}

TEST(DnsPlanTest, LoopbackResolverWithoutGatewayIsNeverHandedOut) {
    Config cfg;
    ResolvConf host;
    host.ns4 = {a4("127.0.0.1")};
    const auto p = plan_dns(cfg, host, std::nullopt, std::nullopt);
    EXPECT_TRUE(p.ns4.empty());
    EXPECT_FALSE(p.match4);
}

TEST(DnsPlanTest, SearchListFromOptionOrHost) {
    Config cfg;
    ResolvConf host;
    host.search = {"host.example"};
    EXPECT_EQ(plan_dns(cfg, host, std::nullopt, std::nullopt).search, host.search);
    cfg.search = {"mine.example"};
    EXPECT_EQ(plan_dns(cfg, host, std::nullopt, std::nullopt).search, cfg.search);
}

// pasta's namespace mode hands out no nameservers and no search list over
// DHCP, DHCPv6 or router advertisements unless --dhcp-dns / --dhcp-search.
DnsPlan sample_plan() {
    DnsPlan p;
    p.ns4 = {a4("192.0.2.53")};
    p.ns6 = {a6("2001:db8::53")};
    p.search = {"example.test"};
    return p;
}

TEST(DnsAnnouncementTest, NothingIsAnnouncedByDefault) {
    const auto told = announced_dns(Config{}, sample_plan());
    EXPECT_TRUE(told.ns4.empty());
    EXPECT_TRUE(told.ns6.empty());
    EXPECT_TRUE(told.search.empty());
}

TEST(DnsAnnouncementTest, DhcpDnsAnnouncesNameserversOnly) {
    Config c;
    c.dhcp_dns = true;
    const auto told = announced_dns(c, sample_plan());
    EXPECT_EQ(told.ns4, std::vector<Ip4>{a4("192.0.2.53")});
    EXPECT_EQ(told.ns6, std::vector<Ip6>{a6("2001:db8::53")});
    EXPECT_TRUE(told.search.empty());
}

TEST(DnsAnnouncementTest, DhcpSearchAnnouncesSearchListOnly) {
    Config c;
    c.dhcp_search = true;
    const auto told = announced_dns(c, sample_plan());
    EXPECT_TRUE(told.ns4.empty());
    EXPECT_TRUE(told.ns6.empty());
    EXPECT_EQ(told.search, std::vector<std::string>{"example.test"});
}

}  // namespace
}  // namespace pastad

// SPDX-License-Identifier: GPL-2.0-or-later
// tests/integration/reflect_test.cpp - the namespace gets the host's addressing
#include <gtest/gtest.h>

#include <string>

#include "sandbox.hpp"

namespace pastad::test {
namespace {

class ReflectTest : public SandboxTest<> {
protected:
    ReflectTest() { stop_signal_ = SIGTERM; }

    // Starts pastad in the sandbox host against the target; returns its status.
    CmdResult start(const std::string& opts) {
        return sh(sb_->in_host(pastad_binary() + " " + opts + " -P " + pid_file_ +
                               " --netns /run/netns/" + target_ + " 2>&1"));
    }

    nlohmann::json link(const std::string& name) {
        const auto j = ip_json(target_, "link show dev " + name);
        return j.empty() ? nlohmann::json{} : j[0];
    }

    // "addr/len" strings of one family on `dev`, global scope only.
    std::vector<std::string> addrs(const std::string& dev, const std::string& family) {
        std::vector<std::string> out;
        for (const auto& l : ip_json(target_, family + " addr show dev " + dev)) {
            for (const auto& a : l["addr_info"]) {
                if (a["scope"] == "global") {
                    out.push_back(a["local"].get<std::string>() + "/" +
                                  std::to_string(a["prefixlen"].get<int>()));
                }
            }
        }
        return out;
    }

    std::string default_gw(const std::string& family) {
        for (const auto& r : ip_json(target_, family + " route show default")) {
            if (r.contains("gateway")) {
                return r["gateway"];
            }
        }
        return "";
    }
};

TEST_F(ReflectTest, ConfigNetCopiesAddressesRoutesAndSetsMtu) {
    const auto r = start("--config-net");
    ASSERT_EQ(r.status, 0) << r.out;
    // The parent returned: the namespace must be configured already.
    const auto l = link(sb_->veth_host);
    ASSERT_FALSE(l.empty()) << "tap not named after the template interface";
    EXPECT_EQ(l["mtu"], 65520);
    EXPECT_NE(l["flags"].dump().find("UP"), std::string::npos);
    EXPECT_EQ(addrs(sb_->veth_host, "-4"), std::vector<std::string>{"198.51.100.2/24"});
    EXPECT_EQ(addrs(sb_->veth_host, "-6"), std::vector<std::string>{"2001:db8::2/64"});
    EXPECT_EQ(default_gw("-4"), "198.51.100.1");
    EXPECT_EQ(default_gw("-6"), "2001:db8::1");
    // The host's own routes (the on-link prefix) are there too.
    EXPECT_EQ(ip_json(target_, "-4 route show 198.51.100.0/24").size(), 1u);
    // lo is up.
    EXPECT_NE(link("lo")["flags"].dump().find("UP"), std::string::npos);
}

TEST_F(ReflectTest, Ipv4OnlyLeavesOutIpv6) {
    ASSERT_EQ(start("--config-net -4").status, 0);
    EXPECT_EQ(addrs(sb_->veth_host, "-4"), std::vector<std::string>{"198.51.100.2/24"});
    EXPECT_TRUE(addrs(sb_->veth_host, "-6").empty());
    EXPECT_EQ(default_gw("-6"), "");
}

TEST_F(ReflectTest, Ipv6OnlyLeavesOutIpv4) {
    ASSERT_EQ(start("--config-net -6").status, 0);
    EXPECT_TRUE(addrs(sb_->veth_host, "-4").empty());
    EXPECT_EQ(addrs(sb_->veth_host, "-6"), std::vector<std::string>{"2001:db8::2/64"});
    EXPECT_EQ(default_gw("-4"), "");
}

TEST_F(ReflectTest, AddressNetmaskAndGatewayOverride) {
    ASSERT_EQ(start("--config-net -a 192.0.2.7 -n 28 -g 192.0.2.1").status, 0);
    EXPECT_EQ(addrs(sb_->veth_host, "-4"), std::vector<std::string>{"192.0.2.7/28"});
    EXPECT_EQ(default_gw("-4"), "192.0.2.1");
    // IPv6 is untouched by IPv4 overrides.
    EXPECT_EQ(addrs(sb_->veth_host, "-6"), std::vector<std::string>{"2001:db8::2/64"});
}

TEST_F(ReflectTest, MtuOptionSetsTapMtu) {
    ASSERT_EQ(start("--config-net -m 9000").status, 0);
    EXPECT_EQ(link(sb_->veth_host)["mtu"], 9000);
}

TEST_F(ReflectTest, NsIfnameOptionNamesTheTap) {
    ASSERT_EQ(start("--config-net -I pastad0").status, 0);
    EXPECT_FALSE(link("pastad0").empty());
    EXPECT_TRUE(link(sb_->veth_host).empty());
    EXPECT_EQ(addrs("pastad0", "-4"), std::vector<std::string>{"198.51.100.2/24"});
}

TEST_F(ReflectTest, InterfaceOptionPicksTheTemplate) {
    // A second uplink with a lower-metric default route would normally win;
    // -i must override that choice.
    const std::string second = "sbs" + std::to_string(::getpid() % 100000);
    ASSERT_EQ(
        sh("ip -n " + sb_->host + " link add " + second + " type veth peer name " + second +
           "p && ip -n " + sb_->host + " addr add 192.0.2.2/24 dev " + second + " && ip -n " +
           sb_->host + " link set " + second + " up && ip -n " + sb_->host + " link set " + second +
           "p up && ip -n " + sb_->host + " route add default via 192.0.2.1 metric 5 2>&1")
            .status,
        0);
    ASSERT_EQ(start("--config-net -4 -i " + sb_->veth_host).status, 0);
    EXPECT_EQ(addrs(sb_->veth_host, "-4"), std::vector<std::string>{"198.51.100.2/24"});
    EXPECT_EQ(default_gw("-4"), "198.51.100.1");
}

TEST_F(ReflectTest, LowestMetricDefaultRouteWinsAndIsLogged) {
    const std::string second = "sbm" + std::to_string(::getpid() % 100000);
    ASSERT_EQ(
        sh("ip -n " + sb_->host + " link add " + second + " type veth peer name " + second +
           "p && ip -n " + sb_->host + " addr add 192.0.2.2/24 dev " + second + " && ip -n " +
           sb_->host + " link set " + second + " up && ip -n " + sb_->host + " link set " + second +
           "p up && ip -n " + sb_->host + " route add default via 192.0.2.1 metric 5 2>&1")
            .status,
        0);
    // The sandbox's own default route has metric 0, so it still wins: make
    // the new one the better choice.
    ASSERT_EQ(sh("ip -n " + sb_->host + " route del default via 198.51.100.1 && ip -n " +
                 sb_->host + " route add default via 198.51.100.1 metric 50")
                  .status,
              0);
    const auto r = start("--config-net -4");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(addrs(second, "-4"), std::vector<std::string>{"192.0.2.2/24"});
    EXPECT_EQ(default_gw("-4"), "192.0.2.1");
    EXPECT_NE(r.out.find(second), std::string::npos) << "the log must name the chosen interface";
}

TEST_F(ReflectTest, MissingInterfaceIsAnErrorNamingIt) {
    const auto r = start("--config-net -i nosuchif0");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.out.find("nosuchif0"), std::string::npos) << r.out;
}

TEST_F(ReflectTest, WithoutConfigNetOnlyTheTapExists) {
    ASSERT_EQ(start("").status, 0);
    const auto l = link(sb_->veth_host);
    ASSERT_FALSE(l.empty());
    EXPECT_TRUE(addrs(sb_->veth_host, "-4").empty());
}

TEST_F(ReflectTest, GatewayResolvesToPastadMacOverArpAndNdp) {
    ASSERT_EQ(start("--config-net --ns-mac-addr 02:00:00:00:00:0a -M 02:00:00:00:00:0b").status, 0);
    // Any traffic towards the gateway makes the kernel resolve it first.
    sh("ip netns exec " + target_ + " ping -c1 -W1 198.51.100.1 >/dev/null 2>&1");
    sh("ip netns exec " + target_ + " ping -6 -c1 -W1 2001:db8::1 >/dev/null 2>&1");
    auto lladdr = [&](const std::string& family, const std::string& addr) {
        for (const auto& n : ip_json(target_, family + " neigh show " + addr)) {
            if (n.contains("lladdr")) {
                return n["lladdr"].get<std::string>();
            }
        }
        return std::string();
    };
    EXPECT_TRUE(eventually([&] { return lladdr("-4", "198.51.100.1") == "02:00:00:00:00:0b"; }))
        << lladdr("-4", "198.51.100.1");
    EXPECT_TRUE(eventually([&] { return lladdr("-6", "2001:db8::1") == "02:00:00:00:00:0b"; }))
        << lladdr("-6", "2001:db8::1");
    EXPECT_EQ(link(sb_->veth_host)["address"], "02:00:00:00:00:0a");
}

}  // namespace
}  // namespace pastad::test

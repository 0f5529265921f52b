// SPDX-License-Identifier: GPL-2.0-or-later
// tests/daemon/fwd_spec_test.cpp - pasta's -t/-u/-T/-U specifications, good and bad
#include "daemon/fwd_spec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace pastad {
namespace {

constexpr PortRange kEphemeral{32768, 60999};

FwdSpec parse(char opt, std::vector<std::string> args) {
    return parse_fwd_spec(opt, args, kEphemeral);
}

// The error message for a spec that must be rejected, or "" when accepted.
std::string error_of(char opt, std::vector<std::string> args) {
    try {
        (void)parse(opt, std::move(args));
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

bool has_port(const FwdGroup& g, unsigned port) {
    for (const auto& m : g.ports) {
        if (m.port == port) {
            return true;
        }
    }
    return false;
}

TEST(FwdSpecTest, NoneForwardsNothing) {
    const auto s = parse('t', {"none"});
    EXPECT_TRUE(s.groups.empty());
    EXPECT_FALSE(s.scans());
}

TEST(FwdSpecTest, MissingOptionMeansAutoOverNonEphemeralPorts) {
    const auto s = parse('u', {});
    ASSERT_EQ(s.groups.size(), 1u);
    EXPECT_TRUE(s.groups[0].scan);
    EXPECT_TRUE(s.groups[0].best_effort);
    EXPECT_TRUE(has_port(s.groups[0], 1));
    EXPECT_TRUE(has_port(s.groups[0], 32767));
    EXPECT_FALSE(has_port(s.groups[0], 32768));
    EXPECT_FALSE(has_port(s.groups[0], 60999));
    EXPECT_TRUE(has_port(s.groups[0], 61000));
    EXPECT_TRUE(has_port(s.groups[0], 65535));
    EXPECT_EQ(s.proto, FwdProto::Udp);
    EXPECT_EQ(s.dir, FwdDir::HostToNs);
}

TEST(FwdSpecTest, SinglePortMapsToItself) {
    const auto s = parse('T', {"8082"});
    ASSERT_EQ(s.groups.size(), 1u);
    EXPECT_EQ(s.groups[0].ports, (std::vector<PortMap>{{8082, 8082}}));
    EXPECT_FALSE(s.groups[0].best_effort);
    EXPECT_EQ(s.dir, FwdDir::NsToHost);
    EXPECT_EQ(s.proto, FwdProto::Tcp);
}

TEST(FwdSpecTest, RangeIsInclusive) {
    const auto s = parse('t', {"10000-10010"});
    ASSERT_EQ(s.groups[0].ports.size(), 11u);
    EXPECT_EQ(s.groups[0].ports.front(), (PortMap{10000, 10000}));
    EXPECT_EQ(s.groups[0].ports.back(), (PortMap{10010, 10010}));
}

TEST(FwdSpecTest, RemappedRangeShiftsEachPort) {
    const auto s = parse('t', {"8080-8089:80-89"});
    ASSERT_EQ(s.groups[0].ports.size(), 10u);
    EXPECT_EQ(s.groups[0].ports[3], (PortMap{8083, 83}));
}

TEST(FwdSpecTest, PodmanFormsAreAccepted) {
    EXPECT_EQ(parse('t', {"8080-8080:80-80"}).groups[0].ports, (std::vector<PortMap>{{8080, 80}}));
    const auto u = parse('u', {"127.0.0.1/8081-8081:80-80"});
    ASSERT_TRUE(u.groups[0].addr);
    EXPECT_EQ(u.groups[0].addr->str(), "127.0.0.1");
    EXPECT_EQ(u.groups[0].ports, (std::vector<PortMap>{{8081, 80}}));
    const auto t6 = parse('t', {"::1/8092-8092:92-92"});
    ASSERT_TRUE(t6.groups[0].addr);
    EXPECT_FALSE(t6.groups[0].addr->is_v4());
    EXPECT_EQ(t6.groups[0].ports, (std::vector<PortMap>{{8092, 92}}));
    EXPECT_EQ(parse('u', {"8093-8094:93-94"}).groups[0].ports,
              (std::vector<PortMap>{{8093, 93}, {8094, 94}}));
    EXPECT_EQ(parse('T', {"8082"}).groups[0].ports, (std::vector<PortMap>{{8082, 8082}}));
    EXPECT_TRUE(parse('t', {"none"}).groups.empty());
}

TEST(FwdSpecTest, CommaListAndExclusionsCombine) {
    const auto s = parse('t', {"20-30,~25,40"});
    const auto& g = s.groups[0];
    EXPECT_TRUE(has_port(g, 24));
    EXPECT_FALSE(has_port(g, 25));
    EXPECT_TRUE(has_port(g, 26));
    EXPECT_TRUE(has_port(g, 40));
    EXPECT_EQ(g.ports.size(), 11u + 1u - 1u);
}

TEST(FwdSpecTest, ExclusionGivenAfterRangeStillWins) {
    const auto s = parse('t', {"2000-5000,~3000-3010"});
    EXPECT_FALSE(has_port(s.groups[0], 3005));
    EXPECT_TRUE(has_port(s.groups[0], 3011));
}

TEST(FwdSpecTest, ExclusionsOnlyForwardEverythingElseBestEffort) {
    const auto s = parse('t', {"~30000-30010"});
    const auto& g = s.groups[0];
    EXPECT_TRUE(g.best_effort);
    EXPECT_FALSE(g.scan);
    EXPECT_TRUE(has_port(g, 29999));
    EXPECT_FALSE(has_port(g, 30005));
    EXPECT_FALSE(has_port(g, 40000)) << "ephemeral ports are left out";
}

TEST(FwdSpecTest, AllIsEveryNonEphemeralPort) {
    const auto s = parse('t', {"all"});
    EXPECT_TRUE(s.groups[0].best_effort);
    EXPECT_EQ(s.groups[0].ports.size(), 65535u - (60999u - 32768u + 1u));
}

TEST(FwdSpecTest, AutoWithRangeScansOnlyThatRange) {
    const auto s = parse('t', {"8000-8010,auto"});
    EXPECT_TRUE(s.scans());
    EXPECT_EQ(s.groups[0].ports.size(), 11u);
    EXPECT_FALSE(s.groups[0].best_effort);
}

TEST(FwdSpecTest, AddressWithAutoKeepsAddress) {
    const auto s = parse('t', {"::1/auto"});
    ASSERT_TRUE(s.groups[0].addr);
    EXPECT_EQ(s.groups[0].addr->str(), "::1");
    EXPECT_TRUE(s.groups[0].scan);
}

TEST(FwdSpecTest, AddressWithInterfaceAndBrackets) {
    const auto s = parse('t', {"[192.0.2.1]%eth0/22"});
    ASSERT_TRUE(s.groups[0].addr);
    EXPECT_EQ(s.groups[0].addr->str(), "192.0.2.1");
    EXPECT_EQ(s.groups[0].ifname, "eth0");
    const auto i = parse('u', {"%lo/53"});
    EXPECT_FALSE(i.groups[0].addr);
    EXPECT_EQ(i.groups[0].ifname, "lo");
}

TEST(FwdSpecTest, RepeatedOptionsMakeOneGroupEach) {
    const auto s = parse('t', {"127.0.0.1/8080", "8081:81"});
    ASSERT_EQ(s.groups.size(), 2u);
    EXPECT_TRUE(s.groups[0].addr);
    EXPECT_FALSE(s.groups[1].addr);
    EXPECT_EQ(s.groups[1].ports, (std::vector<PortMap>{{8081, 81}}));
}

TEST(FwdSpecTest, BadSpecsAreRejectedNamingTheSpec) {
    const std::vector<std::string> bad = {"0",
                                          "70000",
                                          "65536",
                                          "10-5",
                                          "8080-8089:80-88",
                                          "80:0",
                                          "abc",
                                          "1.2.3/80",
                                          "127.0.0.1/",
                                          "80,,81",
                                          "~10-20,~15",
                                          "all,80",
                                          "80:81:82",
                                          "-5",
                                          "5-",
                                          "80:90-",
                                          "~0",
                                          "/80",
                                          "%averyveryverylongname/80",
                                          "1.2.3.4/none"};
    for (const auto& spec : bad) {
        const auto msg = error_of('t', {spec});
        EXPECT_THAT(msg, ::testing::HasSubstr("'-t " + spec + "'")) << spec;
    }
}

TEST(FwdSpecTest, AddressIsRejectedForNamespaceSideOptions) {
    EXPECT_THAT(error_of('T', {"127.0.0.1/8080"}), ::testing::HasSubstr("-T 127.0.0.1/8080"));
    EXPECT_THAT(error_of('U', {"::1/53"}), ::testing::HasSubstr("-U ::1/53"));
}

TEST(FwdSpecTest, NoneWithOtherSpecConflicts) {
    EXPECT_THAT(error_of('u', {"none", "53"}), ::testing::HasSubstr("conflicts"));
    EXPECT_THAT(error_of('u', {"53", "none"}), ::testing::HasSubstr("-u 53"));
}

TEST(FwdSpecTest, DisabledProtocolRejectsExplicitForward) {
    Config cfg;
    cfg.no_udp = true;
    cfg.udp_host = {"53"};
    EXPECT_THROW((void)parse_forwards(cfg, kEphemeral), std::invalid_argument);
    cfg.udp_host.clear();
    const auto s = parse_forwards(cfg, kEphemeral);
    EXPECT_TRUE(s.udp_in.groups.empty());
    EXPECT_TRUE(s.udp_out.groups.empty());
    EXPECT_TRUE(s.tcp_in.scans()) << "TCP keeps its default";
}

TEST(FwdSpecTest, EphemeralRangeIsReadOrDefaulted) {
    const auto r = read_ephemeral_range();
    EXPECT_GE(r.first, 1u);
    EXPECT_LE(r.first, r.last);
}

}  // namespace
}  // namespace pastad

// SPDX-License-Identifier: GPL-2.0-or-later
// tests/daemon/options_test.cpp - pasta-compatible command line parsing
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/config.hpp"

namespace pastad {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Runs parse_options() on "pastad" followed by `args`.
ParsedCommandLine parse(std::vector<std::string> args) {
    args.insert(args.begin(), "pastad");
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    return parse_options(static_cast<int>(args.size()), argv.data());
}

Config config(std::vector<std::string> args) {
    return parse(std::move(args)).config;
}

// The message parse_options() throws, or "" when it accepts the line.
std::string error_of(std::vector<std::string> args) {
    try {
        parse(std::move(args));
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

Ip4 ip4(const char* s) {
    return *Ip4::parse(s);
}
Ip6 ip6(const char* s) {
    return *Ip6::parse(s);
}

TEST(OptionsTest, NoArgumentsSpawnsShellWithPastaDefaults) {
    const auto p = parse({});
    EXPECT_EQ(p.action, Action::Run);
    EXPECT_EQ(p.config.target, TargetKind::Spawn);
    EXPECT_THAT(p.config.command, IsEmpty());
    EXPECT_FALSE(p.config.foreground);
    EXPECT_TRUE(p.config.ipv4);
    EXPECT_TRUE(p.config.ipv6);
    EXPECT_FALSE(p.config.mtu.has_value());
}

TEST(OptionsTest, PodmanTcpForwardInvocationParses) {
    const auto p =
        parse({"--config-net", "-t", "8000-8000:8000-8000", "--dns-forward", "169.254.1.1", "-u",
               "none", "-T", "none", "-U", "none", "--no-map-gw", "--quiet", "--netns",
               "/run/user/1000/netns/netns-x", "--map-guest-addr", "169.254.1.2"});
    const Config& c = p.config;
    EXPECT_TRUE(c.config_net);
    EXPECT_THAT(c.tcp_host, ElementsAre("8000-8000:8000-8000"));
    EXPECT_THAT(c.udp_host, ElementsAre("none"));
    EXPECT_THAT(c.tcp_ns, ElementsAre("none"));
    EXPECT_THAT(c.udp_ns, ElementsAre("none"));
    EXPECT_EQ(c.dns_forward4, ip4("169.254.1.1"));
    EXPECT_TRUE(c.no_map_gw);
    EXPECT_TRUE(c.quiet);
    EXPECT_EQ(c.target, TargetKind::Netns);
    EXPECT_EQ(c.netns_path, "/run/user/1000/netns/netns-x");
    EXPECT_TRUE(c.netns_only);
    EXPECT_EQ(c.map_guest_addr4, ip4("169.254.1.2"));
}

TEST(OptionsTest, PodmanUdpForwardWithAddressParses) {
    const auto c = config({"--config-net", "-u", "127.0.0.1/8081-8081:80-80", "--dns-forward",
                           "169.254.1.1", "-t", "none", "-T", "none", "-U", "none", "--no-map-gw",
                           "--quiet", "--netns", "/run/user/1000/netns/netns-y"});
    EXPECT_THAT(c.udp_host, ElementsAre("127.0.0.1/8081-8081:80-80"));
    EXPECT_THAT(c.tcp_host, ElementsAre("none"));
    EXPECT_EQ(c.target, TargetKind::Netns);
}

TEST(OptionsTest, PodmanIpv6AndRangeForwardsParse) {
    const auto c = config({"--config-net", "-t", "::1/8092-8092:92-92", "-u", "8093-8094:93-94",
                           "-T", "none", "-U", "none", "--netns", "/run/user/1000/netns/netns-z"});
    EXPECT_THAT(c.tcp_host, ElementsAre("::1/8092-8092:92-92"));
    EXPECT_THAT(c.udp_host, ElementsAre("8093-8094:93-94"));
}

TEST(OptionsTest, VersionReturnsVersionAction) {
    EXPECT_EQ(parse({"--version"}).action, Action::Version);
    // Like pasta, the first of --version and -h ends the parse.
    EXPECT_EQ(parse({"--version", "--no-such-option"}).action, Action::Version);
}

TEST(OptionsTest, VersionTextNamesProgramVersionAndLicence) {
    const std::string v = version_text();
    EXPECT_THAT(v, StartsWith(std::string("pastad ") + PASTAD_TEST_VERSION + "\n"));
    EXPECT_THAT(v, HasSubstr("pasta-compatible network translator"));
    EXPECT_THAT(v, HasSubstr("GPL-2.0-or-later"));
}

TEST(OptionsTest, HelpReturnsHelpAction) {
    EXPECT_EQ(parse({"-h"}).action, Action::Help);
    EXPECT_EQ(parse({"-f", "--help"}).action, Action::Help);
}

TEST(OptionsTest, UsageTextStartsWithProgramName) {
    EXPECT_THAT(usage_text("/usr/bin/pasta"), StartsWith("Usage: /usr/bin/pasta [OPTION]..."));
}

TEST(OptionsTest, ClusteredShortOptionsAllApply) {
    const auto c = config({"-fq"});
    EXPECT_TRUE(c.foreground);
    EXPECT_TRUE(c.quiet);
}

TEST(OptionsTest, ClusterEndingInOptionTakesNextArgument) {
    const auto c = config({"-fm", "1500"});
    EXPECT_TRUE(c.foreground);
    EXPECT_EQ(c.mtu, 1500U);
    EXPECT_EQ(config({"-fm1400"}).mtu, 1400U);
}

TEST(OptionsTest, LongOptionTakesEqualsOrSeparateValue) {
    EXPECT_EQ(config({"--mtu=9000"}).mtu, 9000U);
    EXPECT_EQ(config({"--mtu", "9000"}).mtu, 9000U);
}

TEST(OptionsTest, UniqueLongPrefixIsAccepted) {
    EXPECT_TRUE(config({"--foreg"}).foreground);
}

TEST(OptionsTest, DoubleDashEndsOptionsBeforeCommand) {
    const auto c = config({"-f", "--", "sh", "-c", "exit 7"});
    EXPECT_TRUE(c.foreground);
    EXPECT_EQ(c.target, TargetKind::Spawn);
    EXPECT_THAT(c.command, ElementsAre("sh", "-c", "exit 7"));
}

TEST(OptionsTest, CommandKeepsItsOwnOptions) {
    const auto c = config({"-f", "sh", "-x", "--quiet"});
    EXPECT_EQ(c.target, TargetKind::Spawn);
    EXPECT_THAT(c.command, ElementsAre("sh", "-x", "--quiet"));
    EXPECT_FALSE(c.quiet);
}

TEST(OptionsTest, DoubleDashAloneLeavesDefaultShell) {
    const auto c = config({"--"});
    EXPECT_EQ(c.target, TargetKind::Spawn);
    EXPECT_THAT(c.command, IsEmpty());
}

TEST(OptionsTest, NumberAloneIsPidTarget) {
    const auto c = config({"-f", "4242"});
    EXPECT_EQ(c.target, TargetKind::Pid);
    EXPECT_EQ(c.target_pid, 4242);
    EXPECT_THAT(c.command, IsEmpty());
}

TEST(OptionsTest, PidAfterDoubleDashIsPidTarget) {
    EXPECT_EQ(config({"--", "17"}).target_pid, 17);
}

TEST(OptionsTest, PidWithMoreArgumentsIsRejected) {
    EXPECT_THAT(error_of({"4242", "ls"}), HasSubstr("PID 4242 followed by more arguments"));
}

TEST(OptionsTest, PidZeroOrTooLargeIsRejected) {
    EXPECT_THAT(error_of({"0"}), HasSubstr("invalid PID '0'"));
    EXPECT_THAT(error_of({"99999999999"}), HasSubstr("invalid PID '99999999999'"));
}

TEST(OptionsTest, WordStartingWithDigitIsCommand) {
    const auto c = config({"42abc"});
    EXPECT_EQ(c.target, TargetKind::Spawn);
    EXPECT_THAT(c.command, ElementsAre("42abc"));
}

TEST(OptionsTest, NetnsWithPidIsRejected) {
    EXPECT_THAT(error_of({"--netns", "/run/netns/x", "1234"}),
                HasSubstr("--netns '/run/netns/x' and a PID or command ('1234')"));
}

TEST(OptionsTest, NetnsWithCommandIsRejected) {
    EXPECT_THAT(error_of({"--netns", "x", "sh"}), HasSubstr("and a PID or command ('sh')"));
}

TEST(OptionsTest, NetnsBareNameResolvesUnderRunNetns) {
    const auto c = config({"--netns", "blue"});
    EXPECT_EQ(c.target, TargetKind::Netns);
    EXPECT_EQ(c.netns_path, "/run/netns/blue");
}

TEST(OptionsTest, NetnsEmptyIsRejected) {
    EXPECT_THAT(error_of({"--netns="}), HasSubstr("for --netns"));
}

TEST(OptionsTest, NetnsWithUsernsJoinsBoth) {
    const auto c = config({"--userns", "/proc/1/ns/user", "--netns", "/proc/1/ns/net"});
    EXPECT_EQ(c.userns_path, "/proc/1/ns/user");
    EXPECT_FALSE(c.netns_only);
}

TEST(OptionsTest, NetnsOnlyAfterUsernsDropsUserns) {
    const auto c = config({"--userns", "/proc/1/ns/user", "--netns-only", "99"});
    EXPECT_TRUE(c.netns_only);
    EXPECT_THAT(c.userns_path, IsEmpty());
    EXPECT_EQ(c.target, TargetKind::Pid);
}

TEST(OptionsTest, UsernsEmptyIsRejected) {
    EXPECT_THAT(error_of({"--userns="}), HasSubstr("invalid path '' for --userns"));
}

TEST(OptionsTest, NoNetnsQuitIsSet) {
    EXPECT_TRUE(config({"--no-netns-quit"}).no_netns_quit);
}

TEST(OptionsTest, UnknownLongOptionNamedAsGetoptDoes) {
    EXPECT_EQ(error_of({"--map-guest-adr", "1.2.3.4"}), "unrecognized option '--map-guest-adr'");
    EXPECT_EQ(error_of({"--bogus=3"}), "unrecognized option '--bogus=3'");
}

TEST(OptionsTest, UnknownShortOptionNamedAsGetoptDoes) {
    EXPECT_EQ(error_of({"-x"}), "invalid option -- 'x'");
    EXPECT_EQ(error_of({"-fxq"}), "invalid option -- 'x'");
}

TEST(OptionsTest, AmbiguousPrefixListsPossibilities) {
    const std::string e = error_of({"--no-dhcp-"});
    EXPECT_THAT(e, HasSubstr("option '--no-dhcp-' is ambiguous"));
    EXPECT_THAT(e, HasSubstr("'--no-dhcp-dns'"));
    EXPECT_THAT(e, HasSubstr("'--no-dhcp-search'"));
}

TEST(OptionsTest, FlagGivenValueIsRejected) {
    EXPECT_EQ(error_of({"--quiet=yes"}), "option '--quiet' doesn't allow an argument");
}

TEST(OptionsTest, MissingArgumentNamesOption) {
    EXPECT_EQ(error_of({"--mtu"}), "option -m/--mtu requires an argument");
    EXPECT_EQ(error_of({"-fm"}), "option -m/--mtu requires an argument");
    EXPECT_EQ(error_of({"--netns"}), "option --netns requires an argument");
}

TEST(OptionsTest, ParserCanRunRepeatedly) {
    EXPECT_NE(error_of({"-x"}), "");
    EXPECT_TRUE(config({"-f"}).foreground);
    EXPECT_THAT(config({"sh", "-f"}).command, ElementsAre("sh", "-f"));
    EXPECT_TRUE(config({"-q", "sh"}).quiet);
}

TEST(OptionsTest, LogLevelOptionsLastOneWins) {
    EXPECT_TRUE(config({"-d"}).debug);
    const auto t = config({"-q", "--trace"});
    EXPECT_TRUE(t.trace);
    EXPECT_TRUE(t.debug);
    EXPECT_FALSE(t.quiet);
    const auto q = config({"--trace", "-q"});
    EXPECT_TRUE(q.quiet);
    EXPECT_FALSE(q.debug);
    EXPECT_FALSE(q.trace);
}

TEST(OptionsTest, LogFileAndPidAndPcapPathsAreKept) {
    const auto c = config({"-l", "/tmp/p.log", "-P", "/tmp/p.pid", "-p", "/tmp/p.pcap"});
    EXPECT_EQ(c.log_file, "/tmp/p.log");
    EXPECT_EQ(c.pid_file, "/tmp/p.pid");
    EXPECT_EQ(c.pcap_file, "/tmp/p.pcap");
    EXPECT_THAT(error_of({"--log-file="}), HasSubstr("for -l/--log-file"));
    EXPECT_THAT(error_of({"--pid="}), HasSubstr("for -P/--pid"));
    EXPECT_THAT(error_of({"--pcap="}), HasSubstr("for -p/--pcap"));
}

TEST(OptionsTest, LogSizeAcceptsDecimalAndHex) {
    EXPECT_EQ(config({"--log-size", "2097152"}).log_size, 2097152U);
    EXPECT_EQ(config({"--log-size=0x100000"}).log_size, 0x100000U);
}

TEST(OptionsTest, LogSizeBelowMinimumOrMalformedIsRejected) {
    EXPECT_THAT(error_of({"--log-size", "1000"}),
                HasSubstr("invalid size '1000' for --log-size: must be a byte count of at least"));
    EXPECT_THAT(error_of({"--log-size", "-1"}), HasSubstr("invalid size '-1'"));
    EXPECT_THAT(error_of({"--log-size", "1M"}), HasSubstr("invalid size '1M'"));
}

TEST(OptionsTest, RunasNumericUidAlsoSetsGid) {
    const auto c = config({"--runas", "1000"});
    EXPECT_EQ(c.runas_uid, 1000U);
    EXPECT_EQ(c.runas_gid, 1000U);
    const auto d = config({"--runas", "1000:2000"});
    EXPECT_EQ(d.runas_uid, 1000U);
    EXPECT_EQ(d.runas_gid, 2000U);
}

TEST(OptionsTest, RunasNamesAreLookedUp) {
    // root:root is in every /etc/passwd and /etc/group.
    const auto c = config({"--runas", "root:root"});
    EXPECT_EQ(c.runas_uid, 0U);
    EXPECT_EQ(c.runas_gid, 0U);
    EXPECT_EQ(config({"--runas", "root"}).runas_gid, 0U);
}

TEST(OptionsTest, RunasUnknownOrMalformedIsRejected) {
    EXPECT_THAT(error_of({"--runas", "no-such-user-pastad"}),
                HasSubstr("invalid user 'no-such-user-pastad' for --runas: no such user"));
    EXPECT_THAT(error_of({"--runas", "0:no-such-group-pastad"}), HasSubstr("no such group"));
    EXPECT_THAT(error_of({"--runas", ":0"}), HasSubstr("for --runas"));
    EXPECT_THAT(error_of({"--runas", "0:"}), HasSubstr("for --runas"));
}

TEST(OptionsTest, NsIfnameValidNameIsKept) {
    EXPECT_EQ(config({"-I", "eth0"}).ns_ifname, "eth0");
    EXPECT_EQ(config({"--ns-ifname", "abcdefghijklmno"}).ns_ifname, "abcdefghijklmno");
}

TEST(OptionsTest, NsIfnameInvalidNameIsRejected) {
    EXPECT_THAT(error_of({"-I", "abcdefghijklmnop"}),
                HasSubstr("invalid interface name 'abcdefghijklmnop' for -I/--ns-ifname"));
    EXPECT_THAT(error_of({"-I", "a/b"}), HasSubstr("no '/', ':' or whitespace"));
    EXPECT_THAT(error_of({"-I", "a b"}), HasSubstr("no '/', ':' or whitespace"));
    EXPECT_THAT(error_of({"-I", ""}), HasSubstr("must be 1..15"));
    EXPECT_THAT(error_of({"-I", ".."}), HasSubstr("for -I/--ns-ifname"));
}

TEST(OptionsTest, InterfaceSetsBothTemplates) {
    const auto c = config({"-i", "wlan0"});
    EXPECT_EQ(c.template_if4, "wlan0");
    EXPECT_EQ(c.template_if6, "wlan0");
    EXPECT_THAT(error_of({"-i", "bad name"}), HasSubstr("for -i/--interface"));
}

TEST(OptionsTest, OutboundInterfacesSetOneFamilyEach) {
    const auto c = config({"--outbound-if4", "eth0", "--outbound-if6", "eth1"});
    EXPECT_EQ(c.template_if4, "eth0");
    EXPECT_EQ(c.template_if6, "eth1");
    EXPECT_EQ(c.outbound_if4, "eth0");
    EXPECT_EQ(c.outbound_if6, "eth1");
    EXPECT_THAT(config({}).outbound_if4, IsEmpty());
    EXPECT_THAT(config({}).outbound_if6, IsEmpty());
    EXPECT_THAT(error_of({"--outbound-if4", "x:y"}), HasSubstr("for --outbound-if4"));
    EXPECT_THAT(error_of({"--outbound-if6", "0123456789abcdef"}), HasSubstr("for --outbound-if6"));
}

TEST(OptionsTest, InterfaceOptionWinsTemplateOverOutboundInterfacesInAnyOrder) {
    for (const auto& args : {std::vector<std::string>{"-i", "eth9", "--outbound-if4", "eth0",
                                                      "--outbound-if6", "eth1"},
                             std::vector<std::string>{"--outbound-if4", "eth0", "--outbound-if6",
                                                      "eth1", "-i", "eth9"}}) {
        const auto c = config(args);
        EXPECT_EQ(c.template_if4, "eth9");
        EXPECT_EQ(c.template_if6, "eth9");
        EXPECT_EQ(c.outbound_if4, "eth0");
        EXPECT_EQ(c.outbound_if6, "eth1");
    }
}

TEST(OptionsTest, FdTakesATapDescriptorAboveStandardStreams) {
    EXPECT_EQ(config({}).tap_fd, -1);
    EXPECT_EQ(config({"-F", "5"}).tap_fd, 5);
    EXPECT_EQ(config({"--fd=0x10"}).tap_fd, 16);
    EXPECT_THAT(error_of({"-F", "2"}), HasSubstr("invalid file descriptor '2' for -F/--fd"));
    EXPECT_THAT(error_of({"-F", "-4"}), HasSubstr("for -F/--fd"));
    EXPECT_THAT(error_of({"-F", "2147483648"}), HasSubstr("for -F/--fd"));
    EXPECT_THAT(error_of({"-F", "5", "-I", "tap0"}), HasSubstr("-I/--ns-ifname"));
}

TEST(OptionsTest, SpliceOnlyImpliesLoopbackForwardsWithoutIcmpOrRa) {
    const auto p = parse({"--splice-only", "-t", "8080"});
    EXPECT_TRUE(p.config.splice_only);
    EXPECT_TRUE(p.config.host_lo_to_ns_lo);
    EXPECT_TRUE(p.config.no_icmp);
    EXPECT_TRUE(p.config.no_ra);
    EXPECT_FALSE(p.config.no_tcp);
    EXPECT_FALSE(config({}).splice_only);
}

TEST(OptionsTest, SpliceOnlyRefusesOptionsThatNeedTheTap) {
    EXPECT_EQ(error_of({"--splice-only", "--config-net"}),
              "--config-net needs the tap that --splice-only leaves out");
    EXPECT_THAT(error_of({"--config-net", "--splice-only"}), HasSubstr("--config-net needs"));
    EXPECT_THAT(error_of({"--splice-only", "-I", "tap0"}), HasSubstr("-I/--ns-ifname needs"));
    EXPECT_THAT(error_of({"--splice-only", "--ns-mac-addr", "02:00:00:00:00:03"}),
                HasSubstr("--ns-mac-addr needs"));
    EXPECT_THAT(error_of({"--splice-only", "--outbound-if4", "eth0"}),
                HasSubstr("--outbound-if4 needs"));
    EXPECT_THAT(error_of({"--splice-only", "--outbound-if6", "eth0"}),
                HasSubstr("--outbound-if6 needs"));
    EXPECT_THAT(error_of({"--splice-only", "-F", "5"}), HasSubstr("-F/--fd needs"));
    EXPECT_EQ(error_of({"--splice-only", "--no-splice"}),
              "--splice-only and --no-splice exclude each other");
    // Accepted, as in pasta: they only matter to a tap, and harm nothing.
    EXPECT_EQ(error_of({"--splice-only", "-a", "192.0.2.2", "-m", "1500"}), "");
}

TEST(OptionsTest, MtuRangeAndZeroAreAccepted) {
    EXPECT_EQ(config({"-m", "68"}).mtu, 68U);
    EXPECT_EQ(config({"-m", "65520"}).mtu, 65520U);
    EXPECT_EQ(config({"-m", "0"}).mtu, 0U);
}

TEST(OptionsTest, MtuOutOfRangeIsRejected) {
    EXPECT_EQ(error_of({"-m", "99999"}),
              "invalid MTU '99999' for -m/--mtu: must be 68..65520, or 0");
    EXPECT_THAT(error_of({"-m", "67"}), HasSubstr("invalid MTU '67'"));
    EXPECT_THAT(error_of({"-m", "65521"}), HasSubstr("invalid MTU '65521'"));
    EXPECT_THAT(error_of({"--mtu", "1500x"}), HasSubstr("invalid MTU '1500x'"));
    EXPECT_THAT(error_of({"--mtu", "-1500"}), HasSubstr("invalid MTU '-1500'"));
}

TEST(OptionsTest, AddressOncePerFamily) {
    const auto c = config({"-a", "192.0.2.5", "-a", "2001:db8::5"});
    EXPECT_EQ(c.addr4, ip4("192.0.2.5"));
    EXPECT_EQ(c.addr6, ip6("2001:db8::5"));
    EXPECT_THAT(error_of({"-a", "192.0.2.5", "-a", "192.0.2.6"}),
                HasSubstr("invalid address '192.0.2.6' for -a/--address: an IPv4 address"));
    EXPECT_THAT(error_of({"-a", "2001:db8::5", "-a", "2001:db8::6"}),
                HasSubstr("an IPv6 address was already given"));
}

TEST(OptionsTest, AddressWithPrefixLengthSetsPrefix) {
    const auto c = config({"-a", "192.0.2.5/24", "-a", "2001:db8::5/64"});
    EXPECT_EQ(c.addr4, ip4("192.0.2.5"));
    EXPECT_EQ(c.prefix4, 24U);
    EXPECT_EQ(c.prefix6, 64U);
    EXPECT_THAT(error_of({"-a", "192.0.2.5/33"}), HasSubstr("invalid prefix length"));
    EXPECT_THAT(error_of({"-a", "2001:db8::5/129"}), HasSubstr("must be 0..128"));
    EXPECT_THAT(error_of({"-a", "192.0.2.5/24", "-n", "24"}), HasSubstr("already given with -a"));
    EXPECT_THAT(error_of({"-n", "24", "-a", "192.0.2.5/24"}), HasSubstr("already given with -n"));
}

TEST(OptionsTest, AddressUnusableKindsAreRejected) {
    EXPECT_THAT(error_of({"-a", "1.2.3"}),
                HasSubstr("invalid address '1.2.3' for -a/--address: not an IPv4 or IPv6"));
    EXPECT_THAT(error_of({"-a", "127.0.0.1"}), HasSubstr("loopback"));
    EXPECT_THAT(error_of({"-a", "0.0.0.0"}), HasSubstr("unspecified"));
    EXPECT_THAT(error_of({"-a", "224.0.0.1"}), HasSubstr("multicast"));
    EXPECT_THAT(error_of({"-a", "255.255.255.255"}), HasSubstr("broadcast"));
    EXPECT_THAT(error_of({"-a", "::ffff:192.0.2.1"}), HasSubstr("IPv4-mapped"));
    EXPECT_THAT(error_of({"-a", "::1"}), HasSubstr("loopback"));
}

TEST(OptionsTest, NetmaskDottedOrPrefixLength) {
    EXPECT_EQ(config({"-n", "255.255.255.0"}).prefix4, 24U);
    EXPECT_EQ(config({"-n", "0.0.0.0"}).prefix4, 0U);
    EXPECT_EQ(config({"--netmask", "20"}).prefix4, 20U);
    EXPECT_THAT(error_of({"-n", "255.0.255.0"}),
                HasSubstr("invalid netmask '255.0.255.0' for -n/--netmask"));
    EXPECT_THAT(error_of({"-n", "33"}), HasSubstr("invalid netmask '33'"));
    EXPECT_THAT(error_of({"-n", "ffff::"}), HasSubstr("invalid netmask 'ffff::'"));
}

TEST(OptionsTest, GatewayEitherFamily) {
    const auto c = config({"-g", "192.0.2.1", "--gateway", "fe80::1"});
    EXPECT_EQ(c.gw4, ip4("192.0.2.1"));
    EXPECT_EQ(c.gw6, ip6("fe80::1"));
    EXPECT_THAT(error_of({"-g", "127.0.0.1"}), HasSubstr("for -g/--gateway: loopback"));
    EXPECT_THAT(error_of({"-g", "gateway"}), HasSubstr("invalid address 'gateway'"));
}

TEST(OptionsTest, OutboundEitherFamily) {
    const auto c = config({"-o", "192.0.2.7", "-o", "2001:db8::7"});
    EXPECT_EQ(c.outbound4, ip4("192.0.2.7"));
    EXPECT_EQ(c.outbound6, ip6("2001:db8::7"));
    EXPECT_THAT(error_of({"-o", "::1"}), HasSubstr("for -o/--outbound: loopback"));
    EXPECT_THAT(error_of({"-o", "239.1.1.1"}), HasSubstr("multicast"));
}

TEST(OptionsTest, MacAddressesAreParsed) {
    const auto c = config({"-M", "9a:55:9a:55:9a:55", "--ns-mac-addr", "02:00:00:00:00:01"});
    EXPECT_EQ(c.our_mac, Mac::parse("9a:55:9a:55:9a:55"));
    EXPECT_EQ(c.ns_mac, Mac::parse("02:00:00:00:00:01"));
    EXPECT_THAT(error_of({"-M", "9a:55:9a:55:9a"}),
                HasSubstr("invalid MAC address '9a:55:9a:55:9a' for -M/--mac-addr"));
    EXPECT_THAT(error_of({"--ns-mac-addr", "zz:00:00:00:00:01"}), HasSubstr("for --ns-mac-addr"));
}

TEST(OptionsTest, IpFamilyOnlyOptions) {
    const auto v4 = config({"-4"});
    EXPECT_TRUE(v4.ipv4);
    EXPECT_FALSE(v4.ipv6);
    const auto v6 = config({"--ipv6-only"});
    EXPECT_FALSE(v6.ipv4);
    EXPECT_TRUE(v6.ipv6);
    EXPECT_THAT(error_of({"-4", "-6"}), HasSubstr("-4/--ipv4-only and -6/--ipv6-only"));
    EXPECT_THAT(error_of({"-46"}), HasSubstr("exclude each other"));
}

TEST(OptionsTest, CopyOptionsNeedConfigNet) {
    const auto c = config({"--config-net", "--no-copy-routes", "--no-copy-addrs"});
    EXPECT_FALSE(c.copy_routes);
    EXPECT_FALSE(c.copy_addrs);
    EXPECT_EQ(error_of({"--no-copy-routes"}), "--no-copy-routes needs --config-net");
    EXPECT_EQ(error_of({"--no-copy-addrs"}), "--no-copy-addrs needs --config-net");
}

TEST(OptionsTest, MapHostLoopbackAddressOrNone) {
    const auto c = config({"--map-host-loopback", "192.0.2.9", "--map-host-loopback", "fd00::9"});
    EXPECT_EQ(c.map_host_loopback4, ip4("192.0.2.9"));
    EXPECT_EQ(c.map_host_loopback6, ip6("fd00::9"));
    EXPECT_FALSE(c.no_map_gw);
    const auto n = config({"--map-host-loopback", "192.0.2.9", "--map-host-loopback", "none"});
    EXPECT_TRUE(n.map_host_loopback_none);
    EXPECT_TRUE(n.no_map_gw);
    EXPECT_FALSE(n.map_host_loopback4.has_value());
    EXPECT_THAT(error_of({"--map-host-loopback", "127.0.0.1"}),
                HasSubstr("invalid address '127.0.0.1' for --map-host-loopback: loopback"));
}

TEST(OptionsTest, MapGuestAddrAddressOrNone) {
    EXPECT_EQ(config({"--map-guest-addr", "fd00::2"}).map_guest_addr6, ip6("fd00::2"));
    const auto n = config({"--map-guest-addr", "169.254.1.2", "--map-guest-addr", "none"});
    EXPECT_FALSE(n.map_guest_addr4.has_value());
    EXPECT_THAT(error_of({"--map-guest-addr", "nothing"}),
                HasSubstr("invalid address 'nothing' for --map-guest-addr"));
}

TEST(OptionsTest, NoMapGwIsSet) {
    EXPECT_TRUE(config({"--no-map-gw"}).no_map_gw);
}

TEST(OptionsTest, DnsRepeatsAndNoneClears) {
    const auto c = config({"-D", "192.0.2.53", "--dns", "2001:db8::53", "-D", "198.51.100.53"});
    EXPECT_THAT(c.dns4, ElementsAre(ip4("192.0.2.53"), ip4("198.51.100.53")));
    EXPECT_THAT(c.dns6, ElementsAre(ip6("2001:db8::53")));
    EXPECT_FALSE(c.dns_none);
    const auto n = config({"-D", "192.0.2.53", "--dns-forward", "169.254.1.1", "-D", "none"});
    EXPECT_TRUE(n.dns_none);
    EXPECT_THAT(n.dns4, IsEmpty());
    EXPECT_FALSE(n.dns_forward4.has_value());
    EXPECT_THAT(error_of({"-D", "dns.example"}),
                HasSubstr("invalid address 'dns.example' for -D/--dns"));
}

TEST(OptionsTest, DnsForwardAndHostEitherFamily) {
    const auto c =
        config({"--dns-forward", "fd00::53", "--dns-host", "127.0.0.53", "--dns-host", "::1"});
    EXPECT_EQ(c.dns_forward6, ip6("fd00::53"));
    EXPECT_EQ(c.dns_host4, ip4("127.0.0.53"));
    EXPECT_EQ(c.dns_host6, ip6("::1"));
    EXPECT_THAT(error_of({"--dns-forward", "127.0.0.1"}), HasSubstr("for --dns-forward: loopback"));
    EXPECT_THAT(error_of({"--dns-host", "0.0.0.0"}), HasSubstr("for --dns-host: unspecified"));
}

TEST(OptionsTest, SearchListSplitsAndNoneClears) {
    const auto c = config({"-S", "a.example b.example", "--search", "c.example"});
    EXPECT_THAT(c.search, ElementsAre("a.example", "b.example", "c.example"));
    const auto n = config({"-S", "a.example", "-S", "none"});
    EXPECT_TRUE(n.search_none);
    EXPECT_THAT(n.search, IsEmpty());
    EXPECT_THAT(error_of({"-S", "  "}), HasSubstr("invalid search list '  ' for -S/--search"));
    EXPECT_THAT(error_of({"-S", std::string(254, 'a')}), HasSubstr("longer than 253"));
}

TEST(OptionsTest, DnsIsNotAnnouncedByDefault) {
    const auto c = config({});
    EXPECT_FALSE(c.dhcp_dns);
    EXPECT_FALSE(c.dhcp_search);
}

TEST(OptionsTest, DhcpDnsAndDhcpSearchTurnAnnouncementsOn) {
    const auto c = config({"--dhcp-dns", "--dhcp-search"});
    EXPECT_TRUE(c.dhcp_dns);
    EXPECT_TRUE(c.dhcp_search);
    EXPECT_TRUE(config({"--dhcp-dns"}).dhcp_dns);
    EXPECT_FALSE(config({"--dhcp-dns"}).dhcp_search);
}

// The --no- forms, passt-mode options pasta refuses, are accepted as the
// explicit default; the last of a pair counts.
TEST(OptionsTest, NoDhcpDnsAndNoDhcpSearchAreTheDefaultStated) {
    const auto c = config({"--no-dhcp-dns", "--no-dhcp-search"});
    EXPECT_FALSE(c.dhcp_dns);
    EXPECT_FALSE(c.dhcp_search);
    const auto last = config({"--dhcp-dns", "--no-dhcp-dns", "--no-dhcp-search", "--dhcp-search"});
    EXPECT_FALSE(last.dhcp_dns);
    EXPECT_TRUE(last.dhcp_search);
}

TEST(OptionsTest, DhcpDnsTakesNoValue) {
    EXPECT_EQ(error_of({"--dhcp-dns=1"}), "option '--dhcp-dns' doesn't allow an argument");
    EXPECT_EQ(error_of({"--dhcp-search=x"}), "option '--dhcp-search' doesn't allow an argument");
}

TEST(OptionsTest, HostnameAndFqdnAreStored) {
    const auto c = config({"-H", "box", "--fqdn", "box.example.test"});
    EXPECT_EQ(c.hostname, "box");
    EXPECT_EQ(c.fqdn, "box.example.test");
    EXPECT_TRUE(config({}).hostname.empty());
    EXPECT_TRUE(config({}).fqdn.empty());
    EXPECT_EQ(config({"--hostname=a", "-H", "b"}).hostname, "b");
    EXPECT_EQ(config({"--fqdn", "host.example."}).fqdn, "host.example.");
    EXPECT_EQ(config({"-H", std::string(253, 'h')}).hostname.size(), 253u);
}

// As in pasta, an empty name sends none; it also clears an earlier one.
TEST(OptionsTest, EmptyHostnameOrFqdnSendsNone) {
    EXPECT_TRUE(config({"-H", "box", "--hostname="}).hostname.empty());
    EXPECT_TRUE(config({"--fqdn", "a.example", "--fqdn="}).fqdn.empty());
}

TEST(OptionsTest, HostnameOrFqdnTooLongIsRejected) {
    EXPECT_EQ(error_of({"-H", std::string(254, 'h')}),
              "invalid host name '" + std::string(254, 'h') +
                  "' for -H/--hostname: longer than 253 characters");
    EXPECT_THAT(error_of({"--fqdn", std::string(254, 'a')}),
                HasSubstr("for --fqdn: longer than 253 characters"));
}

TEST(OptionsTest, FqdnWithBadLabelIsRejected) {
    EXPECT_THAT(error_of({"--fqdn", "a..example"}),
                HasSubstr("invalid domain name 'a..example' for --fqdn: each label must be"));
    EXPECT_THAT(error_of({"--fqdn", ".example"}), HasSubstr("each label must be 1..63"));
    EXPECT_THAT(error_of({"--fqdn", "."}), HasSubstr("each label must be 1..63"));
    EXPECT_THAT(error_of({"--fqdn", std::string(64, 'a') + ".example"}),
                HasSubstr("each label must be 1..63"));
    EXPECT_EQ(error_of({"--fqdn", std::string(63, 'a') + ".example"}), "");
}

TEST(OptionsTest, ProtocolFlagsAreSet) {
    const auto c = config({"--no-tcp", "--no-udp", "--no-icmp", "--no-dhcp", "--no-ndp",
                           "--no-dhcpv6", "--no-ra", "--no-splice", "--freebind"});
    EXPECT_TRUE(c.no_tcp);
    EXPECT_TRUE(c.no_udp);
    EXPECT_TRUE(c.no_icmp);
    EXPECT_TRUE(c.no_dhcp);
    EXPECT_TRUE(c.no_ndp);
    EXPECT_TRUE(c.no_dhcpv6);
    EXPECT_TRUE(c.no_ra);
    EXPECT_TRUE(c.no_splice);
    EXPECT_TRUE(c.freebind);
}

TEST(OptionsTest, HostLoToNsLoConflictsWithNoSplice) {
    EXPECT_TRUE(config({"--host-lo-to-ns-lo"}).host_lo_to_ns_lo);
    EXPECT_THAT(error_of({"--host-lo-to-ns-lo", "--no-splice"}), HasSubstr("--host-lo-to-ns-lo"));
}

TEST(OptionsTest, PortSpecsRepeatInOrder) {
    const auto c = config({"-t", "22", "--tcp-ports", "80:8080", "-u", "53", "--udp-ports=auto",
                           "-T", "auto", "--tcp-ns", "5432", "-U", "none", "--udp-ns", "1-10"});
    EXPECT_THAT(c.tcp_host, ElementsAre("22", "80:8080"));
    EXPECT_THAT(c.udp_host, ElementsAre("53", "auto"));
    EXPECT_THAT(c.tcp_ns, ElementsAre("auto", "5432"));
    EXPECT_THAT(c.udp_ns, ElementsAre("none", "1-10"));
}

TEST(OptionsTest, EmptyPortSpecIsRejected) {
    EXPECT_EQ(error_of({"-t", ""}), "invalid port specification '' for -t/--tcp-ports: empty");
    EXPECT_THAT(error_of({"--udp-ports="}), HasSubstr("for -u/--udp-ports"));
    EXPECT_THAT(error_of({"-T", ""}), HasSubstr("for -T/--tcp-ns"));
    EXPECT_THAT(error_of({"-U", ""}), HasSubstr("for -U/--udp-ns"));
}

TEST(OptionsTest, IoBackendChoices) {
    EXPECT_EQ(config({"--io-backend=uring"}).io_backend, "uring");
    EXPECT_EQ(config({"--io-backend", "epoll"}).io_backend, "epoll");
    EXPECT_EQ(error_of({"--io-backend=poll"}),
              "invalid back end 'poll' for --io-backend: must be 'uring' or 'epoll'");
}

TEST(OptionsTest, OptionsOfNewerPastaParse) {
    const auto p =
        parse({"-f", "-e", "--stats", "5", "-H", "box", "--fqdn", "box.example", "--dhcp-dns",
               "--dhcp-search", "--chroot-fallback", "--repair-path", "none", "--stderr"});
    EXPECT_EQ(p.action, Action::Run);
}

// -e is deprecated in pasta too, which warns about it and does nothing else.
TEST(OptionsTest, StderrIsAcceptedWithAWarning) {
    const auto p = parse({"-e", "--stderr", "-q"});
    EXPECT_THAT(p.warnings, ElementsAre("-e/--stderr is deprecated and has no effect",
                                        "-e/--stderr is deprecated and has no effect"));
    EXPECT_TRUE(p.config.quiet);
    EXPECT_THAT(parse({}).warnings, IsEmpty());
    EXPECT_EQ(error_of({"--stderr=1"}), "option '--stderr' doesn't allow an argument");
}

TEST(OptionsTest, StatsTakesSecondsWithForeground) {
    EXPECT_EQ(config({"-f", "--stats", "5"}).stats_delay, 5u);
    EXPECT_EQ(config({"--stats=0x10", "-f"}).stats_delay, 16u);  // -f may come after
    EXPECT_EQ(config({"-f", "--stats", "0"}).stats_delay, 0u);   // 0: no table
    EXPECT_EQ(config({"-f", "--stats", "86400"}).stats_delay, 86400u);
    EXPECT_EQ(config({}).stats_delay, 0u);
}

TEST(OptionsTest, StatsWithoutForegroundIsRejected) {
    EXPECT_EQ(error_of({"--stats", "5"}),
              "--stats needs -f/--foreground: the table goes to standard error");
    EXPECT_THAT(error_of({"--stats", "0"}), HasSubstr("--stats needs -f/--foreground"));
}

TEST(OptionsTest, StatsBadDelayIsRejected) {
    EXPECT_EQ(error_of({"-f", "--stats", "soon"}),
              "invalid delay 'soon' for --stats: must be a number of seconds, 0..86400");
    EXPECT_THAT(error_of({"-f", "--stats", "-1"}), HasSubstr("invalid delay '-1' for --stats"));
    EXPECT_THAT(error_of({"-f", "--stats", "86401"}), HasSubstr("invalid delay '86401'"));
    EXPECT_THAT(error_of({"-f", "--stats", ""}), HasSubstr("invalid delay '' for --stats"));
    EXPECT_EQ(error_of({"-f", "--stats"}), "option --stats requires an argument");
}

TEST(OptionsTest, ChrootFallbackIsAcceptedWithoutEffect) {
    EXPECT_EQ(error_of({"--chroot-fallback"}), "");
    EXPECT_EQ(error_of({"--chroot-fallback=yes"}),
              "option '--chroot-fallback' doesn't allow an argument");
}

TEST(OptionsTest, PrintCapabilitiesStopsParsing) {
    const auto p = parse({"--print-capabilities", "--bogus"});
    EXPECT_EQ(p.action, Action::PrintCapabilities);
    EXPECT_EQ(capabilities_text(), "{\n  \"type\": \"net\"\n}\n");
    // Options before it are still checked.
    EXPECT_THAT(error_of({"-m", "1", "--print-capabilities"}), HasSubstr("for -m/--mtu"));
}

// pasta's namespace mode accepts only "none": no passt-repair socket
// exists outside vhost-user mode.
TEST(OptionsTest, RepairPathOnlyNone) {
    EXPECT_EQ(error_of({"--repair-path", "none"}), "");
    EXPECT_EQ(error_of({"--repair-path", "/tmp/r"}),
              "--repair-path is for vhost-user mode only: '/tmp/r' given; only 'none' is "
              "accepted");
    EXPECT_THAT(error_of({"--repair-path", "./none"}), HasSubstr("for vhost-user mode only"));
    EXPECT_EQ(error_of({"--repair-path"}), "option --repair-path requires an argument");
}

// The pesto protocol is not implemented: refused, naming the option.
TEST(OptionsTest, ConfPathIsRefused) {
    const std::string why =
        "-c/--conf-path is not supported: pastad does not implement pasta's pesto "
        "configuration socket";
    EXPECT_EQ(error_of({"-c", "/tmp/ctl"}), why);
    EXPECT_EQ(error_of({"--conf-path=/tmp/ctl"}), why);
    EXPECT_THAT(error_of({"--conf-path="}), HasSubstr("invalid path '' for -c/--conf-path"));
    EXPECT_EQ(error_of({"-c"}), "option -c/--conf-path requires an argument");
}

TEST(OptionsTest, PasstOnlyOptionsAreUnknown) {
    EXPECT_EQ(error_of({"--one-off"}), "unrecognized option '--one-off'");
    EXPECT_EQ(error_of({"-s", "/tmp/s"}), "invalid option -- 's'");
}

// Every option in the table parses with a sample argument: none is left
// without a handler.
TEST(OptionsTest, EveryKnownOptionParsesWithSampleValue) {
    const std::map<std::string, std::string> samples = {{"log-file", "/tmp/l"},
                                                        {"log-size", "65536"},
                                                        {"pid", "/tmp/p"},
                                                        {"pcap", "/tmp/c"},
                                                        {"runas", "1:1"},
                                                        {"netns", "n"},
                                                        {"userns", "/u"},
                                                        {"ns-ifname", "e0"},
                                                        {"interface", "e0"},
                                                        {"outbound-if4", "e0"},
                                                        {"outbound-if6", "e0"},
                                                        {"mtu", "1500"},
                                                        {"address", "192.0.2.2"},
                                                        {"netmask", "24"},
                                                        {"gateway", "192.0.2.1"},
                                                        {"mac-addr", "02:00:00:00:00:02"},
                                                        {"ns-mac-addr", "02:00:00:00:00:03"},
                                                        {"outbound", "192.0.2.3"},
                                                        {"map-host-loopback", "192.0.2.4"},
                                                        {"map-guest-addr", "192.0.2.5"},
                                                        {"dns", "192.0.2.6"},
                                                        {"dns-forward", "192.0.2.7"},
                                                        {"dns-host", "192.0.2.8"},
                                                        {"search", "example"},
                                                        {"tcp-ports", "1"},
                                                        {"udp-ports", "1"},
                                                        {"tcp-ns", "1"},
                                                        {"udp-ns", "1"},
                                                        {"io-backend", "epoll"},
                                                        {"stats", "1"},
                                                        {"fd", "3"},
                                                        {"hostname", "h"},
                                                        {"fqdn", "h.example"},
                                                        {"repair-path", "none"}};
    for (const auto& name : known_long_options()) {
        if (name == "conf-path") {
            continue;  // refused, see ConfPathIsRefused
        }
        std::vector<std::string> args = {"--" + name};
        if (auto it = samples.find(name); it != samples.end()) {
            args.push_back(it->second);
        }
        if (name == "no-copy-routes" || name == "no-copy-addrs") {
            args.emplace_back("--config-net");
        }
        if (name == "stats") {
            args.emplace_back("-f");
        }
        EXPECT_EQ(error_of(args), "") << "--" << name;
    }
}

}  // namespace
}  // namespace pastad

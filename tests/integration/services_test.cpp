// SPDX-License-Identifier: GPL-2.0-or-later
// tests/integration/services_test.cpp - UDP, ping, DNS, DHCP and router advertisements
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "sandbox.hpp"

namespace pastad::test {
namespace {

// A UDP echo server: answers every datagram with the same bytes.
constexpr const char* kEchoServer = R"(
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind((sys.argv[1], int(sys.argv[2])))
open(sys.argv[3], 'w').close()
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(data, peer)
)";

// Sends COUNT datagrams of mixed sizes, at most WINDOW unanswered, and
// checks that every answer comes back complete and in order.
constexpr const char* kEchoClient = R"(
import socket, struct, sys
host, port, count, biggest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.connect((host, port))
# Until the namespace has resolved its gateway, its kernel queues only a few
# tens of KiB per neighbour and drops the oldest datagrams: wait for one
# small echo first, so the burst below tests pastad, not that queue.
s.settimeout(0.5)
for attempt in range(20):
    s.send(b'probe')
    try:
        if s.recv(65535) == b'probe':
            break
    except socket.timeout:
        pass
while True:
    s.settimeout(0.2)
    try:
        s.recv(65535)  # late duplicate probes
    except socket.timeout:
        break
s.settimeout(5)
sizes = [4, 64, 512, 1400, 1500, 8192, 30000, biggest]
def payload(i):
    n = sizes[i % len(sizes)]
    return struct.pack('!I', i) + bytes((i + k) & 0xff for k in range(min(n, 64)) ) * (n // 64) \
        + b'x' * (n - 4 - 64 * (n // 64) if n > 4 else 0)
window, sent, got = 8, 0, 0
while got < count:
    while sent < count and sent - got < window:
        s.send(payload(sent)[:sizes[sent % len(sizes)]])
        sent += 1
    data = s.recv(65535)
    want = payload(got)[:sizes[got % len(sizes)]]
    if data != want:
        print('mismatch at', got, len(data), len(want)); sys.exit(1)
    got += 1
print('echoed', got)
)";

// connect()s a UDP socket to a port nobody listens on and reports the error.
constexpr const char* kRefusedClient = R"(
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.connect((sys.argv[1], int(sys.argv[2])))
s.settimeout(5)
s.send(b'anyone?')
try:
    s.recv(100)
    print('answered')
except ConnectionRefusedError:
    print('refused')
except socket.timeout:
    print('timeout')
)";

// A DNS responder that answers every A query with 192.0.2.123.
constexpr const char* kDnsServer = R"(
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
open(sys.argv[2], 'w').close()
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    end = q.index(b'\0', 12) + 5
    head = q[:2] + b'\x81\x80' + q[4:6] + b'\x00\x01\x00\x00\x00\x00'
    answer = b'\xc0\x0c' + struct.pack('!HHIH', 1, 1, 60, 4) + bytes([192, 0, 2, 123])
    s.sendto(head + q[12:end] + answer, peer)
)";

// Asks SERVER for the A record of example.test and prints the address.
constexpr const char* kDnsClient = R"(
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
q = b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00' \
    + b'\x07example\x04test\x00\x00\x01\x00\x01'
s.sendto(q, (sys.argv[1], 53))
r, peer = s.recvfrom(512)
print('from', peer[0], 'answer', '.'.join(str(b) for b in r[-4:]))
)";

// A DHCPv6 client: SOLICIT with Rapid Commit and an IA_NA; prints the
// address of the REPLY's IA_NA, the DNS servers and the client FQDN.
constexpr const char* kDhcpv6Client = R"(
import socket, struct, sys, ipaddress
ifname = sys.argv[1]
idx = socket.if_nametoindex(ifname)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, idx)
s.bind(('::', 546))
s.settimeout(5)
def opt(code, data): return struct.pack('!HH', code, len(data)) + data
msg = b'\x01\xab\xcd\xef' + opt(1, b'\x00\x03\x00\x01\x02\x00\x00\x00\x00\x09') \
    + opt(14, b'') + opt(3, struct.pack('!III', 7, 0, 0)) + opt(6, struct.pack('!H', 23))
s.sendto(msg, ('ff02::1:2', 547, 0, idx))
r, peer = s.recvfrom(1500)
print('type', r[0])
def walk(b):
    i = 0
    while i + 4 <= len(b):
        code, n = struct.unpack('!HH', b[i:i+4]); yield code, b[i+4:i+4+n]; i += 4 + n
for code, v in walk(r[4:]):
    if code == 3:
        for c2, v2 in walk(v[12:]):
            if c2 == 5: print('addr', ipaddress.IPv6Address(v2[:16]))
    if code == 23:
        print('dns', ipaddress.IPv6Address(v[:16]))
    if code == 39:
        print('fqdn', v.hex())
)";

class ServicesTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string why;
        if (!can_sandbox(why)) {
            GTEST_SKIP() << why;
        }
        if (sh("command -v python3 >/dev/null").status != 0) {
            GTEST_SKIP() << "needs python3";
        }
        sb_ = std::make_unique<Sandbox>();
        dir_ = "/tmp/pastad-svc-" + sb_->host;
        ASSERT_EQ(sh("mkdir -p " + dir_).status, 0);
        // Ping sockets for pastad (root in the host namespace).
        sh(sb_->in_host("sysctl -q -w net.ipv4.ping_group_range='0 2147483647'"));
    }
    void TearDown() override {
        if (!dir_.empty()) {
            sh("rm -rf " + dir_);
        }
    }

    // Writes `text` to a file in the test's directory; returns its path.
    std::string file(const std::string& name, const std::string& text) {
        const std::string path = dir_ + "/" + name;
        std::ofstream(path) << text;
        return path;
    }

    // Starts a server in the "up" namespace and waits for its ready file.
    void start_up_server(const std::string& script, const std::string& args) {
        const std::string ready = dir_ + "/ready-" + std::to_string(servers_++);
        sh(sb_->in_up("sh -c " + quote("python3 " + script + " " + args + " " + ready +
                                       " >/dev/null 2>&1 &")));
        ASSERT_TRUE(eventually([&] { return ::access(ready.c_str(), F_OK) == 0; }));
    }

    // Runs `cmd` in a namespace pastad spawns inside the host namespace.
    CmdResult in_pastad(const std::string& opts, const std::string& cmd) {
        return sh(sb_->in_host("timeout 120 " + pastad_binary() + " -q " + opts + " -- sh -c " +
                               quote(cmd) + " 2>&1"));
    }

    // Runs the DHCPv6 client above in a namespace pastad spawns with `opts`,
    // the host's resolv.conf naming 2001:db8::53.
    CmdResult dhcpv6_exchange(const std::string& opts);

    bool have_udhcpc() {
        return sh("busybox udhcpc --help >/dev/null 2>&1; busybox --list | grep -qx udhcpc")
                   .status == 0;
    }

    // Runs busybox udhcpc in a namespace pastad spawns with `opts`, the
    // host's resolv.conf naming 192.0.2.53 and example.test; returns the
    // environment udhcpc gave its script on "bound", empty if it never bound.
    std::string udhcpc_env(const std::string& opts, CmdResult& r) {
        const auto conf = file("resolv.conf", "nameserver 192.0.2.53\nsearch example.test\n");
        const auto script = file("udhcpc.sh", "#!/bin/sh\nenv > " + dir_ + "/udhcpc-$1.env\n");
        sh("chmod +x " + script);
        const auto& ifn = sb_->veth_host;
        r = sh(sb_->in_host("env PASTAD_RESOLV_CONF=" + conf + " timeout 60 " + pastad_binary() +
                            " -q " + opts + " -- sh -c " +
                            quote("ip link set " + ifn + " up && busybox udhcpc -i " + ifn +
                                  " -n -q -s " + script) +
                            " 2>&1"));
        std::ifstream env(dir_ + "/udhcpc-bound.env");
        return std::string((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    }

    std::unique_ptr<Sandbox> sb_;
    std::string dir_;
    int servers_ = 0;
};

TEST_F(ServicesTest, PingIpv4FarHostGetsReply) {
    const auto r = in_pastad("--config-net", "ping -c1 -W5 203.0.113.10");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("1 received"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, PingIpv6UpstreamGetsReply) {
    const auto r = in_pastad("--config-net", "ping -6 -c1 -W5 2001:db8::1");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("1 received"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, SpawnedNamespaceAllowsPingSockets) {
    const auto r = in_pastad("--config-net", "cat /proc/sys/net/ipv4/ping_group_range");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("0\t2147483647"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, PingWithoutPingSocketsExplainsWhy) {
    sh(sb_->in_host("sysctl -q -w net.ipv4.ping_group_range='1 0'"));
    const auto r = in_pastad("--config-net", "ping -c1 -W1 203.0.113.10 >/dev/null; true");
    EXPECT_NE(r.out.find("ping_group_range"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, UdpEchoOfTenThousandMixedDatagramsComesBackInOrder) {
    const auto server = file("echo_server.py", kEchoServer);
    const auto client = file("echo_client.py", kEchoClient);
    start_up_server(server, "203.0.113.10 7007");
    // Up to the largest UDP datagram over IPv4: those above 65492 bytes do
    // not fit one frame at the tap's MTU of 65520 and travel in fragments.
    const auto r =
        in_pastad("--config-net", "python3 " + client + " 203.0.113.10 7007 10000 65507");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("echoed 10000"), std::string::npos) << r.out;
}

// The largest UDP datagrams: the namespace's kernel fragments them at the
// tap MTU and pastad reassembles them; the echoes, too long for one frame,
// go back in fragments that the namespace's kernel reassembles.
TEST_F(ServicesTest, UdpEchoOfLargestIpv4DatagramsComesBackWhole) {
    const auto server = file("echo_server.py", kEchoServer);
    const auto client = file("echo_client.py", kEchoClient);
    start_up_server(server, "203.0.113.10 7009");
    const auto r = in_pastad("--config-net", "python3 " + client + " 203.0.113.10 7009 400 65507");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("echoed 400"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, UdpEchoOfLargestIpv6DatagramsComesBackWhole) {
    const auto server = file("echo_server.py", kEchoServer);
    const auto client = file("echo_client.py", kEchoClient);
    start_up_server(server, "2001:db8:ff::10 7010");
    const auto r =
        in_pastad("--config-net", "python3 " + client + " 2001:db8:ff::10 7010 400 65527");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("echoed 400"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, UdpEchoIpv6ComesBack) {
    const auto server = file("echo_server.py", kEchoServer);
    const auto client = file("echo_client.py", kEchoClient);
    start_up_server(server, "2001:db8:ff::10 7008");
    const auto r =
        in_pastad("--config-net", "python3 " + client + " 2001:db8:ff::10 7008 500 65000");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("echoed 500"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, UdpToClosedPortIsRefusedInNamespace) {
    const auto client = file("refused.py", kRefusedClient);
    const auto r = in_pastad("--config-net", "python3 " + client + " 203.0.113.10 7009");
    EXPECT_NE(r.out.find("refused"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, UdpToClosedPortIpv6IsRefusedInNamespace) {
    const auto client = file("refused.py", kRefusedClient);
    const auto r = in_pastad("--config-net", "python3 " + client + " 2001:db8:ff::10 7009");
    EXPECT_NE(r.out.find("refused"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, UdpToGatewayReachesHostLoopback) {
    const auto server = file("echo_server.py", kEchoServer);
    const auto client = file("echo_client.py", kEchoClient);
    sh(sb_->in_host("sh -c " + quote("python3 " + server + " 127.0.0.1 7010 " + dir_ +
                                     "/lo-ready >/dev/null 2>&1 &")));
    ASSERT_TRUE(eventually([&] { return ::access((dir_ + "/lo-ready").c_str(), F_OK) == 0; }));
    const auto r = in_pastad("--config-net", "python3 " + client + " 198.51.100.1 7010 100 1400");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("echoed 100"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, DnsToGatewayReachesLoopbackResolverOfHost) {
    const auto server = file("dns_server.py", kDnsServer);
    const auto client = file("dns_client.py", kDnsClient);
    const auto conf = file("resolv.conf", "nameserver 127.0.0.53\n");
    sh(sb_->in_host("sh -c " + quote("python3 " + server + " 127.0.0.53 " + dir_ +
                                     "/dns-ready >/dev/null 2>&1 &")));
    ASSERT_TRUE(eventually([&] { return ::access((dir_ + "/dns-ready").c_str(), F_OK) == 0; }));
    // The gateway is what the namespace is told instead of 127.0.0.53; with
    // --no-map-gw only the DNS rule can bring the query to the resolver.
    const auto r = sh(sb_->in_host("env PASTAD_RESOLV_CONF=" + conf + " timeout 60 " +
                                   pastad_binary() + " -q --config-net --no-map-gw -- python3 " +
                                   client + " 198.51.100.1 2>&1"));
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("from 198.51.100.1 answer 192.0.2.123"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, DnsForwardAddressIsAnsweredByHostResolver) {
    const auto server = file("dns_server.py", kDnsServer);
    const auto client = file("dns_client.py", kDnsClient);
    const auto conf = file("resolv.conf", "nameserver 127.0.0.53\n");
    sh(sb_->in_host("sh -c " + quote("python3 " + server + " 127.0.0.53 " + dir_ +
                                     "/dns-ready >/dev/null 2>&1 &")));
    ASSERT_TRUE(eventually([&] { return ::access((dir_ + "/dns-ready").c_str(), F_OK) == 0; }));
    const auto r = sh(sb_->in_host(
        "env PASTAD_RESOLV_CONF=" + conf + " timeout 60 " + pastad_binary() +
        " -q --config-net --dns-forward 169.254.1.1 -- python3 " + client + " 169.254.1.1 2>&1"));
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("from 169.254.1.1 answer 192.0.2.123"), std::string::npos) << r.out;
}

// --stats: the table reaches standard error once the namespace sends
// frames (bringing the link up starts IPv6 autoconfiguration).
TEST_F(ServicesTest, StatsPrintsTableWhenFramesFlow) {
    const auto r =
        in_pastad("-f --stats 1", "ip link set " + sb_->veth_host + " up; sleep 2.5; echo done");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("tap-in   tap-out"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("done"), std::string::npos) << r.out;
}

// Without frames there is nothing to report, so nothing is printed.
TEST_F(ServicesTest, StatsPrintNothingWithoutEvents) {
    const auto r = in_pastad("-f --stats 1", "sleep 1.5; echo done");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out.find("tap-in"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, UdhcpcGetsAddressRouterAndDns) {
    if (!have_udhcpc()) {
        GTEST_SKIP() << "needs busybox udhcpc";
    }
    CmdResult r;
    const std::string got = udhcpc_env("--dhcp-dns --dhcp-search -H ns-box", r);
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(got.find("hostname=ns-box\n"), std::string::npos) << got;
    EXPECT_NE(got.find("ip=198.51.100.2\n"), std::string::npos) << got << r.out;
    EXPECT_NE(got.find("subnet=255.255.255.0\n"), std::string::npos) << got;
    EXPECT_NE(got.find("router=198.51.100.1"), std::string::npos) << got;
    EXPECT_NE(got.find("dns=192.0.2.53"), std::string::npos) << got;
    EXPECT_NE(got.find("search=example.test"), std::string::npos) << got;
    EXPECT_NE(got.find("mtu=65520"), std::string::npos) << got;
}

// pasta's namespace mode default: an address and a router, but neither
// nameservers nor search domains unless --dhcp-dns / --dhcp-search.
TEST_F(ServicesTest, UdhcpcGetsNoDnsByDefault) {
    if (!have_udhcpc()) {
        GTEST_SKIP() << "needs busybox udhcpc";
    }
    CmdResult r;
    const std::string got = udhcpc_env("", r);
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(got.find("ip=198.51.100.2\n"), std::string::npos) << got << r.out;
    EXPECT_NE(got.find("router=198.51.100.1"), std::string::npos) << got;
    EXPECT_EQ(got.find("dns="), std::string::npos) << got;
    EXPECT_EQ(got.find("search="), std::string::npos) << got;
    EXPECT_EQ(got.find("hostname="), std::string::npos) << got;
}

TEST_F(ServicesTest, UdhcpcGetsSearchListWithoutNameservers) {
    if (!have_udhcpc()) {
        GTEST_SKIP() << "needs busybox udhcpc";
    }
    CmdResult r;
    const std::string got = udhcpc_env("--dhcp-search", r);
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(got.find("dns="), std::string::npos) << got;
    EXPECT_NE(got.find("search=example.test"), std::string::npos) << got;
}

TEST_F(ServicesTest, NoDhcpLeavesUdhcpcUnanswered) {
    const auto script = file("udhcpc.sh", "#!/bin/sh\nenv > " + dir_ + "/udhcpc-$1.env\n");
    sh("chmod +x " + script);
    const auto& ifn = sb_->veth_host;
    const auto r = sh(sb_->in_host("timeout 60 " + pastad_binary() + " -q --no-dhcp -- sh -c " +
                                   quote("ip link set " + ifn + " up && busybox udhcpc -i " + ifn +
                                         " -n -q -t 2 -T 1 -s " + script) +
                                   " 2>&1"));
    EXPECT_NE(r.status, 0) << r.out;
    EXPECT_NE(::access((dir_ + "/udhcpc-bound.env").c_str(), F_OK), 0);
}

TEST_F(ServicesTest, SlaacGivesAddressInHostPrefixAndDefaultRoute) {
    const auto& ifn = sb_->veth_host;
    const auto r = sh(sb_->in_host("timeout 60 " + pastad_binary() + " -q -- sh -c " +
                                   quote("ip link set " + ifn +
                                         " up; for i in $(seq 100); do "
                                         "ip -6 route show default | grep -q via && "
                                         "ip -6 addr show dev " +
                                         ifn +
                                         " scope global | grep -v tentative | "
                                         "grep -q 2001:db8:: && break; sleep 0.1; done; "
                                         "ip -6 addr show dev " +
                                         ifn + " scope global; ip -6 route show default") +
                                   " 2>&1"));
    EXPECT_NE(r.out.find("inet6 2001:db8::"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("default via fe80::"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, Dhcpv6ClientGetsHostAddressAndDns) {
    const auto r = dhcpv6_exchange("--dhcp-dns");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("type 7"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("addr 2001:db8::2\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("dns 2001:db8::53"), std::string::npos) << r.out;
}

TEST_F(ServicesTest, Dhcpv6ClientGetsNoDnsByDefault) {
    const auto r = dhcpv6_exchange("");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("addr 2001:db8::2\n"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("dns "), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("fqdn "), std::string::npos) << r.out;
}

// Option 39 as the client reads it off the wire: flags 0, then "ns.test".
TEST_F(ServicesTest, Dhcpv6ClientGetsFqdn) {
    const auto r = dhcpv6_exchange("--fqdn ns.test");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("fqdn 00026e73047465737400\n"), std::string::npos) << r.out;
}

CmdResult ServicesTest::dhcpv6_exchange(const std::string& opts) {
    const auto conf = file("resolv.conf", "nameserver 2001:db8::53\n");
    const auto client = file("dhcpv6.py", kDhcpv6Client);
    const auto& ifn = sb_->veth_host;
    return sh(sb_->in_host("env PASTAD_RESOLV_CONF=" + conf + " timeout 60 " + pastad_binary() +
                           " -q " + opts + " -- sh -c " +
                           quote("ip link set " + ifn +
                                 " up; for i in $(seq 100); do "
                                 "ip -6 addr show dev " +
                                 ifn +
                                 " scope link | grep -q tentative || break; "
                                 "sleep 0.1; done; python3 " +
                                 client + " " + ifn) +
                           " 2>&1"));
}

}  // namespace
}  // namespace pastad::test

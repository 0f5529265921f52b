// SPDX-License-Identifier: GPL-2.0-or-later
// tests/tap/udp_test.cpp - UDP translation and the shared address mapping, on loopback
#include "tap/udp.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tap/frame.hpp"
#include "tap/reassembly.hpp"

namespace pastad::tap {
namespace {

using Bytes = std::vector<std::byte>;
using namespace std::chrono_literals;

class FakeSink : public FrameSink {
public:
    std::size_t free_slots() const override { return cap_ - used_; }
    std::size_t slot_size() const override { return 65536; }
    std::span<std::byte> slot(std::size_t i) override { return buf_.at(used_ + i); }
    void commit(std::size_t count, const std::size_t* lens) override {
        for (std::size_t i = 0; i < count; ++i) {
            const Bytes& b = buf_.at(used_ + i);
            frames.emplace_back(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(lens[i]));
        }
        used_ += count;
    }
    std::vector<Bytes> frames;

private:
    static constexpr std::size_t cap_ = 16;
    std::vector<Bytes> buf_ = std::vector<Bytes>(cap_, Bytes(65536));
    std::size_t used_ = 0;
};

class FakePoller : public Poller {
public:
    void watch(int fd, std::uint32_t, std::uint64_t token) override { tokens[fd] = token; }
    void unwatch(int fd) override { tokens.erase(fd); }
    std::map<int, std::uint64_t> tokens;
};

InAny v4(const char* s) {
    return InAny::from(*Ip4::parse(s));
}
InAny v6(const char* s) {
    return InAny::from(*Ip6::parse(s));
}

// A UDP socket on 127.0.0.1 with a kernel-chosen port.
int loopback_socket(std::uint16_t& port) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
    socklen_t len = sizeof(sin);
    getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
    port = ntohs(sin.sin_port);
    return fd;
}

bool readable(int fd) {
    pollfd p{fd, POLLIN | POLLERR, 0};
    return poll(&p, 1, 2000) == 1;
}

class UdpEngineTest : public ::testing::Test {
protected:
    UdpEngineTest() {
        cfg_.gw4 = Ip4::parse("192.0.2.1");
        cfg_.our_mac = *Mac::parse("02:00:00:00:00:01");
    }
    std::unique_ptr<UdpEngine> make() { return std::make_unique<UdpEngine>(cfg_, sink_, poller_); }

    // Feeds every watched socket's readiness to the engine once.
    void pump(UdpEngine& e) {
        const auto tokens = poller_.tokens;
        for (const auto& [fd, token] : tokens) {
            pollfd p{fd, POLLIN | POLLERR, 0};
            if (poll(&p, 1, 2000) == 1) {
                std::uint32_t ev = 0;
                if (p.revents & POLLIN) {
                    ev |= EPOLLIN;
                }
                if (p.revents & POLLERR) {
                    ev |= EPOLLERR;
                }
                e.on_socket_event(token, ev, UdpClock::now());
            }
        }
    }

    UdpConfig cfg_;
    FakeSink sink_;
    FakePoller poller_;
    const Endpoints ns_to_gw_{v4("192.0.2.7"), v4("192.0.2.1"), 40000, 0};
};

TEST_F(UdpEngineTest, DatagramToGatewayReachesLoopbackAndReplyComesFromGateway) {
    std::uint16_t port = 0;
    const int server = loopback_socket(port);
    auto e = make();
    Endpoints ep = ns_to_gw_;
    ep.peer_port = port;
    const Bytes hello{std::byte{'h'}, std::byte{'i'}};
    e->on_datagram(ep, hello, UdpClock::now());
    e->flush(UdpClock::now());

    ASSERT_TRUE(readable(server));
    char buf[16];
    sockaddr_in from{};
    socklen_t flen = sizeof(from);
    ASSERT_EQ(recvfrom(server, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &flen), 2);
    ASSERT_EQ(sendto(server, "yo!", 3, 0, reinterpret_cast<sockaddr*>(&from), flen), 3);
    pump(*e);

    ASSERT_EQ(sink_.frames.size(), 1u);
    DropReason why;
    const auto f = parse_frame(sink_.frames[0], why);
    ASSERT_TRUE(f) << to_string(why);
    const auto u = parse_udp(*f, why);
    ASSERT_TRUE(u) << to_string(why);
    EXPECT_EQ(f->src_ip, v4("192.0.2.1"));
    EXPECT_EQ(f->dst_ip, v4("192.0.2.7"));
    EXPECT_EQ(u->sport, port);
    EXPECT_EQ(u->dport, 40000);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(u->payload.data()), u->payload.size()),
              "yo!");
    close(server);
}

TEST_F(UdpEngineTest, DatagramTooLongForOneFrameGoesInFragmentsInOrder) {
    std::uint16_t port = 0;
    const int server = loopback_socket(port);
    auto e = make();
    Endpoints ep = ns_to_gw_;
    ep.peer_port = port;
    const Bytes hello{std::byte{'h'}};
    e->on_datagram(ep, hello, UdpClock::now());
    e->flush(UdpClock::now());
    ASSERT_TRUE(readable(server));
    char buf[16];
    sockaddr_in from{};
    socklen_t flen = sizeof(from);
    ASSERT_EQ(recvfrom(server, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &flen), 1);

    // A small datagram, the largest one IPv4 allows, another small one.
    Bytes big(65507);
    for (std::size_t i = 0; i < big.size(); ++i) {
        big[i] = static_cast<std::byte>(i * 13);
    }
    auto* to = reinterpret_cast<sockaddr*>(&from);
    ASSERT_EQ(sendto(server, "a", 1, 0, to, flen), 1);
    ASSERT_EQ(sendto(server, big.data(), big.size(), 0, to, flen), 65507);
    ASSERT_EQ(sendto(server, "b", 1, 0, to, flen), 1);
    pump(*e);

    ASSERT_EQ(sink_.frames.size(), 4u);  // a, two fragments, b
    DropReason why;
    auto first = parse_frame(sink_.frames[0], why);
    ASSERT_TRUE(first);
    EXPECT_EQ(parse_udp(*first, why)->payload.size(), 1u);
    auto last = parse_frame(sink_.frames[3], why);
    ASSERT_TRUE(last);
    EXPECT_EQ(parse_udp(*last, why)->payload.size(), 1u);

    Reassembler r;
    std::optional<std::span<const std::byte>> whole;
    Frame carrier;
    for (std::size_t i = 1; i <= 2; ++i) {
        EXPECT_LE(sink_.frames[i].size(), kEthHeaderLen + 65520) << "beyond the tap MTU";
        FragmentInfo frag;
        const auto f = parse_fragment(sink_.frames[i], frag, why);
        ASSERT_TRUE(f) << to_string(why);
        ASSERT_TRUE(frag.is_fragment);
        EXPECT_EQ(frag.more, i == 1);
        whole = r.add(*f, frag, Reassembler::Clock::now());
        carrier = *f;
    }
    ASSERT_TRUE(whole);
    carrier.l4 = *whole;
    const auto u = parse_udp(carrier, why);  // checksum over the whole datagram
    ASSERT_TRUE(u) << to_string(why);
    EXPECT_EQ(u->sport, port);
    EXPECT_EQ(u->dport, 40000);
    ASSERT_EQ(u->payload.size(), big.size());
    EXPECT_TRUE(std::equal(big.begin(), big.end(), u->payload.begin()));
    EXPECT_EQ(e->stats().fragmented_to_ns, 1u);
    close(server);
}

TEST_F(UdpEngineTest, HostSocketKeepsNamespaceSourcePortWhenFree) {
    std::uint16_t port = 0;
    const int server = loopback_socket(port);
    auto e = make();
    Endpoints ep = ns_to_gw_;
    ep.peer_port = port;
    e->on_datagram(ep, Bytes(10), UdpClock::now());
    e->flush(UdpClock::now());
    ASSERT_TRUE(readable(server));
    sockaddr_in from{};
    socklen_t flen = sizeof(from);
    char buf[16];
    ASSERT_EQ(recvfrom(server, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &flen), 10);
    EXPECT_EQ(ntohs(from.sin_port), 40000);
    close(server);
}

TEST_F(UdpEngineTest, ForwardedDatagramReachesNamespaceAndReplyLeavesFromForwardedPort) {
    // The forward's bound socket (the client sent to it) and the client.
    std::uint16_t fwd_port = 0;
    const int fwd = loopback_socket(fwd_port);
    std::uint16_t client_port = 0;
    const int client = loopback_socket(client_port);
    cfg_.map_gw = false;  // only the flow's alias can lead a reply to the client
    auto e = make();
    // The namespace is to see the client as the gateway.
    const Endpoints ep{v4("192.0.2.7"), v4("192.0.2.1"), 5353, client_port};
    const Bytes ask{std::byte{'q'}};
    e->on_forwarded(ep, v4("127.0.0.1"), fwd, ask, UdpClock::now());

    ASSERT_EQ(sink_.frames.size(), 1u);
    DropReason why;
    const auto f = parse_frame(sink_.frames[0], why);
    ASSERT_TRUE(f) << to_string(why);
    const auto u = parse_udp(*f, why);
    ASSERT_TRUE(u) << to_string(why);
    EXPECT_EQ(f->src_ip, v4("192.0.2.1"));
    EXPECT_EQ(f->dst_ip, v4("192.0.2.7"));
    EXPECT_EQ(u->sport, client_port);
    EXPECT_EQ(u->dport, 5353);
    EXPECT_TRUE(poller_.tokens.empty()) << "the forward's socket is read by its owner";

    // The server answers the stand-in: the real client gets it, from the
    // forwarded port.
    const Endpoints reply{v4("192.0.2.7"), v4("192.0.2.1"), 5353, client_port};
    e->on_datagram(reply, Bytes{std::byte{'a'}}, UdpClock::now());
    e->flush(UdpClock::now());
    ASSERT_TRUE(readable(client));
    sockaddr_in from{};
    socklen_t flen = sizeof(from);
    char buf[16];
    ASSERT_EQ(recvfrom(client, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &flen), 1);
    EXPECT_EQ(buf[0], 'a');
    EXPECT_EQ(ntohs(from.sin_port), fwd_port);
    close(client);
    close(fwd);
}

TEST_F(UdpEngineTest, ClosedPortGivesIcmpPortUnreachable) {
    std::uint16_t port = 0;
    close(loopback_socket(port));  // a port that was just free
    auto e = make();
    Endpoints ep = ns_to_gw_;
    ep.peer_port = port;
    e->on_datagram(ep, Bytes(5), UdpClock::now());
    e->flush(UdpClock::now());
    pump(*e);

    ASSERT_EQ(sink_.frames.size(), 1u);
    DropReason why;
    const auto f = parse_frame(sink_.frames[0], why);
    ASSERT_TRUE(f);
    const auto icmp = parse_icmp(*f, why);
    ASSERT_TRUE(icmp) << to_string(why);
    EXPECT_EQ(icmp->type, 3);
    EXPECT_EQ(icmp->code, 3);
    EXPECT_EQ(f->src_ip, v4("192.0.2.1"));
    ASSERT_GE(icmp->data.size(), 28u);  // the quoted IPv4 and UDP headers
    EXPECT_EQ(std::to_integer<int>(icmp->data[20]) << 8 | std::to_integer<int>(icmp->data[21]),
              40000);
    EXPECT_EQ(e->stats().icmp_errors_to_ns, 1u);
}

TEST_F(UdpEngineTest, IdleFlowExpiresAfterTimeout) {
    cfg_.idle_timeout = std::chrono::seconds(180);
    auto e = make();
    const auto t0 = UdpClock::now();
    Endpoints ep = ns_to_gw_;
    ep.peer_port = 9;
    e->on_datagram(ep, Bytes(1), t0);
    e->flush(t0);
    ASSERT_EQ(e->active(), 1u);
    e->on_timer(t0 + 179s);
    EXPECT_EQ(e->active(), 1u);
    e->on_timer(t0 + 181s);
    EXPECT_EQ(e->active(), 0u);
    EXPECT_TRUE(poller_.tokens.empty());
}

TEST_F(UdpEngineTest, FullTableEvictsLeastRecentlyUsedFlow) {
    cfg_.max_flows = 2;
    auto e = make();
    const auto t0 = UdpClock::now();
    for (std::uint16_t i = 0; i < 3; ++i) {
        Endpoints ep = ns_to_gw_;
        ep.ns_port = static_cast<std::uint16_t>(41000 + i);
        ep.peer_port = 9;
        e->on_datagram(ep, Bytes(1), t0 + std::chrono::seconds(i));
    }
    e->flush(t0);
    EXPECT_EQ(e->active(), 2u);
    EXPECT_EQ(e->stats().flows_closed, 1u);
    EXPECT_EQ(e->stats().datagrams_from_ns, 3u);
}

TEST_F(UdpEngineTest, UnsolicitedLoopbackSourceIsDropped) {
    auto e = make();
    Endpoints ep = ns_to_gw_;
    ep.peer_addr = v4("127.0.0.1");  // not a stand-in: sent as is
    std::uint16_t port = 0;
    const int server = loopback_socket(port);
    ep.peer_port = port;
    e->on_datagram(ep, Bytes(3), UdpClock::now());
    e->flush(UdpClock::now());
    ASSERT_TRUE(readable(server));
    sockaddr_in from{};
    socklen_t flen = sizeof(from);
    char buf[8];
    ASSERT_EQ(recvfrom(server, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &flen), 3);
    ASSERT_EQ(sendto(server, "x", 1, 0, reinterpret_cast<sockaddr*>(&from), flen), 1);
    pump(*e);
    EXPECT_TRUE(sink_.frames.empty());
    EXPECT_EQ(e->stats().dropped_unmapped, 1u);
    close(server);
}

// ---------------------------------------------------------------------------

TEST(AddressMapTest, GatewayMapsToLoopbackUnlessDisabled) {
    AddressMapConfig m;
    m.gw4 = Ip4::parse("192.0.2.1");
    m.gw6 = Ip6::parse("fe80::1");
    EXPECT_EQ(map_to_host(m, v4("192.0.2.1"), 80), v4("127.0.0.1"));
    EXPECT_EQ(map_to_host(m, v6("fe80::1"), 80), v6("::1"));
    m.map_gw = false;
    EXPECT_EQ(map_to_host(m, v4("192.0.2.1"), 80), v4("192.0.2.1"));
}

TEST(AddressMapTest, HostLoopbackAddressReplacesGatewayRule) {
    AddressMapConfig m;
    m.gw4 = Ip4::parse("192.0.2.1");
    m.map_host_loopback4 = Ip4::parse("169.254.1.2");
    EXPECT_EQ(map_to_host(m, v4("169.254.1.2"), 80), v4("127.0.0.1"));
    EXPECT_EQ(map_to_host(m, v4("192.0.2.1"), 80), v4("192.0.2.1"));
}

TEST(AddressMapTest, GuestAddressMapsToHostAddress) {
    AddressMapConfig m;
    m.map_guest_addr4 = Ip4::parse("169.254.1.2");
    EXPECT_EQ(map_to_host(m, v4("169.254.1.2"), 22), v4("127.0.0.1"));
    m.host_addr4 = Ip4::parse("198.51.100.2");
    EXPECT_EQ(map_to_host(m, v4("169.254.1.2"), 22), v4("198.51.100.2"));
}

TEST(AddressMapTest, DnsForwardAppliesToDnsPortsOnly) {
    AddressMapConfig m;
    m.gw4 = Ip4::parse("192.0.2.1");
    m.dns_match4 = Ip4::parse("192.0.2.1");
    m.dns_host4 = Ip4::parse("127.0.0.53");
    EXPECT_EQ(map_to_host(m, v4("192.0.2.1"), 53), v4("127.0.0.53"));
    EXPECT_EQ(map_to_host(m, v4("192.0.2.1"), 853), v4("127.0.0.53"));
    EXPECT_EQ(map_to_host(m, v4("192.0.2.1"), 54), v4("127.0.0.1"));
    EXPECT_EQ(map_to_host(m, v4("192.0.2.1"), 0), v4("127.0.0.1"));
    EXPECT_EQ(map_to_host(m, v4("192.0.2.9"), 53), v4("192.0.2.9"));
}

TEST(AddressMapTest, SockaddrRoundTripsBothFamilies) {
    for (const auto& a : {v4("198.51.100.7"), v6("2001:db8::7")}) {
        sockaddr_storage ss;
        ASSERT_GT(to_sockaddr(a, 4242, ss), 0u);
        InAny back;
        std::uint16_t port = 0;
        ASSERT_TRUE(from_sockaddr(ss, back, port));
        EXPECT_EQ(back, a);
        EXPECT_EQ(port, 4242);
    }
}

}  // namespace
}  // namespace pastad::tap

// SPDX-License-Identifier: GPL-2.0-or-later
// tests/netlink/message_test.cpp - rtnetlink request building, reply parsing, exchange walking
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <array>
#include <cstring>
#include <map>
#include <vector>

#include "netlink/netlink.hpp"

namespace pastad::netlink {
namespace {

using Bytes = std::vector<std::byte>;

struct alignas(4) Buffer {
    std::array<std::byte, 1024> b{};
};

Ip4 ip4(const char* s) {
    return *Ip4::parse(s);
}
Ip6 ip6(const char* s) {
    return *Ip6::parse(s);
}

template <typename T>
Bytes bytes_of(const T& v) {
    Bytes out(sizeof(T));
    std::memcpy(out.data(), &v, sizeof(T));
    return out;
}
template <std::size_t N>
Bytes bytes_of(const std::array<std::uint8_t, N>& a) {
    Bytes out(N);
    std::memcpy(out.data(), a.data(), N);
    return out;
}

// A request read back with libmnl: header, fixed family header, attributes.
struct Parsed {
    nlmsghdr hdr{};
    Bytes family;
    std::map<std::uint16_t, Bytes> attrs;
};

Parsed parse_back(const Buffer& buf, std::size_t len, std::size_t family_size) {
    Parsed p;
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.b.data());
    EXPECT_TRUE(mnl_nlmsg_ok(nlh, static_cast<int>(len)));
    EXPECT_EQ(nlh->nlmsg_len, len);
    p.hdr = *nlh;
    const auto* fam = static_cast<const std::byte*>(mnl_nlmsg_get_payload(nlh));
    p.family.assign(fam, fam + family_size);
    const auto cb = [](const nlattr* attr, void* data) -> int {
        auto* attrs = static_cast<std::map<std::uint16_t, Bytes>*>(data);
        const auto* pl = static_cast<const std::byte*>(mnl_attr_get_payload(attr));
        (*attrs)[mnl_attr_get_type(attr)] = Bytes(pl, pl + mnl_attr_get_payload_len(attr));
        return MNL_CB_OK;
    };
    EXPECT_EQ(mnl_attr_parse(nlh, static_cast<unsigned>(MNL_ALIGN(family_size)), cb, &p.attrs),
              MNL_CB_OK);
    return p;
}

template <typename Hdr>
Hdr family_of(const Parsed& p) {
    Hdr h;
    std::memcpy(&h, p.family.data(), sizeof(h));
    return h;
}

std::uint32_t u32_of(const Bytes& b) {
    std::uint32_t v = 0;
    EXPECT_EQ(b.size(), sizeof(v));
    std::memcpy(&v, b.data(), sizeof(v));
    return v;
}

constexpr std::uint16_t kNewFlags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

// ---- Building ---------------------------------------------------------------

TEST(MessageBuildTest, DumpRequestHasDumpFlagsAndFamily) {
    Buffer buf;
    const auto len = build_dump(buf.b, 9, RTM_GETROUTE, AF_INET6);
    ASSERT_TRUE(len);
    const auto p = parse_back(buf, len.value(), sizeof(rtmsg));
    EXPECT_EQ(p.hdr.nlmsg_type, RTM_GETROUTE);
    EXPECT_EQ(p.hdr.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
    EXPECT_EQ(p.hdr.nlmsg_seq, 9u);
    EXPECT_EQ(family_of<rtmsg>(p).rtm_family, AF_INET6);
    EXPECT_TRUE(p.attrs.empty());
}

TEST(MessageBuildTest, DumpOfUnknownTypeIsRejected) {
    Buffer buf;
    const auto len = build_dump(buf.b, 1, RTM_NEWROUTE, AF_INET);
    ASSERT_FALSE(len);
    EXPECT_EQ(len.error(), std::errc::invalid_argument);
}

TEST(MessageBuildTest, GetLinkCarriesNulTerminatedName) {
    Buffer buf;
    const auto len = build_get_link(buf.b, 3, "eth0");
    ASSERT_TRUE(len);
    const auto p = parse_back(buf, len.value(), sizeof(ifinfomsg));
    EXPECT_EQ(p.hdr.nlmsg_type, RTM_GETLINK);
    EXPECT_EQ(p.hdr.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
    const Bytes want{std::byte{'e'}, std::byte{'t'}, std::byte{'h'}, std::byte{'0'}, std::byte{0}};
    EXPECT_EQ(p.attrs.at(IFLA_IFNAME), want);
}

TEST(MessageBuildTest, GetLinkWithOverlongNameIsRejected) {
    Buffer buf;
    const auto len = build_get_link(buf.b, 3, std::string(IFNAMSIZ, 'x'));
    ASSERT_FALSE(len);
    EXPECT_EQ(len.error(), std::errc::invalid_argument);
}

TEST(MessageBuildTest, LinkChangeCarriesUpMtuAndMac) {
    Buffer buf;
    LinkChange c;
    c.up = true;
    c.mtu = 1400;
    c.mac = *Mac::parse("02:00:00:aa:bb:cc");
    const auto len = build_link_change(buf.b, 5, 7, c);
    ASSERT_TRUE(len);
    const auto p = parse_back(buf, len.value(), sizeof(ifinfomsg));
    EXPECT_EQ(p.hdr.nlmsg_type, RTM_NEWLINK);
    EXPECT_EQ(p.hdr.nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
    const auto ifi = family_of<ifinfomsg>(p);
    EXPECT_EQ(ifi.ifi_index, 7);
    EXPECT_EQ(ifi.ifi_flags, unsigned{IFF_UP});
    EXPECT_EQ(ifi.ifi_change, unsigned{IFF_UP});
    EXPECT_EQ(u32_of(p.attrs.at(IFLA_MTU)), 1400u);
    EXPECT_EQ(p.attrs.at(IFLA_ADDRESS), bytes_of(c.mac->b));
}

TEST(MessageBuildTest, LinkChangeWithMtuOnlyLeavesFlagsAlone) {
    Buffer buf;
    LinkChange c;
    c.mtu = 9000;
    const auto len = build_link_change(buf.b, 5, 7, c);
    ASSERT_TRUE(len);
    const auto p = parse_back(buf, len.value(), sizeof(ifinfomsg));
    EXPECT_EQ(family_of<ifinfomsg>(p).ifi_change, 0u);
    EXPECT_EQ(p.attrs.count(IFLA_ADDRESS), 0u);
    EXPECT_EQ(u32_of(p.attrs.at(IFLA_MTU)), 9000u);
}

TEST(MessageBuildTest, AddAddr4CarriesLocalAndAddress) {
    Buffer buf;
    const Prefix4 pfx{ip4("198.51.100.2"), 24};
    const auto len = build_add_addr(buf.b, 11, 4, pfx);
    ASSERT_TRUE(len);
    const auto p = parse_back(buf, len.value(), sizeof(ifaddrmsg));
    EXPECT_EQ(p.hdr.nlmsg_type, RTM_NEWADDR);
    EXPECT_EQ(p.hdr.nlmsg_flags, kNewFlags);
    const auto ifa = family_of<ifaddrmsg>(p);
    EXPECT_EQ(ifa.ifa_family, AF_INET);
    EXPECT_EQ(ifa.ifa_prefixlen, 24);
    EXPECT_EQ(ifa.ifa_index, 4u);
    EXPECT_EQ(ifa.ifa_scope, RT_SCOPE_UNIVERSE);
    EXPECT_EQ(p.attrs.at(IFA_LOCAL), bytes_of(pfx.addr.b));
    EXPECT_EQ(p.attrs.at(IFA_ADDRESS), bytes_of(pfx.addr.b));
    EXPECT_EQ(p.attrs.count(IFA_FLAGS), 0u);
}

TEST(MessageBuildTest, AddAddr6NodadSetsFlagsAttribute) {
    Buffer buf;
    const Prefix6 pfx{ip6("2001:db8::2"), 64};
    const auto len = build_add_addr(buf.b, 11, 4, pfx, true);
    ASSERT_TRUE(len);
    const auto p = parse_back(buf, len.value(), sizeof(ifaddrmsg));
    const auto ifa = family_of<ifaddrmsg>(p);
    EXPECT_EQ(ifa.ifa_family, AF_INET6);
    EXPECT_EQ(ifa.ifa_prefixlen, 64);
    EXPECT_EQ(p.attrs.at(IFA_ADDRESS), bytes_of(pfx.addr.b));
    EXPECT_EQ(u32_of(p.attrs.at(IFA_FLAGS)), unsigned{IFA_F_NODAD});
}

TEST(MessageBuildTest, AddAddr6WithoutNodadHasNoFlags) {
    Buffer buf;
    const auto len = build_add_addr(buf.b, 11, 4, Prefix6{ip6("2001:db8::2"), 64}, false);
    ASSERT_TRUE(len);
    const auto p = parse_back(buf, len.value(), sizeof(ifaddrmsg));
    EXPECT_EQ(p.attrs.count(IFA_FLAGS), 0u);
    EXPECT_EQ(family_of<ifaddrmsg>(p).ifa_flags, 0);
}

TEST(MessageBuildTest, AddAddrWithOverlongPrefixIsRejected) {
    Buffer buf;
    const auto len = build_add_addr(buf.b, 1, 4, Prefix4{ip4("192.0.2.1"), 33});
    ASSERT_FALSE(len);
    EXPECT_EQ(len.error(), std::errc::invalid_argument);
}

TEST(MessageBuildTest, AddRoute4WithGatewayCarriesEveryAttribute) {
    Buffer buf;
    const Route4 r{Prefix4{ip4("203.0.113.0"), 24}, ip4("198.51.100.1"), 99, 600};
    const auto len = build_add_route(buf.b, 12, 3, r, false);
    ASSERT_TRUE(len);
    const auto p = parse_back(buf, len.value(), sizeof(rtmsg));
    EXPECT_EQ(p.hdr.nlmsg_type, RTM_NEWROUTE);
    EXPECT_EQ(p.hdr.nlmsg_flags, kNewFlags);
    const auto rtm = family_of<rtmsg>(p);
    EXPECT_EQ(rtm.rtm_family, AF_INET);
    EXPECT_EQ(rtm.rtm_dst_len, 24);
    EXPECT_EQ(rtm.rtm_table, RT_TABLE_MAIN);
    EXPECT_EQ(rtm.rtm_protocol, RTPROT_BOOT);
    EXPECT_EQ(rtm.rtm_type, RTN_UNICAST);
    EXPECT_EQ(rtm.rtm_scope, RT_SCOPE_UNIVERSE);
    EXPECT_EQ(rtm.rtm_flags, 0u);
    EXPECT_EQ(p.attrs.at(RTA_DST), bytes_of(r.dst.addr.b));
    EXPECT_EQ(p.attrs.at(RTA_GATEWAY), bytes_of(r.gw->b));
    EXPECT_EQ(u32_of(p.attrs.at(RTA_OIF)), 3u);  // the given ifindex, not r.oif
    EXPECT_EQ(u32_of(p.attrs.at(RTA_PRIORITY)), 600u);
    EXPECT_EQ(u32_of(p.attrs.at(RTA_TABLE)), unsigned{RT_TABLE_MAIN});
}

TEST(MessageBuildTest, AddRoute4OnlinkSetsNexthopFlag) {
    Buffer buf;
    const Route4 r{Prefix4{}, ip4("192.0.2.1"), 0, 0};
    const auto len = build_add_route(buf.b, 12, 3, r, true);
    ASSERT_TRUE(len);
    const auto p = parse_back(buf, len.value(), sizeof(rtmsg));
    EXPECT_EQ(family_of<rtmsg>(p).rtm_flags, unsigned{RTNH_F_ONLINK});
}

TEST(MessageBuildTest, DefaultRouteWithoutGatewayHasLinkScopeAndNoDst) {
    Buffer buf;
    const Route4 r{Prefix4{}, std::nullopt, 0, 0};
    const auto len = build_add_route(buf.b, 12, 3, r, false);
    ASSERT_TRUE(len);
    const auto p = parse_back(buf, len.value(), sizeof(rtmsg));
    const auto rtm = family_of<rtmsg>(p);
    EXPECT_EQ(rtm.rtm_dst_len, 0);
    EXPECT_EQ(rtm.rtm_scope, RT_SCOPE_LINK);
    EXPECT_EQ(p.attrs.count(RTA_DST), 0u);
    EXPECT_EQ(p.attrs.count(RTA_GATEWAY), 0u);
    EXPECT_EQ(p.attrs.count(RTA_PRIORITY), 0u);
    EXPECT_EQ(u32_of(p.attrs.at(RTA_OIF)), 3u);
}

TEST(MessageBuildTest, AddRoute6CarriesSixteenByteAddresses) {
    Buffer buf;
    const Route6 r{Prefix6{ip6("2001:db8:5::"), 48}, ip6("fe80::1"), 0, 1024};
    const auto len = build_add_route(buf.b, 12, 8, r, false);
    ASSERT_TRUE(len);
    const auto p = parse_back(buf, len.value(), sizeof(rtmsg));
    EXPECT_EQ(family_of<rtmsg>(p).rtm_family, AF_INET6);
    EXPECT_EQ(family_of<rtmsg>(p).rtm_dst_len, 48);
    EXPECT_EQ(p.attrs.at(RTA_DST), bytes_of(r.dst.addr.b));
    EXPECT_EQ(p.attrs.at(RTA_GATEWAY), bytes_of(r.gw->b));
    EXPECT_EQ(u32_of(p.attrs.at(RTA_PRIORITY)), 1024u);
}

TEST(MessageBuildTest, TooSmallBufferIsRejected) {
    Buffer buf;
    const Route6 r{Prefix6{ip6("2001:db8:5::"), 48}, ip6("fe80::1"), 0, 1024};
    for (std::size_t size : {std::size_t{0}, std::size_t{16}, std::size_t{40}}) {
        const auto len = build_add_route(std::span(buf.b).first(size), 1, 8, r, false);
        ASSERT_FALSE(len) << size;
        EXPECT_EQ(len.error(), std::errc::no_buffer_space) << size;
    }
}

TEST(MessageBuildTest, LargestRequestFitsRequestSize) {
    Buffer buf;
    const Route6 r{Prefix6{ip6("2001:db8:5::"), 48}, ip6("2001:db8::1"), 0, 1024};
    const auto len = build_add_route(std::span(buf.b).first(kRequestSize), 1, 8, r, true);
    ASSERT_TRUE(len);
    EXPECT_LE(len.value(), kRequestSize);
}

TEST(MessageBuildTest, MisalignedBufferIsRejected) {
    Buffer buf;
    const auto len = build_dump(std::span(buf.b).subspan(1), 1, RTM_GETLINK, AF_UNSPEC);
    ASSERT_FALSE(len);
    EXPECT_EQ(len.error(), std::errc::invalid_argument);
}

// ---- Parsing ----------------------------------------------------------------

// Writes a message as the kernel would send it.
class Msg {
public:
    template <typename Hdr>
    Msg(std::uint16_t type, const Hdr& hdr, std::uint16_t flags = NLM_F_MULTI) {
        nlmsghdr* h = mnl_nlmsg_put_header(buf_.b.data());
        h->nlmsg_type = type;
        h->nlmsg_flags = flags;
        h->nlmsg_seq = 7;
        h->nlmsg_pid = 42;
        std::memcpy(mnl_nlmsg_put_extra_header(h, sizeof(Hdr)), &hdr, sizeof(Hdr));
    }
    Msg& put(std::uint16_t type, const void* data, std::size_t len) {
        mnl_attr_put(nlh(), type, len, data);
        return *this;
    }
    Msg& put(std::uint16_t type, const Bytes& b) { return put(type, b.data(), b.size()); }
    Msg& u32(std::uint16_t type, std::uint32_t v) { return put(type, &v, sizeof(v)); }
    template <std::size_t N>
    Msg& addr(std::uint16_t type, const std::array<std::uint8_t, N>& a) {
        return put(type, a.data(), N);
    }
    Msg& str(std::uint16_t type, const char* s) { return put(type, s, std::strlen(s) + 1); }

    std::span<const std::byte> span() const {
        nlmsghdr h;
        std::memcpy(&h, buf_.b.data(), sizeof(h));
        return {buf_.b.data(), h.nlmsg_len};
    }
    std::span<std::byte> raw() { return buf_.b; }
    // Recomputed on each call so that copies of a Msg stay independent.
    nlmsghdr* nlh() { return reinterpret_cast<nlmsghdr*>(buf_.b.data()); }

private:
    Buffer buf_;
};

rtmsg route_header(std::uint8_t family, std::uint8_t dst_len, std::uint8_t table = RT_TABLE_MAIN,
                   std::uint8_t type = RTN_UNICAST) {
    rtmsg rtm{};
    rtm.rtm_family = family;
    rtm.rtm_dst_len = dst_len;
    rtm.rtm_table = table;
    rtm.rtm_type = type;
    rtm.rtm_protocol = RTPROT_BOOT;
    return rtm;
}

Msg route4_message() {
    Msg m(RTM_NEWROUTE, route_header(AF_INET, 24));
    m.u32(RTA_TABLE, RT_TABLE_MAIN)
        .addr(RTA_DST, ip4("203.0.113.0").b)
        .u32(RTA_PRIORITY, 100)
        .addr(RTA_GATEWAY, ip4("198.51.100.1").b)
        .u32(RTA_OIF, 2);
    return m;
}

TEST(MessageParseTest, Route4WithEveryAttributeParses) {
    const auto m = route4_message();
    const auto r = parse_route4(m.span());
    ASSERT_TRUE(r);
    ASSERT_TRUE(r.value());
    const Route4 want{Prefix4{ip4("203.0.113.0"), 24}, ip4("198.51.100.1"), 2, 100};
    EXPECT_EQ(*r.value(), want);
}

TEST(MessageParseTest, DefaultRouteWithoutDstParses) {
    Msg m(RTM_NEWROUTE, route_header(AF_INET, 0));
    m.addr(RTA_GATEWAY, ip4("192.0.2.1").b).u32(RTA_OIF, 5);
    const auto r = parse_route4(m.span());
    ASSERT_TRUE(r);
    ASSERT_TRUE(r.value());
    const Route4 want{Prefix4{}, ip4("192.0.2.1"), 5, 0};
    EXPECT_EQ(*r.value(), want);
}

TEST(MessageParseTest, RouteOfLocalTableIsSkipped) {
    Msg m(RTM_NEWROUTE, route_header(AF_INET, 32, RT_TABLE_LOCAL, RTN_UNICAST));
    m.u32(RTA_TABLE, RT_TABLE_LOCAL).addr(RTA_DST, ip4("192.0.2.9").b).u32(RTA_OIF, 2);
    const auto r = parse_route4(m.span());
    ASSERT_TRUE(r);
    EXPECT_FALSE(r.value());
}

TEST(MessageParseTest, TableAttributeOverridesHeaderTable) {
    // Table ids above 255 only fit RTA_TABLE; rtm_table then says RT_TABLE_COMPAT.
    Msg m(RTM_NEWROUTE, route_header(AF_INET, 0, RT_TABLE_COMPAT));
    m.u32(RTA_TABLE, 1000).u32(RTA_OIF, 2);
    const auto other = parse_route4(m.span());
    ASSERT_TRUE(other);
    EXPECT_FALSE(other.value());

    Msg main(RTM_NEWROUTE, route_header(AF_INET, 0, RT_TABLE_UNSPEC));
    main.u32(RTA_TABLE, RT_TABLE_MAIN).u32(RTA_OIF, 2);
    const auto kept = parse_route4(main.span());
    ASSERT_TRUE(kept);
    EXPECT_TRUE(kept.value());
}

TEST(MessageParseTest, NonUnicastRouteIsSkipped) {
    Msg m(RTM_NEWROUTE, route_header(AF_INET, 24, RT_TABLE_MAIN, RTN_BLACKHOLE));
    m.addr(RTA_DST, ip4("203.0.113.0").b);
    const auto r = parse_route4(m.span());
    ASSERT_TRUE(r);
    EXPECT_FALSE(r.value());
}

TEST(MessageParseTest, RouteOfOtherFamilyIsSkipped) {
    const auto m = route4_message();
    const auto r = parse_route6(m.span());
    ASSERT_TRUE(r);
    EXPECT_FALSE(r.value());
}

TEST(MessageParseTest, OtherMessageTypeIsSkipped) {
    auto m = route4_message();
    m.nlh()->nlmsg_type = RTM_DELROUTE;
    const auto r = parse_route4(m.span());
    ASSERT_TRUE(r);
    EXPECT_FALSE(r.value());
}

// One struct rtnexthop with an RTA_GATEWAY attribute after it.
template <std::size_t N>
Bytes nexthop(int ifindex, const std::array<std::uint8_t, N>& gw) {
    const std::uint16_t attr_len = static_cast<std::uint16_t>(sizeof(nlattr) + N);
    rtnexthop nh{};
    nh.rtnh_len = static_cast<unsigned short>(sizeof(nh) + MNL_ALIGN(attr_len));
    nh.rtnh_ifindex = ifindex;
    Bytes out = bytes_of(nh);
    nlattr a{attr_len, RTA_GATEWAY};
    const auto ab = bytes_of(a);
    out.insert(out.end(), ab.begin(), ab.end());
    const auto gb = bytes_of(gw);
    out.insert(out.end(), gb.begin(), gb.end());
    out.resize(sizeof(nh) + MNL_ALIGN(attr_len));
    return out;
}

TEST(MessageParseTest, MultipathRouteTakesFirstNexthop) {
    auto hops = nexthop(3, ip6("fe80::1").b);
    const auto second = nexthop(4, ip6("fe80::2").b);
    hops.insert(hops.end(), second.begin(), second.end());
    Msg m(RTM_NEWROUTE, route_header(AF_INET6, 0));
    m.u32(RTA_PRIORITY, 1024).put(RTA_MULTIPATH, hops);
    const auto r = parse_route6(m.span());
    ASSERT_TRUE(r);
    ASSERT_TRUE(r.value());
    const Route6 want{Prefix6{}, ip6("fe80::1"), 3, 1024};
    EXPECT_EQ(*r.value(), want);
}

TEST(MessageParseTest, MultipathWithLyingNexthopLengthIsRejected) {
    auto hops = nexthop(3, ip6("fe80::1").b);
    std::uint16_t lie = static_cast<std::uint16_t>(hops.size() + 8);
    std::memcpy(hops.data(), &lie, sizeof(lie));  // rtnh_len past the attribute
    Msg m(RTM_NEWROUTE, route_header(AF_INET6, 0));
    m.put(RTA_MULTIPATH, hops);
    const auto r = parse_route6(m.span());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::bad_message);
}

TEST(MessageParseTest, MultipathShorterThanNexthopHeaderIsRejected) {
    const Bytes stub(4);
    Msg m(RTM_NEWROUTE, route_header(AF_INET6, 0));
    m.put(RTA_MULTIPATH, stub);
    EXPECT_FALSE(parse_route6(m.span()));
}

TEST(MessageParseTest, Route6Parses) {
    Msg m(RTM_NEWROUTE, route_header(AF_INET6, 64));
    m.u32(RTA_TABLE, RT_TABLE_MAIN)
        .addr(RTA_DST, ip6("2001:db8:1::").b)
        .addr(RTA_GATEWAY, ip6("fe80::1").b)
        .u32(RTA_OIF, 6)
        .u32(RTA_PRIORITY, 256);
    const auto r = parse_route6(m.span());
    ASSERT_TRUE(r);
    ASSERT_TRUE(r.value());
    const Route6 want{Prefix6{ip6("2001:db8:1::"), 64}, ip6("fe80::1"), 6, 256};
    EXPECT_EQ(*r.value(), want);
}

TEST(MessageParseTest, ClonedRouteIsSkipped) {
    auto hdr = route_header(AF_INET6, 128);
    hdr.rtm_flags = RTM_F_CLONED;
    Msg m(RTM_NEWROUTE, hdr);
    m.addr(RTA_DST, ip6("2001:db8::9").b).u32(RTA_OIF, 6);
    const auto r = parse_route6(m.span());
    ASSERT_TRUE(r);
    EXPECT_FALSE(r.value());
}

TEST(MessageParseTest, MessageLongerThanBufferIsRejected) {
    const auto m = route4_message();
    const auto r = parse_route4(m.span().first(m.span().size() - 4));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::bad_message);
}

TEST(MessageParseTest, BufferShorterThanHeaderIsRejected) {
    const auto m = route4_message();
    EXPECT_FALSE(parse_route4(m.span().first(8)));
    EXPECT_FALSE(parse_link(m.span().first(0)));
}

TEST(MessageParseTest, LengthBelowHeaderSizeIsRejected) {
    auto m = route4_message();
    m.nlh()->nlmsg_len = 8;
    EXPECT_FALSE(parse_route4(std::span<const std::byte>(m.raw()).first(64)));
}

TEST(MessageParseTest, MissingFamilyHeaderIsRejected) {
    auto m = route4_message();
    m.nlh()->nlmsg_len = NLMSG_HDRLEN + 4;  // rtmsg is 12 bytes
    const auto r = parse_route4(m.span());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::bad_message);
}

TEST(MessageParseTest, TruncatedLastAttributeIsRejected) {
    // Cut the message inside its last attribute (RTA_OIF): the header's
    // length and the buffer agree, but the attribute claims 4 bytes more.
    auto m = route4_message();
    m.nlh()->nlmsg_len -= 4;
    const auto r = parse_route4(m.span());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::bad_message);
}

TEST(MessageParseTest, AttributeLengthRunningPastMessageIsRejected) {
    auto m = route4_message();
    // The first attribute (RTA_TABLE) sits right after rtmsg.
    auto* attr = reinterpret_cast<nlattr*>(static_cast<std::byte*>(mnl_nlmsg_get_payload(m.nlh())) +
                                           MNL_ALIGN(sizeof(rtmsg)));
    ASSERT_EQ(attr->nla_type, RTA_TABLE);
    attr->nla_len = 200;
    const auto r = parse_route4(m.span());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::bad_message);
}

TEST(MessageParseTest, AttributeLengthBelowHeaderIsRejected) {
    auto m = route4_message();
    auto* attr = reinterpret_cast<nlattr*>(static_cast<std::byte*>(mnl_nlmsg_get_payload(m.nlh())) +
                                           MNL_ALIGN(sizeof(rtmsg)));
    attr->nla_len = 2;
    EXPECT_FALSE(parse_route4(m.span()));
}

TEST(MessageParseTest, GatewayOfWrongSizeIsRejected) {
    const std::array<std::uint8_t, 3> short_gw{192, 0, 2};
    Msg m(RTM_NEWROUTE, route_header(AF_INET, 0));
    m.addr(RTA_GATEWAY, short_gw).u32(RTA_OIF, 2);
    const auto r = parse_route4(m.span());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::bad_message);

    Msg v6(RTM_NEWROUTE, route_header(AF_INET6, 0));
    v6.addr(RTA_GATEWAY, ip4("192.0.2.1").b).u32(RTA_OIF, 2);
    EXPECT_FALSE(parse_route6(v6.span()));

    // Too long is as wrong as too short: an IPv6 gateway in an IPv4 route.
    Msg long_gw(RTM_NEWROUTE, route_header(AF_INET, 0));
    long_gw.addr(RTA_GATEWAY, ip6("2001:db8::1").b).u32(RTA_OIF, 2);
    EXPECT_FALSE(parse_route4(long_gw.span()));
}

TEST(MessageParseTest, MetricOfWrongSizeIsRejected) {
    const std::uint16_t two = 2;
    Msg m(RTM_NEWROUTE, route_header(AF_INET, 0));
    m.put(RTA_PRIORITY, &two, sizeof(two)).u32(RTA_OIF, 2);
    EXPECT_FALSE(parse_route4(m.span()));
}

TEST(MessageParseTest, PrefixLengthBeyondFamilyIsRejected) {
    Msg m(RTM_NEWROUTE, route_header(AF_INET, 33));
    m.addr(RTA_DST, ip4("203.0.113.0").b).u32(RTA_OIF, 2);
    EXPECT_FALSE(parse_route4(m.span()));
}

TEST(MessageParseTest, NonDefaultRouteWithoutDstIsRejected) {
    Msg m(RTM_NEWROUTE, route_header(AF_INET, 24));
    m.u32(RTA_OIF, 2);
    EXPECT_FALSE(parse_route4(m.span()));
}

TEST(MessageParseTest, UnknownAttributeTypeIsIgnored) {
    auto m = route4_message();
    m.u32(RTA_MAX + 5, 1);
    const auto r = parse_route4(m.span());
    ASSERT_TRUE(r);
    EXPECT_TRUE(r.value());
}

TEST(MessageParseTest, MisalignedMessageIsRejected) {
    const auto m = route4_message();
    alignas(4) std::array<std::byte, 256> copy{};
    std::memcpy(copy.data() + 1, m.span().data(), m.span().size());
    EXPECT_FALSE(parse_route4(std::span<const std::byte>(copy).subspan(1, m.span().size())));
}

ifaddrmsg addr_header(std::uint8_t family, std::uint8_t len, std::uint8_t scope, int index,
                      std::uint8_t flags = 0) {
    ifaddrmsg ifa{};
    ifa.ifa_family = family;
    ifa.ifa_prefixlen = len;
    ifa.ifa_scope = scope;
    ifa.ifa_index = static_cast<unsigned>(index);
    ifa.ifa_flags = flags;
    return ifa;
}

TEST(MessageParseTest, Addr4PrefersLocalOverAddress) {
    // A point-to-point address: IFA_ADDRESS is the peer.
    Msg m(RTM_NEWADDR, addr_header(AF_INET, 32, RT_SCOPE_UNIVERSE, 3));
    m.addr(IFA_ADDRESS, ip4("192.0.2.99").b).addr(IFA_LOCAL, ip4("192.0.2.10").b);
    const auto a = parse_addr4(m.span());
    ASSERT_TRUE(a);
    ASSERT_TRUE(a.value());
    EXPECT_EQ(a.value()->first, 3);
    EXPECT_EQ(a.value()->second, (Prefix4{ip4("192.0.2.10"), 32}));
}

TEST(MessageParseTest, Addr4WithoutLocalUsesAddress) {
    Msg m(RTM_NEWADDR, addr_header(AF_INET, 24, RT_SCOPE_UNIVERSE, 3));
    m.addr(IFA_ADDRESS, ip4("198.51.100.2").b);
    const auto a = parse_addr4(m.span());
    ASSERT_TRUE(a);
    ASSERT_TRUE(a.value());
    EXPECT_EQ(a.value()->second, (Prefix4{ip4("198.51.100.2"), 24}));
}

TEST(MessageParseTest, HostScopeAddrIsSkipped) {
    Msg m(RTM_NEWADDR, addr_header(AF_INET, 8, RT_SCOPE_HOST, 1));
    m.addr(IFA_LOCAL, ip4("127.0.0.1").b).addr(IFA_ADDRESS, ip4("127.0.0.1").b);
    const auto a = parse_addr4(m.span());
    ASSERT_TRUE(a);
    EXPECT_FALSE(a.value());
}

TEST(MessageParseTest, Addr6Parses) {
    Msg m(RTM_NEWADDR, addr_header(AF_INET6, 64, RT_SCOPE_UNIVERSE, 2));
    m.addr(IFA_ADDRESS, ip6("2001:db8::2").b).u32(IFA_FLAGS, IFA_F_PERMANENT);
    const auto a = parse_addr6(m.span());
    ASSERT_TRUE(a);
    ASSERT_TRUE(a.value());
    EXPECT_EQ(a.value()->first, 2);
    EXPECT_EQ(a.value()->second, (Prefix6{ip6("2001:db8::2"), 64}));
}

TEST(MessageParseTest, DeprecatedAddr6IsSkipped) {
    Msg in_field(RTM_NEWADDR, addr_header(AF_INET6, 64, RT_SCOPE_UNIVERSE, 2, IFA_F_DEPRECATED));
    in_field.addr(IFA_ADDRESS, ip6("2001:db8::2").b);
    const auto a = parse_addr6(in_field.span());
    ASSERT_TRUE(a);
    EXPECT_FALSE(a.value());

    // IFA_FLAGS, when present, is the full set and wins over the 8-bit field.
    Msg in_attr(RTM_NEWADDR, addr_header(AF_INET6, 64, RT_SCOPE_UNIVERSE, 2));
    in_attr.addr(IFA_ADDRESS, ip6("2001:db8::2").b).u32(IFA_FLAGS, IFA_F_DADFAILED);
    const auto b = parse_addr6(in_attr.span());
    ASSERT_TRUE(b);
    EXPECT_FALSE(b.value());
}

TEST(MessageParseTest, LinkLocalAddr6IsSkipped) {
    Msg m(RTM_NEWADDR, addr_header(AF_INET6, 64, RT_SCOPE_LINK, 2));
    m.addr(IFA_ADDRESS, ip6("fe80::1").b);
    const auto a = parse_addr6(m.span());
    ASSERT_TRUE(a);
    EXPECT_FALSE(a.value());
}

TEST(MessageParseTest, AddrWithoutAddressIsRejected) {
    Msg m(RTM_NEWADDR, addr_header(AF_INET, 24, RT_SCOPE_UNIVERSE, 3));
    m.u32(IFA_FLAGS, 0);
    const auto a = parse_addr4(m.span());
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error(), std::errc::bad_message);
}

TEST(MessageParseTest, AddrOfWrongSizeIsRejected) {
    Msg m(RTM_NEWADDR, addr_header(AF_INET6, 64, RT_SCOPE_UNIVERSE, 2));
    m.addr(IFA_ADDRESS, ip4("192.0.2.1").b);
    EXPECT_FALSE(parse_addr6(m.span()));
}

ifinfomsg link_header(int index, unsigned flags) {
    ifinfomsg ifi{};
    ifi.ifi_index = index;
    ifi.ifi_flags = flags;
    return ifi;
}

TEST(MessageParseTest, LinkParses) {
    const Mac mac = *Mac::parse("52:54:00:12:34:56");
    Msg m(RTM_NEWLINK, link_header(2, IFF_UP | IFF_BROADCAST));
    m.str(IFLA_IFNAME, "eth0").u32(IFLA_MTU, 1500).addr(IFLA_ADDRESS, mac.b);
    const auto l = parse_link(m.span());
    ASSERT_TRUE(l);
    ASSERT_TRUE(l.value());
    EXPECT_EQ(l.value()->index, 2);
    EXPECT_EQ(l.value()->name, "eth0");
    EXPECT_EQ(l.value()->mtu, 1500u);
    EXPECT_EQ(l.value()->mac, mac);
    EXPECT_TRUE(l.value()->up);
    EXPECT_FALSE(l.value()->loopback);
}

TEST(MessageParseTest, LoopbackLinkIsFlagged) {
    Msg m(RTM_NEWLINK, link_header(1, IFF_UP | IFF_LOOPBACK));
    m.str(IFLA_IFNAME, "lo").u32(IFLA_MTU, 65536);
    const auto l = parse_link(m.span());
    ASSERT_TRUE(l);
    ASSERT_TRUE(l.value());
    EXPECT_TRUE(l.value()->loopback);
    EXPECT_TRUE(l.value()->mac.is_zero());
}

TEST(MessageParseTest, LinkWithNonEthernetAddressHasZeroMac) {
    const std::array<std::uint8_t, 4> tunnel_addr{192, 0, 2, 1};
    Msg m(RTM_NEWLINK, link_header(9, 0));
    m.str(IFLA_IFNAME, "gre1").addr(IFLA_ADDRESS, tunnel_addr);
    const auto l = parse_link(m.span());
    ASSERT_TRUE(l);
    ASSERT_TRUE(l.value());
    EXPECT_TRUE(l.value()->mac.is_zero());
    EXPECT_FALSE(l.value()->up);
}

TEST(MessageParseTest, LinkNameWithoutNulIsRejected) {
    Msg m(RTM_NEWLINK, link_header(2, 0));
    m.put(IFLA_IFNAME, "eth0", 4);
    const auto l = parse_link(m.span());
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error(), std::errc::bad_message);
}

TEST(MessageParseTest, LinkNameLongerThanIfnamsizIsRejected) {
    const std::string name(IFNAMSIZ + 3, 'n');
    Msg m(RTM_NEWLINK, link_header(2, 0));
    m.str(IFLA_IFNAME, name.c_str());
    EXPECT_FALSE(parse_link(m.span()));
}

TEST(MessageParseTest, LinkWithoutNameIsRejected) {
    Msg m(RTM_NEWLINK, link_header(2, 0));
    m.u32(IFLA_MTU, 1500);
    EXPECT_FALSE(parse_link(m.span()));
}

TEST(MessageParseTest, LinkMtuOfWrongSizeIsRejected) {
    const std::uint64_t mtu = 1500;
    Msg m(RTM_NEWLINK, link_header(2, 0));
    m.str(IFLA_IFNAME, "eth0").put(IFLA_MTU, &mtu, sizeof(mtu));
    EXPECT_FALSE(parse_link(m.span()));
}

// ---- Exchanges --------------------------------------------------------------

constexpr std::uint32_t kSeq = 7;
constexpr std::uint32_t kPort = 42;

// Appends a control message (NLMSG_ERROR or NLMSG_DONE) with status `status`.
void put_control(Bytes& datagram, std::uint16_t type, std::int32_t status,
                 std::uint32_t seq = kSeq) {
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_seq = seq;
    h.nlmsg_pid = kPort;
    h.nlmsg_len = static_cast<std::uint32_t>(
        NLMSG_HDRLEN + (type == NLMSG_ERROR ? sizeof(nlmsgerr) : sizeof(status)));
    const auto start = datagram.size();
    datagram.resize(start + NLMSG_ALIGN(h.nlmsg_len));
    std::memcpy(datagram.data() + start, &h, sizeof(h));
    std::memcpy(datagram.data() + start + NLMSG_HDRLEN, &status, sizeof(status));
}

void put_message(Bytes& datagram, const Msg& m) {
    const auto s = m.span();
    datagram.insert(datagram.end(), s.begin(), s.end());
    datagram.resize(NLMSG_ALIGN(datagram.size()));
}

// Feeds `datagram` through an aligned copy and counts the replies seen.
struct Feeder {
    Exchange ex;
    int replies = 0;
    std::error_code reply_error;

    void feed(const Bytes& datagram) {
        Buffer copy;
        std::memcpy(copy.b.data(), datagram.data(), datagram.size());
        feed_datagram(ex, std::span<const std::byte>(copy.b).first(datagram.size()), kSeq, kPort,
                      [this](std::span<const std::byte> msg) {
                          ++replies;
                          EXPECT_TRUE(parse_route4(msg));
                          return reply_error;
                      });
    }
};

TEST(ExchangeTest, AckFinishesWithoutError) {
    Bytes d;
    put_control(d, NLMSG_ERROR, 0);
    Feeder f;
    f.feed(d);
    EXPECT_TRUE(f.ex.finished);
    EXPECT_FALSE(f.ex.error);
}

TEST(ExchangeTest, KernelErrorBecomesErrorCode) {
    Bytes d;
    put_control(d, NLMSG_ERROR, -EEXIST);
    Feeder f;
    f.feed(d);
    EXPECT_TRUE(f.ex.finished);
    EXPECT_EQ(f.ex.error, std::errc::file_exists);
}

TEST(ExchangeTest, DumpRepliesReachCallbackUntilDone) {
    Bytes d;
    put_message(d, route4_message());
    put_message(d, route4_message());
    Feeder f;
    f.feed(d);
    EXPECT_FALSE(f.ex.finished);
    EXPECT_EQ(f.replies, 2);

    Bytes last;
    put_message(last, route4_message());
    put_control(last, NLMSG_DONE, 0);
    f.feed(last);
    EXPECT_TRUE(f.ex.finished);
    EXPECT_FALSE(f.ex.error);
    EXPECT_EQ(f.replies, 3);
}

TEST(ExchangeTest, DoneWithNegativeStatusReportsIt) {
    Bytes d;
    put_control(d, NLMSG_DONE, -ENOBUFS);
    Feeder f;
    f.feed(d);
    EXPECT_TRUE(f.ex.finished);
    EXPECT_EQ(f.ex.error, std::errc::no_buffer_space);
}

TEST(ExchangeTest, MessagesOfOtherSequenceAreSkipped) {
    Bytes d;
    auto stale = route4_message();
    stale.nlh()->nlmsg_seq = kSeq - 1;
    put_message(d, stale);
    put_control(d, NLMSG_ERROR, -EEXIST, kSeq - 1);
    put_control(d, NLMSG_ERROR, 0);
    Feeder f;
    f.feed(d);
    EXPECT_TRUE(f.ex.finished);
    EXPECT_FALSE(f.ex.error);
    EXPECT_EQ(f.replies, 0);
}

TEST(ExchangeTest, InterruptedDumpIsFlagged) {
    Bytes d;
    auto m = route4_message();
    m.nlh()->nlmsg_flags |= NLM_F_DUMP_INTR;
    put_message(d, m);
    put_control(d, NLMSG_DONE, 0);
    Feeder f;
    f.feed(d);
    EXPECT_TRUE(f.ex.finished);
    EXPECT_TRUE(f.ex.interrupted);
}

TEST(ExchangeTest, ReplyErrorIsKeptAndRestDrained) {
    Bytes d;
    put_message(d, route4_message());
    put_message(d, route4_message());
    put_control(d, NLMSG_DONE, 0);
    Feeder f;
    f.reply_error = std::make_error_code(std::errc::bad_message);
    f.feed(d);
    EXPECT_TRUE(f.ex.finished);
    EXPECT_EQ(f.ex.error, std::errc::bad_message);
    EXPECT_EQ(f.replies, 1);  // nothing handed on after the first failure
}

TEST(ExchangeTest, MessageLengthPastDatagramIsRejected) {
    Bytes d;
    auto m = route4_message();
    put_message(d, m);
    const std::uint32_t lie = static_cast<std::uint32_t>(d.size() + 64);
    std::memcpy(d.data(), &lie, sizeof(lie));
    Feeder f;
    f.feed(d);
    EXPECT_TRUE(f.ex.finished);
    EXPECT_EQ(f.ex.error, std::errc::bad_message);
    EXPECT_EQ(f.replies, 0);
}

TEST(ExchangeTest, ShortErrorMessageIsRejected) {
    Bytes d(NLMSG_HDRLEN);
    nlmsghdr h{};
    h.nlmsg_len = NLMSG_HDRLEN;
    h.nlmsg_type = NLMSG_ERROR;
    h.nlmsg_seq = kSeq;
    h.nlmsg_pid = kPort;
    std::memcpy(d.data(), &h, sizeof(h));
    Feeder f;
    f.feed(d);
    EXPECT_TRUE(f.ex.finished);
    EXPECT_EQ(f.ex.error, std::errc::bad_message);
}

}  // namespace
}  // namespace pastad::netlink

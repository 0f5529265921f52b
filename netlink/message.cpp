// SPDX-License-Identifier: GPL-2.0-or-later
// netlink/message.cpp - building rtnetlink requests and parsing replies, without a socket
//
// Requests are written with libmnl's bounded attribute writers into a
// caller's buffer. Replies are read with libmnl's length checks
// (mnl_nlmsg_ok, mnl_attr_ok) and type checks (mnl_attr_type_valid,
// mnl_attr_validate) before any field is used; fixed headers are copied out
// with memcpy. Unlike mnl_attr_parse(), the attribute walk here also rejects
// bytes left over after the last attribute, which is what a truncated or
// length-lying attribute leaves behind.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <climits>
#include <cstdint>
#include <cstring>

#include "netlink/netlink.hpp"

namespace pastad::netlink {

namespace {

std::error_code err(std::errc e) {
    return std::make_error_code(e);
}

bool aligned(const void* p) {
    return reinterpret_cast<std::uintptr_t>(p) % NLMSG_ALIGNTO == 0;
}

// Address family constants per address type.
template <typename Addr>
struct Family;
template <>
struct Family<Ip4> {
    static constexpr std::uint8_t kAf = AF_INET;
    static constexpr unsigned kBits = 32;
};
template <>
struct Family<Ip6> {
    static constexpr std::uint8_t kAf = AF_INET6;
    static constexpr unsigned kBits = 128;
};

// Writes one request: netlink header, fixed family header, then attributes.
// The first failure sticks, so callers check once in finish().
class Builder {
public:
    template <typename Hdr>
    Builder(std::span<std::byte> buf, std::uint16_t type, std::uint16_t flags, std::uint32_t seq,
            const Hdr& hdr)
        : size_(buf.size()) {
        if (!aligned(buf.data())) {
            error_ = err(std::errc::invalid_argument);
            return;
        }
        if (buf.size() < MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(Hdr))) {
            error_ = err(std::errc::no_buffer_space);
            return;
        }
        nlh_ = mnl_nlmsg_put_header(buf.data());
        nlh_->nlmsg_type = type;
        nlh_->nlmsg_flags = flags;
        nlh_->nlmsg_seq = seq;
        std::memcpy(mnl_nlmsg_put_extra_header(nlh_, sizeof(Hdr)), &hdr, sizeof(Hdr));
    }

    void put(std::uint16_t type, std::size_t len, const void* data) {
        if (!error_ && !mnl_attr_put_check(nlh_, size_, type, len, data)) {
            error_ = err(std::errc::no_buffer_space);
        }
    }
    void put_u32(std::uint16_t type, std::uint32_t v) { put(type, sizeof(v), &v); }
    void put_strz(std::uint16_t type, const std::string& s) { put(type, s.size() + 1, s.c_str()); }

    Result<std::size_t> finish() const {
        if (error_) {
            return error_;
        }
        return std::size_t{nlh_->nlmsg_len};
    }

private:
    std::size_t size_;
    nlmsghdr* nlh_ = nullptr;
    std::error_code error_;
};

constexpr std::uint16_t kNewFlags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;

// Sizes and payload checks of one received message, done once.
struct Checked {
    std::uint16_t type = 0;
    std::span<const std::byte> body;  // after the netlink header, within nlmsg_len
};

std::optional<Checked> check_message(std::span<const std::byte> msg) {
    if (!aligned(msg.data()) || msg.size() < sizeof(nlmsghdr) || msg.size() > INT_MAX) {
        return std::nullopt;
    }
    nlmsghdr h;
    std::memcpy(&h, msg.data(), sizeof(h));
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > msg.size()) {
        return std::nullopt;
    }
    return Checked{h.nlmsg_type, msg.subspan(NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN)};
}

// Copies the fixed family header out of `body` and returns the attributes
// after it; nothing when the body is too short to hold the header.
template <typename Hdr>
std::optional<std::span<const std::byte>> family_header(std::span<const std::byte> body, Hdr& hdr) {
    if (body.size() < sizeof(Hdr)) {
        return std::nullopt;
    }
    std::memcpy(&hdr, body.data(), sizeof(Hdr));
    const std::size_t skip = NLMSG_ALIGN(sizeof(Hdr));
    return body.subspan(skip < body.size() ? skip : body.size());
}

// Calls fn(attr) for each attribute of `attrs`. False when fn rejects one,
// when an attribute claims more bytes than remain (mnl_attr_ok), or when
// bytes remain after the last attribute that parses. Only the final
// attribute's alignment padding may be missing.
template <typename Fn>
bool walk_attrs(std::span<const std::byte> attrs, Fn&& fn) {
    if (!aligned(attrs.data()) || attrs.size() > INT_MAX) {
        return false;
    }
    // libmnl's accessors read through nlattr pointers; the alignment they
    // need was checked above and each length by mnl_attr_ok before use.
    const auto* attr = reinterpret_cast<const nlattr*>(attrs.data());
    int left = static_cast<int>(attrs.size());
    while (mnl_attr_ok(attr, left)) {
        if (!fn(attr)) {
            return false;
        }
        const int step = static_cast<int>(MNL_ALIGN(mnl_attr_get_len(attr)));
        if (step >= left) {
            return true;
        }
        left -= step;
        attr = mnl_attr_next(attr);
    }
    return left == 0;
}

std::span<const std::byte> payload(const nlattr* attr) {
    return {static_cast<const std::byte*>(mnl_attr_get_payload(attr)),
            mnl_attr_get_payload_len(attr)};
}

// Reads an address attribute that must be exactly the family's size.
template <typename Addr>
bool read_addr(const nlattr* attr, std::optional<Addr>& out) {
    Addr a;
    if (mnl_attr_validate2(attr, MNL_TYPE_BINARY, a.b.size()) < 0) {
        return false;
    }
    std::memcpy(a.b.data(), mnl_attr_get_payload(attr), a.b.size());
    out = a;
    return true;
}

bool read_u32(const nlattr* attr, std::uint32_t& out) {
    if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0) {
        return false;
    }
    out = mnl_attr_get_u32(attr);
    return true;
}

// Builds one of the two address requests.
template <typename Addr>
Result<std::size_t> build_addr(std::span<std::byte> buf, std::uint32_t seq, int ifindex,
                               const Prefix<Addr>& p, std::uint32_t flags) {
    if (ifindex <= 0 || p.len > Family<Addr>::kBits) {
        return err(std::errc::invalid_argument);
    }
    ifaddrmsg ifa{};
    ifa.ifa_family = Family<Addr>::kAf;
    ifa.ifa_prefixlen = p.len;
    ifa.ifa_flags = static_cast<std::uint8_t>(flags & 0xff);
    ifa.ifa_scope = RT_SCOPE_UNIVERSE;
    ifa.ifa_index = static_cast<unsigned>(ifindex);
    Builder b(buf, RTM_NEWADDR, kNewFlags, seq, ifa);
    // IPv4 needs both: IFA_LOCAL is the interface's address, IFA_ADDRESS the
    // prefix's (the peer on point-to-point links). IPv6 reads IFA_ADDRESS.
    if constexpr (std::is_same_v<Addr, Ip4>) {
        b.put(IFA_LOCAL, p.addr.b.size(), p.addr.b.data());
    }
    b.put(IFA_ADDRESS, p.addr.b.size(), p.addr.b.data());
    if (flags != 0) {
        // IFA_FLAGS (kernel 3.14) carries flags beyond the 8-bit field.
        b.put_u32(IFA_FLAGS, flags);
    }
    return b.finish();
}

template <typename Addr>
Result<std::size_t> build_route(std::span<std::byte> buf, std::uint32_t seq, int ifindex,
                                const Route<Addr>& r, bool onlink) {
    if (ifindex <= 0 || r.dst.len > Family<Addr>::kBits) {
        return err(std::errc::invalid_argument);
    }
    rtmsg rtm{};
    rtm.rtm_family = Family<Addr>::kAf;
    rtm.rtm_dst_len = r.dst.len;
    rtm.rtm_table = RT_TABLE_MAIN;
    rtm.rtm_protocol = RTPROT_BOOT;
    // A route without gateway reaches its destinations directly on the link.
    rtm.rtm_scope = r.gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
    rtm.rtm_type = RTN_UNICAST;
    rtm.rtm_flags = onlink ? RTNH_F_ONLINK : 0;
    Builder b(buf, RTM_NEWROUTE, kNewFlags, seq, rtm);
    if (r.dst.len > 0) {
        b.put(RTA_DST, r.dst.addr.b.size(), r.dst.addr.b.data());
    }
    if (r.gw) {
        b.put(RTA_GATEWAY, r.gw->b.size(), r.gw->b.data());
    }
    b.put_u32(RTA_OIF, static_cast<std::uint32_t>(ifindex));
    if (r.metric != 0) {
        b.put_u32(RTA_PRIORITY, r.metric);
    }
    b.put_u32(RTA_TABLE, RT_TABLE_MAIN);
    return b.finish();
}

template <typename Addr>
Result<std::optional<std::pair<int, Prefix<Addr>>>> parse_addr(std::span<const std::byte> msg) {
    using Out = std::optional<std::pair<int, Prefix<Addr>>>;
    const auto m = check_message(msg);
    if (!m) {
        return err(std::errc::bad_message);
    }
    if (m->type != RTM_NEWADDR) {
        return Out{};
    }
    ifaddrmsg ifa;
    const auto attrs = family_header(m->body, ifa);
    if (!attrs) {
        return err(std::errc::bad_message);
    }

    std::optional<Addr> address;
    std::optional<Addr> local;
    std::uint32_t flags = ifa.ifa_flags;
    const bool ok = walk_attrs(*attrs, [&](const nlattr* attr) {
        if (mnl_attr_type_valid(attr, IFA_MAX) < 0) {
            return true;  // newer than our headers: not ours to read
        }
        switch (mnl_attr_get_type(attr)) {
            case IFA_ADDRESS:
                return ifa.ifa_family != Family<Addr>::kAf || read_addr(attr, address);
            case IFA_LOCAL:
                return ifa.ifa_family != Family<Addr>::kAf || read_addr(attr, local);
            case IFA_FLAGS:
                return read_u32(attr, flags);
            default:
                return true;
        }
    });
    if (!ok) {
        return err(std::errc::bad_message);
    }
    if (ifa.ifa_family != Family<Addr>::kAf || ifa.ifa_scope != RT_SCOPE_UNIVERSE) {
        return Out{};
    }
    if (ifa.ifa_prefixlen > Family<Addr>::kBits || (!local && !address) || ifa.ifa_index == 0 ||
        ifa.ifa_index > INT_MAX) {
        return err(std::errc::bad_message);
    }
    // Deprecated addresses must not be used for new connections (RFC 4862
    // 5.5.4) and ones that failed DAD never become usable. Tentative ones
    // are kept: DAD ends within seconds, and dropping them would make the
    // namespace's addresses depend on how soon after boot pastad started.
    if (flags & (IFA_F_DEPRECATED | IFA_F_DADFAILED)) {
        return Out{};
    }
    // IFA_LOCAL, when present, is the interface's own address; IFA_ADDRESS
    // is then the peer of a point-to-point link.
    return Out{{static_cast<int>(ifa.ifa_index),
                Prefix<Addr>{local ? *local : *address, ifa.ifa_prefixlen}}};
}

// Reads the first next hop of an RTA_MULTIPATH attribute (struct rtnexthop
// followed by its own attributes) into `oif` and `gw`.
// Limitation: only the first next hop of a multipath route is used; the
// namespace gets a single-path route through it.
template <typename Addr>
bool read_first_nexthop(const nlattr* attr, int& oif, std::optional<Addr>& gw) {
    const auto p = payload(attr);
    rtnexthop nh;
    if (p.size() < sizeof(nh)) {
        return false;
    }
    std::memcpy(&nh, p.data(), sizeof(nh));
    if (nh.rtnh_len < sizeof(nh) || nh.rtnh_len > p.size()) {
        return false;
    }
    static_assert(RTNH_ALIGN(sizeof(rtnexthop)) == sizeof(rtnexthop), "attributes follow directly");
    const auto nested = p.subspan(sizeof(nh), nh.rtnh_len - sizeof(nh));
    oif = nh.rtnh_ifindex;
    return walk_attrs(nested, [&](const nlattr* a) {
        if (mnl_attr_get_type(a) == RTA_GATEWAY) {
            return read_addr(a, gw);
        }
        return true;
    });
}

template <typename Addr>
Result<std::optional<Route<Addr>>> parse_route(std::span<const std::byte> msg) {
    using Out = std::optional<Route<Addr>>;
    const auto m = check_message(msg);
    if (!m) {
        return err(std::errc::bad_message);
    }
    if (m->type != RTM_NEWROUTE) {
        return Out{};
    }
    rtmsg rtm;
    const auto attrs = family_header(m->body, rtm);
    if (!attrs) {
        return err(std::errc::bad_message);
    }
    if (rtm.rtm_family != Family<Addr>::kAf) {
        return Out{};
    }

    Route<Addr> r;
    std::optional<Addr> dst;
    std::uint32_t table = rtm.rtm_table;
    std::uint32_t oif = 0;
    int mp_oif = 0;
    std::optional<Addr> mp_gw;
    const bool ok = walk_attrs(*attrs, [&](const nlattr* attr) {
        if (mnl_attr_type_valid(attr, RTA_MAX) < 0) {
            return true;
        }
        switch (mnl_attr_get_type(attr)) {
            case RTA_DST:
                return read_addr(attr, dst);
            case RTA_GATEWAY:
                return read_addr(attr, r.gw);
            case RTA_OIF:
                return read_u32(attr, oif);
            case RTA_PRIORITY:
                return read_u32(attr, r.metric);
            case RTA_TABLE:  // table ids above 255 only fit here
                return read_u32(attr, table);
            case RTA_MULTIPATH:
                return read_first_nexthop(attr, mp_oif, mp_gw);
            default:
                return true;
        }
    });
    if (!ok || rtm.rtm_dst_len > Family<Addr>::kBits || (!dst && rtm.rtm_dst_len != 0) ||
        oif > INT_MAX) {
        return err(std::errc::bad_message);
    }
    // Cached clones (IPv6 exceptions, PMTU entries) are not configuration.
    if (table != RT_TABLE_MAIN || rtm.rtm_type != RTN_UNICAST || (rtm.rtm_flags & RTM_F_CLONED)) {
        return Out{};
    }
    r.dst = Prefix<Addr>{dst.value_or(Addr{}), rtm.rtm_dst_len};
    r.oif = static_cast<int>(oif);
    if (r.oif == 0 && mp_oif > 0) {
        r.oif = mp_oif;
        r.gw = mp_gw;
    }
    return Out{r};
}

}  // namespace

Result<std::size_t> build_dump(std::span<std::byte> buf, std::uint32_t seq, std::uint16_t type,
                               std::uint8_t family) {
    constexpr std::uint16_t kFlags = NLM_F_REQUEST | NLM_F_DUMP;
    switch (type) {
        case RTM_GETLINK: {
            ifinfomsg ifi{};
            ifi.ifi_family = family;
            return Builder(buf, type, kFlags, seq, ifi).finish();
        }
        case RTM_GETADDR: {
            ifaddrmsg ifa{};
            ifa.ifa_family = family;
            return Builder(buf, type, kFlags, seq, ifa).finish();
        }
        case RTM_GETROUTE: {
            rtmsg rtm{};
            rtm.rtm_family = family;
            return Builder(buf, type, kFlags, seq, rtm).finish();
        }
        default:
            return err(std::errc::invalid_argument);
    }
}

Result<std::size_t> build_get_link(std::span<std::byte> buf, std::uint32_t seq,
                                   const std::string& name) {
    if (name.empty() || name.size() >= IFNAMSIZ || name.find('\0') != std::string::npos) {
        return err(std::errc::invalid_argument);
    }
    ifinfomsg ifi{};
    Builder b(buf, RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifi);
    b.put_strz(IFLA_IFNAME, name);
    return b.finish();
}

Result<std::size_t> build_link_change(std::span<std::byte> buf, std::uint32_t seq, int ifindex,
                                      const LinkChange& change) {
    if (ifindex <= 0) {
        return err(std::errc::invalid_argument);
    }
    ifinfomsg ifi{};
    ifi.ifi_index = ifindex;
    if (change.up) {
        ifi.ifi_flags = IFF_UP;
        ifi.ifi_change = IFF_UP;  // only this flag is touched
    }
    Builder b(buf, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifi);
    if (change.mtu) {
        b.put_u32(IFLA_MTU, *change.mtu);
    }
    if (change.mac) {
        b.put(IFLA_ADDRESS, change.mac->b.size(), change.mac->b.data());
    }
    return b.finish();
}

Result<std::size_t> build_add_addr(std::span<std::byte> buf, std::uint32_t seq, int ifindex,
                                   const Prefix4& p) {
    return build_addr(buf, seq, ifindex, p, 0);
}

Result<std::size_t> build_add_addr(std::span<std::byte> buf, std::uint32_t seq, int ifindex,
                                   const Prefix6& p, bool nodad) {
    return build_addr(buf, seq, ifindex, p, nodad ? IFA_F_NODAD : 0);
}

Result<std::size_t> build_add_route(std::span<std::byte> buf, std::uint32_t seq, int ifindex,
                                    const Route4& r, bool onlink) {
    return build_route(buf, seq, ifindex, r, onlink);
}

Result<std::size_t> build_add_route(std::span<std::byte> buf, std::uint32_t seq, int ifindex,
                                    const Route6& r, bool onlink) {
    return build_route(buf, seq, ifindex, r, onlink);
}

Result<std::optional<Link>> parse_link(std::span<const std::byte> msg) {
    const auto m = check_message(msg);
    if (!m) {
        return err(std::errc::bad_message);
    }
    if (m->type != RTM_NEWLINK) {
        return std::optional<Link>{};
    }
    ifinfomsg ifi;
    const auto attrs = family_header(m->body, ifi);
    if (!attrs) {
        return err(std::errc::bad_message);
    }

    Link link;
    bool named = false;
    const bool ok = walk_attrs(*attrs, [&](const nlattr* attr) {
        if (mnl_attr_type_valid(attr, IFLA_MAX) < 0) {
            return true;
        }
        switch (mnl_attr_get_type(attr)) {
            case IFLA_IFNAME:
                if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0 ||
                    mnl_attr_get_payload_len(attr) > IFNAMSIZ) {
                    return false;
                }
                link.name = mnl_attr_get_str(attr);
                named = true;
                return true;
            case IFLA_MTU:
                return read_u32(attr, link.mtu);
            case IFLA_ADDRESS:
                // Only Ethernet-like links have a 6-byte address; others
                // (tunnels, tun in L3 mode) keep a zero MAC.
                if (mnl_attr_get_payload_len(attr) == link.mac.b.size()) {
                    std::memcpy(link.mac.b.data(), mnl_attr_get_payload(attr), link.mac.b.size());
                }
                return true;
            default:
                return true;
        }
    });
    if (!ok || !named || ifi.ifi_index <= 0) {
        return err(std::errc::bad_message);
    }
    link.index = ifi.ifi_index;
    link.up = (ifi.ifi_flags & IFF_UP) != 0;
    link.loopback = (ifi.ifi_flags & IFF_LOOPBACK) != 0;
    return std::optional<Link>{std::move(link)};
}

Result<std::optional<std::pair<int, Prefix4>>> parse_addr4(std::span<const std::byte> msg) {
    return parse_addr<Ip4>(msg);
}

Result<std::optional<std::pair<int, Prefix6>>> parse_addr6(std::span<const std::byte> msg) {
    return parse_addr<Ip6>(msg);
}

Result<std::optional<Route4>> parse_route4(std::span<const std::byte> msg) {
    return parse_route<Ip4>(msg);
}

Result<std::optional<Route6>> parse_route6(std::span<const std::byte> msg) {
    return parse_route<Ip6>(msg);
}

namespace {

// Handles one message of an exchange whose length is already checked.
void handle_message(Exchange& ex, std::span<const std::byte> msg, std::uint32_t seq,
                    std::uint32_t portid, const MessageFn& on_msg) {
    nlmsghdr h;
    std::memcpy(&h, msg.data(), sizeof(h));
    if (h.nlmsg_seq != seq || h.nlmsg_pid != portid) {
        return;  // left over from an earlier, abandoned exchange
    }
    if (h.nlmsg_flags & NLM_F_DUMP_INTR) {
        ex.interrupted = true;
    }
    const auto body = msg.subspan(NLMSG_HDRLEN);
    switch (h.nlmsg_type) {
        case NLMSG_ERROR:
        case NLMSG_DONE: {
            // An ack or error carries struct nlmsgerr, whose first member is
            // the negative errno (0: success); NLMSG_DONE carries the dump's
            // status the same way.
            std::int32_t status = 0;
            if (body.size() >= sizeof(status)) {
                std::memcpy(&status, body.data(), sizeof(status));
            } else if (h.nlmsg_type == NLMSG_ERROR) {
                status = -EBADMSG;
            }
            if (status > 0 || status == INT_MIN) {
                status = -EBADMSG;
            }
            if (status < 0 && !ex.error) {
                ex.error = errno_code(-status);
            }
            ex.finished = true;
            return;
        }
        default:
            if (h.nlmsg_type >= NLMSG_MIN_TYPE && !ex.error) {
                ex.error = on_msg(msg);
            }
            return;
    }
}

}  // namespace

void feed_datagram(Exchange& ex, std::span<const std::byte> datagram, std::uint32_t seq,
                   std::uint32_t portid, const MessageFn& on_msg) {
    if (!aligned(datagram.data()) || datagram.size() > INT_MAX) {
        ex.error = err(std::errc::invalid_argument);
        ex.finished = true;
        return;
    }
    // mnl_nlmsg_ok() checks each header and its length against what is left
    // before the message is looked at; mnl_nlmsg_next() steps over it.
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(datagram.data());
    int left = static_cast<int>(datagram.size());
    while (!ex.finished && mnl_nlmsg_ok(nlh, left)) {
        handle_message(ex, {reinterpret_cast<const std::byte*>(nlh), nlh->nlmsg_len}, seq, portid,
                       on_msg);
        const int step = static_cast<int>(MNL_ALIGN(nlh->nlmsg_len));
        if (step >= left) {
            return;  // that was the last one; its padding may be missing
        }
        nlh = mnl_nlmsg_next(nlh, &left);
    }
    if (!ex.finished && left != 0) {
        if (!ex.error) {
            ex.error = err(std::errc::bad_message);
        }
        ex.finished = true;
    }
}

}  // namespace pastad::netlink

// SPDX-License-Identifier: GPL-2.0-or-later
// tap/dhcp.cpp - a DHCPv4 server that hands the namespace the host's address
//
// Theory of operation
// ===================
//
// What. Answers DHCPDISCOVER with DHCPOFFER, DHCPREQUEST with DHCPACK (or
// DHCPNAK when the client asks for another address) and DHCPINFORM with a
// DHCPACK carrying only configuration (RFC 2131 sections 3.1, 3.4). The
// address offered is always the namespace's (the host's own address, so no
// NAT is needed), with an infinite lease. Options: subnet mask (1), router
// (3), DNS servers (6), host name (12), MTU (26), lease (51), server
// identifier (54), client FQDN (81, RFC 4702) and domain search list (119,
// RFC 3397), longer options split as RFC 3396 says. Every option configured
// is sent, whether or not the client's parameter request list names it, as
// pasta does; an option left empty in the configuration is left out.
//
// Client FQDN: pastad updates no DNS records, it only tells the client its
// name. The flags carry E (canonical wire format, RFC 4702 section 2.1)
// and nothing else, both RCODEs are 255 (section 2.2), as pasta sends them.
//
// What not. No relay agents (giaddr), no address pool, no lease database,
// no DHCPDECLINE or DHCPRELEASE handling (there is nothing to free), no
// option overload of the sname/file fields.
//
// Answers go to the client's hardware address and to 255.255.255.255
// (the client has no address yet), or to ciaddr when the client has one;
// from the server identifier, port 67 to 68.
//
// Failure. Anything that is not a well-formed BOOTREQUEST with the magic
// cookie and a message type option is reported as malformed and dropped;
// each option's length is checked against the bytes that are there.
//
// References. RFC 2131 (DHCP), RFC 2132 (options), RFC 3396 (long
// options), RFC 3397 (domain search), RFC 4702 (client FQDN).
#include "tap/dhcp.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace pastad::tap {

namespace {

constexpr std::size_t kBootpFixed = 236;
constexpr std::size_t kOptionsStart = kBootpFixed + 4;  // after the magic cookie
constexpr std::array<std::uint8_t, 4> kMagic = {99, 130, 83, 99};
constexpr std::size_t kMaxReply = 1500;

enum : std::uint8_t {
    kOptPad = 0,
    kOptMask = 1,
    kOptRouter = 3,
    kOptDns = 6,
    kOptHostname = 12,
    kOptMtu = 26,
    kOptRequestedIp = 50,
    kOptLease = 51,
    kOptMsgType = 53,
    kOptServerId = 54,
    kOptClientFqdn = 81,
    kOptSearch = 119,
    kOptEnd = 255,
};

enum : std::uint8_t {
    kMsgDiscover = 1,
    kMsgOffer = 2,
    kMsgRequest = 3,
    kMsgAck = 5,
    kMsgNak = 6,
    kMsgInform = 8,
};

std::uint8_t byte_at(std::span<const std::byte> b, std::size_t i) {
    return std::to_integer<std::uint8_t>(b[i]);
}

Ip4 ip_at(std::span<const std::byte> b, std::size_t i) {
    Ip4 a;
    std::memcpy(a.b.data(), b.data() + i, 4);
    return a;
}

struct Request {
    std::uint8_t type = 0;
    std::optional<Ip4> server_id;
    std::optional<Ip4> requested;
};

// Walks the options after the cookie; false when one runs past the end.
bool parse_options(std::span<const std::byte> m, Request& r) {
    std::size_t i = kOptionsStart;
    while (i < m.size()) {
        const std::uint8_t code = byte_at(m, i);
        if (code == kOptEnd) {
            return true;
        }
        if (code == kOptPad) {
            ++i;
            continue;
        }
        if (i + 2 > m.size() || i + 2 + byte_at(m, i + 1) > m.size()) {
            return false;
        }
        const std::size_t len = byte_at(m, i + 1);
        const std::size_t v = i + 2;
        if (code == kOptMsgType && len == 1) {
            r.type = byte_at(m, v);
        } else if (code == kOptServerId && len == 4) {
            r.server_id = ip_at(m, v);
        } else if (code == kOptRequestedIp && len == 4) {
            r.requested = ip_at(m, v);
        }
        i = v + len;
    }
    return true;  // some clients leave out the end option
}

// Appends one option, split into 255-byte pieces (RFC 3396).
class OptionWriter {
public:
    explicit OptionWriter(std::span<std::byte> buf, std::size_t at) : buf_(buf), at_(at) {}
    void add(std::uint8_t code, std::span<const std::byte> value) {
        std::size_t done = 0;
        do {
            const std::size_t n = std::min<std::size_t>(value.size() - done, 255);
            if (!room(2 + n)) {
                return;
            }
            buf_[at_++] = std::byte{code};
            buf_[at_++] = static_cast<std::byte>(n);
            std::memcpy(buf_.data() + at_, value.data() + done, n);
            at_ += n;
            done += n;
        } while (done < value.size());
    }
    void add32(std::uint8_t code, std::uint32_t v) {
        const std::array<std::byte, 4> b = {
            static_cast<std::byte>(v >> 24), static_cast<std::byte>(v >> 16),
            static_cast<std::byte>(v >> 8), static_cast<std::byte>(v)};
        add(code, b);
    }
    void add_ip(std::uint8_t code, const Ip4& a) {
        add(code, std::as_bytes(std::span<const std::uint8_t>(a.b)));
    }
    std::size_t finish() {
        if (room(1)) {
            buf_[at_++] = std::byte{kOptEnd};
        }
        return ok_ ? at_ : 0;
    }

private:
    bool room(std::size_t n) {
        ok_ = ok_ && buf_.size() - at_ >= n;
        return ok_;
    }
    std::span<std::byte> buf_;
    std::size_t at_;
    bool ok_ = true;
};

}  // namespace

std::vector<std::byte> encode_domain_names(const std::vector<std::string>& names) {
    std::vector<std::byte> out;
    for (const auto& name : names) {
        std::vector<std::byte> one;
        std::size_t start = 0;
        bool ok = !name.empty();
        std::string n = name;
        if (!n.empty() && n.back() == '.') {
            n.pop_back();  // "example.com." is absolute already
        }
        while (ok && start <= n.size()) {
            const std::size_t dot = std::min(n.find('.', start), n.size());
            const std::size_t len = dot - start;
            ok = len > 0 && len <= 63;
            if (ok) {
                one.push_back(static_cast<std::byte>(len));
                for (std::size_t i = start; i < dot; ++i) {
                    one.push_back(static_cast<std::byte>(n[i]));
                }
            }
            start = dot + 1;
        }
        one.push_back(std::byte{0});
        if (ok && one.size() <= 255) {
            out.insert(out.end(), one.begin(), one.end());
        }
    }
    return out;
}

namespace {

// Option 81's value: flags, RCODE1, RCODE2, the name in wire format. Empty
// when there is no name, or it is not a valid domain name, or the option
// would need more than one 255-byte piece (as pasta, which leaves it out).
std::vector<std::byte> client_fqdn_value(const std::string& fqdn) {
    if (fqdn.empty()) {
        return {};
    }
    const std::vector<std::byte> name = encode_domain_names({fqdn});
    if (name.empty() || name.size() + 3 > 255) {
        return {};
    }
    std::vector<std::byte> v = {std::byte{0x04} /* E */, std::byte{0xff}, std::byte{0xff}};
    v.insert(v.end(), name.begin(), name.end());
    return v;
}

}  // namespace

DhcpServer::DhcpServer(const DhcpConfig& cfg)
    : cfg_(cfg),
      search_wire_(encode_domain_names(cfg.search)),
      fqdn_wire_(client_fqdn_value(cfg.fqdn)) {}

std::size_t DhcpServer::handle(const Frame& f, const UdpPacket& p, std::span<std::byte> out,
                               bool& malformed) const {
    malformed = false;
    const auto m = p.payload;
    Request req;
    if (m.size() < kOptionsStart || byte_at(m, 0) != 1 /* BOOTREQUEST */ ||
        byte_at(m, 1) != 1 /* Ethernet */ || byte_at(m, 2) != 6 ||
        std::memcmp(m.data() + kBootpFixed, kMagic.data(), 4) != 0 || !parse_options(m, req) ||
        req.type == 0) {
        malformed = true;
        return 0;
    }
    const Ip4 ciaddr = ip_at(m, 12);
    std::uint8_t answer = 0;
    switch (req.type) {
        case kMsgDiscover:
            answer = kMsgOffer;
            break;
        case kMsgRequest:
            if (req.server_id && *req.server_id != cfg_.server) {
                return 0;  // the client chose another server
            }
            if ((req.requested && *req.requested != cfg_.addr) ||
                (!req.requested && !ciaddr.is_unspecified() && ciaddr != cfg_.addr)) {
                answer = kMsgNak;
            } else {
                answer = kMsgAck;
            }
            break;
        case kMsgInform:
            answer = kMsgAck;
            break;
        default:
            return 0;  // DECLINE, RELEASE, or a server's message
    }

    // The fixed part: xid, flags and chaddr echo the request.
    std::array<std::byte, kMaxReply> r{};
    r[0] = std::byte{2};  // BOOTREPLY
    r[1] = std::byte{1};
    r[2] = std::byte{6};
    std::memcpy(r.data() + 4, m.data() + 4, 4);    // xid
    std::memcpy(r.data() + 10, m.data() + 10, 2);  // flags
    std::memcpy(r.data() + 12, m.data() + 12, 4);  // ciaddr
    if (answer != kMsgNak && req.type != kMsgInform) {
        std::memcpy(r.data() + 16, cfg_.addr.b.data(), 4);  // yiaddr
    }
    std::memcpy(r.data() + 28, m.data() + 28, 16);  // chaddr
    std::memcpy(r.data() + kBootpFixed, kMagic.data(), 4);

    OptionWriter w(r, kOptionsStart);
    const std::byte type{answer};
    w.add(kOptMsgType, {&type, 1});
    w.add_ip(kOptServerId, cfg_.server);
    if (answer != kMsgNak) {
        if (req.type != kMsgInform) {
            w.add32(kOptLease, 0xffffffff);  // infinite (RFC 2131 section 3.3)
        }
        const std::uint32_t mask = cfg_.prefix_len == 0
                                       ? 0
                                       : ~std::uint32_t{0}
                                             << (32 - std::min<unsigned>(cfg_.prefix_len, 32));
        w.add32(kOptMask, mask);
        if (cfg_.router) {
            w.add_ip(kOptRouter, *cfg_.router);
        }
        if (!cfg_.dns.empty()) {
            std::array<std::byte, 4 * 63> dns{};
            const std::size_t n = std::min<std::size_t>(cfg_.dns.size(), 63);
            for (std::size_t i = 0; i < n; ++i) {
                std::memcpy(dns.data() + 4 * i, cfg_.dns[i].b.data(), 4);
            }
            w.add(kOptDns, {dns.data(), 4 * n});
        }
        if (!search_wire_.empty()) {
            w.add(kOptSearch, search_wire_);
        }
        if (!cfg_.hostname.empty()) {
            w.add(kOptHostname, std::as_bytes(std::span(cfg_.hostname)));
        }
        if (!fqdn_wire_.empty()) {
            w.add(kOptClientFqdn, fqdn_wire_);
        }
        if (cfg_.mtu >= 68 && cfg_.mtu <= 0xffff) {
            const std::array<std::byte, 2> mtu = {static_cast<std::byte>(cfg_.mtu >> 8),
                                                  static_cast<std::byte>(cfg_.mtu & 0xff)};
            w.add(kOptMtu, mtu);
        }
    }
    const std::size_t len = w.finish();
    if (len == 0) {
        return 0;
    }

    // To the client's address when it has one, else broadcast (RFC 2131
    // section 4.1), at its hardware address.
    Mac dst_mac;
    std::memcpy(dst_mac.b.data(), m.data() + 28, 6);
    const Ip4 dst_ip = ciaddr.is_unspecified() ? Ip4::from_host(0xffffffff) : ciaddr;
    const Endpoints ep{InAny::from(dst_ip), InAny::from(cfg_.server), kDhcpClientPort,
                       kDhcpServerPort};
    (void)f;
    return build_udp_frame(out, cfg_.our_mac, dst_mac, ep, {r.data(), len});
}

}  // namespace pastad::tap

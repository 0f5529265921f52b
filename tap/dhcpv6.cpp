// SPDX-License-Identifier: GPL-2.0-or-later
// tap/dhcpv6.cpp - a DHCPv6 server for the namespace's address, nameservers and domains
//
// Theory of operation
// ===================
//
// What. Stateful DHCPv6 (RFC 8415) for one client: SOLICIT gets an
// ADVERTISE (or a REPLY with Rapid Commit when the client asks for it);
// REQUEST, CONFIRM, RENEW and REBIND get a REPLY; INFORMATION-REQUEST gets a
// REPLY with configuration only. An IA_NA the client sends is answered with
// the namespace's address (the host's own), infinite lifetimes. DNS servers
// (option 23), the domain search list (24, RFC 3646) and the client FQDN
// (39, RFC 4704) ride along when configured, asked for or not, as in pasta.
// pastad updates no DNS records: the FQDN's flags are all clear, except O
// when the client's own option 39 asked the server to update (S), which
// tells it that the server did not (RFC 4704 section 4.1).
//
// What not. No prefix delegation, no temporary addresses, no relays, no
// authentication, no reconfigure; RELEASE and DECLINE are not answered
// (nothing is held). The server's DUID is DUID-LL of pastad's MAC.
//
// Answers go from the router's link-local address, port 547, to the
// client's source address and port 546 at its MAC.
//
// Failure. A message shorter than its header, with an option that runs past
// the end, or without a Client Identifier is malformed and dropped; one that
// names another server (Server Identifier) is ignored.
//
// References. RFC 8415 sections 16, 18.3, 21; RFC 3646 (DNS options);
// RFC 4704 (client FQDN).
#include "tap/dhcpv6.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "tap/dhcp.hpp"

namespace pastad::tap {

namespace {

enum : std::uint8_t {
    kSolicit = 1,
    kAdvertise = 2,
    kRequest = 3,
    kConfirm = 4,
    kRenew = 5,
    kRebind = 6,
    kReply = 7,
    kInfoRequest = 11,
};

enum : std::uint16_t {
    kOptClientId = 1,
    kOptServerId = 2,
    kOptIaNa = 3,
    kOptIaAddr = 5,
    kOptRapidCommit = 14,
    kOptDns = 23,
    kOptDomains = 24,
    kOptClientFqdn = 39,
};

// RFC 4704 section 4.1 flags.
constexpr std::uint8_t kFqdnS = 0x01;
constexpr std::uint8_t kFqdnO = 0x02;

constexpr std::size_t kMaxReply = 1400;
constexpr std::size_t kMaxClientId = 130;  // RFC 8415 section 11.1: DUIDs up to 128 + type

std::uint16_t get16(std::span<const std::byte> b, std::size_t i) {
    return static_cast<std::uint16_t>((std::to_integer<unsigned>(b[i]) << 8) |
                                      std::to_integer<unsigned>(b[i + 1]));
}

class Writer {
public:
    explicit Writer(std::span<std::byte> b) : b_(b) {}
    void raw(std::span<const std::byte> v) {
        // An empty option value may come with a null pointer: copy nothing.
        if (!v.empty() && room(v.size())) {
            std::memcpy(b_.data() + at_, v.data(), v.size());
            at_ += v.size();
        }
    }
    void u8(std::uint8_t v) {
        const std::byte x{v};
        raw({&x, 1});
    }
    void u16(std::uint16_t v) {
        u8(static_cast<std::uint8_t>(v >> 8));
        u8(static_cast<std::uint8_t>(v & 0xff));
    }
    void u32(std::uint32_t v) {
        u16(static_cast<std::uint16_t>(v >> 16));
        u16(static_cast<std::uint16_t>(v & 0xffff));
    }
    void option(std::uint16_t code, std::span<const std::byte> v) {
        u16(code);
        u16(static_cast<std::uint16_t>(v.size()));
        raw(v);
    }
    std::size_t size() const { return ok_ ? at_ : 0; }
    std::size_t at() const { return at_; }
    std::span<std::byte> buf() { return b_; }

private:
    bool room(std::size_t n) {
        ok_ = ok_ && b_.size() - at_ >= n;
        return ok_;
    }
    std::span<std::byte> b_;
    std::size_t at_ = 0;
    bool ok_ = true;
};

}  // namespace

Dhcpv6Server::Dhcpv6Server(const Dhcpv6Config& cfg)
    : cfg_(cfg),
      search_wire_(encode_domain_names(cfg.search)),
      fqdn_wire_(cfg.fqdn.empty() ? std::vector<std::byte>{} : encode_domain_names({cfg.fqdn})) {}

std::size_t Dhcpv6Server::handle(const Frame& f, const UdpPacket& p, std::span<std::byte> out,
                                 bool& malformed) const {
    malformed = false;
    const auto m = p.payload;
    if (m.size() < 4) {
        malformed = true;
        return 0;
    }
    const auto type = std::to_integer<std::uint8_t>(m[0]);

    // Options: client id, server id, the first IA_NA's IAID, rapid commit.
    std::span<const std::byte> client_id, server_id;
    std::optional<std::span<const std::byte>> iaid;
    bool rapid = false;
    bool client_wants_update = false;  // the S flag of the client's option 39
    for (std::size_t i = 4; i < m.size();) {
        if (m.size() - i < 4 || m.size() - i - 4 < get16(m, i + 2)) {
            malformed = true;
            return 0;
        }
        const std::uint16_t code = get16(m, i);
        const auto val = m.subspan(i + 4, get16(m, i + 2));
        if (code == kOptClientId) {
            client_id = val;
        } else if (code == kOptServerId) {
            server_id = val;
        } else if (code == kOptIaNa && val.size() >= 12 && !iaid) {
            iaid = val.first(4);
        } else if (code == kOptRapidCommit) {
            rapid = true;
        } else if (code == kOptClientFqdn && !val.empty()) {
            client_wants_update = (std::to_integer<std::uint8_t>(val[0]) & kFqdnS) != 0;
        }
        i += 4 + val.size();
    }

    std::array<std::byte, 10> duid{};  // DUID-LL: type 3, hardware type 1, MAC
    duid[1] = std::byte{3};
    duid[3] = std::byte{1};
    std::memcpy(duid.data() + 4, cfg_.our_mac.b.data(), 6);
    if (!server_id.empty() &&
        !std::equal(server_id.begin(), server_id.end(), duid.begin(), duid.end())) {
        return 0;  // for another server
    }

    std::uint8_t answer = kReply;
    switch (type) {
        case kSolicit:
            answer = rapid ? kReply : kAdvertise;
            break;
        case kRequest:
        case kConfirm:
        case kRenew:
        case kRebind:
        case kInfoRequest:
            break;
        default:
            return 0;  // not a client message this server answers
    }
    if (client_id.empty() && type != kInfoRequest) {
        malformed = true;  // RFC 8415 section 16: required in these messages
        return 0;
    }
    if (client_id.size() > kMaxClientId) {
        malformed = true;
        return 0;
    }

    std::array<std::byte, kMaxReply> r{};
    Writer w(r);
    w.u8(answer);
    w.raw(m.subspan(1, 3));  // transaction id
    if (!client_id.empty()) {
        w.option(kOptClientId, client_id);
    }
    w.option(kOptServerId, duid);
    if (rapid && type == kSolicit) {
        w.option(kOptRapidCommit, {});
    }
    if (iaid && cfg_.addr && type != kInfoRequest) {
        // IA_NA: IAID, T1, T2 (infinite: nothing to renew), then IAADDR.
        w.u16(kOptIaNa);
        w.u16(12 + 4 + 24);
        w.raw(*iaid);
        w.u32(0xffffffff);
        w.u32(0xffffffff);
        w.u16(kOptIaAddr);
        w.u16(24);
        w.raw(std::as_bytes(std::span<const std::uint8_t>(cfg_.addr->b)));
        w.u32(0xffffffff);  // preferred lifetime
        w.u32(0xffffffff);  // valid lifetime
    }
    if (!cfg_.dns.empty()) {
        w.u16(kOptDns);
        w.u16(static_cast<std::uint16_t>(16 * std::min<std::size_t>(cfg_.dns.size(), 32)));
        for (std::size_t i = 0; i < cfg_.dns.size() && i < 32; ++i) {
            w.raw(std::as_bytes(std::span<const std::uint8_t>(cfg_.dns[i].b)));
        }
    }
    if (!search_wire_.empty() && search_wire_.size() < 1024) {
        w.option(kOptDomains, search_wire_);
    }
    if (!fqdn_wire_.empty()) {
        w.u16(kOptClientFqdn);
        w.u16(static_cast<std::uint16_t>(1 + fqdn_wire_.size()));
        w.u8(client_wants_update ? kFqdnO : 0);
        w.raw(fqdn_wire_);
    }
    const std::size_t len = w.size();
    if (len == 0) {
        return 0;
    }
    const Endpoints ep{f.src_ip, InAny::from(cfg_.our_ll), p.sport, kDhcpv6ServerPort};
    return build_udp_frame(out, cfg_.our_mac, f.src, ep, {r.data(), len});
}

}  // namespace pastad::tap

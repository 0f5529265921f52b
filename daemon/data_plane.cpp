// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/data_plane.cpp - dispatching tap frames to the protocol handlers
//
// Every frame the namespace writes to its tap is parsed once (bounds-checked)
// and handed to one handler: ARP, NDP, DHCP and DHCPv6 are answered here,
// TCP, UDP and ICMP echo go to their translators. TCP payload checksums are
// not verified: the only sender on the tap is the namespace's own kernel,
// there is no wire to corrupt them, and summing every byte cost about a
// sixth of pastad's CPU time in bulk transfers. Headers are still checked
// (IPv4 header checksum, all lengths), and so are the checksums of UDP and
// ICMP, whose payloads pastad parses itself (DHCP, DNS). A frame that fails to parse is
// dropped and counted by reason; nothing a frame contains can stop the
// daemon. The namespace's MAC address is learned from the source of its
// frames, so pastad needs no neighbour discovery of its own. Fragments of
// UDP datagrams larger than the tap MTU are reassembled (tap/reassembly)
// and then handled as one datagram.
#include "data_plane.hpp"

#include <fmt/format.h>

#include "daemon/base/log.hpp"

namespace pastad {

namespace {

using Clock = std::chrono::steady_clock;

constexpr Mac kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

}  // namespace

// The address mapping rules every translator shares (tap/address_map.hpp).
tap::AddressMapConfig DataPlane::address_map(const Config& cfg, const NetPlan& plan,
                                             const DnsPlan& dns) {
    tap::AddressMapConfig m;
    m.dns_match4 = dns.match4;
    m.dns_host4 = dns.host4;
    m.dns_match6 = dns.match6;
    m.dns_host6 = dns.host6;
    m.gw4 = plan.gw4;
    m.gw6 = plan.gw6;
    m.map_gw = !cfg.no_map_gw && !cfg.map_host_loopback_none;
    m.map_host_loopback4 = cfg.map_host_loopback4;
    m.map_host_loopback6 = cfg.map_host_loopback6;
    m.map_guest_addr4 = cfg.map_guest_addr4;
    m.map_guest_addr6 = cfg.map_guest_addr6;
    if (!plan.addrs4.empty()) {
        m.host_addr4 = plan.addrs4.front().addr;
    }
    if (!plan.addrs6.empty()) {
        m.host_addr6 = plan.addrs6.front().addr;
    }
    return m;
}

DnsPlan DataPlane::dns_plan(const Config& cfg, const NetPlan& plan) {
    DnsPlan dns = plan_dns(cfg, read_resolv_conf(resolv_conf_path()), plan.gw4, plan.gw6);
    log_dns_plan(dns);
    return dns;
}

tap::TcpConfig DataPlane::tcp_config(const Config& cfg, const NetPlan& plan,
                                     const Mac* ns_mac) const {
    tap::TcpConfig t;
    static_cast<tap::AddressMapConfig&>(t) = address_map(cfg, plan, dns_);
    t.our_mac = plan.our_mac;
    t.ns_mac = ns_mac;
    t.mtu = plan.mtu != 0 ? plan.mtu : 65520;  // -m 0: the tap keeps the kernel's MTU
    t.outbound4 = cfg.outbound4;
    t.outbound6 = cfg.outbound6;
    t.outbound_if4 = cfg.outbound_if4;
    t.outbound_if6 = cfg.outbound_if6;
    return t;
}

tap::UdpConfig DataPlane::udp_config(const Config& cfg, const NetPlan& plan,
                                     const Mac* ns_mac) const {
    tap::UdpConfig u;
    static_cast<tap::AddressMapConfig&>(u) = address_map(cfg, plan, dns_);
    u.our_mac = plan.our_mac;
    u.ns_mac = ns_mac;
    u.mtu = plan.mtu != 0 ? plan.mtu : 65520;
    u.outbound4 = cfg.outbound4;
    u.outbound6 = cfg.outbound6;
    u.outbound_if4 = cfg.outbound_if4;
    u.outbound_if6 = cfg.outbound_if6;
    return u;
}

tap::IcmpConfig DataPlane::icmp_config(const Config& cfg, const NetPlan& plan,
                                       const Mac* ns_mac) const {
    tap::IcmpConfig i;
    static_cast<tap::AddressMapConfig&>(i) = address_map(cfg, plan, dns_);
    i.our_mac = plan.our_mac;
    i.ns_mac = ns_mac;
    i.outbound4 = cfg.outbound4;
    i.outbound6 = cfg.outbound6;
    i.outbound_if4 = cfg.outbound_if4;
    i.outbound_if6 = cfg.outbound_if6;
    return i;
}

tap::NdpConfig DataPlane::ndp_config(const Config& cfg, const NetPlan& plan) const {
    tap::NdpConfig n;
    n.mac = plan.our_mac;
    for (const auto& a : plan.addrs6) {
        n.ns_addrs.push_back(a.addr);
        // Advertise the prefix the address lives in, host bits cleared.
        Prefix6 p{a.addr, a.len};
        for (unsigned bit = a.len; bit < 128; ++bit) {
            p.addr.b[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
        }
        n.prefixes.push_back(p);
    }
    n.mtu = plan.mtu;  // 0 leaves the MTU option out
    n.gateway = plan.gw6;
    n.no_ndp = cfg.no_ndp;
    n.no_ra = cfg.no_ra || !plan.v6;
    // Addresses and configuration from DHCPv6 too, unless it is off.
    n.managed = !cfg.no_dhcpv6;
    n.other = !cfg.no_dhcpv6;
    const DnsAnnouncement told = announced_dns(cfg, dns_);
    n.rdnss = told.ns6;
    n.dnssl = told.search;
    return n;
}

std::optional<tap::DhcpServer> DataPlane::dhcp_server(const Config& cfg,
                                                      const NetPlan& plan) const {
    if (plan.addrs4.empty()) {
        return std::nullopt;
    }
    tap::DhcpConfig d;
    d.our_mac = plan.our_mac;
    d.addr = plan.addrs4.front().addr;
    d.prefix_len = plan.addrs4.front().len;
    d.router = plan.gw4;
    d.server = plan.gw4.value_or(d.addr);
    const DnsAnnouncement told = announced_dns(cfg, dns_);
    d.dns = told.ns4;
    d.search = told.search;
    d.mtu = plan.mtu;
    d.hostname = cfg.hostname;
    d.fqdn = cfg.fqdn;
    return tap::DhcpServer(d);
}

tap::Dhcpv6Server DataPlane::dhcpv6_server(const Config& cfg, const NetPlan& plan) const {
    tap::Dhcpv6Config d;
    d.our_mac = plan.our_mac;
    d.our_ll = ndp_.router_addr();
    if (!plan.addrs6.empty()) {
        d.addr = plan.addrs6.front().addr;
    }
    const DnsAnnouncement told = announced_dns(cfg, dns_);
    d.dns = told.ns6;
    d.search = told.search;
    d.fqdn = cfg.fqdn;
    return tap::Dhcpv6Server(d);
}

DataPlane::DataPlane(const Config& cfg, const NetPlan& plan, IoBackend& io)
    : cfg_(cfg),
      io_(io),
      dns_(dns_plan(cfg, plan)),
      our_mac_(plan.our_mac),
      ns_mac_(plan.ns_mac.value_or(kBroadcast)),
      arp_(plan.our_mac, plan.addrs4.empty() ? Ip4{} : plan.addrs4.front().addr),
      ndp_(ndp_config(cfg, plan)),
      tcp_(tcp_config(cfg, plan, &ns_mac_), io, io),
      udp_(udp_config(cfg, plan, &ns_mac_), io, io),
      icmp_(icmp_config(cfg, plan, &ns_mac_), io, io),
      dhcp_(dhcp_server(cfg, plan)),
      dhcpv6_(dhcpv6_server(cfg, plan)),
      have_v6_(plan.v6) {}

template <typename Build>
void DataPlane::send_control(Build&& build) {
    if (io_.free_slots() == 0) {
        ++counters_.ctrl_dropped;
        return;
    }
    const std::size_t len = build(io_.slot(0));
    if (len > 0) {
        io_.commit(1, &len);
    }
}

void DataPlane::learn_ns_mac(const Mac& src) {
    if (src != ns_mac_ && !src.is_multicast() && !src.is_zero()) {
        log::tap().debug("namespace MAC is {}", src.str());
        ns_mac_ = src;
    }
}

void DataPlane::note_unsupported(const char* what) {
    ++counters_.unsupported;
    static log::RateLimit limit{std::chrono::seconds(30)};
    if (auto n = limit.allow(Clock::now())) {
        log::tap().warn("dropped {} frame(s) from the namespace: {} is not supported yet", *n,
                        what);
    }
}

void DataPlane::on_frame(std::span<const std::byte> bytes) {
    if (PcapWriter* pcap = io_.capture()) {
        pcap->record(bytes);
    }
    tap::DropReason why = tap::DropReason::None;
    const auto f = tap::parse_frame(bytes, why);
    if (!f && (why == tap::DropReason::Ipv4Fragment || why == tap::DropReason::Ipv6Fragment)) {
        on_fragment(bytes, why);
        return;
    }
    if (!f) {
        drops_.add(why);
        SPDLOG_LOGGER_TRACE(&log::tap(), "dropped frame: {}", tap::to_string(why));
        return;
    }
    learn_ns_mac(f->src);

    if (f->is_arp()) {
        send_control([&](std::span<std::byte> out) {
            const std::size_t n = arp_.handle(*f, out, why);
            drops_.add(why);
            counters_.arp_replies += n > 0;
            return n;
        });
        return;
    }

    switch (f->proto) {
        case tap::kProtoTcp: {
            if (cfg_.no_tcp) {
                return;
            }
            const auto p = tap::parse_tcp(*f, why, /*verify_checksum=*/false);
            if (!p) {
                drops_.add(why);
                return;
            }
            tcp_.on_segment(tap::endpoints_of(*f, p->sport, p->dport), p->seg, Clock::now());
            return;
        }
        case tap::kProtoIcmp6: {
            const auto p = tap::parse_icmpv6(*f, why);
            if (!p) {
                drops_.add(why);
                return;
            }
            if (p->type == tap::kIcmp6NeighborSolicit || p->type == tap::kIcmp6RouterSolicit) {
                send_control([&](std::span<std::byte> out) {
                    const std::size_t n = ndp_.handle(*f, out, why);
                    drops_.add(why);
                    counters_.ndp_replies += n > 0;
                    return n;
                });
            } else if (p->type == tap::kIcmp6EchoRequest) {
                on_echo_request(*f, *p);
            }
            return;
        }
        case tap::kProtoUdp:
            on_udp(*f);
            return;
        case tap::kProtoIcmp: {
            const auto p = tap::parse_icmp(*f, why);
            if (!p) {
                drops_.add(why);
                return;
            }
            if (p->type == tap::kIcmpEchoRequest) {
                on_echo_request(*f, *p);
            }
            return;
        }
        default:
            note_unsupported("this IP protocol");
            return;
    }
}

void DataPlane::on_udp(const tap::Frame& f) {
    tap::DropReason why = tap::DropReason::None;
    const auto p = tap::parse_udp(f, why);
    if (!p) {
        drops_.add(why);
        return;
    }
    // DHCP and DHCPv6 are answered here, never sent on (RFC 2131 section 4.1
    // and RFC 8415 section 7.1: clients use these ports and multicast).
    if (f.is_v4() && p->dport == tap::kDhcpServerPort) {
        if (!cfg_.no_dhcp && dhcp_) {
            serve_dhcp(*dhcp_, f, *p);
        }
        return;
    }
    if (f.is_v6() && p->dport == tap::kDhcpv6ServerPort && f.dst_ip.a.is_multicast()) {
        if (!cfg_.no_dhcpv6) {
            serve_dhcp(dhcpv6_, f, *p);
        }
        return;
    }
    if (cfg_.no_udp) {
        return;
    }
    udp_.on_datagram(tap::endpoints_of(f, p->sport, p->dport), p->payload, Clock::now());
}

// Only UDP is reassembled: TCP segments fit the MSS and ICMP echo beyond
// the MTU is not worth the memory. Other fragments stay dropped as before.
void DataPlane::on_fragment(std::span<const std::byte> bytes, tap::DropReason why) {
    tap::FragmentInfo frag;
    tap::DropReason bad = tap::DropReason::None;
    const auto f = tap::parse_fragment(bytes, frag, bad);
    if (!f || f->proto != tap::kProtoUdp || cfg_.no_udp) {
        drops_.add(f ? why : bad);
        return;
    }
    learn_ns_mac(f->src);
    const auto whole = reasm_.add(*f, frag, Clock::now());
    if (!whole) {
        return;  // waiting for more, or discarded (counted by the reassembler)
    }
    tap::Frame g = *f;
    g.l4 = *whole;
    on_udp(g);
}

template <typename Server>
void DataPlane::serve_dhcp(const Server& server, const tap::Frame& f, const tap::UdpPacket& p) {
    send_control([&](std::span<std::byte> out) {
        bool malformed = false;
        const std::size_t n = server.handle(f, p, out, malformed);
        counters_.dhcp_malformed += malformed;
        counters_.dhcp_replies += n > 0;
        if (malformed) {
            static log::RateLimit limit{std::chrono::seconds(30)};
            if (auto held = limit.allow(Clock::now())) {
                log::tap().warn("dropped {} malformed DHCP/DHCPv6 message(s)", *held);
            }
        }
        return n;
    });
}

void DataPlane::on_echo_request(const tap::Frame& f, const tap::IcmpPacket& p) {
    if (cfg_.no_icmp) {
        return;
    }
    icmp_.on_echo_request(f.src_ip, f.dst_ip, p.echo_id(), p.echo_seq(), p.data, Clock::now());
}

void DataPlane::on_socket(std::uint64_t token, std::uint32_t epoll_events) {
    switch (tap::token_kind(token)) {
        case tap::kTcpTokenKind:
            tcp_.on_socket_event(token, epoll_events, Clock::now());
            break;
        case tap::kUdpTokenKind:
            udp_.on_socket_event(token, epoll_events, Clock::now());
            break;
        case tap::kIcmpTokenKind:
            icmp_.on_socket_event(token, epoll_events, Clock::now());
            break;
        default:
            break;
    }
}

void DataPlane::on_tx_space() {
    tcp_.on_sink_space(Clock::now());
}

void DataPlane::on_batch_end() {
    const auto now = Clock::now();
    tcp_.flush(now);
    udp_.flush(now);
}

void DataPlane::on_tick(Clock::time_point now) {
    tcp_.on_timer(now);
    udp_.on_timer(now);
    icmp_.on_timer(now);
    reasm_.expire(now);
}

void DataPlane::advertise_router() {
    if (!have_v6_ || cfg_.no_ra || cfg_.no_ndp) {
        return;
    }
    send_control([&](std::span<std::byte> out) { return ndp_.build_ra(out); });
}

EventCounts DataPlane::event_counts() const {
    EventCounts c;
    const auto& tcp = tcp_.stats();
    c[StatsColumn::TapIn] = io_.counters().rx_frames;
    c[StatsColumn::TapOut] = io_.counters().tx_frames;
    c[StatsColumn::Dropped] = drops_.total() + counters_.unsupported;
    c[StatsColumn::Arp] = counters_.arp_replies;
    c[StatsColumn::Ndp] = counters_.ndp_replies;
    c[StatsColumn::Dhcp] = counters_.dhcp_replies;
    c[StatsColumn::TcpOpen] = tcp.opened_by_ns + tcp.opened_by_host;
    c[StatsColumn::TcpClose] = tcp.closed;
    c[StatsColumn::UdpFlows] = udp_.stats().flows_opened;
    c[StatsColumn::Ping] = icmp_.stats().requests;
    return c;
}

std::string DataPlane::summary() const {
    const auto& s = tcp_.stats();
    return fmt::format(
        "frames in {} out {} (tap write failures {}, dropped malformed {}, unsupported {}), "
        "arp {} ndp {} replies, "
        "tcp opened {}+{} closed {} refused {}, bytes to ns {} from ns {}, "
        "udp flows {} datagrams to ns {} (fragmented {}, dropped {}) from ns {} (reassembled {}, "
        "given up {}, send errors {}), "
        "ping requests {} replies {}",
        io_.counters().rx_frames, io_.counters().tx_frames, io_.counters().tx_dropped,
        drops_.total(), counters_.unsupported, counters_.arp_replies, counters_.ndp_replies,
        s.opened_by_ns, s.opened_by_host, s.closed, s.refused, s.bytes_to_ns, s.bytes_from_ns,
        udp_.stats().flows_opened, udp_.stats().datagrams_to_ns, udp_.stats().fragmented_to_ns,
        udp_.stats().dropped_too_big, udp_.stats().datagrams_from_ns, reasm_.stats().reassembled,
        reasm_.stats().timed_out + reasm_.stats().evicted + reasm_.stats().malformed,
        udp_.stats().send_errors, icmp_.stats().requests, icmp_.stats().replies);
}

}  // namespace pastad

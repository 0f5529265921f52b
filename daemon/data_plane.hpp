// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/data_plane.hpp - dispatching tap frames to the protocol handlers
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "daemon/config.hpp"
#include "daemon/dns.hpp"
#include "daemon/io_backend.hpp"
#include "daemon/reflect.hpp"
#include "daemon/stats.hpp"
#include "tap/arp.hpp"
#include "tap/dhcp.hpp"
#include "tap/dhcpv6.hpp"
#include "tap/frame.hpp"
#include "tap/icmp.hpp"
#include "tap/ndp.hpp"
#include "tap/reassembly.hpp"
#include "tap/tcp.hpp"
#include "tap/udp.hpp"

namespace pastad {

// Owns the protocol handlers of the tap path and routes each frame the
// namespace sends to the right one. Runs on the data-plane thread only.
class DataPlane final : public IoHandler {
public:
    // `io` must outlive the data plane.
    DataPlane(const Config& cfg, const NetPlan& plan, IoBackend& io);

    void on_frame(std::span<const std::byte> frame) override;
    void on_socket(std::uint64_t token, std::uint32_t epoll_events) override;
    void on_tx_space() override;
    void on_batch_end() override;

    // Timers of the translators; the control loop calls it periodically.
    void on_tick(std::chrono::steady_clock::time_point now);

    // Sends an unsolicited router advertisement, if IPv6 and RAs are on.
    void advertise_router();

    // One line of counters for the exit log.
    std::string summary() const;

    // The counters --stats prints (daemon/stats.hpp).
    EventCounts event_counts() const;

    struct Counters {
        std::uint64_t arp_replies = 0, ndp_replies = 0, unsupported = 0, ctrl_dropped = 0;
        std::uint64_t dhcp_replies = 0, dhcp_malformed = 0;  // DHCP and DHCPv6
    };
    const Counters& counters() const { return counters_; }
    const tap::DropCounters& drops() const { return drops_; }
    const tap::TcpEngine& tcp() const { return tcp_; }
    // For port forwards handing accepted connections to the tap path.
    tap::TcpEngine& tcp_engine() { return tcp_; }
    tap::UdpEngine& udp_engine() { return udp_; }
    const tap::UdpEngine& udp() const { return udp_; }
    const tap::IcmpEngine& icmp() const { return icmp_; }
    const tap::Reassembler& reassembly() const { return reasm_; }

private:
    // Queues one small frame built by `build(slot)`; counts it when the
    // transmit ring is full.
    template <typename Build>
    void send_control(Build&& build);

    void learn_ns_mac(const Mac& src);
    void note_unsupported(const char* what);
    tap::TcpConfig tcp_config(const Config& cfg, const NetPlan& plan, const Mac* ns_mac) const;
    tap::NdpConfig ndp_config(const Config& cfg, const NetPlan& plan) const;
    std::optional<tap::DhcpServer> dhcp_server(const Config& cfg, const NetPlan& plan) const;
    tap::Dhcpv6Server dhcpv6_server(const Config& cfg, const NetPlan& plan) const;
    template <typename Server>
    void serve_dhcp(const Server& server, const tap::Frame& f, const tap::UdpPacket& p);
    static tap::AddressMapConfig address_map(const Config& cfg, const NetPlan& plan,
                                             const DnsPlan& dns);
    static DnsPlan dns_plan(const Config& cfg, const NetPlan& plan);
    tap::UdpConfig udp_config(const Config& cfg, const NetPlan& plan, const Mac* ns_mac) const;
    tap::IcmpConfig icmp_config(const Config& cfg, const NetPlan& plan, const Mac* ns_mac) const;
    void on_udp(const tap::Frame& f);
    void on_fragment(std::span<const std::byte> bytes, tap::DropReason why);
    void on_echo_request(const tap::Frame& f, const tap::IcmpPacket& p);

    const Config& cfg_;
    IoBackend& io_;
    DnsPlan dns_;  // before the translators: their address maps include its forwarding
    Mac our_mac_;
    Mac ns_mac_;  // broadcast until the namespace's first frame tells us
    tap::ArpResponder arp_;
    tap::NdpResponder ndp_;
    tap::TcpEngine tcp_;
    tap::UdpEngine udp_;
    tap::IcmpEngine icmp_;
    std::optional<tap::DhcpServer> dhcp_;  // unset without an IPv4 address
    tap::Dhcpv6Server dhcpv6_;
    tap::Reassembler reasm_;  // UDP datagrams larger than the tap MTU
    tap::DropCounters drops_;
    Counters counters_;
    bool have_v6_;
};

}  // namespace pastad

// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/config.hpp - the parsed command line: one immutable configuration value
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "daemon/base/inet.hpp"

namespace pastad {

// Which namespace pastad serves.
enum class TargetKind {
    Spawn,  // create a new namespace and run `command` (default: the user's shell)
    Pid,    // join the network namespace of `target_pid`
    Netns,  // join the network namespace bound at `netns_path`
};

// Every value the command line can set. Produced once by parse_options() and
// then only read. Defaults are pasta's.
struct Config {
    // Process and logging.
    bool foreground = false;             // -f: stay in the foreground
    bool quiet = false;                  // -q: only warnings and errors
    bool debug = false;                  // -d
    bool trace = false;                  // --trace (implies debug)
    std::string log_file;                // -l
    std::size_t log_size = 1024 * 1024;  // --log-size, bytes
    std::string pid_file;                // -P
    std::string pcap_file;               // -p
    std::optional<uid_t> runas_uid;      // --runas UID[:GID] or USER[:GROUP]
    std::optional<gid_t> runas_gid;
    unsigned stats_delay = 0;  // --stats: seconds between statistics rows; 0: none

    // Target namespace.
    TargetKind target = TargetKind::Spawn;
    pid_t target_pid = 0;              // with TargetKind::Pid
    std::string netns_path;            // --netns, with TargetKind::Netns
    std::string userns_path;           // --userns
    std::vector<std::string> command;  // with TargetKind::Spawn; empty: the user's shell
    bool netns_only = false;           // --netns-only: never join a user namespace; also
                                       // set, as pasta does, for --netns without --userns
    bool no_netns_quit = false;        // --no-netns-quit
    int tap_fd = -1;                   // -F: an open tap device to use; -1: create one

    // Interfaces and addressing.
    bool config_net = false;          // --config-net
    std::string ns_ifname;            // -I; empty: the template interface's name
    std::string template_if4;         // -i or --outbound-if4: template for IPv4
    std::string template_if6;         // -i or --outbound-if6: template for IPv6
    std::string outbound_if4;         // --outbound-if4: host sockets of IPv4 flows bind to it
    std::string outbound_if6;         // --outbound-if6: likewise for IPv6
    std::optional<unsigned> mtu;      // -m; unset: 65520; 0: leave the tap's MTU alone and
                                      // advertise none (DHCP option 26, NDP MTU option)
    std::optional<Ip4> addr4;         // -a (IPv4)
    std::optional<Ip6> addr6;         // -a (IPv6)
    std::optional<unsigned> prefix4;  // -n, or -a ADDR/LEN (IPv4), as a prefix length
    std::optional<unsigned> prefix6;  // -a ADDR/LEN (IPv6)
    std::optional<Ip4> gw4;           // -g (IPv4)
    std::optional<Ip6> gw6;           // -g (IPv6)
    std::optional<Mac> our_mac;       // -M: source MAC of frames pastad sends
    std::optional<Mac> ns_mac;        // --ns-mac-addr: MAC of the namespace's tap
    bool ipv4 = true;                 // false with -6
    bool ipv6 = true;                 // false with -4
    bool copy_routes = true;          // false with --no-copy-routes
    bool copy_addrs = true;           // false with --no-copy-addrs

    // Address mapping.
    std::optional<Ip4> outbound4;           // -o (IPv4): bind outbound sockets to it
    std::optional<Ip6> outbound6;           // -o (IPv6)
    bool no_map_gw = false;                 // --no-map-gw
    std::optional<Ip4> map_host_loopback4;  // --map-host-loopback
    std::optional<Ip6> map_host_loopback6;
    bool map_host_loopback_none = false;  // --map-host-loopback none
    std::optional<Ip4> map_guest_addr4;   // --map-guest-addr
    std::optional<Ip6> map_guest_addr6;
    bool freebind = false;  // --freebind

    // DNS.
    std::vector<Ip4> dns4;  // -D
    std::vector<Ip6> dns6;
    bool dns_none = false;            // -D none
    std::optional<Ip4> dns_forward4;  // --dns-forward
    std::optional<Ip6> dns_forward6;
    std::optional<Ip4> dns_host4;  // --dns-host
    std::optional<Ip6> dns_host6;
    std::vector<std::string> search;  // -S
    bool search_none = false;         // -S none
    // Announce the nameservers (DHCP option 6, DHCPv6 option 23, RA RDNSS)
    // and the search list (DHCP 119, DHCPv6 24, RA DNSSL): pasta's namespace
    // mode does neither unless --dhcp-dns / --dhcp-search ask for it.
    // --no-dhcp-dns and --no-dhcp-search set them back to false.
    bool dhcp_dns = false;
    bool dhcp_search = false;
    std::string hostname;  // -H: DHCP option 12; empty: none
    std::string fqdn;      // --fqdn: DHCP option 81, DHCPv6 option 39; empty: none

    // Protocols and services.
    bool no_tcp = false, no_udp = false, no_icmp = false;
    bool no_dhcp = false, no_ndp = false, no_dhcpv6 = false, no_ra = false;
    bool no_splice = false;         // --no-splice
    bool splice_only = false;       // --splice-only: no tap, loopback forwards only
    bool host_lo_to_ns_lo = false;  // --host-lo-to-ns-lo

    // Port forwarding specifications, as given (validated by the forwarding
    // module). Each option may repeat; an empty list means the option was
    // not given, for which pasta's default, in every target mode, is "auto".
    std::vector<std::string> tcp_host;  // -t
    std::vector<std::string> udp_host;  // -u
    std::vector<std::string> tcp_ns;    // -T
    std::vector<std::string> udp_ns;    // -U

    // Options of pastad's own (long names only).
    std::string io_backend;  // --io-backend=uring|epoll; empty: automatic
};

// What the command line asked for besides running.
enum class Action { Run, Help, Version, PrintCapabilities };

struct ParsedCommandLine {
    Action action = Action::Run;
    Config config;
    // Warnings about options that were accepted but deserve one (-e, which is
    // deprecated), for main() to log once logging is set up; in command-line
    // order.
    std::vector<std::string> warnings;
};

// Parses argv as pasta does (getopt_long semantics: clustered short options,
// `--opt=value`, `--` ends options, the first non-option starts the target).
// Throws std::invalid_argument with a message naming the bad option or value;
// the message is meant to be printed as is after "pastad: ". An unknown
// option gives "unrecognized option '--name'", worded as glibc's getopt does.
// With -h, --version or --print-capabilities the parse stops there and
// returns that action.
// Uses getopt_long's global state: call from one thread at a time. May call
// getpwnam()/getgrnam() for --runas.
ParsedCommandLine parse_options(int argc, char* const argv[]);

// Every long option name parse_options() knows, without the leading dashes,
// in the order the help text lists them.
std::vector<std::string> known_long_options();

// The text printed by --help, and by a usage error after its message.
std::string usage_text(const char* argv0);

// The text printed by --version (to stdout).
std::string version_text();

// The text printed by --print-capabilities (to stdout): the vhost-user back
// end capabilities, as JSON.
std::string capabilities_text();

}  // namespace pastad

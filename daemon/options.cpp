// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/options.cpp - pasta-compatible command line: parsing, help and version text
//
// One table, kOptions, describes every option: its long name, short letter,
// argument, help group and one-line summary. getopt_long's option array, its
// optstring, the help text and known_long_options() are all derived from it,
// so they cannot drift apart. Each option's meaning follows pasta's manual;
// where pastad is stricter (-a twice for one family, -4 with -6) the manual
// page says so.
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "daemon/config.hpp"

#ifndef PASTAD_VERSION
#error "PASTAD_VERSION must be defined by the build"
#endif

namespace pastad {

namespace {

// Help and manual page sections, in the order they are printed.
enum class Group {
    Process,
    Target,
    Interface,
    Mapping,
    Dns,
    Protocol,
    Ports,
    Own,
};

// getopt_long returns the short letter for options that have one, and one of
// these for long-only options. Starting above any character keeps them apart.
enum LongOnly : int {
    kTrace = 256,
    kLogSize,
    kRunas,
    kVersion,
    kNetns,
    kUserns,
    kNetnsOnly,
    kNoNetnsQuit,
    kConfigNet,
    kOutboundIf4,
    kOutboundIf6,
    kNsMacAddr,
    kNoCopyRoutes,
    kNoCopyAddrs,
    kNoMapGw,
    kMapHostLoopback,
    kMapGuestAddr,
    kDnsForward,
    kDnsHost,
    kDhcpDns,
    kNoDhcpDns,
    kDhcpSearch,
    kNoDhcpSearch,
    kNoTcp,
    kNoUdp,
    kNoIcmp,
    kNoDhcp,
    kNoNdp,
    kNoDhcpv6,
    kNoRa,
    kNoSplice,
    kFreebind,
    kHostLoToNsLo,
    kIoBackend,
    kStats,
    kFqdn,
    kSpliceOnly,
    kChrootFallback,
    kPrintCapabilities,
    kRepairPath,
};

struct OptionSpec {
    const char* name;  // long name, without dashes
    int val;           // short letter, or a LongOnly value
    const char* arg;   // argument name in the help text; nullptr: takes none
    Group group;
    const char* help;  // one line
};

// clang-format off
constexpr OptionSpec kOptions[] = {
    {"foreground", 'f', nullptr, Group::Process, "stay in the foreground, do not fork when ready"},
    {"quiet", 'q', nullptr, Group::Process, "log only warnings and errors"},
    {"debug", 'd', nullptr, Group::Process, "log debug messages too"},
    {"trace", kTrace, nullptr, Group::Process, "log single packets as well; implies --debug"},
    {"log-file", 'l', "PATH", Group::Process, "log to PATH rather than to the system log"},
    {"log-size", kLogSize, "BYTES", Group::Process, "size limit of the log file (default 1 MiB)"},
    {"pid", 'P', "FILE", Group::Process, "write the daemon's PID to FILE once ready"},
    {"pcap", 'p', "FILE", Group::Process, "capture namespace-side frames to FILE (pcap)"},
    {"runas", kRunas, "UID[:GID]|USER[:GROUP]", Group::Process, "run as this user and group"},
    {"stats", kStats, "DELAY", Group::Process, "with -f: event statistics every DELAY seconds"},
    {"stderr", 'e', nullptr, Group::Process, "deprecated, no effect"},
    {"chroot-fallback", kChrootFallback, nullptr, Group::Process,
     "accepted; pastad never pivot_root()s (no effect)"},
    {"conf-path", 'c', "PATH", Group::Process, "refused: pesto control socket not implemented"},
    {"help", 'h', nullptr, Group::Process, "print this help and exit"},
    {"version", kVersion, nullptr, Group::Process, "print the version and exit"},
    {"print-capabilities", kPrintCapabilities, nullptr, Group::Process,
     "print vhost-user back-end capabilities (JSON) and exit"},
    {"repair-path", kRepairPath, "none", Group::Process, "vhost-user only; 'none' accepted"},

    {"netns", kNetns, "PATH|NAME", Group::Target, "join the netns at PATH or /run/netns/NAME"},
    {"userns", kUserns, "PATH", Group::Target, "join the user namespace at PATH"},
    {"netns-only", kNetnsOnly, nullptr, Group::Target, "join or create no user namespace"},
    {"no-netns-quit", kNoNetnsQuit, nullptr, Group::Target,
     "keep running when the namespace goes away"},
    {"config-net", kConfigNet, nullptr, Group::Target,
     "set up the tap's link, addresses and routes"},
    {"fd", 'F', "FD", Group::Target, "use FD, an open tap device, instead of creating one"},

    {"ns-ifname", 'I', "NAME", Group::Interface, "name of the tap (default: template's name)"},
    {"interface", 'i', "NAME", Group::Interface, "host template interface for both families"},
    {"outbound-if4", kOutboundIf4, "NAME", Group::Interface,
     "bind IPv4 outbound sockets to NAME; IPv4 template"},
    {"outbound-if6", kOutboundIf6, "NAME", Group::Interface,
     "bind IPv6 outbound sockets to NAME; IPv6 template"},
    {"mtu", 'm', "MTU", Group::Interface, "MTU 68..65520, 0: leave alone (default 65520)"},
    {"address", 'a', "ADDR[/LEN]", Group::Interface, "namespace address, once per family"},
    {"netmask", 'n', "MASK", Group::Interface, "IPv4 netmask, dotted or prefix length"},
    {"gateway", 'g', "ADDR", Group::Interface, "IPv4 or IPv6 default gateway"},
    {"mac-addr", 'M', "MAC", Group::Interface, "source MAC of frames sent to the namespace"},
    {"ns-mac-addr", kNsMacAddr, "MAC", Group::Interface, "MAC address of the tap in the namespace"},
    {"ipv4-only", '4', nullptr, Group::Interface, "IPv4 only"},
    {"ipv6-only", '6', nullptr, Group::Interface, "IPv6 only"},
    {"no-copy-routes", kNoCopyRoutes, nullptr, Group::Interface,
     "with --config-net: only the default route"},
    {"no-copy-addrs", kNoCopyAddrs, nullptr, Group::Interface,
     "with --config-net: only one address"},

    {"outbound", 'o', "ADDR", Group::Mapping, "source address of outbound sockets"},
    {"no-map-gw", kNoMapGw, nullptr, Group::Mapping, "do not map the gateway to the host"},
    {"map-host-loopback", kMapHostLoopback, "ADDR|none", Group::Mapping,
     "ADDR reaches the host's loopback"},
    {"map-guest-addr", kMapGuestAddr, "ADDR|none", Group::Mapping,
     "ADDR reaches the host's own address"},

    {"dns", 'D', "ADDR|none", Group::Dns, "nameserver to announce; repeatable"},
    {"dns-forward", kDnsForward, "ADDR", Group::Dns, "send DNS for ADDR to the host's resolver"},
    {"dns-host", kDnsHost, "ADDR", Group::Dns, "host resolver for --dns-forward"},
    {"search", 'S', "LIST|none", Group::Dns, "DNS search domains, space-separated"},
    {"dhcp-dns", kDhcpDns, nullptr, Group::Dns, "announce nameservers (DHCP, DHCPv6, NDP)"},
    {"no-dhcp-dns", kNoDhcpDns, nullptr, Group::Dns, "announce no nameservers (the default)"},
    {"dhcp-search", kDhcpSearch, nullptr, Group::Dns, "announce the search list"},
    {"no-dhcp-search", kNoDhcpSearch, nullptr, Group::Dns, "announce no search list (the default)"},
    {"hostname", 'H', "NAME", Group::Dns, "host name to send over DHCP (option 12)"},
    {"fqdn", kFqdn, "NAME", Group::Dns, "FQDN to send over DHCP (81) and DHCPv6 (39)"},

    {"no-tcp", kNoTcp, nullptr, Group::Protocol, "disable TCP"},
    {"no-udp", kNoUdp, nullptr, Group::Protocol, "disable UDP"},
    {"no-icmp", kNoIcmp, nullptr, Group::Protocol, "disable ICMP and ICMPv6 echo"},
    {"no-dhcp", kNoDhcp, nullptr, Group::Protocol, "disable the DHCP server"},
    {"no-ndp", kNoNdp, nullptr, Group::Protocol, "disable NDP responses"},
    {"no-dhcpv6", kNoDhcpv6, nullptr, Group::Protocol, "disable the DHCPv6 server"},
    {"no-ra", kNoRa, nullptr, Group::Protocol, "disable router advertisements"},
    {"no-splice", kNoSplice, nullptr, Group::Protocol, "disable the loopback bypass"},
    {"splice-only", kSpliceOnly, nullptr, Group::Protocol,
     "no tap: only forward ports over the loopback bypass"},

    {"tcp-ports", 't', "SPEC", Group::Ports, "forward host TCP ports into the namespace"},
    {"udp-ports", 'u', "SPEC", Group::Ports, "forward host UDP ports into the namespace"},
    {"tcp-ns", 'T', "SPEC", Group::Ports, "forward namespace TCP ports to the host"},
    {"udp-ns", 'U', "SPEC", Group::Ports, "forward namespace UDP ports to the host"},
    {"freebind", kFreebind, nullptr, Group::Ports, "allow -t/-u to bind addresses not on the host"},
    {"host-lo-to-ns-lo", kHostLoToNsLo, nullptr, Group::Ports,
     "keep host loopback sources as loopback"},

    {"io-backend", kIoBackend, "uring|epoll", Group::Own, "data plane back end (default: uring)"},

};
// clang-format on

constexpr const char* kGroupTitles[] = {
    "Process and logging",
    "Target namespace",
    "Interfaces and addresses",
    "Address mapping",
    "DNS",
    "Protocols and services",
    "Port forwarding",
    "Options of pastad's own",
};
static_assert(std::size(kGroupTitles) == static_cast<std::size_t>(Group::Own) + 1,
              "one title per group");

// Pasta's limits: an IPv4 link needs 68 (RFC 791); a frame on the tap is at
// most 65535 bytes with its 14-byte Ethernet header, and pasta rounds the
// default down to whole 32-bit words, 65520, which is also pastad's maximum.
constexpr unsigned long kMinMtu = 68;
constexpr unsigned long kMaxMtu = 65520;
constexpr std::size_t kMaxIfname = 15;  // IFNAMSIZ - 1
constexpr std::size_t kMaxDomain = 253;
// --stats: a day between rows is plenty, and keeps the value an int.
constexpr unsigned long long kMaxStatsDelay = 86400;
constexpr const char* kNetnsRunDir = "/run/netns";

const OptionSpec& spec_of(int val) {
    for (const auto& s : kOptions) {
        if (s.val == val) {
            return s;
        }
    }
    throw std::logic_error("getopt returned an option missing from the table");
}

// "-m/--mtu" or "--netns", as messages name an option.
std::string display_name(const OptionSpec& s) {
    std::string out;
    if (s.val < 256) {
        out += '-';
        out += static_cast<char>(s.val);
        out += '/';
    }
    return out + "--" + s.name;
}

[[noreturn]] void fail(const std::string& message) {
    throw std::invalid_argument(message);
}

[[noreturn]] void fail_value(const OptionSpec& s, std::string_view what, std::string_view value,
                             std::string_view why) {
    fail("invalid " + std::string(what) + " '" + std::string(value) + "' for " + display_name(s) +
         ": " + std::string(why));
}

// A whole-string unsigned number in C notation (decimal, 0x hex, 0 octal),
// as pasta reads numbers with strtoul(..., 0); signs and blanks are refused.
std::optional<unsigned long long> parse_number(std::string_view text, int base) {
    if (text.empty() || text[0] < '0' || text[0] > '9') {
        return std::nullopt;
    }
    const std::string copy(text);
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(copy.c_str(), &end, base);
    if (errno != 0 || end == nullptr || *end != '\0') {
        return std::nullopt;
    }
    return v;
}

bool is_v4_in_v6(const Ip6& a) {
    // ::ffff:a.b.c.d (mapped) or ::a.b.c.d (the obsolete compatible form).
    for (std::size_t i = 0; i < 10; ++i) {
        if (a.b[i] != 0) {
            return false;
        }
    }
    const bool mapped = a.b[10] == 0xff && a.b[11] == 0xff;
    const bool compat = a.b[10] == 0 && a.b[11] == 0 && !a.is_unspecified() && !a.is_loopback();
    return mapped || compat;
}

// Which addresses an option refuses, as in pasta.
enum AddrRule : unsigned {
    kNoUnspecified = 1U << 0,
    kNoLoopback = 1U << 1,
    kNoMulticast = 1U << 2,
    kNoBroadcast = 1U << 3,  // IPv4 255.255.255.255
    kNoV4InV6 = 1U << 4,     // IPv6 forms that embed an IPv4 address
    kNoLoopback6 = 1U << 5,  // ::1 only; 127.0.0.0/8 stays allowed
};

using IpAddr = std::variant<Ip4, Ip6>;

const char* refusal(const Ip4& a, unsigned rules) {
    if ((rules & kNoUnspecified) && a.is_unspecified()) {
        return "unspecified address not allowed";
    }
    if ((rules & kNoLoopback) && a.is_loopback()) {
        return "loopback address not allowed";
    }
    if ((rules & kNoMulticast) && a.is_multicast()) {
        return "multicast address not allowed";
    }
    if ((rules & kNoBroadcast) && a.host_order() == 0xffffffffU) {
        return "broadcast address not allowed";
    }
    return nullptr;
}

const char* refusal(const Ip6& a, unsigned rules) {
    if ((rules & kNoUnspecified) && a.is_unspecified()) {
        return "unspecified address not allowed";
    }
    if ((rules & (kNoLoopback | kNoLoopback6)) && a.is_loopback()) {
        return "loopback address not allowed";
    }
    if ((rules & kNoMulticast) && a.is_multicast()) {
        return "multicast address not allowed";
    }
    if ((rules & kNoV4InV6) && is_v4_in_v6(a)) {
        return "IPv4-mapped or -compatible address not allowed";
    }
    return nullptr;
}

IpAddr parse_ip(const OptionSpec& s, std::string_view text, unsigned rules) {
    if (auto v4 = Ip4::parse(text)) {
        if (const char* why = refusal(*v4, rules)) {
            fail_value(s, "address", text, why);
        }
        return *v4;
    }
    if (auto v6 = Ip6::parse(text)) {
        if (const char* why = refusal(*v6, rules)) {
            fail_value(s, "address", text, why);
        }
        return *v6;
    }
    fail_value(s, "address", text, "not an IPv4 or IPv6 address");
}

// Stores an address in the member for its family.
template <typename Opt4, typename Opt6>
void store_ip(const IpAddr& a, Opt4& v4, Opt6& v6) {
    if (const auto* p = std::get_if<Ip4>(&a)) {
        v4 = *p;
    } else {
        v6 = std::get<Ip6>(a);
    }
}

// Interface names as the kernel accepts them (dev_valid_name()).
void check_ifname(const OptionSpec& s, std::string_view name) {
    if (name.empty() || name.size() > kMaxIfname) {
        fail_value(s, "interface name", name, "must be 1..15 characters");
    }
    if (name == "." || name == "..") {
        fail_value(s, "interface name", name, "'.' and '..' are not names");
    }
    for (const char c : name) {
        if (c == '/' || c == ':' || c == ' ' || (c >= '\t' && c <= '\r')) {
            fail_value(s, "interface name", name, "no '/', ':' or whitespace allowed");
        }
    }
}

void check_path(const OptionSpec& s, std::string_view path) {
    if (path.empty() || path.size() >= PATH_MAX) {
        fail_value(s, "path", path, "must be 1..4095 characters");
    }
}

// --fqdn NAME travels in DNS wire format (RFC 1035 section 3.1), so unlike
// pasta, which would send a mangled name, pastad refuses names that format
// cannot carry. Empty sends none; one trailing dot is allowed.
void check_fqdn(const OptionSpec& s, std::string_view name) {
    if (name.size() > kMaxDomain) {
        fail_value(s, "domain name", name, "longer than 253 characters");
    }
    std::string_view rest = name;
    if (!rest.empty() && rest.back() == '.') {
        rest.remove_suffix(1);
    }
    while (!name.empty()) {
        const std::size_t dot = std::min(rest.find('.'), rest.size());
        if (dot == 0 || dot > 63) {
            fail_value(s, "domain name", name, "each label must be 1..63 characters");
        }
        if (dot == rest.size()) {
            break;
        }
        rest.remove_prefix(dot + 1);
    }
}

Mac parse_mac(const OptionSpec& s, std::string_view text) {
    const auto mac = Mac::parse(text);
    if (!mac) {
        fail_value(s, "MAC address", text, "expected six hexadecimal pairs, as 9a:55:9a:55:9a:55");
    }
    return *mac;
}

// A dotted netmask with contiguous ones, or a prefix length 0..32.
unsigned parse_ip4_prefix(const OptionSpec& s, std::string_view text) {
    if (auto mask = Ip4::parse(text)) {
        const std::uint32_t m = mask->host_order();
        const unsigned len = static_cast<unsigned>(__builtin_popcount(m));
        const std::uint32_t expect = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
        if (m != expect) {
            fail_value(s, "netmask", text, "the ones must be contiguous");
        }
        return len;
    }
    const auto len = parse_number(text, 10);
    if (!len || *len > 32) {
        fail_value(s, "netmask", text, "must be a dotted netmask or a prefix length 0..32");
    }
    return static_cast<unsigned>(*len);
}

std::size_t min_log_size() {
    // Pasta keeps room for five stdio buffers or pages, whichever is larger.
    const long page = sysconf(_SC_PAGESIZE);
    const std::size_t unit = page > BUFSIZ ? static_cast<std::size_t>(page) : BUFSIZ;
    return 5 * unit;
}

std::optional<unsigned long> parse_id(std::string_view text) {
    // uid_t and gid_t are 32 bits; (uid_t)-1 means "no change" to the kernel.
    const auto v = parse_number(text, 0);
    if (!v || *v >= 0xffffffffULL) {
        return std::nullopt;
    }
    return static_cast<unsigned long>(*v);
}

// --runas UID, UID:GID, USER or USER:GROUP. A numeric UID alone also gives
// the GID of the same number, a user name its primary group, as in pasta.
void parse_runas(const OptionSpec& s, std::string_view text, Config& c) {
    const auto colon = text.find(':');
    const std::string_view user = text.substr(0, colon);
    if (user.empty() || (colon != std::string_view::npos && colon + 1 == text.size())) {
        fail_value(s, "user", text, "expected UID[:GID] or USER[:GROUP]");
    }
    if (auto uid = parse_id(user)) {
        c.runas_uid = static_cast<uid_t>(*uid);
        c.runas_gid = static_cast<gid_t>(*uid);
    } else {
        const struct passwd* pw = getpwnam(std::string(user).c_str());
        if (pw == nullptr) {
            fail_value(s, "user", text, "no such user");
        }
        c.runas_uid = pw->pw_uid;
        c.runas_gid = pw->pw_gid;
    }
    if (colon == std::string_view::npos) {
        return;
    }
    const std::string_view group_name = text.substr(colon + 1);
    if (auto gid = parse_id(group_name)) {
        c.runas_gid = static_cast<gid_t>(*gid);
        return;
    }
    const struct group* gr = getgrnam(std::string(group_name).c_str());
    if (gr == nullptr) {
        fail_value(s, "group", text, "no such group");
    }
    c.runas_gid = gr->gr_gid;
}

// Builds getopt's view of kOptions: "+" stops at the first non-option (the
// command belongs to the target), ":" reports a missing argument apart.
std::string build_optstring() {
    std::string out = "+:";
    for (const auto& s : kOptions) {
        if (s.val < 256) {
            out += static_cast<char>(s.val);
            if (s.arg != nullptr) {
                out += ':';
            }
        }
    }
    return out;
}

std::vector<option> build_longopts() {
    std::vector<option> out;
    for (const auto& s : kOptions) {
        out.push_back(
            option{s.name, s.arg != nullptr ? required_argument : no_argument, nullptr, s.val});
    }
    out.push_back(option{nullptr, 0, nullptr, 0});
    return out;
}

// The message glibc would print for a long option it could not match, which
// Podman recognises: an unknown name, or an ambiguous abbreviation.
std::string unmatched_long_message(std::string_view arg) {
    const std::string_view body = arg.substr(2);
    const std::string_view name = body.substr(0, body.find('='));
    std::vector<const char*> candidates;
    for (const auto& s : kOptions) {
        if (std::string_view(s.name).starts_with(name)) {
            candidates.push_back(s.name);
        }
    }
    if (candidates.size() > 1 && !name.empty()) {
        std::string msg = "option '--" + std::string(name) + "' is ambiguous; possibilities:";
        for (const char* c : candidates) {
            msg += " '--" + std::string(c) + "'";
        }
        return msg;
    }
    return "unrecognized option '" + std::string(arg) + "'";
}

// Turns getopt_long's '?' or ':' into a message. `argv[optind - 1]` is the
// element in question only for long options: a bad letter inside a cluster
// ("-fxq") leaves optind where it was, so letters are named from optopt.
std::string getopt_error(int rc, char* const argv[]) {
    if (rc == ':') {
        return "option " + display_name(spec_of(optopt)) + " requires an argument";
    }
    if (optopt == 0) {
        return unmatched_long_message(argv[optind - 1]);
    }
    for (const auto& s : kOptions) {
        if (s.val == optopt) {
            // Only a long option given "=value" without taking one gets here.
            return "option '--" + std::string(s.name) + "' doesn't allow an argument";
        }
    }
    return std::string("invalid option -- '") + static_cast<char>(optopt) + "'";
}

// Applies options one at a time to the result, as getopt_long returns them.
class Parser {
public:
    explicit Parser(ParsedCommandLine& out) : out_(out), c_(out.config) {}

    void apply(int val, const char* optarg_or_null);
    void finish(int argc, char* const argv[], int first_operand);

private:
    void apply_process(const OptionSpec& s, std::string_view arg);
    void apply_target(const OptionSpec& s, std::string_view arg);
    void apply_interface(const OptionSpec& s, std::string_view arg);
    void apply_address(const OptionSpec& s, std::string_view arg);
    void apply_mapping(const OptionSpec& s, std::string_view arg);
    void apply_dns(const OptionSpec& s, std::string_view arg);
    void apply_search(const OptionSpec& s, std::string_view arg);
    void apply_protocol(const OptionSpec& s);
    void apply_ports(const OptionSpec& s, std::string_view arg);
    void apply_own(const OptionSpec& s, std::string_view arg);
    void set_target(int argc, char* const argv[], int first_operand);
    void finish_splice_only();

    ParsedCommandLine& out_;
    Config& c_;
    std::string netns_arg_;  // --netns as given, for messages
    bool ipv4_only_ = false;
    bool ipv6_only_ = false;
    bool prefix_from_address_ = false;
    bool prefix_from_netmask_ = false;
    bool copy_routes_opt_ = false;
    bool copy_addrs_opt_ = false;
    bool stats_opt_ = false;
    bool interface_given_ = false;  // -i: --outbound-if4/6 then leave the templates
    bool ns_ifname_given_ = false;
    bool ns_mac_given_ = false;
};

void Parser::apply(int val, const char* optarg_or_null) {
    const OptionSpec& s = spec_of(val);
    const std::string_view arg = optarg_or_null != nullptr ? optarg_or_null : "";
    switch (s.group) {
        case Group::Process:
            apply_process(s, arg);
            return;
        case Group::Target:
            apply_target(s, arg);
            return;
        case Group::Interface:
            apply_interface(s, arg);
            return;
        case Group::Mapping:
            apply_mapping(s, arg);
            return;
        case Group::Dns:
            apply_dns(s, arg);
            return;
        case Group::Protocol:
            apply_protocol(s);
            return;
        case Group::Ports:
            apply_ports(s, arg);
            return;
        case Group::Own:
            apply_own(s, arg);
            return;
    }
}

void Parser::apply_process(const OptionSpec& s, std::string_view arg) {
    switch (s.val) {
        case 'f':
            c_.foreground = true;
            return;
        case 'q':
            // The last of -q, -d and --trace wins, as in pasta.
            c_.quiet = true;
            c_.debug = c_.trace = false;
            return;
        case 'd':
            c_.debug = true;
            c_.quiet = false;
            return;
        case kTrace:
            c_.trace = c_.debug = true;
            c_.quiet = false;
            return;
        case 'l':
            check_path(s, arg);
            c_.log_file = arg;
            return;
        case kLogSize: {
            const auto size = parse_number(arg, 0);
            const std::size_t min = min_log_size();
            if (!size || *size < min || *size > SIZE_MAX) {
                fail_value(s, "size", arg,
                           "must be a byte count of at least " + std::to_string(min));
            }
            c_.log_size = static_cast<std::size_t>(*size);
            return;
        }
        case 'P':
            check_path(s, arg);
            c_.pid_file = arg;
            return;
        case 'p':
            check_path(s, arg);
            c_.pcap_file = arg;
            return;
        case kRunas:
            parse_runas(s, arg, c_);
            return;
        case kStats: {
            const auto delay = parse_number(arg, 0);
            if (!delay || *delay > kMaxStatsDelay) {
                fail_value(s, "delay", arg, "must be a number of seconds, 0..86400");
            }
            c_.stats_delay = static_cast<unsigned>(*delay);
            stats_opt_ = true;
            return;
        }
        case 'h':
            out_.action = Action::Help;
            return;
        case kVersion:
            out_.action = Action::Version;
            return;
        case kPrintCapabilities:
            // pasta prints its vhost-user capabilities and exits in every mode.
            out_.action = Action::PrintCapabilities;
            return;
        case kRepairPath:
            // No passt-repair socket exists outside vhost-user mode; pasta
            // takes "none", which asks for none, and refuses a path.
            if (arg != "none") {
                fail("--repair-path is for vhost-user mode only: '" + std::string(arg) +
                     "' given; only 'none' is accepted");
            }
            return;
        case 'e':
            out_.warnings.emplace_back("-e/--stderr is deprecated and has no effect");
            return;
        case kChrootFallback:
            // pasta falls back to chroot() when pivot_root() to an empty
            // root fails; pastad keeps the root it was started with, so
            // there is nothing to fall back from.
            return;
        case 'c':
            // Limitation: the pesto configuration protocol (pasta's -c) is
            // not implemented. It exists only as pasta's own C structures
            // (version 2, experimental), with no specification to build a
            // compatible server from, so the option is refused rather than
            // serving a protocol of pastad's own invention.
            check_path(s, arg);
            fail(
                "-c/--conf-path is not supported: pastad does not implement pasta's pesto "
                "configuration socket");
    }
}

void Parser::apply_target(const OptionSpec& s, std::string_view arg) {
    switch (s.val) {
        case kNetns:
            // A bare name means a namespace made by `ip netns add`.
            if (arg.empty()) {
                fail_value(s, "namespace", arg, "empty path or name");
            }
            netns_arg_ = arg;
            c_.netns_path = arg.find('/') == std::string_view::npos
                                ? std::string(kNetnsRunDir) + "/" + std::string(arg)
                                : std::string(arg);
            check_path(s, c_.netns_path);
            return;
        case kUserns:
            check_path(s, arg);
            c_.userns_path = arg;
            c_.netns_only = false;
            return;
        case kNetnsOnly:
            c_.netns_only = true;
            c_.userns_path.clear();
            return;
        case kNoNetnsQuit:
            c_.no_netns_quit = true;
            return;
        case kConfigNet:
            c_.config_net = true;
            return;
        case 'F': {
            // Standard input, output and error cannot be the tap.
            const auto fd = parse_number(arg, 0);
            if (!fd || *fd <= 2 || *fd > INT_MAX) {
                fail_value(s, "file descriptor", arg, "must be a number above 2");
            }
            c_.tap_fd = static_cast<int>(*fd);
            return;
        }
    }
}

void Parser::apply_interface(const OptionSpec& s, std::string_view arg) {
    switch (s.val) {
        case 'I':
            check_ifname(s, arg);
            c_.ns_ifname = arg;
            ns_ifname_given_ = true;
            return;
        case 'i':
            // Limitation: the name is checked for form only; whether the host has
            // such an interface is found when the template is read over netlink.
            check_ifname(s, arg);
            c_.template_if4 = c_.template_if6 = arg;
            interface_given_ = true;
            return;
        case kOutboundIf4:
            // Also the template, unless -i names one, wherever it stands.
            check_ifname(s, arg);
            c_.outbound_if4 = arg;
            if (!interface_given_) {
                c_.template_if4 = arg;
            }
            return;
        case kOutboundIf6:
            check_ifname(s, arg);
            c_.outbound_if6 = arg;
            if (!interface_given_) {
                c_.template_if6 = arg;
            }
            return;
        case 'm': {
            const auto mtu = parse_number(arg, 0);
            if (!mtu || (*mtu != 0 && (*mtu < kMinMtu || *mtu > kMaxMtu))) {
                fail_value(s, "MTU", arg, "must be 68..65520, or 0");
            }
            c_.mtu = static_cast<unsigned>(*mtu);
            return;
        }
        case 'M':
            c_.our_mac = parse_mac(s, arg);
            return;
        case kNsMacAddr:
            c_.ns_mac = parse_mac(s, arg);
            ns_mac_given_ = true;
            return;
        case '4':
            ipv4_only_ = true;
            return;
        case '6':
            ipv6_only_ = true;
            return;
        case kNoCopyRoutes:
            copy_routes_opt_ = true;
            c_.copy_routes = false;
            return;
        case kNoCopyAddrs:
            copy_addrs_opt_ = true;
            c_.copy_addrs = false;
            return;
        default:
            apply_address(s, arg);
            return;
    }
}

// -a, -n and -g.
void Parser::apply_address(const OptionSpec& s, std::string_view arg) {
    if (s.val == 'n') {
        if (prefix_from_address_) {
            fail_value(s, "netmask", arg, "prefix length already given with -a ADDR/LEN");
        }
        c_.prefix4 = parse_ip4_prefix(s, arg);
        prefix_from_netmask_ = true;
        return;
    }
    if (s.val == 'g') {
        store_ip(parse_ip(s, arg, kNoUnspecified | kNoLoopback | kNoBroadcast), c_.gw4, c_.gw6);
        return;
    }

    // -a ADDR[/LEN], once for each family.
    const auto slash = arg.find('/');
    const IpAddr addr =
        parse_ip(s, arg.substr(0, slash),
                 kNoUnspecified | kNoLoopback | kNoMulticast | kNoBroadcast | kNoV4InV6);
    const bool v4 = std::holds_alternative<Ip4>(addr);
    if (v4 ? c_.addr4.has_value() : c_.addr6.has_value()) {
        fail_value(s, "address", arg,
                   v4 ? "an IPv4 address was already given" : "an IPv6 address was already given");
    }
    store_ip(addr, c_.addr4, c_.addr6);
    if (slash == std::string_view::npos) {
        return;
    }
    const auto len = parse_number(arg.substr(slash + 1), 10);
    if (!len || *len > (v4 ? 32U : 128U)) {
        fail_value(s, "prefix length", arg, v4 ? "must be 0..32" : "must be 0..128");
    }
    if (v4) {
        if (prefix_from_netmask_) {
            fail_value(s, "address", arg, "prefix length already given with -n");
        }
        c_.prefix4 = static_cast<unsigned>(*len);
        prefix_from_address_ = true;
    } else {
        c_.prefix6 = static_cast<unsigned>(*len);
    }
}

void Parser::apply_mapping(const OptionSpec& s, std::string_view arg) {
    constexpr unsigned kMapRules = kNoUnspecified | kNoLoopback | kNoMulticast;
    switch (s.val) {
        case 'o':
            store_ip(
                parse_ip(s, arg,
                         kNoUnspecified | kNoMulticast | kNoBroadcast | kNoV4InV6 | kNoLoopback6),
                c_.outbound4, c_.outbound6);
            return;
        case kNoMapGw:
            c_.no_map_gw = true;
            return;
        case kMapHostLoopback:
            if (arg == "none") {
                // As in pasta, "none" also turns off the default gateway mapping.
                c_.map_host_loopback4.reset();
                c_.map_host_loopback6.reset();
                c_.map_host_loopback_none = true;
                c_.no_map_gw = true;
                return;
            }
            store_ip(parse_ip(s, arg, kMapRules), c_.map_host_loopback4, c_.map_host_loopback6);
            c_.map_host_loopback_none = false;
            return;
        case kMapGuestAddr:
            if (arg == "none") {
                c_.map_guest_addr4.reset();
                c_.map_guest_addr6.reset();
                return;
            }
            store_ip(parse_ip(s, arg, kMapRules), c_.map_guest_addr4, c_.map_guest_addr6);
            return;
    }
}

void Parser::apply_dns(const OptionSpec& s, std::string_view arg) {
    switch (s.val) {
        case 'D':
            if (arg == "none") {
                // Pasta drops every DNS address given so far, forwarding included.
                c_.dns4.clear();
                c_.dns6.clear();
                c_.dns_forward4.reset();
                c_.dns_forward6.reset();
                c_.dns_host4.reset();
                c_.dns_host6.reset();
                c_.dns_none = true;
                return;
            }
            if (const IpAddr a = parse_ip(s, arg, 0); std::holds_alternative<Ip4>(a)) {
                c_.dns4.push_back(std::get<Ip4>(a));
            } else {
                c_.dns6.push_back(std::get<Ip6>(a));
            }
            c_.dns_none = false;
            return;
        case kDnsForward:
            store_ip(parse_ip(s, arg, kNoUnspecified | kNoLoopback | kNoBroadcast), c_.dns_forward4,
                     c_.dns_forward6);
            return;
        case kDnsHost:
            store_ip(parse_ip(s, arg, kNoUnspecified | kNoBroadcast), c_.dns_host4, c_.dns_host6);
            return;
        case 'S':
            if (arg == "none") {
                c_.search.clear();
                c_.search_none = true;
                return;
            }
            apply_search(s, arg);
            return;
        // pasta refuses the --no- forms in its namespace mode, where they
        // are the default; pastad accepts them as that default, stated.
        case kDhcpDns:
        case kNoDhcpDns:
            c_.dhcp_dns = s.val == kDhcpDns;
            return;
        case kDhcpSearch:
        case kNoDhcpSearch:
            c_.dhcp_search = s.val == kDhcpSearch;
            return;
        case 'H':
            // An empty name sends none, as in pasta.
            if (arg.size() > kMaxDomain) {
                fail_value(s, "host name", arg, "longer than 253 characters");
            }
            c_.hostname = arg;
            return;
        case kFqdn:
            check_fqdn(s, arg);
            c_.fqdn = arg;
            return;
    }
}

// -S LIST: one or more domains separated by blanks; repeatable.
void Parser::apply_search(const OptionSpec& s, std::string_view arg) {
    std::size_t added = 0;
    std::size_t pos = 0;
    while (pos < arg.size()) {
        const std::size_t start = arg.find_first_not_of(" \t", pos);
        if (start == std::string_view::npos) {
            break;
        }
        const std::size_t end = std::min(arg.find_first_of(" \t", start), arg.size());
        const std::string_view domain = arg.substr(start, end - start);
        if (domain.size() > kMaxDomain) {
            fail_value(s, "search domain", domain, "longer than 253 characters");
        }
        c_.search.emplace_back(domain);
        ++added;
        pos = end;
    }
    if (added == 0) {
        fail_value(s, "search list", arg, "no domain given");
    }
    c_.search_none = false;
}

void Parser::apply_protocol(const OptionSpec& s) {
    switch (s.val) {
        case kNoTcp:
            c_.no_tcp = true;
            return;
        case kNoUdp:
            c_.no_udp = true;
            return;
        case kNoIcmp:
            c_.no_icmp = true;
            return;
        case kNoDhcp:
            c_.no_dhcp = true;
            return;
        case kNoNdp:
            c_.no_ndp = true;
            return;
        case kNoDhcpv6:
            c_.no_dhcpv6 = true;
            return;
        case kNoRa:
            c_.no_ra = true;
            return;
        case kNoSplice:
            c_.no_splice = true;
            return;
        case kSpliceOnly:
            c_.splice_only = true;
            return;
    }
}

// Forwarding specifications are kept as given; the forwarding module parses
// them, since their meaning depends on the addresses found at start-up.
void Parser::apply_ports(const OptionSpec& s, std::string_view arg) {
    if (s.arg != nullptr && arg.empty()) {
        fail_value(s, "port specification", arg, "empty");
    }
    switch (s.val) {
        case 't':
            c_.tcp_host.emplace_back(arg);
            return;
        case 'u':
            c_.udp_host.emplace_back(arg);
            return;
        case 'T':
            c_.tcp_ns.emplace_back(arg);
            return;
        case 'U':
            c_.udp_ns.emplace_back(arg);
            return;
        case kFreebind:
            c_.freebind = true;
            return;
        case kHostLoToNsLo:
            c_.host_lo_to_ns_lo = true;
            return;
    }
}

void Parser::apply_own(const OptionSpec& s, std::string_view arg) {
    if (s.val == kIoBackend) {
        if (arg != "uring" && arg != "epoll") {
            fail_value(s, "back end", arg, "must be 'uring' or 'epoll'");
        }
        c_.io_backend = arg;
    }
}

void Parser::set_target(int argc, char* const argv[], int first_operand) {
    if (!c_.netns_path.empty()) {
        if (first_operand < argc) {
            fail("--netns '" + netns_arg_ + "' and a PID or command ('" +
                 std::string(argv[first_operand]) + "') given together");
        }
        c_.target = TargetKind::Netns;
        // As in pasta: a namespace given without --userns is joined alone.
        c_.netns_only = c_.userns_path.empty() || c_.netns_only;
        return;
    }
    if (first_operand >= argc) {
        c_.target = TargetKind::Spawn;
        return;
    }
    const std::string_view first = argv[first_operand];
    if (first.find_first_not_of("0123456789") != std::string_view::npos) {
        c_.target = TargetKind::Spawn;
        c_.command.assign(argv + first_operand, argv + argc);
        return;
    }
    const auto pid = parse_number(first, 10);
    if (!pid || *pid == 0 || *pid > INT_MAX) {
        fail("invalid PID '" + std::string(first) + "': must be 1.." + std::to_string(INT_MAX));
    }
    if (first_operand + 1 < argc) {
        fail("PID " + std::string(first) + " followed by more arguments ('" +
             std::string(argv[first_operand + 1]) + "'): a PID takes no command");
    }
    c_.target = TargetKind::Pid;
    c_.target_pid = static_cast<pid_t>(*pid);
}

// --splice-only: as in pasta, what needs the tap is refused, and what the
// missing tap makes moot is implied.
void Parser::finish_splice_only() {
    const auto refuse = [](const char* option) {
        fail(std::string(option) + " needs the tap that --splice-only leaves out");
    };
    if (ns_ifname_given_) {
        refuse("-I/--ns-ifname");
    }
    if (ns_mac_given_) {
        refuse("--ns-mac-addr");
    }
    if (c_.config_net) {
        refuse("--config-net");
    }
    if (!c_.outbound_if4.empty()) {
        refuse("--outbound-if4");
    }
    if (!c_.outbound_if6.empty()) {
        refuse("--outbound-if6");
    }
    if (c_.tap_fd >= 0) {
        refuse("-F/--fd");
    }
    if (c_.no_splice) {
        fail("--splice-only and --no-splice exclude each other");
    }
    // Every forwarded connection reaches the namespace's loopback, and
    // nothing could carry ICMP or router advertisements.
    c_.host_lo_to_ns_lo = true;
    c_.no_icmp = true;
    c_.no_ra = true;
}

void Parser::finish(int argc, char* const argv[], int first_operand) {
    if (ipv4_only_ && ipv6_only_) {
        fail("-4/--ipv4-only and -6/--ipv6-only exclude each other");
    }
    c_.ipv4 = !ipv6_only_;
    c_.ipv6 = !ipv4_only_;
    if (!c_.config_net && copy_routes_opt_) {
        fail("--no-copy-routes needs --config-net");
    }
    if (!c_.config_net && copy_addrs_opt_) {
        fail("--no-copy-addrs needs --config-net");
    }
    // As in pasta, which also refuses --stats 0 without -f; pasta wants -f
    // before --stats, pastad anywhere.
    if (stats_opt_ && !c_.foreground) {
        fail("--stats needs -f/--foreground: the table goes to standard error");
    }
    if (c_.host_lo_to_ns_lo && c_.no_splice) {
        fail("--host-lo-to-ns-lo needs the loopback bypass that --no-splice disables");
    }
    if (c_.tap_fd >= 0 && ns_ifname_given_) {
        fail("-I/--ns-ifname names a tap pastad creates; with -F/--fd the tap exists already");
    }
    if (c_.splice_only) {
        finish_splice_only();
    }
    set_target(argc, argv, first_operand);
}

}  // namespace

ParsedCommandLine parse_options(int argc, char* const argv[]) {
    static const std::string optstring = build_optstring();
    static const std::vector<option> longopts = build_longopts();

    ParsedCommandLine out;
    Parser parser(out);

    // optind = 0 makes glibc reinitialise fully, so every call starts afresh;
    // opterr = 0 because messages are ours, thrown rather than printed.
    optind = 0;
    opterr = 0;
    for (;;) {
        const int rc = getopt_long(argc, argv, optstring.c_str(), longopts.data(), nullptr);
        if (rc == -1) {
            break;
        }
        if (rc == '?' || rc == ':') {
            throw std::invalid_argument(getopt_error(rc, argv));
        }
        parser.apply(rc, optarg);
        if (out.action != Action::Run) {
            return out;
        }
    }
    parser.finish(argc, argv, optind);
    return out;
}

std::vector<std::string> known_long_options() {
    std::vector<std::string> out;
    for (const auto& s : kOptions) {
        out.emplace_back(s.name);
    }
    return out;
}

std::string usage_text(const char* argv0) {
    const std::string prog = argv0 != nullptr && *argv0 != '\0' ? argv0 : "pastad";
    std::string out = "Usage: " + prog + " [OPTION]... [COMMAND [ARG]...]\n" + "       " + prog +
                      " [OPTION]... PID\n" + "       " + prog +
                      " [OPTION]... --netns PATH|NAME\n\n" +
                      "Connect a network namespace to the host's network, as pasta does.\n" +
                      "Without PID or --netns, run COMMAND (default: a shell) in a new\n" +
                      "user and network namespace.\n";
    constexpr std::size_t kHelpColumn = 32;
    for (std::size_t g = 0; g < std::size(kGroupTitles); ++g) {
        out += "\n";
        out += kGroupTitles[g];
        out += ":\n";
        for (const auto& s : kOptions) {
            if (static_cast<std::size_t>(s.group) != g) {
                continue;
            }
            std::string line = s.val < 256 ? std::string("  -") + static_cast<char>(s.val) + ", "
                                           : std::string("      ");
            line += "--";
            line += s.name;
            if (s.arg != nullptr) {
                line += ' ';
                line += s.arg;
            }
            line.resize(std::max(line.size() + 2, kHelpColumn), ' ');
            out += line + s.help + "\n";
        }
    }
    out += "\nSee pastad(1) for details.\n";
    return out;
}

std::string version_text() {
    return std::string("pastad ") + PASTAD_VERSION + "\n" +
           "A pasta-compatible network translator for network namespaces.\n" +
           "Licence: GPL-2.0-or-later (GNU General Public License, version 2 or later).\n" +
           "pastad comes with no warranty, as far as the law allows.\n";
}

std::string capabilities_text() {
    // What pasta prints: a network back end. Written to standard output as
    // the vhost-user back-end conventions ask, where pasta uses its log
    // (standard error).
    return "{\n  \"type\": \"net\"\n}\n";
}

}  // namespace pastad

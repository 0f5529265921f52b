// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/forwarding.cpp - port forwards: listeners on both sides, dispatch, `auto` rescans
//
// Listeners: one socket per (option, argument, port, family). -t/-u sockets
// are made on the host by this thread; -T/-U sockets are made inside the
// namespace (by run_in_netns() before the daemonising fork, by the splice
// worker thread afterwards) and then used from the loop's thread: a socket
// keeps the namespace it was made in. -T/-U listen on the namespace's
// loopback addresses only, as pasta's "%lo" rules do.
//
// Paths for a connection accepted on a -t port:
// - client on a loopback address, --no-splice not given: splice path to the
//   namespace, connected from inside it to the namespace's own address at the
//   mapped port (its loopback with --host-lo-to-ns-lo), as pasta does, so
//   services bound to the namespace's loopback only stay private;
// - otherwise: tap path, the namespace's server sees the client's own
//   address (a loopback client is shown as the mapped gateway address, a
//   client on the host's own address, which the namespace shares, as the
//   gateway). For -u ports such datagrams go to the tap's UDP engine, and
//   replies leave from the forwarded port.
// -T connections always take the splice path to the host's loopback.
// --splice-only (no tap): every client, loopback or not, takes the splice
// path to the namespace's loopback; the namespace sees a loopback client.
//
// `auto`: every second the other side's /proc/net tables are read (files
// opened once in the right namespace) and a port is bound while its target
// port is bound there. pastad's own listeners are told apart by socket
// inode, so a port forwarded one way is never forwarded back.
#include "forwarding.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <bitset>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>

#include "daemon/base/log.hpp"
#include "daemon/namespaces.hpp"
#include "splice/netns_worker.hpp"
#include "splice/port_scan.hpp"
#include "splice/tcp_splice.hpp"
#include "splice/udp_relay.hpp"

namespace pastad {

namespace asio = boost::asio;
using Desc = asio::posix::stream_descriptor;

namespace {

constexpr auto kRescan = std::chrono::seconds(1);
constexpr int kAcceptBatch = 64;

bool is_loopback(const InAny& a) {
    return a.is_v4() ? a.v4().is_loopback() : a.a.is_loopback();
}

socklen_t to_sockaddr(const InAny& a, std::uint16_t port, sockaddr_storage& ss) {
    ss = {};
    if (a.is_v4()) {
        sockaddr_in in{};
        in.sin_family = AF_INET;
        in.sin_port = htons(port);
        const Ip4 v4 = a.v4();
        std::memcpy(&in.sin_addr, v4.b.data(), 4);
        std::memcpy(&ss, &in, sizeof(in));
        return sizeof(in);
    }
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    std::memcpy(&in6.sin6_addr, a.a.b.data(), 16);
    std::memcpy(&ss, &in6, sizeof(in6));
    return sizeof(in6);
}

InAny loopback(int family) {
    if (family == AF_INET) {
        return InAny::from(Ip4{{127, 0, 0, 1}});
    }
    Ip6 l;
    l.b[15] = 1;
    return InAny::from(l);
}

InAny wildcard(int family) {
    return family == AF_INET ? InAny::from(Ip4{}) : InAny::from(Ip6{});
}

std::uint64_t inode_of(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
}

// A bound (and for TCP listening) socket, or the errno of the step that failed.
Result<UniqueFd> open_listener(int type, const InAny& addr, const std::string& ifname,
                               std::uint16_t port, bool freebind) {
    const int family = addr.is_v4() ? AF_INET : AF_INET6;
    UniqueFd s(::socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s) {
        return errno_code();
    }
    const int one = 1;
    if (type == SOCK_STREAM) {
        ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (family == AF_INET6) {
        ::setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (freebind) {
        ::setsockopt(s.get(), family == AF_INET ? IPPROTO_IP : IPPROTO_IPV6,
                     family == AF_INET ? IP_FREEBIND : IPV6_FREEBIND, &one, sizeof(one));
    }
    if (!ifname.empty() && ::setsockopt(s.get(), SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(),
                                        static_cast<socklen_t>(ifname.size())) != 0) {
        return errno_code();
    }
    sockaddr_storage ss;
    const socklen_t len = to_sockaddr(addr, port, ss);
    if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
        return errno_code();
    }
    if (type == SOCK_STREAM && ::listen(s.get(), SOMAXCONN) != 0) {
        return errno_code();
    }
    return s;
}

std::string bind_error_text(std::uint16_t port, const std::error_code& ec) {
    std::string s = ec.message();
    if (ec.value() == EACCES && port < 1024) {
        s += "; ports below 1024 need privileges: allow them with 'sysctl -w "
             "net.ipv4.ip_unprivileged_port_start=" +
             std::to_string(port) + "'";
    }
    return s;
}

// Lets pastad hold as many sockets as the hard limit allows, as `all` needs.
void raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

}  // namespace

class Forwarding::Impl {
public:
    Impl(const Config& cfg, FwdSpecs specs, const NetPlan& plan, int netns)
        : cfg_(cfg), plan_(plan), netns_(netns) {
        specs_[0] = std::move(specs.tcp_in);
        specs_[1] = std::move(specs.udp_in);
        specs_[2] = std::move(specs.tcp_out);
        specs_[3] = std::move(specs.udp_out);
        raise_fd_limit();
        if (cfg.ipv4) {
            families_.push_back(AF_INET);
        }
        if (cfg.ipv6) {
            families_.push_back(AF_INET6);
        }
        open_tables();
        for (int s = 0; s < 4; ++s) {
            bind_explicit(s);
        }
        rescan();
    }

    ~Impl() { stop(); }

    void start(asio::io_context& io, TapHandoff to_tap, UdpHandoff udp_to_tap) {
        io_ = &io;
        to_tap_ = std::move(to_tap);
        udp_to_tap_ = std::move(udp_to_tap);
        worker_ = std::make_unique<splice::NetnsWorker>(netns_);
        splicer_ = std::make_unique<splice::TcpSplicer>(io);
        batch_ = std::make_unique<splice::DatagramBatch>();
        timer_.emplace(io);
        for (auto& [key, l] : listeners_) {
            activate(*l);
        }
        schedule_rescan();
    }

    void stop() {
        if (timer_) {
            timer_->cancel();
        }
        listeners_.clear();
        splicer_.reset();
        timer_.reset();
    }

    std::string summary() const {
        std::size_t tcp = 0;
        std::size_t udp = 0;
        for (const auto& [key, l] : listeners_) {
            (specs_[l->spec].proto == FwdProto::Tcp ? tcp : udp) += 1;
        }
        std::string s = fmt::format("forwards: {} tcp and {} udp sockets bound", tcp, udp);
        if (splicer_) {
            const auto& st = splicer_->stats();
            s +=
                fmt::format(", spliced {} connections ({} refused, {} reset), bytes {} out {} back",
                            st.opened, st.refused, st.resets, st.bytes[0], st.bytes[1]);
        }
        return s;
    }

private:
    struct Listener {
        int spec = 0;
        std::size_t group = 0;
        PortMap map;
        int family = AF_INET;
        UniqueFd fd;                              // until activate()
        std::optional<Desc> desc;                 // TCP, after activate()
        std::shared_ptr<splice::UdpRelay> relay;  // UDP, after activate()
        std::uint64_t inode = 0;
        ~Listener() {
            if (relay) {
                relay->close();
            }
        }
    };
    using Key = std::tuple<int, std::size_t, std::uint16_t, int>;

    const FwdSpec& spec(int s) const { return specs_[s]; }
    bool ns_side(int s) const { return specs_[s].dir == FwdDir::NsToHost; }

    // Runs `fn` where spec `s` listens: the host (this thread) or the namespace.
    void on_side(int s, const std::function<void()>& fn) {
        if (!ns_side(s)) {
            fn();
        } else if (worker_) {
            worker_->call(fn);
        } else {
            run_in_netns(netns_, fn);
        }
    }

    void open_tables() {
        for (const char* name : {"tcp", "tcp6", "udp", "udp6"}) {
            host_tables_.emplace_back(name);
        }
        run_in_netns(netns_, [&] {
            for (const char* name : {"tcp", "tcp6", "udp", "udp6"}) {
                ns_tables_.emplace_back(name);
            }
        });
    }

    // The families a group listens on, with their addresses.
    std::vector<InAny> addresses(int s, const FwdGroup& g) const {
        std::vector<InAny> out;
        if (g.addr) {
            out.push_back(*g.addr);
            return out;
        }
        for (const int f : families_) {
            out.push_back(ns_side(s) ? loopback(f) : wildcard(f));
        }
        return out;
    }

    // Binds one port of group `gi` in every family; returns the errors.
    std::vector<std::error_code> bind_port(int s, std::size_t gi, const PortMap& m) {
        const auto& g = spec(s).groups[gi];
        const int type = spec(s).proto == FwdProto::Tcp ? SOCK_STREAM : SOCK_DGRAM;
        std::vector<std::error_code> errors;
        std::vector<std::pair<int, UniqueFd>> made;
        const auto addrs = addresses(s, g);
        on_side(s, [&] {
            for (const auto& a : addrs) {
                auto r = open_listener(type, a, g.ifname, m.port, cfg_.freebind);
                if (r) {
                    made.emplace_back(a.is_v4() ? AF_INET : AF_INET6, std::move(*r));
                } else {
                    errors.push_back(r.error());
                }
            }
        });
        for (auto& [family, fd] : made) {
            auto l = std::make_unique<Listener>();
            l->spec = s;
            l->group = gi;
            l->map = m;
            l->family = family;
            l->inode = inode_of(fd.get());
            l->fd = std::move(fd);
            own_inodes_.insert(l->inode);
            Listener& ref = *l;
            listeners_[Key{s, gi, m.port, family}] = std::move(l);
            if (io_ != nullptr) {
                activate(ref);
            }
        }
        if (!made.empty()) {
            errors.clear();
        }
        return errors;
    }

    void unbind_port(int s, std::size_t gi, std::uint16_t port) {
        for (const int f : {AF_INET, AF_INET6}) {
            const auto it = listeners_.find(Key{s, gi, port, f});
            if (it != listeners_.end()) {
                own_inodes_.erase(it->second->inode);
                listeners_.erase(it);
            }
        }
    }

    bool bound(int s, std::size_t gi, std::uint16_t port) const {
        return listeners_.count(Key{s, gi, port, AF_INET}) +
                   listeners_.count(Key{s, gi, port, AF_INET6}) >
               0;
    }

    void bind_explicit(int s) {
        const auto& sp = spec(s);
        for (std::size_t gi = 0; gi < sp.groups.size(); ++gi) {
            const auto& g = sp.groups[gi];
            if (g.scan) {
                continue;
            }
            std::size_t ok = 0;
            for (const auto& m : g.ports) {
                const auto errors = bind_port(s, gi, m);
                if (errors.empty()) {
                    ++ok;
                    continue;
                }
                if (!g.best_effort) {
                    throw std::runtime_error(fmt::format("cannot bind port {} for '-{} {}': {}",
                                                         m.port, sp.option, g.text,
                                                         bind_error_text(m.port, errors.front())));
                }
            }
            if (ok == 0) {
                throw std::runtime_error(
                    fmt::format("cannot bind any port for '-{} {}'", sp.option, g.text));
            }
            log::splice().info("-{} {}: {} port(s) bound", sp.option, g.text, ok);
        }
    }

    // Ports bound on the side opposite to spec `s`, not counting our own.
    std::bitset<65536> other_side_ports(int s, bool udp) const {
        const auto& tables = ns_side(s) ? host_tables_ : ns_tables_;
        std::bitset<65536> out;
        const auto add = [&](const splice::ProcNetTable& t, unsigned state) {
            for (const auto& b : t.read(state)) {
                if (own_inodes_.count(b.inode) == 0) {
                    out.set(b.port);
                }
            }
        };
        add(tables[0], splice::kTcpListen);
        add(tables[1], splice::kTcpListen);
        if (udp) {
            // As pasta does: UDP also follows bound TCP ports (iperf3-style
            // protocols pair a TCP control port with a UDP data port).
            add(tables[2], splice::kUdpUnconnected);
            add(tables[3], splice::kUdpUnconnected);
        }
        return out;
    }

    void rescan() {
        for (int s = 0; s < 4; ++s) {
            const auto& sp = spec(s);
            if (!sp.scans()) {
                continue;
            }
            const auto ports = other_side_ports(s, sp.proto == FwdProto::Udp);
            for (std::size_t gi = 0; gi < sp.groups.size(); ++gi) {
                const auto& g = sp.groups[gi];
                if (!g.scan) {
                    continue;
                }
                for (const auto& m : g.ports) {
                    const bool want = ports.test(m.to_port);
                    const bool have = bound(s, gi, m.port);
                    if (want && !have) {
                        const auto errors = bind_port(s, gi, m);
                        if (errors.empty()) {
                            log::splice().debug("-{} auto: forwarding port {}", sp.option, m.port);
                        }
                    } else if (!want && have) {
                        log::splice().debug("-{} auto: port {} no longer forwarded", sp.option,
                                            m.port);
                        unbind_port(s, gi, m.port);
                    }
                }
            }
        }
    }

    void schedule_rescan() {
        timer_->expires_after(kRescan);
        timer_->async_wait([this](auto ec) {
            if (ec) {
                return;
            }
            rescan();
            const auto now = std::chrono::steady_clock::now();
            for (auto& [key, l] : listeners_) {
                if (l->relay) {
                    l->relay->expire(now);
                }
            }
            schedule_rescan();
        });
    }

    // Where a connection or datagram accepted by `l` goes on the other side.
    InAny target_addr(const Listener& l) const {
        if (ns_side(l.spec) || cfg_.host_lo_to_ns_lo) {
            return loopback(l.family);
        }
        if (l.family == AF_INET && !plan_.addrs4.empty()) {
            return InAny::from(plan_.addrs4.front().addr);
        }
        if (l.family == AF_INET6 && !plan_.addrs6.empty()) {
            return InAny::from(plan_.addrs6.front().addr);
        }
        return loopback(l.family);
    }

    Result<UniqueFd> other_side_socket(const Listener& l, int type) {
        if (!ns_side(l.spec)) {
            return worker_->take_socket(l.family, type);
        }
        UniqueFd s(::socket(l.family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!s) {
            return errno_code();
        }
        return s;
    }

    void activate(Listener& l) {
        if (spec(l.spec).proto == FwdProto::Tcp) {
            l.desc.emplace(*io_, l.fd.release());
            wait_accept(l);
            return;
        }
        sockaddr_storage dest;
        const socklen_t len = to_sockaddr(target_addr(l), l.map.to_port, dest);
        const Listener* lp = &l;
        auto make = [this, lp](int) { return other_side_socket(*lp, SOCK_DGRAM); };
        splice::UdpRelay::ClientFilter filter;
        if (!ns_side(l.spec) && !cfg_.splice_only) {
            // Loopback clients take the splice path; the others the tap's.
            filter = [](const sockaddr_storage& src) {
                return is_loopback(splice::endpoint_of(src).first);
            };
        }
        l.relay = std::make_shared<splice::UdpRelay>(*io_, std::move(l.fd), std::move(make), dest,
                                                     len, std::move(filter), *batch_);
        if (!ns_side(l.spec) && udp_to_tap_) {
            l.relay->set_elsewhere([this, lp](const sockaddr_storage& src,
                                              std::span<const std::byte> data, int listener) {
                const auto [peer, peer_port] = splice::endpoint_of(src);
                if (const auto ep = tap_endpoints(*lp, peer, peer_port)) {
                    udp_to_tap_(*ep, peer, listener, data);
                }
            });
        }
        l.relay->start();
    }

    void wait_accept(Listener& l) {
        const Key key{l.spec, l.group, l.map.port, l.family};
        l.desc->async_wait(Desc::wait_read, [this, key](auto ec) {
            if (ec) {
                return;
            }
            const auto it = listeners_.find(key);
            if (it == listeners_.end()) {
                return;
            }
            Listener& cur = *it->second;
            accept_all(cur);
            wait_accept(cur);
        });
    }

    void accept_all(Listener& l) {
        for (int i = 0; i < kAcceptBatch; ++i) {
            sockaddr_storage ss{};
            socklen_t len = sizeof(ss);
            UniqueFd c(::accept4(l.desc->native_handle(), reinterpret_cast<sockaddr*>(&ss), &len,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC));
            if (!c) {
                return;
            }
            dispatch(l, std::move(c), ss);
        }
    }

    void dispatch(const Listener& l, UniqueFd c, const sockaddr_storage& src) {
        const auto [peer, peer_port] = splice::endpoint_of(src);
        if (ns_side(l.spec) || cfg_.splice_only || (is_loopback(peer) && !cfg_.no_splice)) {
            auto out = other_side_socket(l, SOCK_STREAM);
            if (!out) {
                log::splice().warn("no socket for a forwarded connection: {}",
                                   out.error().message());
                return;  // closing `c` refuses the client
            }
            sockaddr_storage dest;
            const socklen_t len = to_sockaddr(target_addr(l), l.map.to_port, dest);
            splicer_->start(std::move(c), std::move(*out), dest, len);
            return;
        }
        if (const auto ep = tap_endpoints(l, peer, peer_port)) {
            to_tap_(std::move(c), *ep);
        }
    }

    // How the namespace sees a host client of a -t/-u port on the tap path;
    // nullopt when it cannot be shown.
    std::optional<tap::Endpoints> tap_endpoints(const Listener& l, const InAny& peer,
                                                std::uint16_t peer_port) const {
        tap::Endpoints ep;
        ep.ns_port = l.map.to_port;
        ep.peer_port = peer_port;
        ep.peer_addr = peer;
        if (l.family == AF_INET && !plan_.addrs4.empty()) {
            ep.ns_addr = InAny::from(plan_.addrs4.front().addr);
        } else if (l.family == AF_INET6 && !plan_.addrs6.empty()) {
            ep.ns_addr = InAny::from(plan_.addrs6.front().addr);
        } else {
            return std::nullopt;
        }
        if (is_loopback(peer)) {
            // --no-splice: a loopback source cannot cross the tap; show it as
            // the mapped host address, or drop it when mapping is off.
            const auto mapped = mapped_loopback(l.family);
            if (!mapped) {
                return std::nullopt;
            }
            ep.peer_addr = *mapped;
        } else if (is_namespace_address(peer)) {
            // A client on the host's own address (which the namespace has
            // too): a segment from it would be a martian to the namespace,
            // so it is shown as coming from the gateway instead.
            const auto gw = gateway(l.family);
            if (!gw) {
                return std::nullopt;
            }
            ep.peer_addr = *gw;
        }
        return ep;
    }

    bool is_namespace_address(const InAny& a) const {
        if (a.is_v4()) {
            for (const auto& p : plan_.addrs4) {
                if (p.addr == a.v4()) {
                    return true;
                }
            }
            return false;
        }
        for (const auto& p : plan_.addrs6) {
            if (p.addr == a.a) {
                return true;
            }
        }
        return false;
    }

    std::optional<InAny> gateway(int family) const {
        if (family == AF_INET) {
            return plan_.gw4 ? std::optional<InAny>(InAny::from(*plan_.gw4)) : std::nullopt;
        }
        return plan_.gw6 ? std::optional<InAny>(InAny::from(*plan_.gw6)) : std::nullopt;
    }

    std::optional<InAny> mapped_loopback(int family) const {
        if (cfg_.map_host_loopback_none || cfg_.no_map_gw) {
            return std::nullopt;
        }
        if (family == AF_INET) {
            if (cfg_.map_host_loopback4) {
                return InAny::from(*cfg_.map_host_loopback4);
            }
            return plan_.gw4 ? std::optional<InAny>(InAny::from(*plan_.gw4)) : std::nullopt;
        }
        if (cfg_.map_host_loopback6) {
            return InAny::from(*cfg_.map_host_loopback6);
        }
        return plan_.gw6 ? std::optional<InAny>(InAny::from(*plan_.gw6)) : std::nullopt;
    }

    const Config& cfg_;
    const NetPlan& plan_;
    int netns_;
    FwdSpec specs_[4];  // -t, -u, -T, -U
    std::vector<int> families_;
    std::vector<splice::ProcNetTable> host_tables_;  // tcp, tcp6, udp, udp6
    std::vector<splice::ProcNetTable> ns_tables_;
    std::set<std::uint64_t> own_inodes_;
    asio::io_context* io_ = nullptr;
    TapHandoff to_tap_;
    UdpHandoff udp_to_tap_;
    std::unique_ptr<splice::NetnsWorker> worker_;
    std::unique_ptr<splice::TcpSplicer> splicer_;
    std::unique_ptr<splice::DatagramBatch> batch_;
    std::optional<asio::steady_timer> timer_;
    std::map<Key, std::unique_ptr<Listener>> listeners_;
};

Forwarding::Forwarding(const Config& cfg, FwdSpecs specs, const NetPlan& plan, int netns)
    : impl_(std::make_unique<Impl>(cfg, std::move(specs), plan, netns)) {}

Forwarding::~Forwarding() = default;

void Forwarding::start(asio::io_context& io, TapHandoff to_tap, UdpHandoff udp_to_tap) {
    impl_->start(io, std::move(to_tap), std::move(udp_to_tap));
}

void Forwarding::stop() {
    impl_->stop();
}

std::string Forwarding::summary() const {
    return impl_->summary();
}

}  // namespace pastad

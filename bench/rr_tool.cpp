// SPDX-License-Identifier: GPL-2.0-or-later
// bench/rr_tool.cpp - request/response (RR) and connect/request/response (CRR) rate tool
//
// Used by bench/run.sh to measure what a translator costs per small message
// and per connection, where bulk throughput says nothing.
//
//   rr_tool server --addr A --port P --mode rr|crr [--max-seconds S]
//   rr_tool client --addr A --port P --mode rr|crr --seconds S
//
// rr:  one connection; the client sends 1 byte, the server echoes it, the
//      client waits for it and sends the next. One transaction = one round
//      trip.
// crr: per transaction the client connects, sends 1 byte, reads the 1-byte
//      answer and then waits for the server's FIN before closing. The server
//      closes first on purpose: its TIME-WAIT lands in the server's namespace,
//      so neither the client nor a translator in between runs out of ports in
//      TIME-WAIT during a run of tens of thousands of connections.
//
// The client prints one JSON object on standard output: transactions,
// seconds, rate (per second), errors and latency percentiles in
// microseconds. Both sides use TCP_NODELAY. The server is a single-threaded
// epoll loop that ends by itself after --max-seconds (default 600), so a
// forgotten server cannot outlive a benchmark for long.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "daemon/base/unique_fd.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using pastad::UniqueFd;

enum class Mode { Rr, Crr };

struct Args {
    std::string role;
    std::string addr;
    std::uint16_t port = 0;
    Mode mode = Mode::Rr;
    double seconds = 5.0;
    double max_seconds = 600.0;
};

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: rr_tool server --addr A --port P --mode rr|crr [--max-seconds S]\n"
                 "       rr_tool client --addr A --port P --mode rr|crr --seconds S\n");
    std::exit(2);
}

Args parse_args(int argc, char** argv) {
    if (argc < 2) {
        usage();
    }
    Args a;
    a.role = argv[1];
    if (a.role != "server" && a.role != "client") {
        usage();
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string_view key = argv[i];
        const std::string val = argv[i + 1];
        if (key == "--addr") {
            a.addr = val;
        } else if (key == "--port") {
            a.port = static_cast<std::uint16_t>(std::stoul(val));
        } else if (key == "--mode") {
            if (val != "rr" && val != "crr") {
                usage();
            }
            a.mode = val == "rr" ? Mode::Rr : Mode::Crr;
        } else if (key == "--seconds") {
            a.seconds = std::stod(val);
        } else if (key == "--max-seconds") {
            a.max_seconds = std::stod(val);
        } else {
            usage();
        }
    }
    if (a.addr.empty() || a.port == 0 || argc % 2 != 0) {
        usage();
    }
    return a;
}

[[noreturn]] void die(const char* what) {
    throw std::system_error(errno, std::system_category(), what);
}

// IPv4 or IPv6 socket address from text.
sockaddr_storage make_addr(const std::string& text, std::uint16_t port, socklen_t& len) {
    sockaddr_storage ss{};
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        len = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof(sockaddr_in6);
    } else {
        throw std::invalid_argument("rr_tool: not an address: " + text);
    }
    return ss;
}

void set_nodelay(int fd) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// ---------------------------------------------------------------------------
// Server

// Reads what is there and answers it; returns false when the connection is
// done (EOF, error, or a CRR answer was sent) and must be closed.
bool serve_readable(int fd, Mode mode) {
    char buf[4096];
    for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n == 0) {
            return false;
        }
        if (n < 0) {
            return errno == EAGAIN || errno == EINTR;
        }
        // Messages are tiny: the socket's send buffer always takes them.
        if (::send(fd, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) {
            return false;
        }
        if (mode == Mode::Crr) {
            return false;
        }
    }
}

int run_server(const Args& a) {
    socklen_t len = 0;
    const auto ss = make_addr(a.addr, a.port, len);
    UniqueFd lfd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!lfd) {
        die("socket");
    }
    const int one = 1;
    ::setsockopt(lfd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(lfd.get(), reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
        die("bind");
    }
    if (::listen(lfd.get(), 4096) != 0) {
        die("listen");
    }
    UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep) {
        die("epoll_create1");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = lfd.get();
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, lfd.get(), &ev) != 0) {
        die("epoll_ctl");
    }

    const auto end = Clock::now() + std::chrono::duration<double>(a.max_seconds);
    epoll_event events[64];
    while (Clock::now() < end) {
        const int n = ::epoll_wait(ep.get(), events, 64, 200);
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == lfd.get()) {
                int c;
                while ((c = ::accept4(lfd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
                       0) {
                    set_nodelay(c);
                    epoll_event cev{};
                    cev.events = EPOLLIN | EPOLLRDHUP;
                    cev.data.fd = c;
                    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            if (!serve_readable(fd, a.mode)) {
                ::close(fd);  // also leaves the epoll set
            }
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------
// Client

struct Stats {
    std::uint64_t transactions = 0;
    std::uint64_t errors = 0;
    std::vector<std::uint32_t> lat_ns;  // per transaction, capped at ~4 s
};

void record(Stats& s, Clock::time_point t0, Clock::time_point t1) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
    s.lat_ns.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(ns, UINT32_MAX)));
    ++s.transactions;
}

UniqueFd connect_to(const sockaddr_storage& ss, socklen_t len) {
    UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        die("socket");
    }
    // A stuck peer must not hang the benchmark: connect and I/O time out.
    const timeval tv{2, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    set_nodelay(fd.get());
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
        return UniqueFd();
    }
    return fd;
}

// One byte there and back on a connected socket.
bool ping_pong(int fd) {
    char b = 'x';
    if (::send(fd, &b, 1, MSG_NOSIGNAL) != 1) {
        return false;
    }
    return ::recv(fd, &b, 1, 0) == 1;
}

void run_rr(const sockaddr_storage& ss, socklen_t len, Clock::time_point end, Stats& s) {
    UniqueFd fd = connect_to(ss, len);
    if (!fd) {
        ++s.errors;
        return;
    }
    while (Clock::now() < end) {
        const auto t0 = Clock::now();
        if (!ping_pong(fd.get())) {
            ++s.errors;
            return;
        }
        record(s, t0, Clock::now());
    }
}

void run_crr(const sockaddr_storage& ss, socklen_t len, Clock::time_point end, Stats& s) {
    while (Clock::now() < end) {
        const auto t0 = Clock::now();
        UniqueFd fd = connect_to(ss, len);
        char b = 0;
        if (!fd || !ping_pong(fd.get()) || ::recv(fd.get(), &b, 1, 0) != 0) {
            ++s.errors;
            // Back off a little so a broken path does not spin.
            ::usleep(1000);
            continue;
        }
        fd.reset();
        record(s, t0, Clock::now());
    }
}

double percentile_us(std::vector<std::uint32_t>& v, double p) {
    if (v.empty()) {
        return 0.0;
    }
    const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k] / 1000.0;
}

int run_client(const Args& a) {
    socklen_t len = 0;
    const auto ss = make_addr(a.addr, a.port, len);
    Stats s;
    s.lat_ns.reserve(1 << 20);
    const auto start = Clock::now();
    const auto end = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(a.seconds));
    if (a.mode == Mode::Rr) {
        run_rr(ss, len, end, s);
    } else {
        run_crr(ss, len, end, s);
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    const double p50 = percentile_us(s.lat_ns, 0.50);
    const double p99 = percentile_us(s.lat_ns, 0.99);
    const double max = percentile_us(s.lat_ns, 1.0);
    std::printf(
        "{\"mode\": \"%s\", \"transactions\": %llu, \"errors\": %llu, \"seconds\": %.3f, "
        "\"rate\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f}\n",
        a.mode == Mode::Rr ? "rr" : "crr", static_cast<unsigned long long>(s.transactions),
        static_cast<unsigned long long>(s.errors), secs, static_cast<double>(s.transactions) / secs,
        p50, p99, max);
    return s.transactions > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Args a = parse_args(argc, argv);
        return a.role == "server" ? run_server(a) : run_client(a);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rr_tool: %s\n", e.what());
        return 1;
    }
}

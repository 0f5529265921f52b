// SPDX-License-Identifier: GPL-2.0-or-later
// tests/tap/tcp_test.cpp - TCP engine against real loopback sockets and crafted segments
//
// The namespace side is simulated: segments are handed to the engine
// directly and the frames it produces are captured and parsed back with
// tap/frame.hpp. The host side is real: listeners and clients on 127.0.0.1
// and ::1, with readiness from a real epoll set behind the fake Poller.
#include "tap/tcp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tap/frame.hpp"

namespace pastad::tap {
namespace {

using namespace std::chrono_literals;
using Bytes = std::vector<std::byte>;

const Mac kOurMac = *Mac::parse("02:00:00:00:00:01");
const Mac kNsMac = *Mac::parse("52:54:00:12:34:56");
constexpr unsigned kMtu = 65520;
constexpr std::uint16_t kNsMss = 1000;

// Captures frames; free slots run out after `capacity` commits until drain().
class FakeSink : public FrameSink {
public:
    explicit FakeSink(std::size_t slots = 256) : buf_(slots, Bytes(kSlotSize)), cap_(slots) {}

    std::size_t free_slots() const override { return cap_ > used_ ? cap_ - used_ : 0; }
    std::size_t slot_size() const override { return kSlotSize; }
    std::span<std::byte> slot(std::size_t i) override { return buf_.at(used_ + i); }
    void commit(std::size_t count, const std::size_t* lens) override {
        for (std::size_t i = 0; i < count; ++i) {
            const Bytes& b = buf_.at(used_ + i);
            frames.emplace_back(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(lens[i]));
        }
        used_ += count;
    }
    void drain() { used_ = 0; }
    void set_capacity(std::size_t n) { cap_ = std::min(n, buf_.size()); }

    std::vector<Bytes> frames;

private:
    static constexpr std::size_t kSlotSize = 65536 + 256;
    std::vector<Bytes> buf_;
    std::size_t cap_;
    std::size_t used_ = 0;
};

// Records watches and mirrors them into a real epoll set.
class EpollPoller : public Poller {
public:
    EpollPoller() : ep_(epoll_create1(EPOLL_CLOEXEC)) {}
    ~EpollPoller() override { close(ep_); }

    void watch(int fd, std::uint32_t events, std::uint64_t token) override {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = token;
        const bool known = watched.count(fd) != 0;
        EXPECT_EQ(epoll_ctl(ep_, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev), 0);
        watched[fd] = events;
        tokens[fd] = token;
        ++watch_calls;
    }
    void unwatch(int fd) override {
        EXPECT_EQ(epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr), 0);
        watched.erase(fd);
    }
    // Hands ready events to `fn`; returns how many there were.
    int poll(int timeout_ms, const std::function<void(std::uint64_t, std::uint32_t)>& fn) {
        epoll_event evs[16];
        const int n = epoll_wait(ep_, evs, 16, timeout_ms);
        for (int i = 0; i < n; ++i) {
            fn(evs[i].data.u64, evs[i].events);
        }
        return n;
    }

    std::map<int, std::uint32_t> watched;
    std::map<int, std::uint64_t> tokens;
    int watch_calls = 0;

private:
    int ep_;
};

// One frame the engine sent, parsed back.
struct Out {
    Endpoints ep;  // as the namespace sees it
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 0;
    std::optional<std::uint16_t> mss;
    std::optional<std::uint8_t> wscale;
    Bytes data;
    bool has(TcpFlag f) const { return (flags & f) != 0; }
};

UniqueFd listener(const char* addr, std::uint16_t port = 0) {
    sockaddr_storage ss{};
    socklen_t len;
    const bool v6 = std::strchr(addr, ':') != nullptr;
    if (v6) {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        inet_pton(AF_INET6, addr, &s6->sin6_addr);
        len = sizeof(*s6);
    } else {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        inet_pton(AF_INET, addr, &s4->sin_addr);
        len = sizeof(*s4);
    }
    UniqueFd fd(socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd.get(), 16) != 0) {
        return UniqueFd{};
    }
    return fd;
}

std::uint16_t local_port(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    if (ss.ss_family == AF_INET) {
        return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    }
    return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

std::string local_addr(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof(buf));
    } else {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof(buf));
    }
    return buf;
}

Bytes pattern(std::size_t n, unsigned salt = 0) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) {
        b[i] = static_cast<std::byte>((i * 7 + salt * 13 + 3) & 0xff);
    }
    return b;
}

struct Family {
    const char* name;
    const char* ns_addr;   // the namespace's own address (frames only)
    const char* loopback;  // where the test servers listen
    unsigned ip_overhead;  // IP + TCP header bytes, for the MSS
    bool peek_offset;      // SO_PEEK_OFF, or the fallback that peeks from 0
};

void PrintTo(const Family& f, std::ostream* os) {
    *os << f.name;
}

class TcpEngineTest : public ::testing::TestWithParam<Family> {
protected:
    void SetUp() override { make_engine(); }

    void make_engine(std::size_t max_conns = 64) {
        cfg_.our_mac = kOurMac;
        cfg_.ns_mac = &kNsMac;
        cfg_.mtu = kMtu;
        cfg_.max_conns = max_conns;
        cfg_.peek_offset = GetParam().peek_offset;
        engine_.reset();
        engine_ = std::make_unique<TcpEngine>(cfg_, sink_, poller_);
    }

    static InAny addr(const char* text) {
        if (auto a4 = Ip4::parse(text)) {
            return InAny::from(*a4);
        }
        return InAny::from(*Ip6::parse(text));
    }

    Endpoints endpoints(std::uint16_t peer_port, const char* peer = nullptr) {
        return Endpoints{addr(GetParam().ns_addr), addr(peer ? peer : GetParam().loopback),
                         ns_port_++, peer_port};
    }

    // Parses and clears the captured frames.
    std::vector<Out> take() {
        std::vector<Out> out;
        for (const Bytes& b : sink_.frames) {
            DropReason why{};
            const auto f = parse_frame(b, why);
            EXPECT_TRUE(f.has_value()) << to_string(why);
            if (!f) {
                continue;
            }
            EXPECT_EQ(f->src, kOurMac);
            EXPECT_EQ(f->dst, kNsMac);
            const auto p = parse_tcp(*f, why);
            EXPECT_TRUE(p.has_value()) << to_string(why);
            if (!p) {
                continue;
            }
            Out o;
            o.ep = Endpoints{f->dst_ip, f->src_ip, p->dport, p->sport};
            o.seq = p->seg.seq;
            o.ack = p->seg.ack;
            o.flags = p->seg.flags;
            o.window = p->seg.window;
            o.mss = p->seg.mss;
            o.wscale = p->seg.wscale;
            o.data.assign(p->seg.payload.begin(), p->seg.payload.end());
            out.push_back(std::move(o));
        }
        sink_.frames.clear();
        return out;
    }

    // Runs the event loop (socket events, flush, sink drain) until `done`
    // says so or two seconds pass. Collected frames accumulate in `got`.
    bool pump(std::vector<Out>& got, const std::function<bool(const std::vector<Out>&)>& done,
              std::chrono::milliseconds limit = 2000ms) {
        const auto deadline = TcpClock::now() + limit;
        for (;;) {
            auto more = take();
            got.insert(got.end(), more.begin(), more.end());
            if (done(got)) {
                return true;
            }
            if (TcpClock::now() > deadline) {
                return false;
            }
            poller_.poll(5, [this](std::uint64_t token, std::uint32_t ev) {
                engine_->on_socket_event(token, ev, TcpClock::now());
            });
            engine_->flush(TcpClock::now());
            sink_.drain();
            engine_->on_sink_space(TcpClock::now());
        }
    }

    std::vector<Out> pump_for_frames(std::size_t n) {
        std::vector<Out> got;
        pump(got, [n](const std::vector<Out>& g) { return g.size() >= n; });
        return got;
    }

    void segment(const Endpoints& ep, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags,
                 std::uint16_t window = 65535, std::span<const std::byte> data = {}) {
        TcpSegment s;
        s.seq = seq;
        s.ack = ack;
        s.flags = flags;
        s.window = window;
        s.payload = data;
        engine_->on_segment(ep, s, TcpClock::now());
        engine_->flush(TcpClock::now());
    }

    // A segment within a batch: no flush() after it. `data` must outlive the
    // next flush(), as a frame from the tap does.
    void batch_segment(const Endpoints& ep, std::uint32_t seq, std::uint32_t ack,
                       std::uint8_t flags, std::span<const std::byte> data) {
        TcpSegment s;
        s.seq = seq;
        s.ack = ack;
        s.flags = flags;
        s.window = 65535;
        s.payload = data;
        engine_->on_segment(ep, s, TcpClock::now());
    }

    void syn(const Endpoints& ep, std::uint32_t seq, std::uint8_t wscale = 0) {
        TcpSegment s;
        s.seq = seq;
        s.flags = kSyn;
        s.window = 65535;
        s.mss = kNsMss;
        s.wscale = wscale;
        engine_->on_segment(ep, s, TcpClock::now());
        engine_->flush(TcpClock::now());
    }

    // A connection opened by the namespace, handshake complete.
    struct Conn {
        Endpoints ep;
        UniqueFd server;
        std::uint32_t ns_seq = 0;   // next sequence number the namespace sends
        std::uint32_t our_seq = 0;  // next sequence number expected from the engine
        std::uint8_t our_wscale = 0;
    };

    Conn establish(int listen_fd, std::uint16_t port, std::uint8_t ns_wscale = 0) {
        Conn c;
        c.ep = endpoints(port);
        syn(c.ep, 5000, ns_wscale);
        const auto got = pump_for_frames(1);
        EXPECT_EQ(got.size(), 1u);
        if (got.empty()) {
            return c;
        }
        EXPECT_EQ(got[0].flags, kSyn | kAck);
        c.our_seq = got[0].seq + 1;
        c.our_wscale = got[0].wscale.value_or(0);
        c.ns_seq = 5001;
        segment(c.ep, c.ns_seq, c.our_seq, kAck);
        c.server.reset(accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        EXPECT_TRUE(c.server.valid());
        EXPECT_TRUE(take().empty());
        return c;
    }

    // Reads from `fd` until `n` bytes arrived or the deadline passed.
    static Bytes read_n(int fd, std::size_t n, std::chrono::milliseconds limit = 2000ms) {
        Bytes out;
        const auto deadline = TcpClock::now() + limit;
        std::vector<std::byte> buf(65536);
        while (out.size() < n && TcpClock::now() < deadline) {
            const ssize_t r = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
            if (r > 0) {
                out.insert(out.end(), buf.begin(), buf.begin() + r);
            } else if (r == 0) {
                break;
            } else {
                usleep(1000);
            }
        }
        return out;
    }

    // Waits until recv() on `fd` reports end of stream (0) or an error.
    static int wait_eof(int fd, std::chrono::milliseconds limit = 2000ms) {
        const auto deadline = TcpClock::now() + limit;
        std::byte b[256];
        while (TcpClock::now() < deadline) {
            const ssize_t r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
            if (r == 0) {
                return 0;
            }
            if (r < 0 && errno != EAGAIN) {
                return errno;
            }
            usleep(1000);
        }
        return -1;
    }

    std::uint16_t our_mss() const {
        return static_cast<std::uint16_t>(kMtu - GetParam().ip_overhead);
    }

    TcpConfig cfg_;
    FakeSink sink_;
    EpollPoller poller_;
    std::unique_ptr<TcpEngine> engine_;
    std::uint16_t ns_port_ = 40000;
};

// --- Opening from the namespace ---------------------------------------------

TEST_P(TcpEngineTest, SynToListenerSendsSynAckWithOptions) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    const auto ep = endpoints(local_port(l.get()));
    syn(ep, 1000, 2);
    const auto got = pump_for_frames(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].flags, kSyn | kAck);
    EXPECT_EQ(got[0].ack, 1001u);
    EXPECT_EQ(got[0].ep, ep);
    EXPECT_EQ(got[0].mss, our_mss());
    ASSERT_TRUE(got[0].wscale.has_value());
    EXPECT_GT(*got[0].wscale, 0u);
    EXPECT_EQ(engine_->active(), 1u);

    // The namespace's ACK completes the handshake; nothing more is sent.
    segment(ep, 1001, got[0].seq + 1, kAck);
    EXPECT_TRUE(take().empty());
    EXPECT_EQ(engine_->stats().established, 1u);
}

TEST_P(TcpEngineTest, SynWithoutWindowScaleGetsNoWindowScale) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    const auto ep = endpoints(local_port(l.get()));
    TcpSegment s;
    s.seq = 7;
    s.flags = kSyn;
    s.window = 8192;
    engine_->on_segment(ep, s, TcpClock::now());
    const auto got = pump_for_frames(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_FALSE(got[0].wscale.has_value());
}

TEST_P(TcpEngineTest, SynToClosedPortSendsRst) {
    std::uint16_t port;
    {
        auto l = listener(GetParam().loopback);
        ASSERT_TRUE(l.valid());
        port = local_port(l.get());
    }  // closed again: nothing listens on `port`
    const auto ep = endpoints(port);
    syn(ep, 1000);
    const auto got = pump_for_frames(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0].has(kRst));
    EXPECT_TRUE(got[0].has(kAck));
    EXPECT_EQ(got[0].ack, 1001u);
    EXPECT_EQ(engine_->active(), 0u);
    EXPECT_EQ(engine_->stats().refused, 1u);
}

TEST_P(TcpEngineTest, SynRetransmitWhileConnectingOpensOneConnection) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    const auto ep = endpoints(local_port(l.get()));
    syn(ep, 1000);
    syn(ep, 1000);  // before any socket event: connect() still pending for us
    EXPECT_EQ(engine_->active(), 1u);
    auto got = pump_for_frames(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].flags, kSyn | kAck);

    // After the SYN-ACK, a retransmitted SYN gets the same SYN-ACK again.
    syn(ep, 1000);
    const auto again = take();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].flags, kSyn | kAck);
    EXPECT_EQ(again[0].seq, got[0].seq);
    EXPECT_EQ(engine_->active(), 1u);
}

TEST_P(TcpEngineTest, SegmentForUnknownConnectionGetsRst) {
    const auto ep = endpoints(9);
    segment(ep, 100, 4242, kAck);
    const auto got = take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].flags, kRst);
    EXPECT_EQ(got[0].seq, 4242u);
    EXPECT_EQ(engine_->stats().dropped_no_conn, 1u);
}

TEST_P(TcpEngineTest, ConnectionLimitResetsNewSyn) {
    make_engine(1);
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    const auto ep2 = endpoints(local_port(l.get()));
    syn(ep2, 77);
    const auto got = take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0].has(kRst));
    EXPECT_EQ(got[0].ack, 78u);
    EXPECT_EQ(got[0].ep, ep2);
    EXPECT_EQ(engine_->stats().over_limit, 1u);
    EXPECT_EQ(engine_->active(), 1u);
}

// --- Data from the namespace -------------------------------------------------

TEST_P(TcpEngineTest, DataFromNamespaceReachesServerAndIsAcked) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    const Bytes data = pattern(3000);
    segment(c.ep, c.ns_seq, c.our_seq, kAck | kPsh, 65535, data);
    const auto got = take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].flags, kAck);
    EXPECT_EQ(got[0].ack, c.ns_seq + 3000);
    EXPECT_GT(got[0].window, 0u);
    EXPECT_EQ(read_n(c.server.get(), 3000), data);
    EXPECT_EQ(engine_->stats().bytes_from_ns, 3000u);
}

TEST_P(TcpEngineTest, OutOfOrderSegmentGetsDuplicateAckAndIsNotWritten) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    const Bytes data = pattern(1000);
    segment(c.ep, c.ns_seq + 1000, c.our_seq, kAck, 65535, data);
    const auto got = take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].flags, kAck);
    EXPECT_EQ(got[0].ack, c.ns_seq);  // still expecting the gap
    EXPECT_EQ(engine_->stats().dup_acks_sent, 1u);
    EXPECT_TRUE(read_n(c.server.get(), 1, 50ms).empty());

    // Each further out-of-order segment gets its own duplicate ACK at once.
    segment(c.ep, c.ns_seq + 2000, c.our_seq, kAck, 65535, data);
    segment(c.ep, c.ns_seq + 3000, c.our_seq, kAck, 65535, data);
    const auto more = take();
    ASSERT_EQ(more.size(), 2u);
    EXPECT_EQ(more[0].ack, c.ns_seq);
    EXPECT_EQ(more[1].ack, c.ns_seq);
}

TEST_P(TcpEngineTest, DuplicateSegmentIsAckedNotWrittenTwice) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    const Bytes data = pattern(500);
    segment(c.ep, c.ns_seq, c.our_seq, kAck, 65535, data);
    ASSERT_EQ(take().size(), 1u);
    segment(c.ep, c.ns_seq, c.our_seq, kAck, 65535, data);  // retransmitted
    const auto got = take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].ack, c.ns_seq + 500);

    // Partly new: only the new tail is written.
    const Bytes more = pattern(800);
    segment(c.ep, c.ns_seq + 300, c.our_seq, kAck, 65535, more);
    ASSERT_EQ(take().size(), 1u);
    Bytes expect = data;
    expect.insert(expect.end(), more.begin() + 200, more.end());
    EXPECT_EQ(read_n(c.server.get(), expect.size()), expect);
    EXPECT_TRUE(read_n(c.server.get(), 1, 50ms).empty());
}

TEST_P(TcpEngineTest, FullSocketShrinksWindowAndReopensIt) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    // The server does not read: send until the socket refuses data.
    const Bytes chunk = pattern(60000);
    std::uint32_t sent = 0;
    std::optional<Out> last;
    for (int i = 0; i < 2000 && engine_->stats().window_shrinks == 0; ++i) {
        segment(c.ep, c.ns_seq + sent, c.our_seq, kAck, 65535, chunk);
        auto got = take();
        ASSERT_FALSE(got.empty());
        last = got.back();
        sent = last->ack - c.ns_seq;
    }
    ASSERT_EQ(engine_->stats().window_shrinks, 1u);
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(last->window, 0u);  // shrunk to nothing
    EXPECT_EQ(engine_->stats().bytes_from_ns, sent);

    // The server drains: a window update (and duplicate ACKs) follows.
    const Bytes all = read_n(c.server.get(), sent, 5000ms);
    EXPECT_EQ(all.size(), sent);
    std::vector<Out> got;
    ASSERT_TRUE(
        pump(got, [](const std::vector<Out>& g) { return !g.empty() && g.front().window > 0; }));
    EXPECT_EQ(got.front().ack, c.ns_seq + sent);
    EXPECT_GE(got.size(), 2u);  // update plus duplicate ACKs for fast retransmit
}

TEST_P(TcpEngineTest, DataWithinAdvertisedWindowIsNeverRefused) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()), 7);
    // The server does not read; the namespace sends full segments but never
    // past the right edge of the window it was given, as a real TCP does.
    // Whatever the engine advertised, the socket must then take: a refused
    // segment costs the namespace a retransmission timeout.
    const Bytes chunk = pattern(our_mss());
    const std::uint32_t start = c.ns_seq;
    std::uint32_t next = start;
    std::uint32_t edge = start + 1;  // one byte to learn the first window
    for (int i = 0; i < 20000 && engine_->stats().window_shrinks == 0; ++i) {
        const std::uint32_t room = edge - next;
        if (static_cast<std::int32_t>(room) <= 0) {
            break;  // window closed with every byte taken: the socket is full
        }
        const std::size_t len = std::min<std::size_t>(room, chunk.size());
        segment(c.ep, next, c.our_seq, kAck, 65535, std::span(chunk).first(len));
        next += static_cast<std::uint32_t>(len);
        for (const auto& o : take()) {
            edge = o.ack + (static_cast<std::uint32_t>(o.window) << c.our_wscale);
        }
    }
    EXPECT_EQ(engine_->stats().window_shrinks, 0u);
    EXPECT_EQ(engine_->stats().bytes_from_ns, next - start);
    EXPECT_GT(next - start, 65536u) << "the socket took hardly anything";
}

// --- Data to the namespace ---------------------------------------------------

TEST_P(TcpEngineTest, ServerDataArrivesInMssFramesWithinWindow) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    // Announce a 5500-byte window (scale 0 from the namespace's SYN).
    segment(c.ep, c.ns_seq, c.our_seq, kAck, 5500);
    const Bytes data = pattern(20000, 1);
    ASSERT_EQ(send(c.server.get(), data.data(), data.size(), 0), 20000);
    std::vector<Out> got;
    pump(got, [](const std::vector<Out>& g) {
        std::size_t n = 0;
        for (const auto& o : g) {
            n += o.data.size();
        }
        return n >= 5500;
    });
    std::size_t total = 0;
    for (const auto& o : got) {
        EXPECT_LE(o.data.size(), kNsMss);
        EXPECT_EQ(o.seq, c.our_seq + total);
        total += o.data.size();
    }
    EXPECT_EQ(total, 5500u);  // exactly the window, nothing beyond
    EXPECT_EQ(got.size(), 6u);
    Bytes seen;
    for (const auto& o : got) {
        seen.insert(seen.end(), o.data.begin(), o.data.end());
    }
    EXPECT_TRUE(std::equal(seen.begin(), seen.end(), data.begin()));
    // Nothing more arrives without an ACK.
    std::vector<Out> none;
    EXPECT_FALSE(pump(
        none, [](const std::vector<Out>& g) { return !g.empty(); }, 100ms));

    // Acknowledging everything with a bigger window lets the rest through.
    segment(c.ep, c.ns_seq, c.our_seq + 5500, kAck, 65535);
    std::vector<Out> rest;
    pump(rest, [](const std::vector<Out>& g) {
        std::size_t n = 0;
        for (const auto& o : g) {
            n += o.data.size();
        }
        return n >= 14500;
    });
    for (const auto& o : rest) {
        seen.insert(seen.end(), o.data.begin(), o.data.end());
    }
    EXPECT_EQ(seen, data);
}

TEST_P(TcpEngineTest, ZeroWindowStopsDataAndWindowUpdateResumes) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    segment(c.ep, c.ns_seq, c.our_seq, kAck, 0);
    const Bytes data = pattern(3000, 2);
    ASSERT_EQ(send(c.server.get(), data.data(), data.size(), 0), 3000);
    std::vector<Out> got;
    EXPECT_FALSE(pump(
        got, [](const std::vector<Out>& g) { return !g.empty(); }, 150ms));

    segment(c.ep, c.ns_seq, c.our_seq, kAck, 65535);  // window update
    pump(got, [](const std::vector<Out>& g) { return g.size() >= 3; });
    Bytes seen;
    for (const auto& o : got) {
        seen.insert(seen.end(), o.data.begin(), o.data.end());
    }
    EXPECT_EQ(seen, data);
}

TEST_P(TcpEngineTest, ThreeDuplicateAcksRetransmitSameBytes) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    const Bytes data = pattern(4000, 3);
    ASSERT_EQ(send(c.server.get(), data.data(), data.size(), 0), 4000);
    auto first = pump_for_frames(4);
    ASSERT_EQ(first.size(), 4u);

    // The namespace got the first segment only.
    segment(c.ep, c.ns_seq, c.our_seq + 1000, kAck);
    segment(c.ep, c.ns_seq, c.our_seq + 1000, kAck);
    EXPECT_TRUE(take().empty());
    segment(c.ep, c.ns_seq, c.our_seq + 1000, kAck);
    EXPECT_TRUE(take().empty());
    segment(c.ep, c.ns_seq, c.our_seq + 1000, kAck);  // third duplicate
    const auto again = take();
    ASSERT_EQ(again.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(again[i].seq, first[i + 1].seq);
        EXPECT_EQ(again[i].data, first[i + 1].data);
    }
    EXPECT_EQ(engine_->stats().retransmits, 1u);

    // The socket kept the bytes until acknowledged: acking all consumes them
    // and later data follows in sequence.
    segment(c.ep, c.ns_seq, c.our_seq + 4000, kAck);
    const Bytes tail = pattern(100, 4);
    ASSERT_EQ(send(c.server.get(), tail.data(), tail.size(), 0), 100);
    const auto after = pump_for_frames(1);
    ASSERT_EQ(after.size(), 1u);
    EXPECT_EQ(after[0].seq, c.our_seq + 4000);
    EXPECT_EQ(after[0].data, tail);
}

TEST_P(TcpEngineTest, AckTimeoutRetransmitsFromLastAckedByte) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    const Bytes data = pattern(2000, 5);
    ASSERT_EQ(send(c.server.get(), data.data(), data.size(), 0), 2000);
    const auto first = pump_for_frames(2);
    ASSERT_EQ(first.size(), 2u);
    engine_->on_timer(TcpClock::now() + 100ms);
    EXPECT_TRUE(take().empty());  // too early
    engine_->on_timer(TcpClock::now() + 1500ms);
    const auto again = take();
    ASSERT_EQ(again.size(), 2u);
    EXPECT_EQ(again[0].seq, c.our_seq);
    EXPECT_EQ(again[0].data, first[0].data);
    EXPECT_EQ(again[1].data, first[1].data);
}

TEST_P(TcpEngineTest, FullSinkHoldsDataUntilSpace) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    sink_.set_capacity(0);
    const Bytes data = pattern(2500, 11);
    ASSERT_EQ(send(c.server.get(), data.data(), data.size(), 0), 2500);
    std::vector<Out> got;
    EXPECT_FALSE(pump(
        got, [](const std::vector<Out>& g) { return !g.empty(); }, 100ms));
    sink_.set_capacity(256);
    engine_->on_sink_space(TcpClock::now());
    got = take();
    Bytes seen;
    for (const auto& o : got) {
        seen.insert(seen.end(), o.data.begin(), o.data.end());
    }
    EXPECT_EQ(seen, data);
}

// A simulated namespace moves megabytes both ways at once: it acknowledges
// in-order data from the engine and sends within the engine's window, while
// the server reads and writes without blocking.
TEST_P(TcpEngineTest, BulkTransferBothWaysIsIntact) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()), 4);
    constexpr std::size_t kSize = 4 << 20;
    const Bytes to_ns = pattern(kSize, 12);
    const Bytes to_host = pattern(kSize, 13);
    std::size_t written = 0;     // server -> engine
    Bytes at_ns;                 // what the namespace received in order
    std::uint32_t ns_acked = 0;  // of to_host, acknowledged by the engine
    std::uint32_t engine_wnd = 65535;
    Bytes at_host;
    std::vector<std::byte> buf(1 << 16);
    const auto deadline = TcpClock::now() + 30s;
    while ((at_ns.size() < kSize || at_host.size() < kSize) && TcpClock::now() < deadline) {
        if (written < kSize) {
            const ssize_t w =
                send(c.server.get(), to_ns.data() + written, kSize - written, MSG_DONTWAIT);
            written += w > 0 ? static_cast<std::size_t>(w) : 0;
        }
        for (ssize_t r; (r = recv(c.server.get(), buf.data(), buf.size(), MSG_DONTWAIT)) > 0;) {
            at_host.insert(at_host.end(), buf.begin(), buf.begin() + r);
        }
        poller_.poll(0, [this](std::uint64_t token, std::uint32_t ev) {
            engine_->on_socket_event(token, ev, TcpClock::now());
        });
        engine_->on_timer(TcpClock::now());
        bool got_data = false;
        for (const auto& o : take()) {
            if (o.seq == c.our_seq + at_ns.size() && !o.data.empty()) {
                at_ns.insert(at_ns.end(), o.data.begin(), o.data.end());
                got_data = true;
            }
            if (static_cast<std::int32_t>(o.ack - (c.ns_seq + ns_acked)) >= 0) {
                ns_acked = o.ack - c.ns_seq;
                engine_wnd = static_cast<std::uint32_t>(o.window) << c.our_wscale;
            }
        }
        sink_.drain();
        const auto ack = static_cast<std::uint32_t>(c.our_seq + at_ns.size());
        const std::size_t chunk = std::min<std::size_t>({16000, kSize - ns_acked, engine_wnd});
        if (chunk > 0) {
            segment(c.ep, c.ns_seq + ns_acked, ack, kAck, 65535,
                    std::span(to_host).subspan(ns_acked, chunk));
        } else if (got_data) {
            segment(c.ep, c.ns_seq + ns_acked, ack, kAck, 65535);
        } else {
            usleep(500);
        }
    }
    ASSERT_EQ(at_ns.size(), kSize);
    EXPECT_TRUE(at_ns == to_ns);
    ASSERT_EQ(at_host.size(), kSize);
    EXPECT_TRUE(at_host == to_host);
}

// --- Closing -----------------------------------------------------------------

TEST_P(TcpEngineTest, FinWithDataDeliversDataThenEof) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    const Bytes data = pattern(700, 6);
    segment(c.ep, c.ns_seq, c.our_seq, kAck | kFin, 65535, data);
    const auto got = take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].ack, c.ns_seq + 701);  // data and FIN
    EXPECT_EQ(read_n(c.server.get(), 700), data);
    EXPECT_EQ(wait_eof(c.server.get()), 0);
}

// The segments of one batch reach the socket together at flush(), in order,
// and the namespace gets one ACK for all of them.
TEST_P(TcpEngineTest, SegmentsOfOneBatchAreWrittenAtFlushAndAckedOnce) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    const Bytes a = pattern(1000, 1), b = pattern(1500, 2), d = pattern(700, 3);
    batch_segment(c.ep, c.ns_seq, c.our_seq, kAck, a);
    batch_segment(c.ep, c.ns_seq + 1000, c.our_seq, kAck | kPsh, b);
    batch_segment(c.ep, c.ns_seq + 2500, c.our_seq, kAck, d);
    EXPECT_TRUE(take().empty());  // nothing owed at once
    EXPECT_TRUE(read_n(c.server.get(), 1, 50ms).empty());
    engine_->flush(TcpClock::now());
    const auto got = take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].ack, c.ns_seq + 3200);
    Bytes all = a;
    all.insert(all.end(), b.begin(), b.end());
    all.insert(all.end(), d.begin(), d.end());
    EXPECT_EQ(read_n(c.server.get(), all.size()), all);
    EXPECT_EQ(engine_->stats().bytes_from_ns, 3200u);
}

// A FIN behind gathered data in the same batch ends the stream after it.
TEST_P(TcpEngineTest, FinBehindGatheredDataDeliversAllThenEof) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    const Bytes a = pattern(900, 4), b = pattern(400, 5);
    batch_segment(c.ep, c.ns_seq, c.our_seq, kAck, a);
    batch_segment(c.ep, c.ns_seq + 900, c.our_seq, kAck | kFin, b);
    engine_->flush(TcpClock::now());
    const auto got = take();
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.back().ack, c.ns_seq + 1301);  // data and FIN
    Bytes all = a;
    all.insert(all.end(), b.begin(), b.end());
    EXPECT_EQ(read_n(c.server.get(), all.size()), all);
    EXPECT_EQ(wait_eof(c.server.get()), 0);
}

// A gap after gathered data: the duplicate ACK names the first missing
// byte, which needs the gathered data written first, not guessed.
TEST_P(TcpEngineTest, GapAfterGatheredDataGetsDuplicateAckPastIt) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    const Bytes a = pattern(800, 6), lost = pattern(500, 7);
    batch_segment(c.ep, c.ns_seq, c.our_seq, kAck, a);
    batch_segment(c.ep, c.ns_seq + 1300, c.our_seq, kAck, lost);
    const auto got = take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].ack, c.ns_seq + 800);
    EXPECT_EQ(read_n(c.server.get(), 800), a);
    engine_->flush(TcpClock::now());
    EXPECT_TRUE(read_n(c.server.get(), 1, 50ms).empty());  // the segment after the gap
}

TEST_P(TcpEngineTest, HalfCloseBothWaysThenRelease) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));

    // Namespace closes its side first; the server still sends.
    segment(c.ep, c.ns_seq, c.our_seq, kAck | kFin);
    ASSERT_EQ(take().size(), 1u);
    EXPECT_EQ(wait_eof(c.server.get()), 0);
    const Bytes data = pattern(1500, 7);
    ASSERT_EQ(send(c.server.get(), data.data(), data.size(), 0), 1500);
    auto got = pump_for_frames(2);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].ack, c.ns_seq + 1);

    // The server closes: the FIN follows once the data is acknowledged.
    shutdown(c.server.get(), SHUT_WR);
    std::vector<Out> none;
    EXPECT_FALSE(pump(
        none, [](const std::vector<Out>& g) { return !g.empty(); }, 100ms));
    segment(c.ep, c.ns_seq + 1, c.our_seq + 1500, kAck);
    std::vector<Out> fin;
    ASSERT_TRUE(pump(fin, [](const std::vector<Out>& g) { return !g.empty(); }));
    EXPECT_TRUE(fin[0].has(kFin));
    EXPECT_EQ(fin[0].seq, c.our_seq + 1500);
    EXPECT_EQ(engine_->active(), 1u);
    segment(c.ep, c.ns_seq + 1, c.our_seq + 1501, kAck);
    EXPECT_EQ(engine_->active(), 0u);
    EXPECT_TRUE(poller_.watched.empty());
}

TEST_P(TcpEngineTest, DataAndFinInOneEdgeStillEndWithFin) {
    // With edge-triggered readiness the server's last data and its FIN can
    // arrive as one event: the peek that drains the data is the last chance
    // to notice the end of stream.
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    const Bytes data = pattern(1000, 3);
    ASSERT_EQ(send(c.server.get(), data.data(), data.size(), 0), 1000);
    shutdown(c.server.get(), SHUT_WR);
    auto got = pump_for_frames(1);
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got[0].data, data);
    segment(c.ep, c.ns_seq, c.our_seq + 1000, kAck);
    std::vector<Out> fin;
    EXPECT_TRUE(pump(fin, [](const std::vector<Out>& g) {
        return std::any_of(g.begin(), g.end(), [](const Out& o) { return o.has(kFin); });
    })) << "no FIN after the host peer closed";
}

TEST_P(TcpEngineTest, ServerClosesFirstThenNamespace) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    shutdown(c.server.get(), SHUT_WR);
    auto got = pump_for_frames(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0].has(kFin));
    segment(c.ep, c.ns_seq, c.our_seq + 1, kAck);  // FIN acknowledged

    // The namespace still sends; then closes too.
    const Bytes data = pattern(300, 8);
    segment(c.ep, c.ns_seq, c.our_seq + 1, kAck, 65535, data);
    EXPECT_EQ(take().size(), 1u);
    EXPECT_EQ(read_n(c.server.get(), 300), data);
    segment(c.ep, c.ns_seq + 300, c.our_seq + 1, kAck | kFin);
    const auto last = take();
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last[0].ack, c.ns_seq + 301);
    EXPECT_EQ(engine_->active(), 0u);
    EXPECT_EQ(wait_eof(c.server.get()), 0);
}

TEST_P(TcpEngineTest, RstFromNamespaceResetsServer) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    segment(c.ep, c.ns_seq + 10, 0, kRst);  // not exactly RCV.NXT: challenge ACK
    const auto challenge = take();
    ASSERT_EQ(challenge.size(), 1u);
    EXPECT_EQ(challenge[0].flags, kAck);
    EXPECT_EQ(engine_->active(), 1u);

    segment(c.ep, c.ns_seq, 0, kRst);
    EXPECT_EQ(engine_->active(), 0u);
    EXPECT_EQ(wait_eof(c.server.get()), ECONNRESET);
}

TEST_P(TcpEngineTest, ServerResetSendsRstToNamespace) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    const linger lg{1, 0};
    setsockopt(c.server.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    c.server.reset();
    const auto got = pump_for_frames(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0].has(kRst));
    EXPECT_EQ(got[0].seq, c.our_seq);
    EXPECT_EQ(engine_->active(), 0u);
}

TEST_P(TcpEngineTest, UnansweredSynAckIsResentThenTimesOut) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    const auto ep = endpoints(local_port(l.get()));
    syn(ep, 1000);
    const auto first = pump_for_frames(1);
    ASSERT_EQ(first.size(), 1u);
    UniqueFd server(accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    ASSERT_TRUE(server.valid());

    const auto t0 = TcpClock::now();
    engine_->on_timer(t0 + 1500ms);
    const auto again = take();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].flags, kSyn | kAck);
    EXPECT_EQ(again[0].seq, first[0].seq);

    engine_->on_timer(t0 + 11s);
    const auto rst = take();
    ASSERT_EQ(rst.size(), 1u);
    EXPECT_TRUE(rst[0].has(kRst));
    EXPECT_EQ(engine_->active(), 0u);
    EXPECT_EQ(engine_->stats().timeouts, 1u);
    EXPECT_EQ(wait_eof(server.get()), ECONNRESET);
}

TEST_P(TcpEngineTest, InactivityResetsBothSides) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    auto c = establish(l.get(), local_port(l.get()));
    engine_->on_timer(TcpClock::now() + 1h);
    EXPECT_TRUE(take().empty());
    EXPECT_EQ(engine_->active(), 1u);
    engine_->on_timer(TcpClock::now() + 2h + 1s);
    const auto got = take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(got[0].has(kRst));
    EXPECT_EQ(engine_->active(), 0u);
    EXPECT_EQ(wait_eof(c.server.get()), ECONNRESET);
}

// --- Opening towards the namespace (port forwards) ---------------------------

TEST_P(TcpEngineTest, AcceptedConnectionSendsSynAndCarriesDataBothWays) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    const int family = std::strchr(GetParam().loopback, ':') ? AF_INET6 : AF_INET;
    UniqueFd client(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(l.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
    UniqueFd host(accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    ASSERT_TRUE(host.valid());

    const auto ep = endpoints(50000);  // peer_* is the client as the namespace sees it
    engine_->on_accepted(std::move(host), ep, TcpClock::now());
    auto got = take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].flags, kSyn);
    EXPECT_EQ(got[0].ep, ep);
    EXPECT_EQ(got[0].mss, our_mss());
    const std::uint32_t isn = got[0].seq;

    // SYN-ACK from the namespace's service.
    TcpSegment sa;
    sa.seq = 9000;
    sa.ack = isn + 1;
    sa.flags = kSyn | kAck;
    sa.window = 65535;
    sa.mss = kNsMss;
    sa.wscale = 0;
    engine_->on_segment(ep, sa, TcpClock::now());
    engine_->flush(TcpClock::now());
    got = take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].flags, kAck);
    EXPECT_EQ(got[0].ack, 9001u);
    EXPECT_EQ(engine_->stats().established, 1u);

    // Namespace -> client.
    const Bytes down = pattern(1200, 9);
    segment(ep, 9001, isn + 1, kAck, 65535, down);
    EXPECT_EQ(read_n(client.get(), 1200), down);

    // Client -> namespace.
    take();
    const Bytes up = pattern(900, 10);
    ASSERT_EQ(send(client.get(), up.data(), up.size(), 0), 900);
    got = pump_for_frames(1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].seq, isn + 1);
    EXPECT_EQ(got[0].data, up);
}

TEST_P(TcpEngineTest, AcceptedConnectionRefusedByNamespaceResetsClient) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    const int family = std::strchr(GetParam().loopback, ':') ? AF_INET6 : AF_INET;
    UniqueFd client(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    getsockname(l.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
    UniqueFd host(accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    const auto ep = endpoints(50001);
    engine_->on_accepted(std::move(host), ep, TcpClock::now());
    const auto got = take();
    ASSERT_EQ(got.size(), 1u);
    segment(ep, 0, got[0].seq + 1, kRst | kAck);
    EXPECT_EQ(engine_->active(), 0u);
    EXPECT_EQ(wait_eof(client.get()), ECONNRESET);
}

TEST_P(TcpEngineTest, StaleTokenIsIgnored) {
    auto l = listener(GetParam().loopback);
    ASSERT_TRUE(l.valid());
    make_engine(1);  // one slot: the next connection reuses it
    auto c = establish(l.get(), local_port(l.get()));
    ASSERT_EQ(poller_.tokens.size(), 1u);
    const std::uint64_t old_token = poller_.tokens.begin()->second;
    EXPECT_EQ(token_kind(old_token), kTcpTokenKind);
    segment(c.ep, c.ns_seq, 0, kRst);
    ASSERT_EQ(engine_->active(), 0u);
    poller_.tokens.clear();

    auto c2 = establish(l.get(), local_port(l.get()));
    ASSERT_EQ(engine_->active(), 1u);
    ASSERT_EQ(poller_.tokens.size(), 1u);
    EXPECT_NE(poller_.tokens.begin()->second, old_token);
    engine_->on_socket_event(old_token, EPOLLERR, TcpClock::now());
    EXPECT_EQ(engine_->active(), 1u);  // the old event did not touch the new connection
    EXPECT_TRUE(take().empty());
}

const Family kFamilies[] = {
    {"V4", "192.0.2.2", "127.0.0.1", 40, true},
    {"V6", "fd00::2", "::1", 60, true},
    {"V4NoPeekOffset", "192.0.2.2", "127.0.0.1", 40, false},
    {"V6NoPeekOffset", "fd00::2", "::1", 60, false},
};

INSTANTIATE_TEST_SUITE_P(Families, TcpEngineTest, ::testing::ValuesIn(kFamilies),
                         [](const ::testing::TestParamInfo<Family>& p) { return p.param.name; });

// --- Address mapping ---------------------------------------------------------

class TcpMappingTest : public ::testing::Test {
protected:
    // Opens a connection to `peer`:`port` and returns the accepted socket of
    // `l`, or nothing when no SYN-ACK came.
    UniqueFd open_via(const TcpConfig& base, int l, const char* peer, std::uint16_t port) {
        TcpConfig cfg = base;
        cfg.our_mac = kOurMac;
        cfg.ns_mac = &kNsMac;
        TcpEngine engine(cfg, sink_, poller_);
        const Endpoints ep{InAny::from(*Ip4::parse("192.0.2.2")), InAny::from(*Ip4::parse(peer)),
                           41000, port};
        TcpSegment s;
        s.seq = 1;
        s.flags = kSyn;
        s.window = 65535;
        engine.on_segment(ep, s, TcpClock::now());
        const auto deadline = TcpClock::now() + 2s;
        while (sink_.frames.empty() && TcpClock::now() < deadline) {
            poller_.poll(5, [&engine](std::uint64_t t, std::uint32_t ev) {
                engine.on_socket_event(t, ev, TcpClock::now());
            });
        }
        if (sink_.frames.size() != 1) {
            return UniqueFd{};
        }
        DropReason why{};
        const auto f = parse_frame(sink_.frames[0], why);
        const auto p = f ? parse_tcp(*f, why) : std::nullopt;
        sink_.frames.clear();
        if (!p || p->seg.flags != (kSyn | kAck)) {
            return UniqueFd{};
        }
        return UniqueFd(accept4(l, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    }

    FakeSink sink_;
    EpollPoller poller_;
};

TEST_F(TcpMappingTest, GatewayAddressReachesHostLoopback) {
    auto l = listener("127.0.0.1");
    ASSERT_TRUE(l.valid());
    TcpConfig cfg;
    cfg.gw4 = Ip4::parse("127.0.0.3");
    const auto s = open_via(cfg, l.get(), "127.0.0.3", local_port(l.get()));
    ASSERT_TRUE(s.valid());
    EXPECT_EQ(local_addr(s.get()), "127.0.0.1");
}

TEST_F(TcpMappingTest, NoMapGwConnectsToGatewayItself) {
    auto l = listener("127.0.0.3");
    ASSERT_TRUE(l.valid());
    TcpConfig cfg;
    cfg.gw4 = Ip4::parse("127.0.0.3");
    cfg.map_gw = false;
    const auto s = open_via(cfg, l.get(), "127.0.0.3", local_port(l.get()));
    ASSERT_TRUE(s.valid());
    EXPECT_EQ(local_addr(s.get()), "127.0.0.3");
}

TEST_F(TcpMappingTest, GuestAddressReachesHostAddress) {
    // Both addresses on loopback, so a broken mapping cannot leave the host.
    auto l = listener("127.0.0.4");
    ASSERT_TRUE(l.valid());
    TcpConfig cfg;
    cfg.map_guest_addr4 = Ip4::parse("127.0.0.6");
    cfg.host_addr4 = Ip4::parse("127.0.0.4");
    const auto s = open_via(cfg, l.get(), "127.0.0.6", local_port(l.get()));
    ASSERT_TRUE(s.valid());
    EXPECT_EQ(local_addr(s.get()), "127.0.0.4");
}

TEST_F(TcpMappingTest, OutboundAddressIsBoundBeforeConnect) {
    auto l = listener("127.0.0.1");
    ASSERT_TRUE(l.valid());
    TcpConfig cfg;
    cfg.outbound4 = Ip4::parse("127.0.0.5");
    auto s = open_via(cfg, l.get(), "127.0.0.1", local_port(l.get()));
    ASSERT_TRUE(s.valid());
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    getpeername(s.get(), reinterpret_cast<sockaddr*>(&peer), &len);
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &peer.sin_addr, buf, sizeof(buf));
    EXPECT_STREQ(buf, "127.0.0.5");
}

}  // namespace
}  // namespace pastad::tap

// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/io_backend.cpp - io_uring and epoll back ends of the data plane
//
// Theory of operation
// -------------------
// What: moves frames between the tap and the translators, and tells the
// translators when their host sockets are ready. Socket payload itself is
// read and written by the translators with plain system calls.
//
// Transmit ring: frames towards the namespace are built in place in fixed
// 64 KiB slots of one lazily-touched mapping (no allocation per frame). A
// producer fills free slots and commits them; flush() hands committed slots
// to the kernel, in order. A slot is free again once its write completed.
// Frames are never reordered: the epoll back end writes them one by one; the
// io_uring back end submits one linked chain at a time and the next only once
// the previous one completed (writes to a tap complete at submission, so this
// costs no latency).
//
// Readiness: level-triggered in both back ends. epoll uses its default mode;
// io_uring uses one-shot poll requests re-armed after each dispatch, and a
// one-shot poll on a still-ready socket completes at once. A translator that
// cannot make progress on a ready socket must drop that event from its watch.
//
// io_uring specifics: a poll request on the tap says when frames wait, and
// they are then read in a batch into one buffer. Several read requests on
// the tap (tried first) woke each other on every frame and sent reads to the
// kernel's io-wq worker threads, which cost request/response traffic a
// thread hand-off per frame. An eventfd registered with the ring wakes the
// control loop. user_data encodes (type, generation, fd or slot), never a
// pointer: a completion for a watch that changed since is recognised by its
// generation and ignored.
//
// Capture (-p): each frame the kernel took from the transmit ring is handed
// to the PcapWriter set with set_capture(), when write() returns (epoll, and
// io_uring's directly written frames) or at its completion (io_uring chains);
// frames from the tap are recorded by the data plane.
//
// Failure: a failed tap write drops that frame and counts it (the
// namespace's TCP recovers); a failed read of the tap is logged, rate-limited.
// Limitations: socket payload is not moved through the ring yet; only tap
// frames and readiness are.
#include "io_backend.hpp"

#include <fcntl.h>
#include <liburing.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include "daemon/base/check.hpp"
#include "daemon/base/log.hpp"
#include "daemon/base/result.hpp"
#include "daemon/vnet_header.hpp"
#include "tap/checksum.hpp"

namespace pastad {

namespace {

constexpr std::size_t kTxSlots = 128;  // frames queued towards the tap at most
constexpr std::size_t kRxBatch = 128;  // frames read from the tap per process() call
constexpr int kEventBatch = 256;       // readiness events handled per process() call
// Room in front of each frame for the tap's virtio-net header.
constexpr std::size_t kHeadroom = 64;
// Receive space for the frames of one batch: 16 of the largest size, many
// more at usual MTUs. Frames are packed at 64-byte alignment.
constexpr std::size_t kRxArenaSize = 16 * (IoBackend::kSlotSize + kHeadroom);
constexpr std::size_t kRxAlign = 64;

// Frames read from the tap during one process() call, kept one after another
// until on_batch_end(), so that a translator may refer to their payload
// until then (TCP gathers a connection's segments for one sendmsg()).
class RxArena {
public:
    RxArena() {
        void* p = ::mmap(nullptr, kRxArenaSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
        if (p == MAP_FAILED) {
            throw std::system_error(errno_code(), "mapping receive buffers");
        }
        base_ = static_cast<std::byte*>(p);
    }
    RxArena(const RxArena&) = delete;
    RxArena& operator=(const RxArena&) = delete;
    ~RxArena() { ::munmap(base_, kRxArenaSize); }

    // Space for one frame of any size and its virtio-net header, or empty
    // when the batch must end first (reset()).
    std::span<std::byte> next() {
        constexpr std::size_t kRoom = IoBackend::kSlotSize + kHeadroom;
        if (used_ + kRoom > kRxArenaSize) {
            return {};
        }
        return {base_ + used_, kRoom};
    }
    // The frame just read into next() is `len` bytes long and stays.
    void keep(std::size_t len) { used_ += (len + kRxAlign - 1) / kRxAlign * kRxAlign; }
    // Every frame was handed over and the batch ended: reuse the space.
    void reset() { used_ = 0; }

private:
    std::byte* base_ = nullptr;
    std::size_t used_ = 0;
};

// The length of the virtio-net header in front of every frame on `tap`, 0
// for a tap without IFF_VNET_HDR (or a descriptor that is no tap at all).
std::size_t vnet_header_len(int tap) {
    if (tap < 0) {
        return 0;
    }
    ifreq ifr{};
    int len = 0;
    if (::ioctl(tap, TUNGETIFF, &ifr) != 0 || !(ifr.ifr_flags & IFF_VNET_HDR) ||
        ::ioctl(tap, TUNGETVNETHDRSZ, &len) != 0) {
        return 0;
    }
    if (len < static_cast<int>(sizeof(VnetHeader)) || len > static_cast<int>(kHeadroom)) {
        throw std::system_error(errno_code(EINVAL),
                                "the tap's virtio-net header length is " + std::to_string(len));
    }
    return static_cast<std::size_t>(len);
}

// Takes the virtio-net header off a frame read from the tap. A checksum the
// namespace's kernel left to us (the tap offers TUN_F_CSUM) is completed,
// except TCP's when no capture runs: the TCP translator does not verify
// checksums of frames from the tap, so nobody would read it.
std::span<const std::byte> strip_vnet_header(std::span<std::byte> raw, std::size_t hdr,
                                             bool keep_tcp_partial) {
    if (hdr == 0) {
        return raw;
    }
    if (raw.size() < hdr) {
        return {};
    }
    VnetHeader vh{};
    std::memcpy(&vh, raw.data(), sizeof(vh));
    const auto frame = raw.subspan(hdr);
    if (vh.flags & kVnetNeedsCsum) {
        const bool tcp = vh.csum_offset == 16;  // th_sum's offset in the TCP header
        if (!(tcp && keep_tcp_partial)) {
            (void)tap::complete_checksum(frame, vh.csum_start, vh.csum_offset);
        }
    }
    return frame;
}

// Reads one frame from the tap into `rx`, ending the batch first when the
// arena is full. Returns the frame, or an empty span when none waits (`err`
// then holds the read's errno, 0 at end of file).
std::span<const std::byte> read_frame(int tap, std::size_t hdr, bool keep_tcp_partial, RxArena& rx,
                                      IoHandler& h, int& err) {
    err = 0;
    auto buf = rx.next();
    if (buf.empty()) {
        h.on_batch_end();
        rx.reset();
        buf = rx.next();
    }
    const ssize_t n = ::read(tap, buf.data(), buf.size());
    if (n <= 0) {
        err = n < 0 ? errno : 0;
        return {};
    }
    rx.keep(static_cast<std::size_t>(n));
    return strip_vnet_header(buf.first(static_cast<std::size_t>(n)), hdr, keep_tcp_partial);
}

constexpr std::size_t kSlotStride = IoBackend::kSlotSize + kHeadroom;

// A ring of transmit slots in one anonymous mapping. Each slot starts with
// headroom; the `hdr` bytes in front of the frame are the tap's virtio-net
// header, left zero: no offload asked, the frame's checksums are complete.
class SlotRing {
public:
    explicit SlotRing(std::size_t hdr) : hdr_(hdr) {
        PASTAD_CHECK(hdr <= kHeadroom);  // vnet_header_len() caps it
        void* p = ::mmap(nullptr, kTxSlots * kSlotStride, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            throw std::system_error(errno_code(), "mapping transmit buffers");
        }
        base_ = static_cast<std::byte*>(p);
    }
    SlotRing(const SlotRing&) = delete;
    SlotRing& operator=(const SlotRing&) = delete;
    ~SlotRing() { ::munmap(base_, kTxSlots * kSlotStride); }

    std::size_t free_slots() const { return kTxSlots - used_; }
    std::span<std::byte> free_slot(std::size_t i) {
        return {base_ + index(used_ + i) * kSlotStride + kHeadroom, IoBackend::kSlotSize};
    }
    void commit(std::size_t count, const std::size_t* lens) {
        PASTAD_CHECK(count <= free_slots());  // the producer asked free_slots() first
        for (std::size_t j = 0; j < count; ++j) {
            len_[index(used_ + j)] = lens[j];
        }
        used_ += count;
    }
    // Committed frames, oldest first: i < used().
    std::size_t used() const { return used_; }
    std::span<const std::byte> frame(std::size_t i) const {
        const std::size_t k = index(i);
        return {base_ + k * kSlotStride + kHeadroom, len_[k]};
    }
    // The same frame as written to the tap: with its virtio-net header.
    std::span<const std::byte> wire(std::size_t i) const {
        const std::size_t k = index(i);
        return {base_ + k * kSlotStride + kHeadroom - hdr_, len_[k] + hdr_};
    }
    // Releases the oldest committed frame.
    void pop() {
        PASTAD_CHECK(used_ > 0);
        head_ = (head_ + 1) % kTxSlots;
        --used_;
    }

private:
    std::size_t index(std::size_t i) const { return (head_ + i) % kTxSlots; }

    std::size_t hdr_;
    std::byte* base_ = nullptr;
    std::size_t head_ = 0;
    std::size_t used_ = 0;
    std::size_t len_[kTxSlots] = {};
};

// ---------------------------------------------------------------- epoll --

constexpr std::uint64_t kTapToken = ~std::uint64_t{0};
constexpr std::uint64_t kKickToken = ~std::uint64_t{0} - 1;
// Times per process() call a starved producer is resumed after a flush
// freed its slots, before the rest waits for the next wake-up.
constexpr int kTxRounds = 8;

class EpollBackend final : public IoBackend {
public:
    explicit EpollBackend(int tap_fd) : tap_(tap_fd), hdr_(vnet_header_len(tap_fd)), ring_(hdr_) {
        ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
        if (!ep_) {
            throw std::system_error(errno_code(), "creating an epoll instance");
        }
        if (tap_ >= 0) {
            set_tap_events(EPOLLIN, EPOLL_CTL_ADD);
        }
        kick_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = kKickToken;
        if (!kick_ || ::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, kick_.get(), &ev) != 0) {
            throw std::system_error(errno_code(), "creating the transmit wake-up");
        }
    }

    IoKind kind() const override { return IoKind::Epoll; }
    int wait_fd() const override { return ep_.get(); }

    std::size_t free_slots() const override { return ring_.free_slots(); }
    std::size_t slot_size() const override { return kSlotSize; }
    std::span<std::byte> slot(std::size_t i) override { return ring_.free_slot(i); }
    void commit(std::size_t count, const std::size_t* lens) override { ring_.commit(count, lens); }

    void watch(int fd, std::uint32_t events, std::uint64_t token) override {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = token;
        if (::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT) {
            if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
                log::daemon().warn("cannot watch socket {}: {}", fd, std::strerror(errno));
            }
        }
    }
    void unwatch(int fd) override { ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr); }

    void process(IoHandler& h) override {
        ++counters_.wakeups;
        epoll_event evs[kEventBatch];
        const int n = ::epoll_wait(ep_.get(), evs, kEventBatch, 0);
        // Work left for the next call (a full batch of events, or more
        // frames on the tap than one call reads): the control loop watches
        // this epoll instance edge-triggered, so without a fresh event it
        // would not call again. The wake-up eventfd provides one.
        bool more = n == kEventBatch;
        for (int i = 0; i < n; ++i) {
            if (evs[i].data.u64 == kKickToken) {
                std::uint64_t ignored;
                (void)!::read(kick_.get(), &ignored, sizeof(ignored));
                flush();
                h.on_tx_space();
            } else if (evs[i].data.u64 == kTapToken) {
                if (evs[i].events & EPOLLOUT) {
                    flush();
                    h.on_tx_space();
                }
                // A tap whose device went away polls as EPOLLERR only;
                // reading it is how that is found out.
                if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && !read_tap(h)) {
                    more = true;
                }
            } else {
                h.on_socket(evs[i].data.u64, evs[i].events);
            }
        }
        h.on_batch_end();
        rx_.reset();
        // Writes here are synchronous, so slots free up at once: a producer
        // that found the ring full is resumed right away, a few times, and
        // then through the wake-up eventfd so timers and signals get a turn.
        for (int round = 0;; ++round) {
            const bool was_full = ring_.free_slots() == 0;
            flush();
            if (!was_full || tx_blocked_) {
                break;
            }
            if (round == kTxRounds) {
                more = true;
                break;
            }
            h.on_tx_space();
        }
        if (more) {
            const std::uint64_t one = 1;
            (void)!::write(kick_.get(), &one, sizeof(one));
        }
    }

    void flush() override {
        if (tap_ < 0 || tap_gone_) {
            counters_.tx_dropped += ring_.used();
            while (ring_.used() > 0) {
                ring_.pop();
            }
            return;
        }
        while (ring_.used() > 0) {
            const auto f = ring_.frame(0);
            const auto wire = ring_.wire(0);
            const ssize_t w = ::write(tap_, wire.data(), wire.size());
            if (w < 0 && errno == EAGAIN) {
                if (!tx_blocked_) {
                    tx_blocked_ = true;
                    set_tap_events(EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
                }
                return;
            }
            if (w < 0) {
                ++counters_.tx_dropped;
            } else {
                ++counters_.tx_frames;
                record_tx(f);
            }
            ring_.pop();
        }
        if (tx_blocked_) {
            tx_blocked_ = false;
            set_tap_events(EPOLLIN, EPOLL_CTL_MOD);
        }
    }

private:
    void set_tap_events(std::uint32_t events, int op) {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = kTapToken;
        check_syscall(::epoll_ctl(ep_.get(), op, tap_, &ev), "watching the tap");
    }

    // Reads up to kRxBatch frames; false when the tap may hold more.
    bool read_tap(IoHandler& h) {
        for (std::size_t i = 0; i < kRxBatch; ++i) {
            int err = 0;
            const auto f = read_frame(tap_, hdr_, capture() == nullptr, rx_, h, err);
            if (f.empty()) {
                if (err != 0 && tap_read_failed(err)) {
                    ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, tap_, nullptr);
                } else if (err != 0 && err != EAGAIN && err != EINTR) {
                    log::daemon().warn("reading the tap: {}", std::strerror(err));
                }
                return true;
            }
            ++counters_.rx_frames;
            h.on_frame(f);
        }
        return false;
    }

    int tap_;
    std::size_t hdr_;  // virtio-net header length, 0 without
    UniqueFd ep_;
    UniqueFd kick_;
    SlotRing ring_;
    RxArena rx_;
    bool tx_blocked_ = false;
};

// ------------------------------------------------------------- io_uring --

constexpr unsigned kRingEntries = 1024;
constexpr std::size_t kSyncTxFrames = 4;  // written directly, not through the ring

enum class Op : std::uint64_t { Poll = 0, Rx = 1, Tx = 2, Ignore = 3 };

std::uint64_t pack(Op op, std::uint32_t gen, std::uint32_t idx) {
    return (static_cast<std::uint64_t>(op) << 62) |
           ((static_cast<std::uint64_t>(gen) & 0x3fffffff) << 32) | idx;
}
Op op_of(std::uint64_t ud) {
    return static_cast<Op>(ud >> 62);
}
std::uint32_t gen_of(std::uint64_t ud) {
    return static_cast<std::uint32_t>((ud >> 32) & 0x3fffffff);
}
std::uint32_t idx_of(std::uint64_t ud) {
    return static_cast<std::uint32_t>(ud);
}

class UringBackend final : public IoBackend {
public:
    explicit UringBackend(int tap_fd)
        : tap_(tap_fd), hdr_(vnet_header_len(tap_fd)), ring_tx_(hdr_) {
        io_uring_params p{};
        p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
        int rc = io_uring_queue_init_params(kRingEntries, &ring_, &p);
        if (rc == -EINVAL) {
            // Older kernels lack the optional flags.
            p = {};
            rc = io_uring_queue_init_params(kRingEntries, &ring_, &p);
        }
        if (rc < 0) {
            throw std::system_error(errno_code(-rc), "creating an io_uring instance");
        }
        ring_ok_ = true;
        efd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!efd_ || io_uring_register_eventfd(&ring_, efd_.get()) < 0) {
            throw std::system_error(errno_code(), "registering the io_uring eventfd");
        }
        if (tap_ >= 0) {
            arm_rx();
        }
        submit();
    }
    ~UringBackend() override {
        if (ring_ok_) {
            io_uring_queue_exit(&ring_);
        }
    }

    IoKind kind() const override { return IoKind::Uring; }
    int wait_fd() const override { return efd_.get(); }

    std::size_t free_slots() const override { return ring_tx_.free_slots(); }
    std::size_t slot_size() const override { return kSlotSize; }
    std::span<std::byte> slot(std::size_t i) override { return ring_tx_.free_slot(i); }
    void commit(std::size_t count, const std::size_t* lens) override {
        ring_tx_.commit(count, lens);
    }

    void watch(int fd, std::uint32_t events, std::uint64_t token) override {
        Watch& w = entry(fd);
        const bool same = w.active && w.events == events;
        w.token = token;
        if (same) {
            return;
        }
        if (w.armed) {
            cancel_poll(fd, w);
        }
        w.active = true;
        w.events = events;
        ++w.gen;
        arm_poll(fd, w);
    }

    void unwatch(int fd) override {
        if (fd < 0 || static_cast<std::size_t>(fd) >= watches_.size()) {
            return;
        }
        Watch& w = watches_[static_cast<std::size_t>(fd)];
        if (w.armed) {
            cancel_poll(fd, w);
        }
        w.active = false;
        ++w.gen;
    }

    void process(IoHandler& h) override {
        ++counters_.wakeups;
        std::uint64_t ignored;
        (void)!::read(efd_.get(), &ignored, sizeof(ignored));
        bool tx_done = false;
        for (int round = 0; round < kEventBatch; ++round) {
            io_uring_cqe* cqe = nullptr;
            if (io_uring_peek_cqe(&ring_, &cqe) != 0 || cqe == nullptr) {
                break;
            }
            const std::uint64_t ud = cqe->user_data;
            const int res = cqe->res;
            io_uring_cqe_seen(&ring_, cqe);
            switch (op_of(ud)) {
                case Op::Poll:
                    on_poll(h, ud, res);
                    break;
                case Op::Rx:
                    on_rx(h, res);
                    break;
                case Op::Tx:
                    if (res < 0) {
                        ++counters_.tx_dropped;
                    } else {
                        ++counters_.tx_frames;
                        record_tx(ring_tx_.frame(0));  // chains complete in order
                    }
                    ring_tx_.pop();
                    --in_flight_;
                    tx_done = true;
                    break;
                case Op::Ignore:
                    break;
            }
        }
        // Re-arm polls that fired: level-triggered like epoll's default.
        for (int fd : rearm_) {
            Watch& w = watches_[static_cast<std::size_t>(fd)];
            if (w.active && !w.armed) {
                arm_poll(fd, w);
            }
        }
        rearm_.clear();
        if (tx_done) {
            h.on_tx_space();
        }
        h.on_batch_end();
        rx_.reset();
        flush();
        // Completions may have arrived while we worked; the eventfd only
        // counts new ones, so look again before sleeping.
        if (io_uring_cq_ready(&ring_) > 0) {
            const std::uint64_t one = 1;
            (void)!::write(efd_.get(), &one, sizeof(one));
        }
    }

    void flush() override {
        // A few frames with nothing in flight (request/response traffic) are
        // written at once: a chain's completion would cost a wake-up and a
        // trip through the ring's task work before the slot is free, which
        // doubled the round-trip time of 1-byte exchanges. Bulk goes as one
        // linked chain, in flight one at a time, which keeps frames in order.
        if (tap_ < 0 || tap_gone_) {
            // No tap to write to; frames still in flight complete first.
            if (in_flight_ == 0) {
                counters_.tx_dropped += ring_tx_.used();
                while (ring_tx_.used() > 0) {
                    ring_tx_.pop();
                }
            }
            submit();
            return;
        }
        if (in_flight_ == 0 && ring_tx_.used() > 0 && ring_tx_.used() <= kSyncTxFrames) {
            while (ring_tx_.used() > 0) {
                const auto f = ring_tx_.frame(0);
                const auto wire = ring_tx_.wire(0);
                if (::write(tap_, wire.data(), wire.size()) < 0) {
                    ++counters_.tx_dropped;
                } else {
                    ++counters_.tx_frames;
                    record_tx(f);
                }
                ring_tx_.pop();
            }
        }
        if (in_flight_ == 0 && ring_tx_.used() > 0) {
            const std::size_t n = ring_tx_.used();
            for (std::size_t i = 0; i < n; ++i) {
                io_uring_sqe* sqe = get_sqe();
                const auto f = ring_tx_.wire(i);
                io_uring_prep_write(sqe, tap_, f.data(), static_cast<unsigned>(f.size()), 0);
                io_uring_sqe_set_data64(sqe, pack(Op::Tx, 0, static_cast<std::uint32_t>(i)));
                if (i + 1 < n) {
                    sqe->flags |= IOSQE_IO_LINK;
                }
            }
            in_flight_ = n;
        }
        submit();
    }

private:
    struct Watch {
        std::uint64_t token = 0;
        std::uint32_t events = 0;
        std::uint32_t gen = 0;
        bool active = false;
        bool armed = false;
    };

    Watch& entry(int fd) {
        if (static_cast<std::size_t>(fd) >= watches_.size()) {
            watches_.resize(static_cast<std::size_t>(fd) + 64);
        }
        return watches_[static_cast<std::size_t>(fd)];
    }

    io_uring_sqe* get_sqe() {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        if (sqe == nullptr) {
            submit();
            sqe = io_uring_get_sqe(&ring_);
        }
        PASTAD_CHECK(sqe != nullptr);  // the queue was just submitted, so it has room
        return sqe;
    }

    void submit() {
        const int rc = io_uring_submit(&ring_);
        if (rc < 0 && rc != -EBUSY && rc != -EAGAIN) {
            log::daemon().warn("io_uring submit: {}", std::strerror(-rc));
        }
    }

    void arm_poll(int fd, Watch& w) {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_poll_add(sqe, fd, w.events);
        io_uring_sqe_set_data64(sqe, pack(Op::Poll, w.gen, static_cast<std::uint32_t>(fd)));
        w.armed = true;
    }

    void cancel_poll(int fd, Watch& w) {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_poll_remove(sqe, pack(Op::Poll, w.gen, static_cast<std::uint32_t>(fd)));
        io_uring_sqe_set_data64(sqe, pack(Op::Ignore, 0, 0));
        w.armed = false;
    }

    void on_poll(IoHandler& h, std::uint64_t ud, int res) {
        const int fd = static_cast<int>(idx_of(ud));
        if (static_cast<std::size_t>(fd) >= watches_.size()) {
            return;
        }
        Watch& w = watches_[static_cast<std::size_t>(fd)];
        if (!w.active || w.gen != (gen_of(ud) & 0x3fffffff)) {
            return;  // a watch that changed or ended since: stale
        }
        w.armed = false;
        rearm_.push_back(fd);
        if (res == -ECANCELED) {
            return;
        }
        const std::uint32_t events = res < 0 ? EPOLLERR : static_cast<std::uint32_t>(res);
        h.on_socket(w.token, events);
    }

    // The tap is readable: read a batch of frames, then poll again. A
    // one-shot poll on a tap that still holds frames completes at once.
    void on_rx(IoHandler& h, int res) {
        if (res < 0 && res != -ECANCELED) {
            static log::RateLimit limit{std::chrono::seconds(10)};
            if (auto n = limit.allow(std::chrono::steady_clock::now())) {
                log::daemon().warn("polling the tap: {} ({} times)", std::strerror(-res), *n);
            }
        }
        for (std::size_t i = 0; i < kRxBatch; ++i) {
            int err = 0;
            const auto f = read_frame(tap_, hdr_, capture() == nullptr, rx_, h, err);
            if (f.empty()) {
                if (err != 0 && tap_read_failed(err)) {
                    return;  // not polled again
                }
                if (err != 0 && err != EAGAIN && err != EINTR) {
                    log::daemon().warn("reading the tap: {}", std::strerror(err));
                }
                break;
            }
            ++counters_.rx_frames;
            h.on_frame(f);
        }
        arm_rx();
    }

    void arm_rx() {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_poll_add(sqe, tap_, POLLIN);
        io_uring_sqe_set_data64(sqe, pack(Op::Rx, 0, 0));
    }

    int tap_;
    std::size_t hdr_;  // virtio-net header length, 0 without
    io_uring ring_{};
    bool ring_ok_ = false;
    UniqueFd efd_;
    SlotRing ring_tx_;
    RxArena rx_;
    std::vector<Watch> watches_;
    std::vector<int> rearm_;
    std::size_t in_flight_ = 0;
};

}  // namespace

std::unique_ptr<IoBackend> IoBackend::create(std::optional<IoKind> kind, int tap_fd) {
    if (kind == IoKind::Epoll) {
        return std::make_unique<EpollBackend>(tap_fd);
    }
    try {
        return std::make_unique<UringBackend>(tap_fd);
    } catch (const std::system_error& e) {
        if (kind == IoKind::Uring) {
            throw;
        }
        log::daemon().warn("io_uring unavailable ({}); using epoll", e.what());
        return std::make_unique<EpollBackend>(tap_fd);
    }
}

}  // namespace pastad

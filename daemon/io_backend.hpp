// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/io_backend.hpp - the data plane's I/O: tap frames and socket readiness
//
// Two back ends with one contract: io_uring (default) and epoll (fallback when
// io_uring is unavailable or disabled, and forced with --io-backend=epoll).
// Both are driven from the control loop's thread: the loop waits for
// wait_fd() to become readable, then calls process(), which handles
// everything ready without blocking and flushes queued frames to the tap.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "daemon/base/unique_fd.hpp"
#include "daemon/pcap.hpp"
#include "tap/tcp.hpp"

namespace pastad {

// What the back end reports to the data plane. Calls arrive from process().
class IoHandler {
public:
    virtual ~IoHandler() = default;
    // One frame the namespace wrote to the tap. The bytes stay valid and
    // unchanged until the next on_batch_end() returns; a back end that runs
    // out of receive space mid-batch calls on_batch_end() first.
    virtual void on_frame(std::span<const std::byte> frame) = 0;
    // A watched socket is ready: level-triggered, as with epoll's default.
    virtual void on_socket(std::uint64_t token, std::uint32_t epoll_events) = 0;
    // Frame slots were released after a stall: producers may go on.
    virtual void on_tx_space() = 0;
    // The events of one process() call were delivered; queued frames are
    // written to the tap right after this returns.
    virtual void on_batch_end() = 0;
};

enum class IoKind { Uring, Epoll };

// Frames towards the tap live in fixed slots (a ring); sockets are watched by
// token. Readiness is level-triggered in both back ends: a socket that stays
// readable is reported again after each process() until its watch changes.
class IoBackend : public tap::FrameSink, public tap::Poller {
public:
    // Frames written per slot at most: an Ethernet frame at the largest tap
    // MTU (65520) plus its header, rounded up.
    static constexpr std::size_t kSlotSize = 65536;

    // Creates the back end. `kind` unset: io_uring when the kernel allows it,
    // else epoll with a log line saying why. Takes no ownership of `tap_fd`;
    // -1 means no tap (--splice-only): frames queued for it are dropped.
    static std::unique_ptr<IoBackend> create(std::optional<IoKind> kind, int tap_fd);

    virtual IoKind kind() const = 0;
    const char* name() const { return kind() == IoKind::Uring ? "io_uring" : "epoll"; }

    // Readable when process() has work; the control loop waits on it.
    virtual int wait_fd() const = 0;
    // Handles what is ready (bounded, so timers and signals are not starved)
    // and submits queued frames. Never blocks.
    virtual void process(IoHandler& h) = 0;
    // Submits queued frames now (also done at the end of process()).
    virtual void flush() = 0;

    struct Counters {
        std::uint64_t rx_frames = 0, tx_frames = 0, tx_dropped = 0, wakeups = 0;
    };
    const Counters& counters() const { return counters_; }

    // Frames the kernel took from the transmit ring are also recorded to
    // `w` (-p/--pcap); nullptr stops that. `w` must outlive the back end.
    void set_capture(PcapWriter* w) { capture_ = w; }
    PcapWriter* capture() const { return capture_; }

    // True once a read found the tap device gone (deleted, or its namespace
    // destroyed): the back end stopped reading it; the loop should end.
    bool tap_gone() const { return tap_gone_; }

protected:
    // Called by the back ends for each frame written to the tap.
    void record_tx(std::span<const std::byte> frame) {
        if (capture_ != nullptr) {
            capture_->record(frame);
        }
    }

    // Sorts a failed read of the tap: a detached tun file answers EBADFD
    // (tun_chr_read_iter() in drivers/net/tun.c) and polls as EPOLLERR
    // for ever, so it is recorded rather than retried. Returns whether the
    // tap is gone.
    bool tap_read_failed(int err) {
        if (err == EBADFD) {
            tap_gone_ = true;
        }
        return tap_gone_;
    }

    Counters counters_;
    PcapWriter* capture_ = nullptr;
    bool tap_gone_ = false;
};

}  // namespace pastad

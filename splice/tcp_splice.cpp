// SPDX-License-Identifier: GPL-2.0-or-later
// splice/tcp_splice.cpp - moving a forwarded TCP connection between two sockets with splice(2)
//
// Theory of operation
// -------------------
// What: the loopback bypass for forwarded TCP (DESIGN.md section 2, "Splice
// path"). A connection accepted on one side (host loopback for -t, the
// namespace's loopback for -T) is paired with a socket made on the other
// side and connected there; bytes then move kernel to kernel with splice(2)
// through one pipe per direction, never through user space and never
// through the tap. What it does not do: look at the payload, keep any buffer
// of its own beyond the two pipes, or translate anything; both ends are
// ordinary kernel TCP sockets.
//
// Data structures and ownership: TcpSplicer owns a table id -> Conn. A Conn
// owns its two sockets (as Asio descriptors, which close them) and its two
// pipes (UniqueFd). Every Asio handler holds a shared_ptr to its Conn, so a
// Conn outlives its queued waits; release() only removes it from the table
// after closing its descriptors, which cancels those waits.
// Invariant: pending_[d] is the number of bytes sitting in pipe d; sock d is
// only read when pending_[d] < pipe capacity.
//
// Readiness: the sockets are Asio posix descriptors on the event loop's
// io_context, which keeps the splice path out of the tap data plane's
// dispatch and its token space. Asio's epoll reactor registers each
// descriptor once, edge-triggered. A wait is armed only right after the
// very call it waits for returned EAGAIN, on the same thread, so no edge can
// be missed in between whatever the reactor does when arming.
// Limitation: Asio (1.74) re-arms every async_wait with an epoll_ctl(MOD),
// one system call per wait; for 1-byte request/response traffic that is one
// of five calls per message (epoll_wait, epoll_ctl, three splice). For bulk
// data the path is bound by the kernel's TCP work on the second connection
// (about 80% of pastad's CPU is under splice_to_socket -> tcp_sendmsg,
// including the loopback receive into the target's socket), not by calls;
// io_uring's IORING_OP_SPLICE would not change that work.
//
// Events per direction d (sock d -> pipe d -> sock 1-d):
//   connect done        -> pump both directions
//   sock d readable     -> splice sock d -> pipe d, then pipe d -> sock 1-d
//   sock 1-d writable   -> the same pump (the pipe was waiting for room)
//   read returns 0      -> EOF seen; once pipe d drains: shutdown(sock 1-d,
//                          SHUT_WR) (half-close propagates)
//   both directions shut-> close both sockets normally
//   ECONNRESET, EPIPE or another error on either socket -> reset: SO_LINGER 0
//                          on both and close, so the peer sees RST as well
//
// Limits: a pipe starts at the kernel's default size (64 KiB) and is grown
// to kPipeSize (1 MiB) with F_SETPIPE_SZ once its direction carries bulk
// data (half a pipe pending at once, or four pipes' worth moved): most
// forwarded connections are short exchanges, for which the resize is a cost
// per connection that buys nothing. An unprivileged user over
// fs.pipe-user-pages-soft keeps 64 KiB, which still works, only with more
// wake-ups.
//
// Failure: a failed connect() resets the accepted socket (the client sees
// a refused connection, as it would without pastad). Failure to create
// pipes resets the connection; nothing here ends the daemon.
//
// Limitations: urgent data (MSG_OOB) is not forwarded. A connection
// half-closed by one side stays open until the other side closes too; there
// is no idle timeout.
//
// References: splice(2), tcp(7) SO_LINGER, pipe(7) F_SETPIPE_SZ.
#include "tcp_splice.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>

#include "daemon/base/log.hpp"
#include "daemon/base/result.hpp"

namespace pastad::splice {

namespace asio = boost::asio;
using Desc = asio::posix::stream_descriptor;

class TcpSplicer::Conn : public std::enable_shared_from_this<Conn> {
public:
    Conn(TcpSplicer& owner, std::uint64_t id, UniqueFd in, UniqueFd out)
        : owner_(owner),
          id_(id),
          sock_{Desc(owner.io_, in.release()), Desc(owner.io_, out.release())} {}

    void connect(const sockaddr_storage& dest, socklen_t len) {
        const int rc = ::connect(fd(1), reinterpret_cast<const sockaddr*>(&dest), len);
        if (rc == 0) {
            established();
            return;
        }
        if (errno != EINPROGRESS) {
            refused(errno);
            return;
        }
        sock_[1].async_wait(Desc::wait_write, [self = shared_from_this()](auto ec) {
            if (ec || self->closed_) {
                return;
            }
            int err = 0;
            socklen_t l = sizeof(err);
            ::getsockopt(self->fd(1), SOL_SOCKET, SO_ERROR, &err, &l);
            if (err != 0) {
                self->refused(err);
            } else {
                self->established();
            }
        });
    }

private:
    int fd(int side) { return sock_[side].native_handle(); }

    void refused(int err) {
        log::splice().debug("[S{} tcp] connect failed: {}", id_, std::strerror(err));
        ++owner_.stats_.refused;
        reset();
    }

    void established() {
        for (int d = 0; d < 2; ++d) {
            int p[2];
            if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
                log::splice().warn("[S{} tcp] no pipe: {}", id_, std::strerror(errno));
                reset();
                return;
            }
            pipe_r_[d].reset(p[0]);
            pipe_w_[d].reset(p[1]);
            const int size = ::fcntl(p[1], F_GETPIPE_SZ);
            capacity_[d] = size > 0 ? static_cast<std::size_t>(size) : 65536;
        }
        log::splice().debug("[S{} tcp] ESTABLISHED, pipes {} bytes", id_, capacity_[0]);
        connected_ = true;
        pump(0);
        pump(1);
    }

    // Moves what can move in direction d without blocking, then arms the
    // waits that will resume it.
    void pump(int d) {
        if (closed_) {
            return;
        }
        const int in = fd(d);
        const int out = fd(1 - d);
        for (;;) {
            bool progress = false;
            bool read_blocked = false;
            bool write_blocked = false;
            if (!eof_[d] && pending_[d] < capacity_[d]) {
                const ssize_t n =
                    ::splice(in, nullptr, pipe_w_[d].get(), nullptr, capacity_[d] - pending_[d],
                             SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                if (n > 0) {
                    pending_[d] += static_cast<std::size_t>(n);
                    moved_[d] += static_cast<std::size_t>(n);
                    progress = true;
                    if (!grown_[d] &&
                        (pending_[d] >= capacity_[d] / 2 || moved_[d] >= 4 * capacity_[d])) {
                        grow(d);
                    }
                } else if (n == 0) {
                    eof_[d] = true;
                    progress = true;
                } else if (errno == EAGAIN) {
                    read_blocked = true;
                } else if (errno != EINTR) {
                    failed(d, errno);
                    return;
                }
            }
            if (pending_[d] > 0) {
                const ssize_t n = ::splice(pipe_r_[d].get(), nullptr, out, nullptr, pending_[d],
                                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                if (n > 0) {
                    pending_[d] -= static_cast<std::size_t>(n);
                    owner_.stats_.bytes[d] += static_cast<std::uint64_t>(n);
                    progress = true;
                } else if (n < 0 && errno == EAGAIN) {
                    write_blocked = true;
                } else if (n < 0 && errno != EINTR) {
                    failed(1 - d, errno);
                    return;
                }
            }
            if (eof_[d] && pending_[d] == 0 && !shut_[d]) {
                ::shutdown(out, SHUT_WR);
                shut_[d] = true;
                log::splice().debug("[S{} tcp] FIN {}", id_, d == 0 ? "to target" : "to client");
                if (shut_[1 - d]) {
                    finish(false);
                    return;
                }
            }
            if (!progress) {
                if (read_blocked) {
                    arm(d, Desc::wait_read, d);
                }
                if (write_blocked) {
                    arm(1 - d, Desc::wait_write, d);
                }
                return;
            }
        }
    }

    // Enlarges pipe d for a direction that carries bulk data; tried once.
    void grow(int d) {
        grown_[d] = true;
        const int size = ::fcntl(pipe_w_[d].get(), F_SETPIPE_SZ, kPipeSize);
        if (size > 0 && static_cast<std::size_t>(size) > capacity_[d]) {
            capacity_[d] = static_cast<std::size_t>(size);
            ++owner_.stats_.pipes_grown;
            log::splice().debug("[S{} tcp] pipe {} grown to {} bytes", id_, d, size);
        }
    }

    // Resumes direction `dir` once socket `side` is ready for `what`.
    void arm(int side, Desc::wait_type what, int dir) {
        bool& armed = what == Desc::wait_read ? wait_r_[side] : wait_w_[side];
        if (armed) {
            return;
        }
        armed = true;
        sock_[side].async_wait(what, [self = shared_from_this(), side, what, dir](auto ec) {
            (what == Desc::wait_read ? self->wait_r_[side] : self->wait_w_[side]) = false;
            if (!ec) {
                self->pump(dir);
            }
        });
    }

    void failed(int side, int err) {
        log::splice().debug("[S{} tcp] {} side: {}, resetting", id_,
                            side == 0 ? "client" : "target", std::strerror(err));
        reset();
    }

    void reset() { finish(true); }

    void finish(bool rst) {
        if (closed_) {
            return;
        }
        closed_ = true;
        if (rst) {
            ++owner_.stats_.resets;
            const linger lg{1, 0};
            for (auto& s : sock_) {
                ::setsockopt(s.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            }
        }
        boost::system::error_code ignored;
        for (auto& s : sock_) {
            s.close(ignored);
        }
        for (int d = 0; d < 2; ++d) {
            pipe_r_[d].reset();
            pipe_w_[d].reset();
        }
        log::splice().debug("[S{} tcp] CLOSED{}", id_, rst ? " (reset)" : "");
        owner_.release(id_);
    }

    TcpSplicer& owner_;
    std::uint64_t id_;
    Desc sock_[2];  // 0: the accepted client, 1: the connection we opened
    UniqueFd pipe_r_[2];
    UniqueFd pipe_w_[2];
    std::size_t capacity_[2] = {65536, 65536};
    std::size_t pending_[2] = {0, 0};
    std::size_t moved_[2] = {0, 0};  // bytes read into pipe d so far
    bool grown_[2] = {false, false};
    bool eof_[2] = {false, false};   // sock d returned end-of-file
    bool shut_[2] = {false, false};  // direction d's FIN was passed on
    bool wait_r_[2] = {false, false};
    bool wait_w_[2] = {false, false};
    bool connected_ = false;
    bool closed_ = false;
};

TcpSplicer::TcpSplicer(asio::io_context& io) : io_(io) {}

TcpSplicer::~TcpSplicer() = default;

void TcpSplicer::start(UniqueFd in, UniqueFd out, const sockaddr_storage& dest,
                       socklen_t dest_len) {
    const std::uint64_t id = next_id_++;
    ++stats_.opened;
    auto conn = std::make_shared<Conn>(*this, id, std::move(in), std::move(out));
    conns_.emplace(id, conn);
    conn->connect(dest, dest_len);
}

void TcpSplicer::release(std::uint64_t id) {
    // Deferred: the Conn may be running one of its own members right now.
    const auto it = conns_.find(id);
    if (it == conns_.end()) {
        return;
    }
    auto keep = std::move(it->second);
    conns_.erase(it);
    ++stats_.closed;
    asio::post(io_, [keep = std::move(keep)] {});
}

}  // namespace pastad::splice

// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/event_loop.cpp - the control loop: signals, timers, watches, and the data plane
//
// Theory of operation
// -------------------
// One thread runs everything on a Boost.Asio io_context: the data plane's
// wake-up descriptor (the epoll instance, or the eventfd of the io_uring),
// signals, the translators' tick (which also prints the --stats table), the
// watch on the namespace file and the watch on the target or spawned process. One thread means the
// flow tables need no locks; the data plane batches its work per wake-up, so the control loop's
// cost is one epoll_wait per batch, not per frame.
//
// Exit rules (checked in this order of arrival):
// - SIGTERM, SIGINT (SIGINT only when no command was spawned, since the
//   terminal's ^C belongs to the command): exit 0;
// - the spawned command exits: exit with its status (128 + signal number when
//   a signal ended it);
// - the target process (PID target) exits: exit 0;
// - the namespace file (--netns) is deleted or moved away: exit 0, unless
//   --no-netns-quit;
// - the tap device goes away (reads fail with EBADFD): exit 0 when it was
//   given with -F (its owner ended the session, as pasta's one-off mode
//   ends with its client), else exit 1.
#include "event_loop.hpp"

#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>

#include "daemon/base/log.hpp"
#include "daemon/base/result.hpp"
#include "daemon/data_plane.hpp"
#include "daemon/pcap.hpp"
#include "daemon/stats.hpp"

namespace pastad {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTick = std::chrono::milliseconds(20);

// Exit status of a waited-for child, as a shell reports it.
int status_of(int wstatus) {
    if (WIFEXITED(wstatus)) {
        return WEXITSTATUS(wstatus);
    }
    if (WIFSIGNALED(wstatus)) {
        return 128 + WTERMSIG(wstatus);
    }
    return 1;
}

class Loop {
public:
    Loop(const Config& cfg, Target& target, const NetPlan& plan, UniqueFd tap, Forwarding* fwd,
         std::unique_ptr<PcapWriter> pcap)
        : cfg_(cfg),
          fwd_(fwd),
          target_(target),
          tap_(std::move(tap)),
          plan_ifname_(plan.ifname),
          pcap_(std::move(pcap)),
          io_backend_(IoBackend::create(requested_io_kind(cfg), tap_.get())),
          data_(cfg, plan, *io_backend_),
          wake_(io_, ::dup(io_backend_->wait_fd())),
          signals_(io_),
          tick_(io_) {
        if (cfg.stats_delay > 0) {
            stats_.emplace(std::chrono::seconds(cfg.stats_delay));
        }
        if (pcap_) {
            io_backend_->set_capture(pcap_.get());
            log::daemon().info("capturing tap frames to {}", cfg.pcap_file);
        }
    }

    int run() {
        log::daemon().info("data plane on {}", io_backend_->name());
        watch_data_plane();
        watch_signals();
        watch_process();
        watch_netns_file();
        schedule_tick();
        data_.advertise_router();
        io_backend_->flush();
        start_forwarding();
        io_.run();
        log::daemon().info("exiting ({}): {}", exit_status_, data_.summary());
        if (fwd_ != nullptr) {
            log::daemon().info("{}", fwd_->summary());
            fwd_->stop();
        }
        return exit_status_;
    }

private:
    // Port forwards accept on this loop; connections and datagrams that
    // cannot be spliced go to the tap translator, and leave at once.
    void start_forwarding() {
        if (fwd_ == nullptr) {
            return;
        }
        fwd_->start(
            io_,
            [this](UniqueFd sock, const tap::Endpoints& ep) {
                data_.tcp_engine().on_accepted(std::move(sock), ep, Clock::now());
                io_backend_->flush();
            },
            [this](const tap::Endpoints& ep, const InAny& client, int reply_fd,
                   std::span<const std::byte> payload) {
                data_.udp_engine().on_forwarded(ep, client, reply_fd, payload, Clock::now());
                io_backend_->flush();
            });
    }

    void stop(int status, const std::string& why) {
        if (!stopping_) {
            stopping_ = true;
            exit_status_ = status;
            log::daemon().info("{}", why);
        }
        io_.stop();
    }

    void watch_data_plane() {
        wake_.async_wait(asio::posix::stream_descriptor::wait_read, [this](auto ec) {
            if (ec) {
                return;
            }
            io_backend_->process(data_);
            if (io_backend_->tap_gone()) {
                tap_gone();
                return;
            }
            watch_data_plane();
        });
    }

    // With -F the caller owns the tap, and removing it is how the caller
    // ends the session; a tap pastad made vanishing under it is an error.
    void tap_gone() {
        if (cfg_.tap_fd >= 0) {
            stop(0, "the tap device given with -F/--fd is gone");
        } else {
            log::daemon().error("the tap device {} disappeared", plan_ifname_);
            stop(1, "exiting without a tap");
        }
    }

    void watch_signals() {
        signals_.add(SIGTERM);
        signals_.add(SIGHUP);
        if (cfg_.target != TargetKind::Spawn) {
            signals_.add(SIGINT);
        }
        // main() held these during set-up; one that arrived meanwhile is
        // delivered now, to the handlers just installed.
        sigset_t held;
        sigemptyset(&held);
        for (const int sig : {SIGTERM, SIGHUP, SIGINT}) {
            sigaddset(&held, sig);
        }
        ::pthread_sigmask(SIG_UNBLOCK, &held, nullptr);
        signals_.async_wait([this](auto ec, int sig) {
            if (!ec) {
                stop(0, fmt::format("received {}", ::strsignal(sig)));
            }
        });
    }

    void watch_process() {
        if (!target_.child_pidfd) {
            return;
        }
        proc_.emplace(io_, ::dup(target_.child_pidfd.get()));
        proc_->async_wait(asio::posix::stream_descriptor::wait_read, [this](auto ec) {
            if (ec) {
                return;
            }
            if (cfg_.target == TargetKind::Spawn) {
                int wstatus = 0;
                ::waitpid(target_.child, &wstatus, 0);
                stop(status_of(wstatus),
                     fmt::format("command exited with status {}", status_of(wstatus)));
            } else {
                stop(0, fmt::format("target process {} exited", cfg_.target_pid));
            }
        });
    }

    void watch_netns_file() {
        if (target_.netns_path.empty() || cfg_.no_netns_quit) {
            return;
        }
        const std::filesystem::path p(target_.netns_path);
        netns_name_ = p.filename().string();
        const std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
        const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fd < 0 || ::inotify_add_watch(fd, dir.c_str(), IN_DELETE | IN_MOVED_FROM) < 0) {
            log::daemon().warn("cannot watch {} for the namespace's removal: {}", dir,
                               std::strerror(errno));
            if (fd >= 0) {
                ::close(fd);
            }
            return;
        }
        inotify_.emplace(io_, fd);
        // The file may be gone already, between opening it and watching.
        if (!std::filesystem::exists(p)) {
            stop(0, "namespace file " + target_.netns_path + " was removed");
            return;
        }
        wait_inotify();
    }

    void wait_inotify() {
        inotify_->async_wait(asio::posix::stream_descriptor::wait_read, [this](auto ec) {
            if (ec) {
                return;
            }
            alignas(inotify_event) char buf[4096];
            const ssize_t n = ::read(inotify_->native_handle(), buf, sizeof(buf));
            for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
                inotify_event ev;
                std::memcpy(&ev, buf + off, sizeof(ev));
                const char* name = buf + off + sizeof(inotify_event);
                if (ev.len > 0 && netns_name_ == name) {
                    stop(0, "namespace file " + target_.netns_path + " was removed");
                    return;
                }
                off += static_cast<ssize_t>(sizeof(inotify_event) + ev.len);
            }
            wait_inotify();
        });
    }

    void schedule_tick() {
        tick_.expires_after(kTick);
        tick_.async_wait([this](auto ec) {
            if (ec) {
                return;
            }
            data_.on_tick(Clock::now());
            io_backend_->flush();
            print_stats();
            schedule_tick();
        });
    }

    // --stats: checked every tick, so a row comes at most a tick late.
    // Written to standard error directly, not logged: a table for a
    // terminal (pastad runs in the foreground with --stats), not events.
    void print_stats() {
        if (!stats_) {
            return;
        }
        const std::string rows = stats_->update(Clock::now(), data_.event_counts());
        if (!rows.empty()) {
            std::fputs(rows.c_str(), stderr);
            std::fflush(stderr);
        }
    }

    const Config& cfg_;
    Forwarding* fwd_;
    Target& target_;
    UniqueFd tap_;
    std::string plan_ifname_;
    asio::io_context io_{1};
    std::unique_ptr<PcapWriter> pcap_;  // before the back end, which points to it
    std::unique_ptr<IoBackend> io_backend_;
    DataPlane data_;
    asio::posix::stream_descriptor wake_;
    asio::signal_set signals_;
    asio::steady_timer tick_;
    std::optional<StatsPrinter> stats_;
    std::optional<asio::posix::stream_descriptor> proc_;
    std::optional<asio::posix::stream_descriptor> inotify_;
    std::string netns_name_;
    int exit_status_ = 0;
    bool stopping_ = false;
};

}  // namespace

std::optional<IoKind> requested_io_kind(const Config& cfg) {
    std::string name = cfg.io_backend;
    if (name.empty()) {
        if (const char* env = std::getenv("PASTAD_IO_BACKEND")) {
            name = env;
        }
    }
    if (name.empty() || name == "auto") {
        return std::nullopt;
    }
    if (name == "uring" || name == "io_uring") {
        return IoKind::Uring;
    }
    if (name == "epoll") {
        return IoKind::Epoll;
    }
    throw std::invalid_argument("unknown I/O back end '" + name + "' (uring or epoll)");
}

int run_event_loop(const Config& cfg, Target& target, const NetPlan& plan, UniqueFd tap,
                   Forwarding* fwd, std::unique_ptr<PcapWriter> pcap) {
    Loop loop(cfg, target, plan, std::move(tap), fwd, std::move(pcap));
    return loop.run();
}

}  // namespace pastad

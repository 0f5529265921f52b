// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/forwarding.hpp - port forwards: listeners on both sides, dispatch, `auto` rescans
//
// Forwarding binds what -t/-u (on the host) and -T/-U (inside the namespace)
// ask for, and hands each accepted connection to the right path: the splice
// path (splice/) when both ends are local, the tap translator otherwise.
// With `auto` it rescans the other side's bound ports about once a second.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "daemon/base/unique_fd.hpp"
#include "daemon/config.hpp"
#include "daemon/fwd_spec.hpp"
#include "daemon/reflect.hpp"
#include "tap/tcp_segment.hpp"

namespace pastad {

class Forwarding {
public:
    // Gives a host connection to the tap translator (TcpEngine::on_accepted).
    using TapHandoff = std::function<void(UniqueFd sock, const tap::Endpoints& ep)>;
    // Gives a datagram from a -u port's non-loopback client to the tap
    // translator (UdpEngine::on_forwarded): the endpoints as the namespace is
    // to see them, the real client, the forward's socket for replies.
    using UdpHandoff = std::function<void(const tap::Endpoints& ep, const InAny& client,
                                          int reply_fd, std::span<const std::byte> payload)>;

    // Binds every explicit forward and runs the first `auto` scan, so that
    // all forwards are in place before pastad reports readiness. `netns` is
    // borrowed and must stay open while the object lives. Call before any
    // fork, from the thread that will run the event loop (or its parent).
    // Throws std::runtime_error naming the option, spec and port when an
    // explicit port cannot be bound (with the sysctl to set for ports below
    // 1024), or when a best-effort spec bound nothing at all.
    Forwarding(const Config& cfg, FwdSpecs specs, const NetPlan& plan, int netns);
    ~Forwarding();
    Forwarding(const Forwarding&) = delete;
    Forwarding& operator=(const Forwarding&) = delete;

    // Starts accepting, the namespace worker and the rescans on `io`, in the
    // process that runs the loop (after daemonising). `to_tap` and
    // `udp_to_tap` are called on the loop's thread; without `udp_to_tap`,
    // datagrams from non-loopback clients of -u ports are dropped.
    void start(boost::asio::io_context& io, TapHandoff to_tap, UdpHandoff udp_to_tap = {});

    // Stops everything that uses `io`; call before `io` is destroyed.
    void stop();

    // One line for the exit log.
    std::string summary() const;

    class Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace pastad

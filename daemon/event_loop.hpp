// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/event_loop.hpp - the control loop: signals, timers, watches, and the data plane
#pragma once

#include <memory>
#include <optional>

#include "daemon/base/unique_fd.hpp"
#include "daemon/config.hpp"
#include "daemon/forwarding.hpp"
#include "daemon/io_backend.hpp"
#include "daemon/namespaces.hpp"
#include "daemon/pcap.hpp"
#include "daemon/reflect.hpp"

namespace pastad {

// The I/O back end asked for by --io-backend or PASTAD_IO_BACKEND; unset
// means automatic. Throws std::invalid_argument for an unknown name.
std::optional<IoKind> requested_io_kind(const Config& cfg);

// Runs until the target goes away, a signal asks pastad to stop, or the
// spawned command exits. Returns the process exit status: the command's own
// status when one was spawned, 0 otherwise. `fwd` (may be null) is started on
// the loop and stopped before it returns.
// `pcap`, when set, receives every tap frame (-p).
int run_event_loop(const Config& cfg, Target& target, const NetPlan& plan, UniqueFd tap,
                   Forwarding* fwd = nullptr, std::unique_ptr<PcapWriter> pcap = nullptr);

}  // namespace pastad

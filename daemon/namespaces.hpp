// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/namespaces.hpp - finding, creating and entering the target namespaces
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "daemon/base/unique_fd.hpp"
#include "daemon/config.hpp"

namespace pastad {

// The namespaces pastad serves, held open for as long as it runs.
struct Target {
    UniqueFd netns;          // the target network namespace
    UniqueFd userns;         // its owning user namespace, when pastad joined one
    pid_t child = -1;        // the spawned command, with TargetKind::Spawn
    UniqueFd child_pidfd;    // pidfd of `child`, or of the target PID with TargetKind::Pid
    UniqueFd release_fd;     // write end: closing it lets the spawned command exec
    std::string netns_path;  // what to watch for deletion, with TargetKind::Netns
};

// Creates or opens the target described by `cfg` and joins its user namespace
// where needed (so pastad holds CAP_NET_ADMIN over the network namespace).
// Must run while the process is single-threaded: setns() into a user
// namespace refuses multi-threaded callers. Throws std::system_error naming
// the failed step.
Target open_target(const Config& cfg);

// Lets the spawned command go on to exec(), once the namespace is configured.
// A non-empty `resolv_conf` is shown to the command as /etc/resolv.conf, in a
// mount namespace of its own, so it resolves through what the namespace can
// reach rather than through a host resolver on loopback.
void release_command(Target& t, const std::string& resolv_conf = {});

// Runs `fn` on a short-lived thread that has entered `netns`, and waits for it.
// Threads own their namespace membership, so the calling thread stays in the
// host's namespace. Exceptions from `fn` are rethrown here.
void run_in_netns(int netns, const std::function<void()>& fn);

}  // namespace pastad

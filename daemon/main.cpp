// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/main.cpp - pastad's entry point: set-up steps, readiness, and the run
//
// Order matters for callers that wait on us (Podman waits for the first
// process to exit, and reads status 0 as "the namespace is usable"):
// parse, read the host, open or create the target, configure it, and only
// then fork to the background. The parent exits 0 after writing the PID file;
// the daemon keeps none of the caller's descriptors open, so a caller reading
// our output until end-of-file is not held up.
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "daemon/base/log.hpp"
#include "daemon/config.hpp"
#include "daemon/dns.hpp"
#include "daemon/event_loop.hpp"
#include "daemon/fwd_spec.hpp"
#include "daemon/namespaces.hpp"
#include "daemon/reflect.hpp"
#include "daemon/tap_device.hpp"

namespace pastad {
namespace {

// Descriptors the caller leaked to us would otherwise live as long as the
// daemon, e.g. directories of a container's root file system. `keep` (the
// tap of -F, or -1) is the one handed over on purpose.
void close_inherited_fds(int keep) {
    const auto close_from = [](unsigned first, unsigned last) {
        if (first > last) {
            return;
        }
        if (::syscall(SYS_close_range, first, last, 0U) != 0) {
            for (unsigned fd = first; fd <= last && fd < 1024; ++fd) {
                ::close(static_cast<int>(fd));
            }
        }
    };
    if (keep < 3) {
        close_from(3, ~0U);
        return;
    }
    close_from(3, static_cast<unsigned>(keep) - 1);
    close_from(static_cast<unsigned>(keep) + 1, ~0U);
}

// --outbound-if4/6 name host interfaces that must exist now: a typo would
// otherwise only show as refused flows.
void check_outbound_ifs(const Config& cfg) {
    for (const auto& [name, option] :
         {std::pair{&cfg.outbound_if4, "--outbound-if4"}, {&cfg.outbound_if6, "--outbound-if6"}}) {
        if (!name->empty() && ::if_nametoindex(name->c_str()) == 0) {
            throw std::invalid_argument(std::string(option) + " " + *name +
                                        ": the host has no such interface");
        }
    }
}

log::Settings log_settings(const Config& cfg, bool daemonised) {
    log::Settings s;
    s.level = cfg.trace   ? spdlog::level::trace
              : cfg.debug ? spdlog::level::debug
              : cfg.quiet ? spdlog::level::warn
                          : spdlog::level::info;
    s.file = cfg.log_file;
    s.file_size = cfg.log_size;
    s.to_stderr = !daemonised;
    s.to_syslog = daemonised && cfg.log_file.empty();
    return s;
}

void write_pid_file(const std::string& path, pid_t pid) {
    if (path.empty()) {
        return;
    }
    std::ofstream f(path, std::ios::trunc);
    f << pid << '\n';
    f.close();
    if (!f) {
        throw std::system_error(errno_code(), "writing PID file " + path);
    }
}

// Forks: the parent writes the PID file and exits 0 (the caller's "ready");
// the child detaches from the caller's session and descriptors.
void daemonise(const Config& cfg) {
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::system_error(errno_code(), "forking to the background");
    }
    if (pid > 0) {
        try {
            write_pid_file(cfg.pid_file, pid);
        } catch (const std::exception& e) {
            ::kill(pid, SIGTERM);
            std::fprintf(stderr, "pastad: %s\n", e.what());
            ::_exit(1);
        }
        ::_exit(0);
    }
    ::setsid();
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        ::dup2(null, STDIN_FILENO);
        ::dup2(null, STDOUT_FILENO);
        ::dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO) {
            ::close(null);
        }
    }
    log::configure(log_settings(cfg, true));
}

// --runas: give up root once everything that needs it is done.
void drop_privileges(const Config& cfg) {
    if (!cfg.runas_uid || ::geteuid() != 0) {
        return;
    }
    const gid_t gid = cfg.runas_gid.value_or(static_cast<gid_t>(*cfg.runas_uid));
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(*cfg.runas_uid) != 0) {
        throw std::system_error(errno_code(), "switching to the --runas user");
    }
}

// With --config-net, a spawned command sees the nameservers the namespace
// is handed (a host resolver on loopback would be unreachable from it).
std::string spawned_resolv_conf(const Config& cfg, const NetPlan& plan) {
    if (!cfg.config_net) {
        return {};
    }
    const ResolvConf host = read_resolv_conf(resolv_conf_path());
    return namespace_resolv_conf(plan_dns(cfg, host, plan.gw4, plan.gw6), host);
}

int run(const Config& cfg, const FwdSpecs& specs) {
    // Reads of the host happen before joining any user namespace.
    NetPlan plan = plan_network(cfg);
    check_outbound_ifs(cfg);
    UniqueFd tap;
    if (cfg.tap_fd >= 0) {
        tap = adopt_tap(cfg.tap_fd, plan.ifname);
    }
    if (cfg.splice_only) {
        log::netlink().info("no tap (--splice-only): port forwards over loopback only");
    } else {
        for (const auto& line : describe(plan)) {
            log::netlink().info("{}", line);
        }
    }
    Target target = open_target(cfg);
    // Set-up from here on (binding forwards included) takes long enough for
    // a caller's early SIGTERM to land before the loop handles it: hold the
    // stop signals until the loop unblocks them. After open_target(), so the
    // spawned command does not inherit the blocked mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (const int sig : {SIGTERM, SIGHUP, SIGINT}) {
        sigaddset(&stop_signals, sig);
    }
    ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    run_in_netns(target.netns.get(), [&] {
        if (!tap && !cfg.splice_only) {
            tap = open_tap(plan.ifname);
        }
        apply_network(cfg, plan);
    });
    // Bound before readiness: the caller may connect as soon as we report it.
    Forwarding fwd(cfg, specs, plan, target.netns.get());
    // Opened before readiness too, so a capture file that cannot be written
    // is a failed start, not a daemon that dies after reporting success.
    auto pcap = cfg.pcap_file.empty() ? nullptr : std::make_unique<PcapWriter>(cfg.pcap_file);
    drop_privileges(cfg);

    if (cfg.target == TargetKind::Spawn) {
        write_pid_file(cfg.pid_file, ::getpid());
        release_command(target, spawned_resolv_conf(cfg, plan));
    } else if (!cfg.foreground) {
        daemonise(cfg);
    } else {
        write_pid_file(cfg.pid_file, ::getpid());
    }
    return run_event_loop(cfg, target, plan, std::move(tap), &fwd, std::move(pcap));
}

}  // namespace
}  // namespace pastad

int main(int argc, char* argv[]) {
    using namespace pastad;
    ::signal(SIGPIPE, SIG_IGN);
    ::umask(022);

    ParsedCommandLine parsed;
    try {
        parsed = parse_options(argc, argv);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "pastad: %s\n%s", e.what(), usage_text(argv[0]).c_str());
        return 1;
    }
    if (parsed.action == Action::Help) {
        std::fputs(usage_text(argv[0]).c_str(), stdout);
        return 0;
    }
    if (parsed.action == Action::Version) {
        std::fputs(version_text().c_str(), stdout);
        std::fflush(stdout);
        return 0;
    }
    if (parsed.action == Action::PrintCapabilities) {
        std::fputs(capabilities_text().c_str(), stdout);
        std::fflush(stdout);
        return 0;
    }

    const Config& cfg = parsed.config;
    close_inherited_fds(cfg.tap_fd);
    try {
        log::configure(log_settings(cfg, false));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pastad: %s\n", e.what());
        return 1;
    }
    for (const auto& warning : parsed.warnings) {
        log::daemon().warn("{}", warning);
    }
    if (cfg.target == TargetKind::Spawn) {
        // The terminal's ^C belongs to the command; pastad ends with it.
        ::signal(SIGINT, SIG_IGN);
        ::signal(SIGQUIT, SIG_IGN);
    }
    try {
        (void)requested_io_kind(cfg);
        const FwdSpecs specs = parse_forwards(cfg, read_ephemeral_range());
        return run(cfg, specs);
    } catch (const std::exception& e) {
        log::daemon().critical("{}", e.what());
        return 1;
    }
}

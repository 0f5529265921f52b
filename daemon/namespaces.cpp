// SPDX-License-Identifier: GPL-2.0-or-later
// daemon/namespaces.cpp - spawning a command in new namespaces, or joining existing ones
//
// pastad itself always stays in the host's network namespace: host sockets
// are made there. Work inside the target namespace (tap creation, netlink
// configuration) runs on a short-lived thread that entered it with setns(),
// since namespace membership is per thread.
//
// To hold CAP_NET_ADMIN over a namespace owned by another user namespace,
// the whole process joins that user namespace first: setns(CLONE_NEWUSER)
// requires a single-threaded caller, so this happens before any thread
// exists. The host network namespace stays usable for sockets afterwards;
// only administering it would need the original credentials.
#include "namespaces.hpp"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>

#include "daemon/base/log.hpp"
#include "daemon/base/result.hpp"

namespace pastad {

namespace {

UniqueFd open_or_throw(const std::string& path, int flags, const char* what) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) {
        throw std::system_error(errno_code(), std::string(what) + " " + path);
    }
    return UniqueFd(fd);
}

UniqueFd pidfd_open_or_throw(pid_t pid) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) {
        throw std::system_error(errno_code(), "watching process " + std::to_string(pid));
    }
    return UniqueFd(fd);
}

bool same_ns(int fd, const char* own_path) {
    struct stat a {};
    struct stat b {};
    if (::fstat(fd, &a) != 0 || ::stat(own_path, &b) != 0) {
        return false;
    }
    return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

// Joins `userns` unless it is already ours.
void join_userns(const UniqueFd& userns) {
    if (same_ns(userns.get(), "/proc/self/ns/user")) {
        return;
    }
    check_syscall(::setns(userns.get(), CLONE_NEWUSER), "joining the target's user namespace");
    log::daemon().debug("joined the target's user namespace");
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
    f.close();
    if (!f) {
        throw std::system_error(errno_code(), "writing " + path);
    }
}

// In a namespace pastad made, every group may use ping sockets, so ping
// works inside without privileges (the default range "1 0" allows none).
// Best effort: a kernel that refuses only costs ping.
void widen_ping_group_range(int netns) {
    try {
        run_in_netns(netns,
                     [] { write_file("/proc/sys/net/ipv4/ping_group_range", "0 2147483647"); });
    } catch (const std::exception& e) {
        log::daemon().debug("cannot allow ping sockets in the namespace: {}", e.what());
    }
}

// In the child: waits for the parent's word on `fd`. A 'g' means "go on",
// and what follows it until end-of-file is the resolv.conf to show the
// command (possibly nothing); end-of-file without a 'g' means the parent gave
// up, so the child must not run the command in an unconfigured namespace.
bool wait_for_go(int fd, std::string& resolv_conf) {
    char buf[4096];
    bool go = false;
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return go;
        }
        std::size_t off = 0;
        if (!go) {
            if (buf[0] != 'g') {
                return false;
            }
            go = true;
            off = 1;
        }
        if (resolv_conf.size() < 65536) {
            resolv_conf.append(buf + off, static_cast<std::size_t>(n) - off);
        }
    }
}

// In the child: a private mount namespace whose /etc/resolv.conf says `text`.
// The text goes to a temporary file that is bind-mounted and then unlinked:
// the mount keeps it alive for as long as the command's mount namespace.
// Failing leaves the host's file in place, with a warning: the command still
// runs, only name resolution may not work.
void show_resolv_conf(const std::string& text) {
    char path[] = "/tmp/pastad-resolv-XXXXXX";
    const int fd = ::mkstemp(path);
    bool ok = fd >= 0 && ::fchmod(fd, 0644) == 0 &&
              ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ok = ok && ::unshare(CLONE_NEWNS) == 0 &&
         ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
         ::mount(path, "/etc/resolv.conf", nullptr, MS_BIND, nullptr) == 0;
    const int err = errno;
    if (fd >= 0) {
        ::close(fd);
        ::unlink(path);
    }
    if (!ok) {
        std::fprintf(stderr, "pastad: cannot give the command its own resolv.conf: %s\n",
                     std::strerror(err));
    }
}

[[noreturn]] void child_main(const Config& cfg, int ready_w, int go_r) {
    // Ends the command if pastad dies: without pastad the namespace has no
    // network, and a caller waiting on pastad's status would otherwise hang.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int flags = ::geteuid() == 0 ? CLONE_NEWNET : (CLONE_NEWUSER | CLONE_NEWNET);
    if (::unshare(flags) != 0) {
        const int err = errno;
        (void)!::write(ready_w, &err, sizeof(err));
        ::_exit(126);
    }
    const int ok = 0;
    (void)!::write(ready_w, &ok, sizeof(ok));
    ::close(ready_w);
    std::string resolv_conf;
    if (!wait_for_go(go_r, resolv_conf)) {
        ::_exit(126);
    }
    ::close(go_r);
    if (!resolv_conf.empty()) {
        show_resolv_conf(resolv_conf);
    }
    // pastad ignores SIGINT while a command runs (the terminal's ^C is the
    // command's); give the command the default back.
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGQUIT, SIG_DFL);

    std::vector<std::string> argv = cfg.command;
    if (argv.empty()) {
        const char* shell = std::getenv("SHELL");
        argv.emplace_back(shell != nullptr && *shell != '\0' ? shell : "/bin/sh");
    }
    std::vector<char*> cargv;
    for (auto& a : argv) {
        cargv.push_back(a.data());
    }
    cargv.push_back(nullptr);
    ::execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "pastad: cannot run %s: %s\n", cargv[0], std::strerror(errno));
    ::_exit(errno == ENOENT ? 127 : 126);
}

Target spawn(const Config& cfg) {
    int ready[2];
    int go[2];
    check_syscall(::pipe2(ready, O_CLOEXEC), "creating a pipe");
    check_syscall(::pipe2(go, O_CLOEXEC), "creating a pipe");
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::system_error(errno_code(), "forking the command");
    }
    if (pid == 0) {
        ::close(ready[0]);
        ::close(go[1]);
        child_main(cfg, ready[1], go[0]);
    }
    ::close(ready[1]);
    ::close(go[0]);
    Target t;
    t.child = pid;
    t.release_fd.reset(go[1]);
    UniqueFd ready_r(ready[0]);

    int err = -1;
    if (::read(ready_r.get(), &err, sizeof(err)) != sizeof(err) || err != 0) {
        ::waitpid(pid, nullptr, 0);
        throw std::system_error(errno_code(err > 0 ? err : EIO),
                                "creating namespaces for the command");
    }
    t.child_pidfd = pidfd_open_or_throw(pid);

    const std::string proc = "/proc/" + std::to_string(pid);
    if (::geteuid() != 0) {
        // Map the caller to root in the new user namespace, as an unprivileged
        // user may (user_namespaces(7): one line, setgroups denied first).
        const auto uid = std::to_string(::geteuid());
        const auto gid = std::to_string(::getegid());
        write_file(proc + "/setgroups", "deny");
        write_file(proc + "/uid_map", "0 " + uid + " 1");
        write_file(proc + "/gid_map", "0 " + gid + " 1");
        t.userns = open_or_throw(proc + "/ns/user", O_RDONLY, "opening user namespace of");
        join_userns(t.userns);
    }
    t.netns = open_or_throw(proc + "/ns/net", O_RDONLY, "opening network namespace of");
    widen_ping_group_range(t.netns.get());
    return t;
}

Target join(const Config& cfg) {
    Target t;
    if (cfg.target == TargetKind::Pid) {
        const std::string proc = "/proc/" + std::to_string(cfg.target_pid);
        t.child_pidfd = pidfd_open_or_throw(cfg.target_pid);
        t.netns = open_or_throw(proc + "/ns/net", O_RDONLY, "opening network namespace of");
        if (!cfg.userns_path.empty()) {
            t.userns = open_or_throw(cfg.userns_path, O_RDONLY, "opening user namespace");
        } else if (!cfg.netns_only) {
            t.userns = open_or_throw(proc + "/ns/user", O_RDONLY, "opening user namespace of");
        }
    } else {
        t.netns_path = cfg.netns_path;
        t.netns = open_or_throw(cfg.netns_path, O_RDONLY, "opening network namespace");
        if (!cfg.userns_path.empty()) {
            t.userns = open_or_throw(cfg.userns_path, O_RDONLY, "opening user namespace");
        } else if (!cfg.netns_only) {
            // The namespace file knows its owner (NS_GET_USERNS, Linux 4.9).
            const int owner = ::ioctl(t.netns.get(), NS_GET_USERNS);
            if (owner >= 0) {
                t.userns.reset(owner);
            } else if (errno != EPERM) {
                throw std::system_error(errno_code(), "finding the owner of " + cfg.netns_path);
            }
        }
    }
    if (t.userns) {
        join_userns(t.userns);
    }
    return t;
}

}  // namespace

Target open_target(const Config& cfg) {
    return cfg.target == TargetKind::Spawn ? spawn(cfg) : join(cfg);
}

void release_command(Target& t, const std::string& resolv_conf) {
    if (t.release_fd) {
        // A pipe takes 64 KiB without a reader; resolv.conf is far smaller.
        const std::string word = "g" + resolv_conf;
        (void)!::write(t.release_fd.get(), word.data(), word.size());
        t.release_fd.reset();
    }
}

void run_in_netns(int netns, const std::function<void()>& fn) {
    std::exception_ptr error;
    std::thread worker([&] {
        try {
            check_syscall(::setns(netns, CLONE_NEWNET), "entering the target network namespace");
            fn();
        } catch (...) {
            error = std::current_exception();
        }
    });
    worker.join();
    if (error) {
        std::rethrow_exception(error);
    }
}

}  // namespace pastad

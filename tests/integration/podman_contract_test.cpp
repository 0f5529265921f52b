// SPDX-License-Identifier: GPL-2.0-or-later
// tests/integration/podman_contract_test.cpp - Podman 5's recorded pasta calls, replayed
//
// Each case runs one argument list that rootless Podman 5 was recorded
// passing to its pasta helper, in the setting Podman gives it: an
// unprivileged user (65534) that is root of its own user namespace, with a
// mount namespace of its own holding the container's netns file (an nsfs
// bind mount in a temporary directory), stdin /dev/null, stdout and stderr
// on one pipe that the caller reads to end-of-file, and a few descriptors
// leaked from the caller. The test process is a child subreaper, so the
// daemon left behind becomes its child and its exit status can be read.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "sandbox.hpp"

namespace pastad::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr uid_t kNobody = 65534;
// "A few hundred milliseconds" from exec to the caller's "ready".
constexpr milliseconds kReadyLimit{500};
// Podman relies on the daemon leaving soon after the netns file goes.
constexpr milliseconds kQuitLimit{100};
// Leaked descriptors, as Podman sometimes passes O_PATH directories.
constexpr int kLeakDir = 6;
constexpr int kLeakFile = 8;
constexpr int kLeakPipe = 9;

struct Scenario {
    const char* name;
    std::vector<std::string> args;  // after argv[0]; NETNS and PIDFILE are replaced
};

const std::vector<std::string> kTail = {"--netns", "NETNS", "--map-guest-addr", "169.254.1.2"};

std::vector<std::string> recorded(std::vector<std::string> head, bool quiet = true) {
    if (quiet) {
        head.emplace_back("--quiet");
    }
    head.insert(head.end(), kTail.begin(), kTail.end());
    return head;
}

// The argument lists of PODMAN.md, "Recorded argv".
const std::vector<Scenario>& scenarios() {
    static const std::vector<Scenario> all = {
        {"Plain", recorded({"--config-net", "--dns-forward", "169.254.1.1", "-t", "none", "-u",
                            "none", "-T", "none", "-U", "none", "--no-map-gw"})},
        {"PublishTcp",
         recorded({"--config-net", "-t", "8080-8080:80-80", "--dns-forward", "169.254.1.1", "-u",
                   "none", "-T", "none", "-U", "none", "--no-map-gw"})},
        {"PublishUdpWithAddress",
         recorded({"--config-net", "-u", "127.0.0.1/8081-8081:80-80", "--dns-forward",
                   "169.254.1.1", "-t", "none", "-T", "none", "-U", "none", "--no-map-gw"})},
        {"Ipv4Only", recorded({"--config-net", "-4", "--dns-forward", "169.254.1.1", "-t", "none",
                               "-u", "none", "-T", "none", "-U", "none", "--no-map-gw"})},
        {"MapGwRemoved", recorded({"--config-net", "--dns-forward", "169.254.1.1", "-t", "none",
                                   "-u", "none", "-T", "none", "-U", "none"})},
        {"NamespaceToHostPort",
         recorded({"--config-net", "-T", "8082", "--dns-forward", "169.254.1.1", "-t", "none", "-u",
                   "none", "-U", "none", "--no-map-gw"})},
        {"SeveralPublished",
         recorded({"--config-net", "-t", "::1/8092-8092:92-92", "-u", "8093-8094:93-94", "-t",
                   "8090-8091:90-91", "-t", "8094-8094:94-94", "-t", "46551-46551:96-96",
                   "--dns-forward", "169.254.1.1", "-T", "none", "-U", "none", "--no-map-gw"})},
        {"BridgeRootlessNetns",
         recorded({"--config-net", "--pid", "PIDFILE", "--dns-forward", "169.254.1.1", "-t", "none",
                   "-u", "none", "-T", "none", "-U", "none", "--no-map-gw"})},
        {"Debug", recorded({"--config-net", "--debug", "--dns-forward", "169.254.1.1", "-t", "none",
                            "-u", "none", "-T", "none", "-U", "none", "--no-map-gw"},
                           false)},
    };
    return all;
}

const Scenario& scenario(const std::string& name) {
    for (const auto& s : scenarios()) {
        if (name == s.name) {
            return s;
        }
    }
    throw std::invalid_argument("no scenario " + name);
}

// One started process: its PID, the read end of its output pipe(s).
struct Started {
    pid_t pid = -1;
    int out = -1;  // stdout (and stderr, when combined)
    int err = -1;  // stderr when separate
    Clock::time_point at;
};

void close_fd(int& fd) {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

// Like Go's exec.Command(...).CombinedOutput() when `combined`: stdin
// /dev/null, stdout and stderr the same pipe. `leak` names a file that the
// child holds open (not close-on-exec) besides a directory and a second
// copy of the output pipe.
Started start(const std::vector<std::string>& argv, bool combined, const std::string& leak,
              const std::vector<std::string>& env = {}) {
    int out[2];
    int err[2] = {-1, -1};
    if (::pipe2(out, O_CLOEXEC) != 0 || (!combined && ::pipe2(err, O_CLOEXEC) != 0)) {
        throw std::system_error(errno, std::generic_category(), "pipe");
    }
    Started s;
    s.at = Clock::now();
    s.pid = ::fork();
    if (s.pid == 0) {
        const int null = ::open("/dev/null", O_RDONLY);
        ::dup2(null, STDIN_FILENO);
        ::dup2(out[1], STDOUT_FILENO);
        ::dup2(combined ? out[1] : err[1], STDERR_FILENO);
        ::dup2(::open("/tmp", O_PATH | O_DIRECTORY), kLeakDir);
        ::dup2(::open(leak.c_str(), O_RDONLY), kLeakFile);
        ::dup2(out[1], kLeakPipe);
        for (const auto& e : env) {
            ::putenv(const_cast<char*>(e.c_str()));
        }
        std::vector<char*> args;
        for (const auto& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    ::close(out[1]);
    s.out = out[0];
    if (!combined) {
        ::close(err[1]);
        s.err = err[0];
    }
    return s;
}

// Waits for `pid` (a child of ours) to end; nullopt on timeout.
std::optional<int> wait_exit(pid_t pid, milliseconds limit) {
    const auto end = Clock::now() + limit;
    for (;;) {
        int st = 0;
        const pid_t r = ::waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (r < 0 || Clock::now() >= end) {
            return std::nullopt;
        }
        ::usleep(1000);
    }
}

// Reads `fd` to end-of-file; false when EOF does not come within `limit`.
bool read_to_eof(int fd, std::string& text, milliseconds limit) {
    const auto end = Clock::now() + limit;
    for (;;) {
        const auto left = std::chrono::duration_cast<milliseconds>(end - Clock::now()).count();
        if (left < 0) {
            return false;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left)) <= 0) {
            return false;
        }
        char buf[4096];
        const ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n <= 0) {
            return n == 0;
        }
        text.append(buf, static_cast<std::size_t>(n));
    }
}

std::string read_link(const std::string& path) {
    std::error_code ec;
    const auto target = std::filesystem::read_symlink(path, ec);
    return ec ? std::string() : target.string();
}

std::string comm_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(f, name);
    return name;
}

uid_t real_uid(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line)) {
        if (line.rfind("Uid:", 0) == 0) {
            return static_cast<uid_t>(std::stoul(line.substr(4)));
        }
    }
    return static_cast<uid_t>(-1);
}

// Our children named `name` (the daemon lands here: we are its subreaper).
std::vector<pid_t> children_named(const std::string& name) {
    std::vector<pid_t> found;
    std::ifstream f("/proc/self/task/" + std::to_string(::getpid()) + "/children");
    pid_t pid = 0;
    while (f >> pid) {
        if (comm_of(pid) == name && alive(pid)) {
            found.push_back(pid);
        }
    }
    return found;
}

class PodmanContractTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string why;
        if (!can_sandbox(why)) {
            GTEST_SKIP() << why;
        }
        if (sh("command -v nsenter setpriv unshare socat python3 >/dev/null").status != 0) {
            GTEST_SKIP() << "needs nsenter, setpriv, unshare, socat and python3";
        }
        // Distributions ship /dev/net/tun as 0666; some images do not.
        struct stat st {};
        ASSERT_EQ(::stat("/dev/net/tun", &st), 0);
        if ((st.st_mode & 0666) != 0666) {
            ASSERT_EQ(::chmod("/dev/net/tun", 0666), 0);
        }
        sb_ = std::make_unique<Sandbox>();
        const auto probe =
            sh(sb_->in_host("setpriv --reuid=65534 --regid=65534 --clear-groups unshare -Urm "
                            "true 2>&1"));
        if (probe.status != 0) {
            GTEST_SKIP() << "unprivileged user namespaces are not available: " << probe.out;
        }
        ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
        char tmpl[] = "/tmp/pastad-podman-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        ASSERT_EQ(::chown(dir_.c_str(), kNobody, kNobody), 0);
        netns_ = dir_ + "/netns-contract";
        pid_file_ = dir_ + "/rootless-netns-conn.pid";
        leak_ = dir_ + "/leaked-marker";
        resolv_ = dir_ + "/resolv.conf";
        std::ofstream(leak_) << "leak\n";
        std::ofstream(resolv_) << "nameserver 203.0.113.10\n";
        start_podman();
    }

    void TearDown() override {
        for (const pid_t pid : children_named("pastad")) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        if (podman_ > 0) {
            ::kill(podman_, SIGKILL);
            ::waitpid(podman_, nullptr, 0);
        }
        sb_.reset();
        // Reap whatever ended up as our child, then stop being a subreaper.
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        ::prctl(PR_SET_CHILD_SUBREAPER, 0);
        if (!dir_.empty()) {
            sh("umount -l " + netns_ + " 2>/dev/null; rm -rf " + dir_);
        }
    }

    // Podman's stand-in: uid 65534, root of a new user namespace with its
    // own mount namespace, where the container's netns file is made the way
    // Podman makes it (a bind mount of a new namespace onto a file).
    void start_podman() {
        const std::string ready = dir_ + "/ready";
        const std::string script = "touch " + netns_ + " && unshare --net=" + netns_ +
                                   " true && touch " + ready + " && exec sleep 600";
        podman_ = ::fork();
        if (podman_ == 0) {
            ::execlp("ip", "ip", "netns", "exec", sb_->host.c_str(), "setpriv", "--reuid=65534",
                     "--regid=65534", "--clear-groups", "unshare", "-Urm", "sh", "-c",
                     script.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ASSERT_TRUE(eventually([&] { return ::access(ready.c_str(), F_OK) == 0; }))
            << "the user's netns file was not made";
    }

    // The command line that runs in Podman's namespaces, as Podman's root.
    std::vector<std::string> as_podman(const std::vector<std::string>& argv) const {
        std::vector<std::string> full = {"nsenter", "-t", std::to_string(podman_), "-U", "-m",
                                         "-n",      "--"};
        full.insert(full.end(), argv.begin(), argv.end());
        return full;
    }

    // A shell command prefix that runs inside the container's namespace.
    std::string in_target(const std::string& cmd) const {
        return "nsenter -t " + std::to_string(podman_) + " -m nsenter --net=" + netns_ + " " + cmd;
    }

    std::vector<std::string> pasta_argv(const Scenario& s) const {
        std::vector<std::string> argv = {pastad_binary()};
        for (const auto& a : s.args) {
            argv.push_back(a == "NETNS" ? netns_ : a == "PIDFILE" ? pid_file_ : a);
        }
        return argv;
    }

    // Runs the scenario as Podman does and checks the readiness contract:
    // status 0 soon, end-of-file at once, one daemon left behind.
    pid_t run_ready(const std::string& name, std::string* output = nullptr) {
        Started s = start(as_podman(pasta_argv(scenario(name))), true, leak_,
                          {"PASTAD_RESOLV_CONF=" + resolv_});
        const auto status = wait_exit(s.pid, milliseconds(5000));
        const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - s.at);
        std::string text;
        const bool eof = read_to_eof(s.out, text, milliseconds(50));
        close_fd(s.out);
        if (output != nullptr) {
            *output = text;
        }
        EXPECT_TRUE(status.has_value()) << name << ": the first process never exited";
        EXPECT_EQ(status.value_or(-1), 0) << name << ": " << text;
        EXPECT_LT(took.count(), kReadyLimit.count())
            << name << ": ready only after " << took.count() << " ms";
        EXPECT_TRUE(eof) << name << ": the output pipe stayed open after the exit";
        const auto daemons = children_named("pastad");
        EXPECT_EQ(daemons.size(), 1U) << name;
        return daemons.empty() ? -1 : daemons.front();
    }

    nlohmann::json target_json(const std::string& args) const {
        const auto r = sh(in_target("ip -j " + args));
        return r.out.empty() ? nlohmann::json::array() : nlohmann::json::parse(r.out);
    }

    bool target_has_addr(const std::string& addr, int prefix) const {
        for (const auto& link : target_json("addr show")) {
            for (const auto& a : link.value("addr_info", nlohmann::json::array())) {
                if (a.value("local", "") == addr && a.value("prefixlen", -1) == prefix) {
                    return true;
                }
            }
        }
        return false;
    }

    bool target_has_global_ipv6() const {
        for (const auto& link : target_json("-6 addr show")) {
            for (const auto& a : link.value("addr_info", nlohmann::json::array())) {
                if (a.value("scope", "") == "global") {
                    return true;
                }
            }
        }
        return false;
    }

    std::string default_gateway(const std::string& family) const {
        for (const auto& r : target_json(family + " route show default")) {
            return r.value("gateway", "");
        }
        return "";
    }

    // Removes the netns file as Podman does (lazy unmount, unlink) and
    // returns how long the daemon took to exit after the unlink, and how.
    std::pair<milliseconds, std::optional<int>> remove_netns_and_wait(pid_t daemon) {
        const int in = ::inotify_init1(IN_CLOEXEC);
        EXPECT_GE(in, 0);
        EXPECT_GE(::inotify_add_watch(in, dir_.c_str(), IN_DELETE), 0);
        const auto r = sh("nsenter -t " + std::to_string(podman_) + " -U -m -- sh -c 'umount -l " +
                          netns_ + " && rm " + netns_ + "' 2>&1");
        EXPECT_EQ(r.status, 0) << r.out;
        pollfd p{in, POLLIN, 0};
        EXPECT_EQ(::poll(&p, 1, 2000), 1) << "no deletion seen";
        const auto removed = Clock::now();
        ::close(in);
        const auto status = wait_exit(daemon, milliseconds(2000));
        return {std::chrono::duration_cast<milliseconds>(Clock::now() - removed), status};
    }

    // Leaked or caller-owned descriptors the daemon still holds.
    std::vector<std::string> foreign_fds(pid_t daemon, int caller_pipe_inode) const {
        std::vector<std::string> bad;
        const std::string base = "/proc/" + std::to_string(daemon) + "/fd/";
        for (int fd = 0; fd <= 2; ++fd) {
            const auto t = read_link(base + std::to_string(fd));
            if (t != "/dev/null") {
                bad.push_back(std::to_string(fd) + " -> " + t);
            }
        }
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(base, ec)) {
            const auto t = read_link(e.path().string());
            if (t == leak_ || t == "/tmp" ||
                t == "pipe:[" + std::to_string(caller_pipe_inode) + "]") {
                bad.push_back(e.path().filename().string() + " -> " + t);
            }
        }
        return bad;
    }

    std::unique_ptr<Sandbox> sb_;
    pid_t podman_ = -1;
    std::string dir_;
    std::string netns_;
    std::string pid_file_;
    std::string leak_;
    std::string resolv_;
};

// Every recorded call that starts a daemon: ready, quiet, detached, the
// namespace configured, and gone soon after the netns file is.
class PodmanScenarioTest : public PodmanContractTest,
                           public ::testing::WithParamInterface<std::string> {};

TEST_P(PodmanScenarioTest, RecordedCallDetachesConfiguresAndQuits) {
    const std::string name = GetParam();
    std::string out;
    const pid_t daemon = run_ready(name, &out);
    ASSERT_GT(daemon, 0);
    if (name != "Debug") {
        EXPECT_EQ(out, "") << "--quiet prints nothing";
    }
    EXPECT_EQ(foreign_fds(daemon, -1), std::vector<std::string>{})
        << "inherited descriptors still open";
    EXPECT_EQ(real_uid(daemon), kNobody) << "the daemon runs as the rootless user";

    EXPECT_TRUE(target_has_addr("198.51.100.2", 24));
    EXPECT_EQ(default_gateway("-4"), "198.51.100.1");
    if (name == "Ipv4Only") {
        EXPECT_FALSE(target_has_global_ipv6()) << "-4 leaves IPv6 unconfigured";
    } else {
        EXPECT_TRUE(target_has_addr("2001:db8::2", 64));
        EXPECT_EQ(default_gateway("-6"), "2001:db8::1");
    }

    const auto [took, status] = remove_netns_and_wait(daemon);
    ASSERT_TRUE(status.has_value()) << "the daemon outlived its netns file";
    EXPECT_EQ(*status, 0);
    EXPECT_LT(took.count(), kQuitLimit.count()) << "exit " << took.count() << " ms after";
}

std::vector<std::string> scenario_names() {
    std::vector<std::string> names;
    for (const auto& s : scenarios()) {
        names.emplace_back(s.name);
    }
    return names;
}

INSTANTIATE_TEST_SUITE_P(Recorded, PodmanScenarioTest, ::testing::ValuesIn(scenario_names()),
                         [](const auto& param_info) { return param_info.param; });

TEST_F(PodmanContractTest, DaemonHoldsNoCopyOfCallerPipe) {
    Started s = start(as_podman(pasta_argv(scenario("Plain"))), true, leak_,
                      {"PASTAD_RESOLV_CONF=" + resolv_});
    struct stat st {};
    ASSERT_EQ(::fstat(s.out, &st), 0);
    ASSERT_TRUE(wait_exit(s.pid, milliseconds(5000)).has_value());
    std::string text;
    EXPECT_TRUE(read_to_eof(s.out, text, milliseconds(50)));
    close_fd(s.out);
    const auto daemons = children_named("pastad");
    ASSERT_EQ(daemons.size(), 1U);
    EXPECT_EQ(foreign_fds(daemons.front(), static_cast<int>(st.st_ino)),
              std::vector<std::string>{});
}

TEST_F(PodmanContractTest, VersionGoesToStdoutOnly) {
    Started s = start(as_podman({pastad_binary(), "--version"}), false, leak_);
    const auto status = wait_exit(s.pid, milliseconds(5000));
    std::string out;
    std::string err;
    EXPECT_TRUE(read_to_eof(s.out, out, milliseconds(500)));
    EXPECT_TRUE(read_to_eof(s.err, err, milliseconds(500)));
    close_fd(s.out);
    close_fd(s.err);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(*status, 0);
    EXPECT_EQ(out.rfind("pastad ", 0), 0U) << out;
    EXPECT_EQ(err, "");
    EXPECT_TRUE(children_named("pastad").empty()) << "--version starts no daemon";
}

TEST_F(PodmanContractTest, PublishedTcpPortAnswersFromLoopbackAndOutside) {
    const pid_t daemon = run_ready("PublishTcp");
    ASSERT_GT(daemon, 0);
    sh(
        in_target("timeout 10 socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo ctr80' "
                  ">/dev/null 2>&1 &"));
    const auto ask = [&](const std::string& cmd) {
        std::string got;
        eventually([&] {
            got = sh(cmd + " 2>/dev/null").out;
            return got == "ctr80\n";
        });
        return got;
    };
    EXPECT_EQ(ask(sb_->in_host("socat -T2 - TCP:127.0.0.1:8080 </dev/null")), "ctr80\n");
    EXPECT_EQ(ask(sb_->in_up("socat -T2 - TCP:198.51.100.2:8080 </dev/null")), "ctr80\n");
}

TEST_F(PodmanContractTest, PublishedUdpPortOnAddressAnswers) {
    const pid_t daemon = run_ready("PublishUdpWithAddress");
    ASSERT_GT(daemon, 0);
    sh(
        in_target("timeout 10 socat UDP-RECVFROM:80,fork,reuseaddr SYSTEM:'echo ctr-udp' "
                  ">/dev/null 2>&1 &"));
    std::string got;
    eventually([&] {
        got =
            sh(sb_->in_host("sh -c 'echo ping | socat -T1 - UDP:127.0.0.1:8081' 2>/dev/null")).out;
        return got == "ctr-udp\n";
    });
    EXPECT_EQ(got, "ctr-udp\n");
}

TEST_F(PodmanContractTest, NamespacePortReachesHostLoopback) {
    const pid_t daemon = run_ready("NamespaceToHostPort");
    ASSERT_GT(daemon, 0);
    sh(
        sb_->in_host("timeout 10 socat TCP-LISTEN:8082,bind=127.0.0.1,fork,reuseaddr "
                     "SYSTEM:'echo host8082' >/dev/null 2>&1 &"));
    std::string got;
    eventually([&] {
        got = sh(in_target("socat -T2 - TCP:127.0.0.1:8082 </dev/null 2>/dev/null")).out;
        return got == "host8082\n";
    });
    EXPECT_EQ(got, "host8082\n");
}

TEST_F(PodmanContractTest, SeveralPublishedPortsMapRangesAndAddresses) {
    const pid_t daemon = run_ready("SeveralPublished");
    ASSERT_GT(daemon, 0);
    for (const int port : {90, 91, 92}) {
        sh(in_target("timeout 10 socat TCP6-LISTEN:" + std::to_string(port) +
                     ",ipv6only=0,fork,reuseaddr SYSTEM:'echo ctr" + std::to_string(port) +
                     "' >/dev/null 2>&1 &"));
    }
    sh(
        in_target("timeout 10 socat UDP-RECVFROM:94,fork,reuseaddr SYSTEM:'echo ctr-udp94' "
                  ">/dev/null 2>&1 &"));
    const auto ask = [&](const std::string& cmd, const std::string& want) {
        std::string got;
        eventually([&] {
            got = sh(sb_->in_host(cmd) + " 2>/dev/null").out;
            return got == want;
        });
        return got;
    };
    EXPECT_EQ(ask("socat -T2 - TCP:127.0.0.1:8090 </dev/null", "ctr90\n"), "ctr90\n");
    EXPECT_EQ(ask("socat -T2 - TCP:127.0.0.1:8091 </dev/null", "ctr91\n"), "ctr91\n");
    EXPECT_EQ(ask("socat -T2 - TCP:[::1]:8092 </dev/null", "ctr92\n"), "ctr92\n");
    EXPECT_EQ(ask("sh -c 'echo x | socat -T1 - UDP:127.0.0.1:8094'", "ctr-udp94\n"), "ctr-udp94\n");
    // ::1/8092 binds only IPv6 loopback.
    EXPECT_NE(sh(sb_->in_host("socat -T1 - TCP:127.0.0.1:8092 </dev/null 2>&1")).status, 0);
}

TEST_F(PodmanContractTest, DnsForwardAddressAnswersFromHostResolver) {
    // The host's resolver (per PASTAD_RESOLV_CONF) is in the upstream
    // namespace; it answers every A query with 192.0.2.77.
    const std::string responder =
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.bind(('203.0.113.10', 53))\n"
        "s.settimeout(10)\n"
        "while True:\n"
        "    q, peer = s.recvfrom(512)\n"
        "    end = 12\n"
        "    while q[end]:\n"
        "        end += q[end] + 1\n"
        "    end += 5\n"
        "    ans = b'\\xc0\\x0c\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x3c\\x00\\x04' + "
        "bytes([192, 0, 2, 77])\n"
        "    s.sendto(q[:2] + b'\\x81\\x80\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x00' + "
        "q[12:end] + ans, peer)\n";
    const std::string query =
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.settimeout(1)\n"
        "q = b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00' + "
        "b'\\x08contract\\x04test\\x00\\x00\\x01\\x00\\x01'\n"
        "s.sendto(q, ('169.254.1.1', 53))\n"
        "r = s.recv(512)\n"
        "print('.'.join(str(b) for b in r[-4:]) if r[:2] == q[:2] else 'bad id')\n";
    std::ofstream(dir_ + "/responder.py") << responder;
    std::ofstream(dir_ + "/query.py") << query;
    sh("chmod a+r " + dir_ + "/query.py");
    sh(sb_->in_up("timeout 15 python3 " + dir_ + "/responder.py >/dev/null 2>&1 &"));
    const pid_t daemon = run_ready("Plain");
    ASSERT_GT(daemon, 0);
    std::string got;
    eventually([&] {
        got = sh(in_target("python3 " + dir_ + "/query.py 2>&1")).out;
        return got == "192.0.2.77\n";
    });
    EXPECT_EQ(got, "192.0.2.77\n");
}

TEST_F(PodmanContractTest, BridgePidFileNamesDaemonAndSigtermExitsZero) {
    const pid_t daemon = run_ready("BridgeRootlessNetns");
    ASSERT_GT(daemon, 0);
    EXPECT_EQ(read_pid_file(pid_file_), daemon);
    // Podman checks liveness with kill(pid, 0) before reusing it.
    EXPECT_EQ(::kill(read_pid_file(pid_file_), 0), 0);
    ASSERT_EQ(::kill(daemon, SIGTERM), 0);
    const auto status = wait_exit(daemon, milliseconds(2000));
    ASSERT_TRUE(status.has_value()) << "SIGTERM did not end the daemon";
    EXPECT_EQ(*status, 0);
}

TEST_F(PodmanContractTest, DebugOutputStillEndsAtExit) {
    std::string out;
    const pid_t daemon = run_ready("Debug", &out);
    ASSERT_GT(daemon, 0);
    EXPECT_NE(out, "") << "--debug reports the set-up";
}

}  // namespace
}  // namespace pastad::test

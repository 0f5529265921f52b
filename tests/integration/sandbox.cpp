// SPDX-License-Identifier: GPL-2.0-or-later
// tests/integration/sandbox.cpp - throw-away network namespaces for integration tests
#include "sandbox.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace pastad::test {

namespace {

std::string unique_suffix() {
    static std::atomic<int> counter{0};
    return std::to_string(::getpid() % 100000) + "x" + std::to_string(counter++);
}

void must(const std::string& cmd) {
    const auto r = sh(cmd + " 2>&1");
    if (r.status != 0) {
        throw std::runtime_error("sandbox set-up failed: " + cmd + ": " + r.out);
    }
}

}  // namespace

CmdResult sh(const std::string& cmd) {
    CmdResult r;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
        return r;
    }
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
        r.out.append(buf, n);
    }
    const int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) {
        if (c == '\'') {
            q += "'\\''";
        } else {
            q += c;
        }
    }
    return q + "'";
}

nlohmann::json ip_json(const std::string& ns, const std::string& args) {
    const auto r = sh("ip -n " + ns + " -j " + args);
    if (r.out.find_first_not_of(" \n") == std::string::npos) {
        return nlohmann::json::array();
    }
    return nlohmann::json::parse(r.out);
}

bool can_sandbox(std::string& why) {
    if (::geteuid() != 0) {
        why = "needs root to create network namespaces";
        return false;
    }
    if (sh("command -v ip >/dev/null").status != 0) {
        why = "needs iproute2's ip";
        return false;
    }
    if (::access("/dev/net/tun", F_OK) != 0) {
        why = "needs /dev/net/tun";
        return false;
    }
    return true;
}

std::string pastad_binary() {
    if (const char* env = std::getenv("PASTAD_BINARY")) {
        return env;
    }
    return std::string(PASTAD_BINARY_DIR) + "/daemon/pastad";
}

Sandbox::Sandbox()
    : host("sbx-host-" + unique_suffix()),
      up("sbx-up-" + unique_suffix()),
      veth_host("sbh" + unique_suffix()),
      veth_up("sbu" + unique_suffix()) {
    must("ip netns add " + host);
    must("ip netns add " + up);
    must("ip link add " + veth_host + " type veth peer name " + veth_up);
    must("ip link set " + veth_host + " netns " + host);
    must("ip link set " + veth_up + " netns " + up);
    for (const auto& ns : {host, up}) {
        must("ip -n " + ns + " link set lo up");
    }
    must("ip -n " + host + " addr add 198.51.100.2/24 dev " + veth_host);
    must("ip -n " + host + " addr add 2001:db8::2/64 dev " + veth_host + " nodad");
    must("ip -n " + host + " link set " + veth_host + " up");
    must("ip -n " + host + " route add default via 198.51.100.1");
    must("ip -n " + host + " -6 route add default via 2001:db8::1");
    must("ip -n " + up + " addr add 198.51.100.1/24 dev " + veth_up);
    must("ip -n " + up + " addr add 2001:db8::1/64 dev " + veth_up + " nodad");
    must("ip -n " + up + " addr add 203.0.113.10/32 dev lo");
    must("ip -n " + up + " addr add 2001:db8:ff::10/128 dev lo");
    must("ip -n " + up + " link set " + veth_up + " up");
}

Sandbox::~Sandbox() {
    // Kill what still runs in our namespaces, then remove them.
    for (const auto& ns : extra_) {
        sh("ip netns pids " + ns + " 2>/dev/null | xargs -r kill -9 2>/dev/null");
        sh("ip netns del " + ns + " 2>/dev/null");
    }
    for (const auto& ns : {host, up}) {
        sh("ip netns pids " + ns + " 2>/dev/null | xargs -r kill -9 2>/dev/null");
        sh("ip netns del " + ns + " 2>/dev/null");
    }
}

std::string Sandbox::new_target() {
    const std::string name = "sbx-tgt-" + unique_suffix();
    must("ip netns add " + name);
    extra_.push_back(name);
    return name;
}

std::string Sandbox::in_host(const std::string& args) const {
    return "ip netns exec " + host + " " + args;
}

std::string Sandbox::in_up(const std::string& args) const {
    return "ip netns exec " + up + " " + args;
}

pid_t read_pid_file(const std::string& path) {
    std::ifstream f(path);
    pid_t pid = -1;
    f >> pid;
    return f ? pid : -1;
}

bool alive(pid_t pid) {
    if (pid <= 0) {
        return false;
    }
    // A zombie still "exists" for kill(); look at its state instead.
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) {
        return false;
    }
    const auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

}  // namespace pastad::test

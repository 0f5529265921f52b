// SPDX-License-Identifier: GPL-2.0-or-later
// tests/integration/sandbox.hpp - throw-away network namespaces for integration tests
//
// The sandbox is two namespaces joined by a veth pair: "host" (where pastad
// runs and whose addressing it reflects) and "up" (the rest of the world,
// where test servers listen). Nothing leaves these namespaces and loopback.
//   host: veth 198.51.100.2/24, 2001:db8::2/64, default via .1 / 2001:db8::1
//   up:   veth 198.51.100.1/24, 2001:db8::1/64; 203.0.113.10/32 and
//         2001:db8:ff::10/128 on lo (servers "far away")
// Names carry the test process's PID and a counter, so runs can overlap.
#pragma once

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pastad::test {

struct CmdResult {
    int status = -1;  // exit status, or 128 + signal
    std::string out;  // standard output
};

// Runs `cmd` with /bin/sh and captures its standard output.
CmdResult sh(const std::string& cmd);

// Quotes `s` for the shell.
std::string quote(const std::string& s);

// `ip -n NS -j ARGS`, parsed. An empty array when ip printed nothing.
nlohmann::json ip_json(const std::string& ns, const std::string& args);

// True when this process may create namespaces (root) and the tools exist.
bool can_sandbox(std::string& why);

// Path of the pastad binary under test.
std::string pastad_binary();

class Sandbox {
public:
    Sandbox();
    ~Sandbox();
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    // A new empty namespace (only lo, down), deleted with the sandbox.
    std::string new_target();

    // The command line that runs `args` inside the host namespace.
    std::string in_host(const std::string& args) const;
    std::string in_up(const std::string& args) const;

    const std::string host;  // namespace names
    const std::string up;
    const std::string veth_host;  // interface names (the template interface)
    const std::string veth_up;

private:
    std::vector<std::string> extra_;
};

// Waits until `pred` holds or `limit` passes; returns whether it held.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) {
            return true;
        }
        sh("sleep 0.02");
    }
    return pred();
}

// Reads a PID file, or -1.
pid_t read_pid_file(const std::string& path);

// True while process `pid` exists.
bool alive(pid_t pid);

// Fixture base for tests that run pastad in a sandbox. SetUp() skips the
// test where namespaces cannot be made, else makes the sandbox, a target
// namespace (unless a derived constructor clears make_target_) and names a
// PID file; TearDown() stops a daemon that file still names, with
// stop_signal_, and removes the file. A derived SetUp() calls this one first
// and returns when IsSkipped(). `Base` is ::testing::Test or a
// ::testing::TestWithParam<...>.
template <typename Base = ::testing::Test>
class SandboxTest : public Base {
protected:
    void SetUp() override {
        std::string why;
        if (!can_sandbox(why)) {
            GTEST_SKIP() << why;
        }
        sb_ = std::make_unique<Sandbox>();
        if (make_target_) {
            target_ = sb_->new_target();
        }
        pid_file_ = "/tmp/pastad-" + sb_->host + ".pid";
    }
    void TearDown() override {
        if (pid_file_.empty()) {
            return;
        }
        const pid_t pid = read_pid_file(pid_file_);
        if (alive(pid)) {
            ::kill(pid, stop_signal_);
        }
        ::unlink(pid_file_.c_str());
    }

    bool make_target_ = true;
    int stop_signal_ = SIGKILL;
    std::unique_ptr<Sandbox> sb_;
    std::string target_;
    std::string pid_file_;
};

}  // namespace pastad::test

// SPDX-License-Identifier: GPL-2.0-or-later
// tests/integration/tcp_test.cpp - TCP through pastad: bulk data, many flows, closes, mapping
//
// pastad runs in the sandbox's host namespace against a target namespace of
// its own; clients run in the target, servers in "up" (or on the host's
// loopback for the gateway mapping). Both ends are one small Python script,
// written to a temporary directory with 256 MiB of random data once per run.
// Every case runs for IPv4 and IPv6 and for both I/O back ends.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "sandbox.hpp"

namespace pastad::test {
namespace {

using std::chrono::milliseconds;

constexpr std::size_t kBulkBytes = std::size_t{256} << 20;
constexpr int kParallelConns = 200;

// Servers and clients. Servers take ADDR PORT READY first and create READY
// once they listen; every mode prints one result line.
constexpr const char* kHelper = R"PY(
import errno, hashlib, os, random, socket, sys, threading, time

CHUNK = 1 << 20
PAR_SIZE = 1 << 20


def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def listener(addr, port, ready):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam(addr) == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, int(port)))
    s.listen(1024)
    with open(ready + ".tmp", "w") as f:
        f.write("ready\n")
    os.rename(ready + ".tmp", ready)
    return s


# TCP_CC in the environment picks the client's congestion control.
def connect(addr, port):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    if os.environ.get("TCP_CC"):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, os.environ["TCP_CC"].encode())
    s.settimeout(60)
    s.connect((addr, int(port)))
    return s


def pattern(seed, size):
    return random.Random(seed).randbytes(size)


def read_all(c, h):
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    n = 0
    while True:
        k = c.recv_into(buf)
        if k == 0:
            return n
        n += k
        h.update(view[:k])


def recv_exact(c, size):
    data = bytearray()
    while len(data) < size:
        k = c.recv(min(CHUNK, size - len(data)))
        if not k:
            break
        data += k
    return bytes(data)


def recv_line(c):
    line = b""
    while not line.endswith(b"\n"):
        k = c.recv(1)
        if not k:
            break
        line += k
    return line.decode().strip()


# Sends FILE to the first client, then closes.
def send_file(addr, port, ready, path):
    s = listener(addr, port, ready)
    c, _ = s.accept()
    with open(path, "rb") as f:
        c.sendfile(f)
    c.close()
    print("sent", flush=True)


# Reads until EOF; prints the sha256 and the byte count.
def get(addr, port):
    c = connect(addr, port)
    h = hashlib.sha256()
    n = read_all(c, h)
    print(h.hexdigest(), n)


# Reads until EOF, answers "SHA256 COUNT\n" and REPLY_BYTES of pattern 2.
def sink(addr, port, ready, reply_bytes):
    s = listener(addr, port, ready)
    c, _ = s.accept()
    h = hashlib.sha256()
    n = read_all(c, h)
    c.sendall(("%s %d\n" % (h.hexdigest(), n)).encode())
    if int(reply_bytes) > 0:
        c.sendall(pattern(2, int(reply_bytes)))
    c.close()
    print(h.hexdigest(), n, flush=True)


# Sends FILE (or @SIZE bytes of pattern 1), shuts down its write side, then
# reads the sink's answer and REPLY_BYTES more.
def put(addr, port, what, reply_bytes):
    c = connect(addr, port)
    h = hashlib.sha256()
    if what.startswith("@"):
        data = pattern(1, int(what[1:]))
        h.update(data)
        c.sendall(data)
    else:
        with open(what, "rb") as f:
            c.sendfile(f)
    c.shutdown(socket.SHUT_WR)
    line = recv_line(c)
    rest = recv_exact(c, int(reply_bytes))
    tail = c.recv(1)
    c.close()
    if what.startswith("@"):
        ok = line.split()[0] == h.hexdigest() and rest == pattern(2, int(reply_bytes))
        print("ok" if ok and not tail else "mismatch", line, len(rest))
    else:
        print(line)


# Greets, shuts down its write side at once, then reads until EOF.
def early_fin(addr, port, ready):
    s = listener(addr, port, ready)
    c, _ = s.accept()
    c.sendall(b"hello\n")
    c.shutdown(socket.SHUT_WR)
    h = hashlib.sha256()
    n = read_all(c, h)
    c.close()
    print(h.hexdigest(), n, flush=True)


# Reads the greeting up to the server's EOF, then sends SIZE bytes.
def late_send(addr, port, size):
    c = connect(addr, port)
    greeting = recv_exact(c, 100)
    data = pattern(3, int(size))
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    tail = c.recv(1)
    c.close()
    print(greeting.decode().strip(), hashlib.sha256(data).hexdigest(), len(data), len(tail))


# Sends SIZE bytes, then closes with SO_LINGER 0: a reset mid-stream.
def reset_server(addr, port, ready, size):
    s = listener(addr, port, ready)
    c, _ = s.accept()
    block = b"r" * 65536
    sent = 0
    while sent < int(size):
        sent += c.send(block)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()
    print("reset after", sent, flush=True)


def expect_reset(addr, port):
    c = connect(addr, port)
    n = 0
    try:
        while True:
            k = c.recv(CHUNK)
            if not k:
                print("eof", n)
                return
            n += len(k)
    except ConnectionResetError:
        print("reset", n)
    except OSError as e:
        print("error", errno.errorcode.get(e.errno, e.errno), n)


def refused(addr, port):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.settimeout(10)
    t = time.monotonic()
    try:
        s.connect((addr, int(port)))
        print("connected")
    except ConnectionRefusedError:
        print("refused %.6f" % (time.monotonic() - t))
    except OSError as e:
        print("error", errno.errorcode.get(e.errno, e.errno), "%.6f" % (time.monotonic() - t))


# Answers every client with TAG.
def tag_server(addr, port, ready, tag):
    s = listener(addr, port, ready)
    while True:
        c, _ = s.accept()
        c.sendall(tag.encode() + b"\n")
        c.close()


def get_line(addr, port):
    c = connect(addr, port)
    print(recv_exact(c, 100).decode().strip())


def par_block(base, i):
    off = (i * 4099) % 65536
    return base[off:off + PAR_SIZE]


# Per connection: a 4-byte index and 1 MiB in; a status byte and 1 MiB out.
def par_server(addr, port, ready):
    base = pattern(4, PAR_SIZE + 65536)
    s = listener(addr, port, ready)

    def serve(c):
        with c:
            head = recv_exact(c, 4)
            i = int.from_bytes(head, "big")
            good = len(head) == 4 and recv_exact(c, PAR_SIZE) == par_block(base, i)
            c.sendall(b"\x01" if good else b"\x00")
            c.sendall(par_block(base, i + 1000))

    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def par_client(addr, port, count):
    base = pattern(4, PAR_SIZE + 65536)
    ok = [0]
    fails = []
    lock = threading.Lock()

    def one(i):
        try:
            with connect(addr, port) as c:
                c.sendall(i.to_bytes(4, "big") + par_block(base, i))
                status = recv_exact(c, 1)
                back = recv_exact(c, PAR_SIZE)
                tail = c.recv(1)
            good = status == b"\x01" and back == par_block(base, i + 1000) and not tail
            with lock:
                if good:
                    ok[0] += 1
                else:
                    fails.append("%d: status %r, %d bytes back" % (i, status, len(back)))
        except OSError as e:
            with lock:
                fails.append("%d: %s" % (i, e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(int(count))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("ok", ok[0], "of", count, "; ".join(fails[:5]))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(CHUNK)
            if not b:
                break
            h.update(b)
    print(h.hexdigest())


MODES = {
    "send-file": send_file, "get": get, "sink": sink, "put": put,
    "early-fin": early_fin, "late-send": late_send, "reset-server": reset_server,
    "expect-reset": expect_reset, "refused": refused, "tag-server": tag_server,
    "get-line": get_line, "par-server": par_server, "par-client": par_client,
    "sha256": sha256_file,
}

if __name__ == "__main__":
    MODES[sys.argv[1]](*sys.argv[2:])
)PY";

struct Variant {
    const char* name;
    bool v6;
    const char* backend;  // --io-backend
};

void PrintTo(const Variant& v, std::ostream* os) {
    *os << v.name;
}

const Variant kVariants[] = {
    {"V4Uring", false, "uring"},
    {"V4Epoll", false, "epoll"},
    {"V6Uring", true, "uring"},
    {"V6Epoll", true, "epoll"},
};

std::vector<std::string> words(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> out;
    for (std::string w; in >> w;) {
        out.push_back(w);
    }
    return out;
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

class TcpTest : public ::testing::TestWithParam<Variant> {
protected:
    // One directory per run: the helper script and the bulk data.
    static void SetUpTestSuite() {
        std::string why;
        if (!can_sandbox(why)) {
            return;
        }
        char tmpl[] = "/tmp/pastad-tcp-XXXXXX";
        if (::mkdtemp(tmpl) == nullptr) {
            return;
        }
        dir_ = tmpl;
        std::ofstream(dir_ + "/helper.py") << kHelper;
        python_ = ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    }

    static void TearDownTestSuite() {
        if (!dir_.empty()) {
            std::filesystem::remove_all(dir_);
            dir_.clear();
            data_sha_.clear();
        }
    }

    void SetUp() override {
        std::string why;
        if (!can_sandbox(why)) {
            GTEST_SKIP() << why;
        }
        if (sh(python_ + " -c pass").status != 0) {
            GTEST_SKIP() << "needs python3";
        }
        ASSERT_FALSE(dir_.empty()) << "could not create a temporary directory";
        sb_ = std::make_unique<Sandbox>();
        target_ = sb_->new_target();
        pid_file_ = dir_ + "/pastad-" + target_ + ".pid";
    }

    void TearDown() override {
        if (!pid_file_.empty()) {
            const pid_t pid = read_pid_file(pid_file_);
            if (alive(pid)) {
                ::kill(pid, SIGTERM);
            }
            ::unlink(pid_file_.c_str());
        }
        sb_.reset();  // kills the servers and clients, removes the namespaces
    }

    static std::string helper(const std::string& args) {
        return python_ + " " + dir_ + "/helper.py " + args;
    }

    // Starts pastad for the target namespace; returns once it is ready.
    void start_pastad(const std::string& extra = "") {
        const auto r = sh(sb_->in_host(
            pastad_binary() + " --config-net -q --io-backend=" + GetParam().backend + " -P " +
            pid_file_ + " " + extra + " --netns /run/netns/" + target_ + " 2>&1"));
        ASSERT_EQ(r.status, 0) << r.out;
    }

    // Starts a helper server in namespace `ns`; returns the file its result
    // line goes to once it is listening.
    std::string serve(const std::string& ns, const std::string& mode, const std::string& addr,
                      const std::string& rest = "") {
        const std::string id = std::to_string(servers_++);
        const std::string ready = dir_ + "/" + target_ + "-ready" + id;
        const std::string out = dir_ + "/" + target_ + "-server" + id;
        sh("ip netns exec " + ns + " timeout 120 " +
           helper(mode + " " + addr + " 5000 " + ready + " " + rest) + " > " + out + " 2>&1 &");
        EXPECT_TRUE(eventually([&] { return ::access(ready.c_str(), F_OK) == 0; }))
            << mode << " did not start: " << read_text(out);
        return out;
    }

    // Runs a helper client in the target namespace, bounded in time.
    CmdResult client(const std::string& mode, const std::string& addr,
                     const std::string& rest = "") {
        return sh("ip netns exec " + target_ + " env TCP_CC=" + client_cc_ + " timeout 60 " +
                  helper(mode + " " + addr + " 5000 " + rest) + " 2>&1");
    }

    // The server's result line, once it printed one.
    static std::string result_of(const std::string& out) {
        eventually([&] { return read_text(out).find('\n') != std::string::npos; });
        return read_text(out);
    }

    std::string far() const { return GetParam().v6 ? "2001:db8:ff::10" : "203.0.113.10"; }
    std::string gateway() const { return GetParam().v6 ? "2001:db8::1" : "198.51.100.1"; }
    std::string loopback() const { return GetParam().v6 ? "::1" : "127.0.0.1"; }

    // A TcpExt counter of the target namespace, from /proc/net/netstat.
    long tcp_ext(const std::string& name) {
        const auto r = sh("ip netns exec " + target_ + " cat /proc/net/netstat");
        std::istringstream in(r.out);
        std::string header;
        std::string values;
        while (std::getline(in, header) && std::getline(in, values)) {
            if (header.rfind("TcpExt:", 0) != 0) {
                continue;
            }
            const auto h = words(header);
            const auto v = words(values);
            for (std::size_t i = 1; i < h.size() && i < v.size(); ++i) {
                if (h[i] == name) {
                    return std::stol(v[i]);
                }
            }
        }
        return -1;
    }

    // The bulk data, written on first use (ctest runs each case alone).
    static void make_bulk_data() {
        if (!data_sha_.empty()) {
            return;
        }
        data_ = dir_ + "/data";
        const auto gen = sh("head -c " + std::to_string(kBulkBytes) + " /dev/urandom > " + data_ +
                            " && " + helper("sha256 " + data_));
        data_sha_ = gen.status == 0 ? words(gen.out).at(0) : "";
        ASSERT_FALSE(data_sha_.empty()) << "could not write the bulk data to " << dir_;
    }

    void expect_download_intact() {
        ASSERT_NO_FATAL_FAILURE(make_bulk_data());
        const auto out = serve(sb_->up, "send-file", far(), data_);
        const auto t0 = std::chrono::steady_clock::now();
        const auto r = client("get", far());
        const auto ms =
            std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
        ASSERT_EQ(r.status, 0) << r.out;
        EXPECT_EQ(words(r.out), (std::vector<std::string>{data_sha_, std::to_string(kBulkBytes)}))
            << "download took " << ms.count() << " ms";
        EXPECT_EQ(result_of(out), "sent\n");
    }

    void expect_upload_intact() {
        ASSERT_NO_FATAL_FAILURE(make_bulk_data());
        const auto out = serve(sb_->up, "sink", far(), "0");
        const auto r = client("put", far(), data_ + " 0");
        ASSERT_EQ(r.status, 0) << r.out;
        const std::vector<std::string> expected{data_sha_, std::to_string(kBulkBytes)};
        EXPECT_EQ(words(r.out), expected) << "as the server reported it to the client";
        EXPECT_EQ(words(result_of(out)), expected) << "as the server logged it";
    }

    void expect_no_timeouts_with(const std::string& cc) {
        const std::string avail_path = "/proc/sys/net/ipv4/tcp_available_congestion_control";
        auto avail = words(read_text(avail_path));
        if (std::find(avail.begin(), avail.end(), cc) == avail.end()) {
            sh("modprobe tcp_" + cc + " 2>/dev/null");
            avail = words(read_text(avail_path));
        }
        if (std::find(avail.begin(), avail.end(), cc) == avail.end()) {
            GTEST_SKIP() << cc << " is not available (tcp_" << cc << " not loadable)";
        }
        // Outside the initial namespace only algorithms listed in
        // tcp_allowed_congestion_control may become the default; the others
        // are set on each client socket (TCP_CONGESTION, allowed to root).
        const auto set = sh("ip netns exec " + target_ +
                            " sysctl -w net.ipv4.tcp_congestion_control=" + cc + " 2>&1");
        if (set.status != 0) {
            client_cc_ = cc;
        }
        start_pastad();
        const long before = tcp_ext("TCPTimeouts");
        ASSERT_GE(before, 0) << "no TCPTimeouts in /proc/net/netstat";
        expect_download_intact();
        expect_upload_intact();
        const long after = tcp_ext("TCPTimeouts");
        EXPECT_EQ(after - before, 0)
            << "retransmission timeouts in the namespace with " << cc
            << "; retransmitted segments: " << tcp_ext("TCPSlowStartRetrans") << " slow start, "
            << tcp_ext("TCPFastRetrans") << " fast";
    }

    static inline std::string dir_;
    static inline std::string python_;
    static inline std::string data_;
    static inline std::string data_sha_;

    std::unique_ptr<Sandbox> sb_;
    std::string target_;
    std::string pid_file_;
    int servers_ = 0;
    std::string client_cc_;  // set per socket when the namespace default cannot be
};

TEST_P(TcpTest, BulkDownloadArrivesIntact) {
    start_pastad();
    expect_download_intact();
}

TEST_P(TcpTest, BulkUploadArrivesIntact) {
    start_pastad();
    expect_upload_intact();
}

TEST_P(TcpTest, ParallelConnectionsEachCarryTheirOwnData) {
    start_pastad();
    serve(sb_->up, "par-server", far());
    const auto r = client("par-client", far(), std::to_string(kParallelConns));
    ASSERT_EQ(r.status, 0) << r.out;
    const auto w = words(r.out);
    ASSERT_GE(w.size(), 4u) << r.out;
    EXPECT_EQ(w[1], std::to_string(kParallelConns)) << r.out;
}

TEST_P(TcpTest, NamespaceHalfCloseStillReceivesReply) {
    start_pastad();
    // The namespace sends 4 MiB and shuts down its write side; the server
    // answers with the digest of what it got and 8 MiB more.
    serve(sb_->up, "sink", far(), std::to_string(8 << 20));
    const auto r =
        client("put", far(), "@" + std::to_string(4 << 20) + " " + std::to_string(8 << 20));
    ASSERT_EQ(r.status, 0) << r.out;
    const auto w = words(r.out);
    ASSERT_EQ(w.size(), 4u) << r.out;
    EXPECT_EQ(w[0], "ok") << r.out;
    EXPECT_EQ(w[2], std::to_string(4 << 20));
    EXPECT_EQ(w[3], std::to_string(8 << 20));
}

TEST_P(TcpTest, ServerHalfCloseStillReceivesFromNamespace) {
    start_pastad();
    // The server greets and shuts down its write side at once; the
    // namespace reads to the end, then sends 4 MiB, which must all arrive.
    const auto out = serve(sb_->up, "early-fin", far());
    const auto r = client("late-send", far(), std::to_string(4 << 20));
    ASSERT_EQ(r.status, 0) << r.out;
    const auto w = words(r.out);
    ASSERT_EQ(w.size(), 4u) << r.out;
    EXPECT_EQ(w[0], "hello");
    EXPECT_EQ(w[3], "0") << "no data after the server's FIN";
    EXPECT_EQ(words(result_of(out)), (std::vector<std::string>{w[1], w[2]}));
}

TEST_P(TcpTest, ServerResetMidTransferReachesNamespaceAsReset) {
    start_pastad();
    const auto out = serve(sb_->up, "reset-server", far(), std::to_string(8 << 20));
    const auto r = client("expect-reset", far());
    ASSERT_EQ(r.status, 0) << r.out;
    const auto w = words(r.out);
    ASSERT_EQ(w.size(), 2u) << r.out;
    EXPECT_EQ(w[0], "reset") << "the namespace saw " << r.out;
    EXPECT_GT(std::stol(w[1]), 0) << "the reset came before any data";
    EXPECT_NE(result_of(out).find("reset after"), std::string::npos);
}

TEST_P(TcpTest, ClosedPortIsRefusedQuickly) {
    start_pastad();
    const auto r = client("refused", far());
    ASSERT_EQ(r.status, 0) << r.out;
    const auto w = words(r.out);
    ASSERT_EQ(w.size(), 2u) << r.out;
    EXPECT_EQ(w[0], "refused") << r.out;
    EXPECT_LT(std::stod(w[1]), 0.5) << "seconds until ECONNREFUSED";
}

TEST_P(TcpTest, GatewayAddressReachesHostLoopback) {
    start_pastad();
    serve(sb_->host, "tag-server", loopback(), "host-loopback");
    serve(sb_->up, "tag-server", gateway(), "real-gateway");
    const auto r = client("get-line", gateway());
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out, "host-loopback\n");
}

TEST_P(TcpTest, NoMapGwReachesRealGateway) {
    start_pastad("--no-map-gw");
    serve(sb_->host, "tag-server", loopback(), "host-loopback");
    serve(sb_->up, "tag-server", gateway(), "real-gateway");
    const auto r = client("get-line", gateway());
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out, "real-gateway\n");
}

TEST_P(TcpTest, BulkWithCubicHasNoRetransmissionTimeouts) {
    expect_no_timeouts_with("cubic");
}

TEST_P(TcpTest, BulkWithBbrHasNoRetransmissionTimeouts) {
    expect_no_timeouts_with("bbr");
}

INSTANTIATE_TEST_SUITE_P(Variants, TcpTest, ::testing::ValuesIn(kVariants),
                         [](const ::testing::TestParamInfo<Variant>& p) { return p.param.name; });

}  // namespace
}  // namespace pastad::test

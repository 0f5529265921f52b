#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/compare.py - end-to-end TCP and UDP comparison of pastad, pasta, slirp4netns and a veth pair
#
# Called by bench/run.sh, which installs the tools and builds pastad first.
#
# The world is the sandbox of DESIGN.md section 6, made here under names
# unique to this run (RUN_ID): "<id>-host" (198.51.100.2/24, default via .1)
# where each translator runs, and "<id>-up" (198.51.100.1/24, 203.0.113.10/32
# on lo) where the iperf3 and rr_tool servers listen. Every client runs in a
# namespace of its own, connected to <id>-host by the system under test:
#
#   veth          "<id>-cv", joined to <id>-host by a second veth pair on
#                 198.18.1.0/24 and routed by <id>-host's kernel (the path a
#                 container on a kernel bridge/veth takes: two veth hops).
#   pastad-uring  "<id>-t", pastad --netns attached, --io-backend=uring.
#   pastad-epoll  the same with --io-backend=epoll.
#   pasta         the same with Debian's /usr/bin/pasta.
#   slirp4netns   an `unshare -n` process started inside <id>-host, served by
#                 slirp4netns --configure --mtu=65520 --disable-host-loopback
#                 on 198.18.2.0/24 (slirp's own addressing inside that
#                 namespace; slirp's sockets leave from <id>-host).
#
# The splice rows ("lo-*" tests) measure the loopback forwarding path
# instead: the client runs on <id>-host's loopback and connects to
# 127.0.0.1:PORT, a port the translator forwards (-t PORT) to a server in the
# target namespace "<id>-t". The "loopback" system is the limit: client and
# server both on <id>-host's loopback, no translator.
#
# Nothing is sent anywhere but between these namespaces. Every namespace and
# process made here is removed on every way out (normal end, exception,
# SIGINT/SIGTERM); run.sh's trap repeats the namespace clean-up in case this
# script itself is killed.
import argparse
import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time

SERVER = "203.0.113.10"
IPERF_PORT = 5201
RR_PORT = 7001
CRR_PORT = 7002
CLK_TCK = os.sysconf("SC_CLK_TCK")
GIB = float(1 << 30)

SYSTEMS = ["veth", "pastad-uring", "pastad-epoll", "pasta", "slirp4netns", "loopback"]

# (key, title, iperf3 extra args); rr/crr rows are added separately.
THROUGHPUT_TESTS = [
    ("up1", "TCP namespace -> server, 1 stream", []),
    ("up4", "TCP namespace -> server, 4 streams", ["-P", "4"]),
    ("down1", "TCP server -> namespace, 1 stream", ["-R"]),
    ("down4", "TCP server -> namespace, 4 streams", ["-R", "-P", "4"]),
]
RR_TESTS = [
    ("rr", "Request/response, 1 byte each way over one connection", "rr", RR_PORT),
    ("crr", "Connect, 1 byte each way, close (CRR)", "crr", CRR_PORT),
]

# UDP at fixed offered rates: (key, title, iperf3 extra args). Each runs the
# whole ladder below. UDP has no congestion control, so the questions are
# how much of an offered rate arrives and what it costs per byte, not
# "how fast can it go".
UDP_TESTS = [
    ("udp-up", "UDP namespace -> server", []),
    ("udp-down", "UDP server -> namespace", ["-R"]),
]
# (offered rate, datagram bytes). 1400-byte datagrams are what most UDP
# applications send (QUIC, RTP, VPNs: below a 1500-byte path MTU), so the
# per-datagram cost dominates: 100M is a load every system should carry
# without loss, 1G is a busy one (~89k datagrams/s), 4G (~357k/s) is above
# what a 2-CPU machine forwards per datagram and shows each system's
# ceiling and how it loses beyond it. 32000-byte datagrams at 10G show the
# per-byte cost instead (~39k datagrams/s): they fit one frame at the
# translators' 65520 MTU (no fragmentation there), while the veth row's
# 1500 MTU makes the kernel fragment them.
UDP_LADDER = [("100M", 1400), ("1G", 1400), ("4G", 1400), ("10G", 32000)]


def udp_key(key, rate, size):
    return f"{key}:{rate}:{size}"


# Splice path: forwarded ports (-t) on the host's loopback, servers in the
# target namespace. Their reference system is "loopback".
LO_IPERF_PORT = 5202
LO_RR_PORT = 7003
LO_CRR_PORT = 7004
SPLICE_SYSTEMS = ["loopback", "pastad-uring", "pastad-epoll", "pasta"]
SPLICE_THROUGHPUT_TESTS = [
    ("lo-up1", "Splice: host loopback -> namespace (-t), 1 stream", []),
    ("lo-up4", "Splice: host loopback -> namespace (-t), 4 streams", ["-P", "4"]),
    ("lo-down1", "Splice: namespace -> host loopback (-t, -R), 1 stream", ["-R"]),
    ("lo-down4", "Splice: namespace -> host loopback (-t, -R), 4 streams", ["-R", "-P", "4"]),
]
SPLICE_RR_TESTS = [
    ("lo-rr", "Splice: request/response, 1 byte each way over one connection", "rr",
     LO_RR_PORT),
    ("lo-crr", "Splice: connect, 1 byte each way, close (CRR)", "crr", LO_CRR_PORT),
]
SPLICE_KEYS = {t[0] for t in SPLICE_THROUGHPUT_TESTS + SPLICE_RR_TESTS}


def runs_test(system, key):
    """Whether `system` takes part in test `key` (a UDP key's ladder step counts as its test)."""
    if key.split(":")[0] in SPLICE_KEYS:
        return system in SPLICE_SYSTEMS
    return system != "loopback"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(args, check=True, timeout=60, capture=True):
    r = subprocess.run(args, capture_output=capture, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


class World:
    """Owns every namespace and process of the run; close() removes them all."""

    def __init__(self, run_id, build_dir):
        self.id = run_id
        self.build = build_dir
        self.host = f"{run_id}-host"
        self.up = f"{run_id}-up"
        self.namespaces = []
        self.procs = []  # Popen objects we started
        self.pids = []  # daemonised processes we started (from pid files)

    # -- namespaces --------------------------------------------------------
    def add_ns(self, name):
        sh(["ip", "netns", "add", name])
        self.namespaces.append(name)
        sh(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def del_ns(self, name):
        self.kill_ns_pids(name)
        sh(["ip", "netns", "del", name], check=False)
        if name in self.namespaces:
            self.namespaces.remove(name)

    @staticmethod
    def kill_ns_pids(name):
        # Only processes inside a namespace this run created: ours.
        r = sh(["ip", "netns", "pids", name], check=False)
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass

    def make_sandbox(self):
        h, u = self.add_ns(self.host), self.add_ns(self.up)
        vh, vu = f"{self.id}h", f"{self.id}u"
        sh(["ip", "link", "add", vh, "type", "veth", "peer", "name", vu])
        sh(["ip", "link", "set", vh, "netns", h])
        sh(["ip", "link", "set", vu, "netns", u])
        for cmd in (
            ["ip", "-n", h, "addr", "add", "198.51.100.2/24", "dev", vh],
            ["ip", "-n", h, "addr", "add", "2001:db8::2/64", "dev", vh, "nodad"],
            ["ip", "-n", h, "link", "set", vh, "up"],
            ["ip", "-n", h, "route", "add", "default", "via", "198.51.100.1"],
            ["ip", "-n", h, "-6", "route", "add", "default", "via", "2001:db8::1"],
            ["ip", "-n", u, "addr", "add", "198.51.100.1/24", "dev", vu],
            ["ip", "-n", u, "addr", "add", "2001:db8::1/64", "dev", vu, "nodad"],
            ["ip", "-n", u, "addr", "add", f"{SERVER}/32", "dev", "lo"],
            ["ip", "-n", u, "link", "set", vu, "up"],
            # Back route for the veth system's client network.
            ["ip", "-n", u, "route", "add", "198.18.1.0/24", "via", "198.51.100.2"],
            ["ip", "netns", "exec", h, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"],
        ):
            sh(cmd)

    # -- processes ---------------------------------------------------------
    def spawn(self, args, **kw):
        p = subprocess.Popen(args, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, timeout=3):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_pid(self, pid):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            for _ in range(50):
                if not alive(pid):
                    break
                time.sleep(0.02)
            if not alive(pid):
                break
        if pid in self.pids:
            self.pids.remove(pid)

    def close(self):
        for p in list(self.procs):
            try:
                self.stop(p, timeout=1)
            except Exception:  # noqa: BLE001 - clean-up goes on regardless
                pass
        for pid in list(self.pids):
            self.stop_pid(pid)
        for ns in list(reversed(self.namespaces)):
            self.del_ns(ns)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def cpu_ticks(pid):
    """utime and stime of a whole process (all threads), in clock ticks."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    # Fields after "(comm)" start at field 3 (state); utime is 14, stime 15.
    return int(fields[11]), int(fields[12])


def wait_for(pred, limit=10.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def read_pid_file(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None


# ---------------------------------------------------------------------------
# Systems: each start() returns (client command prefix, translator pid or None)


class System:
    def __init__(self, world, name, forwards="none"):
        self.w = world
        self.name = name
        self.forwards = forwards  # -t argument: the splice tests' ports
        self.pid = None
        self.client_ns = None
        self.target_proc = None
        self.proc = None

    def start(self):
        w = self.w
        if self.name == "veth":
            ns = w.add_ns(f"{w.id}-cv")
            a, b = f"{w.id}c", f"{w.id}d"
            sh(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
            sh(["ip", "link", "set", a, "netns", w.host])
            sh(["ip", "link", "set", b, "netns", ns])
            sh(["ip", "-n", w.host, "addr", "add", "198.18.1.1/24", "dev", a])
            sh(["ip", "-n", w.host, "link", "set", a, "up"])
            sh(["ip", "-n", ns, "addr", "add", "198.18.1.2/24", "dev", b])
            sh(["ip", "-n", ns, "link", "set", b, "up"])
            sh(["ip", "-n", ns, "route", "add", "default", "via", "198.18.1.1"])
            self.client_ns = ns
            return ["ip", "netns", "exec", ns]

        if self.name == "loopback":
            # No translator: splice tests run client and server on <id>-host.
            return ["ip", "netns", "exec", w.host]

        if self.name in ("pastad-uring", "pastad-epoll", "pasta"):
            ns = w.add_ns(f"{w.id}-t")
            self.client_ns = ns
            pid_file = f"/tmp/{w.id}-{self.name}.pid"
            if self.name == "pasta":
                # As root, this pasta switches to "nobody" unless told
                # otherwise, and then cannot join a namespace that root made.
                binary = ["/usr/bin/pasta", "--runas", "0"]
            else:
                backend = self.name.split("-")[1]
                binary = [f"{w.build}/daemon/pastad", f"--io-backend={backend}"]
            args = binary + [
                "--config-net", "-q", "-t", self.forwards, "-u", "none", "-T", "none",
                "-U", "none",
                "-P", pid_file, "--netns", f"/run/netns/{ns}",
            ]
            # Both fork once the namespace is usable; exit status 0 means ready.
            sh(["ip", "netns", "exec", w.host] + args, timeout=20)
            self.pid = read_pid_file(pid_file)
            os.unlink(pid_file)
            if self.pid is None or not alive(self.pid):
                raise RuntimeError(f"{self.name} did not stay up")
            w.pids.append(self.pid)
            # The tap's address appears once the daemon configured it.
            if not wait_for(lambda: "198.51.100.2" in sh(
                    ["ip", "-n", ns, "-4", "addr"], check=False).stdout):
                raise RuntimeError(f"{self.name} did not configure the namespace")
            return ["ip", "netns", "exec", ns]

        if self.name == "slirp4netns":
            # A process in a new netns, itself started inside <id>-host so
            # that slirp4netns (also in <id>-host) reaches <id>-up.
            self.target_proc = w.spawn(
                ["ip", "netns", "exec", w.host, "unshare", "-n", "sleep", "3600"])
            host_ns = os.readlink(f"/proc/{os.getpid()}/ns/net")
            tpid = self.target_proc.pid

            def unshared():
                try:
                    # ip netns exec and unshare exec in place: same pid.
                    return os.readlink(f"/proc/{tpid}/ns/net") != host_ns and \
                        os.readlink(f"/proc/{tpid}/exe").endswith("sleep")
                except OSError:
                    return False

            if not wait_for(unshared):
                raise RuntimeError("unshare -n did not start")
            rfd, wfd = os.pipe()
            self.proc = w.spawn(
                ["ip", "netns", "exec", w.host, "slirp4netns", "--configure", "--mtu=65520",
                 "--disable-host-loopback", "--cidr=198.18.2.0/24", f"--ready-fd={wfd}",
                 str(tpid), "tap0"],
                pass_fds=(wfd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            os.close(wfd)
            ready = os.read(rfd, 1)
            os.close(rfd)
            if ready != b"1":
                raise RuntimeError("slirp4netns did not become ready")
            self.pid = self.proc.pid
            return ["nsenter", "-t", str(tpid), "-n"]

        raise ValueError(self.name)

    def stop(self):
        w = self.w
        if self.pid is not None and self.proc is None:
            w.stop_pid(self.pid)
        if self.proc is not None:
            w.stop(self.proc)
        if self.target_proc is not None:
            w.stop(self.target_proc)
        if self.client_ns is not None:
            w.del_ns(self.client_ns)  # takes the veth pair with it
        self.pid = self.proc = self.target_proc = self.client_ns = None

    def mtu(self, prefix):
        r = sh(prefix + ["ip", "-o", "link"], check=False)
        m = [int(x) for line in r.stdout.splitlines() if not re.match(r"\d+: lo:", line)
             for x in re.findall(r"mtu (\d+)", line)]
        return max(m) if m else None


# ---------------------------------------------------------------------------
# Tests


def listening(world, port, ns=None):
    r = sh(["ip", "netns", "exec", ns or world.up, "ss", "-Htln", f"sport = :{port}"],
           check=False)
    return bool(r.stdout.strip())


class Target:
    """Where a test's server listens and where its client connects."""

    def __init__(self, ns, bind, addr, port):
        self.ns, self.bind, self.addr, self.port = ns, bind, addr, port


def tap_target(world, port):
    return Target(world.up, SERVER, SERVER, port)


def splice_target(world, system, port):
    # Any address in the target namespace: a translator's splice path may
    # connect to its loopback or to its own address there.
    return Target(system.client_ns or world.host, "0.0.0.0", "127.0.0.1", port)


def run_iperf(world, system, prefix, extra, seconds, target=None, udp=False):
    t = target or tap_target(world, IPERF_PORT)
    srv = world.spawn(["ip", "netns", "exec", t.ns, "iperf3", "-s", "-1", "-B", t.bind,
                       "-p", str(t.port)],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_for(lambda: listening(world, t.port, t.ns)):
            return {"error": "iperf3 server did not start"}
        before = cpu_ticks(system.pid)
        cmd = prefix + ["iperf3", "-c", t.addr, "-p", str(t.port), "-t", str(seconds),
                        "-i", "0.5", "-J", "--connect-timeout", "3000"] + extra
        try:
            r = sh(cmd, check=False, timeout=seconds + 30)
            out = r.stdout
        except subprocess.TimeoutExpired:
            return {"error": "iperf3 client timed out"}
        after = cpu_ticks(system.pid)
    finally:
        world.stop(srv, timeout=2)
    try:
        j = json.loads(out)
    except json.JSONDecodeError:
        return {"error": "no JSON from iperf3"}
    got = j.get("end", {})
    if "error" in j and not (got.get("sum_received") or got.get("sum")):
        return {"error": j["error"]}
    end = j["end"]
    recv = end.get("sum_received") or end.get("sum")
    if udp:
        # The receiver's view: what arrived and what it counted as lost.
        # And the sender's: on a busy machine iperf3 may not reach the offered rate.
        sent = end.get("sum_sent") or {}
        res = {"gbps": recv["bits_per_second"] / 1e9, "bytes": recv["bytes"],
               "loss": recv.get("lost_percent"), "packets": recv.get("packets"),
               "sent_gbps": sent.get("bits_per_second", 0.0) / 1e9}
        if before and after:
            res["cpu_user"] = (after[0] - before[0]) / CLK_TCK
            res["cpu_sys"] = (after[1] - before[1]) / CLK_TCK
        if "error" in j:
            res["warning"] = j["error"]
        return res
    intervals = [i["sum"]["bits_per_second"] for i in j.get("intervals", [])
                 if i["sum"]["seconds"] >= 0.25]
    best = max(intervals) if intervals else 0.0
    res = {
        "gbps": recv["bits_per_second"] / 1e9,
        "bytes": recv["bytes"],
        "retransmits": end.get("sum_sent", {}).get("retransmits"),
        "intervals": len(intervals),
        "stalls": sum(1 for b in intervals if b < 0.1 * best),
    }
    if before and after:
        res["cpu_user"] = (after[0] - before[0]) / CLK_TCK
        res["cpu_sys"] = (after[1] - before[1]) / CLK_TCK
    if "error" in j:
        res["warning"] = j["error"]
    return res


def run_rr(world, system, prefix, mode, port, seconds, target=None):
    t = target or tap_target(world, port)
    rr_tool = f"{world.build}/bench/rr_tool"
    srv = world.spawn(["ip", "netns", "exec", t.ns, rr_tool, "server", "--addr", t.bind,
                       "--port", str(t.port), "--mode", mode, "--max-seconds",
                       str(seconds + 60)], stdout=subprocess.DEVNULL)
    try:
        if not wait_for(lambda: listening(world, t.port, t.ns)):
            return {"error": "rr_tool server did not start"}
        before = cpu_ticks(system.pid)
        cmd = prefix + [rr_tool, "client", "--addr", t.addr, "--port", str(t.port), "--mode",
                        mode, "--seconds", str(seconds)]
        try:
            r = sh(cmd, check=False, timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            return {"error": "rr_tool client timed out"}
        after = cpu_ticks(system.pid)
    finally:
        world.stop(srv, timeout=2)
    try:
        j = json.loads(r.stdout)
    except json.JSONDecodeError:
        return {"error": f"rr_tool: {r.stderr.strip()[:200]}"}
    res = {"rate": j["rate"], "transactions": j["transactions"], "errors": j["errors"],
           "p50_us": j["p50_us"], "p99_us": j["p99_us"]}
    if j["transactions"] == 0:
        res["error"] = "no transaction completed"
    if before and after:
        res["cpu_user"] = (after[0] - before[0]) / CLK_TCK
        res["cpu_sys"] = (after[1] - before[1]) / CLK_TCK
    return res


# ---------------------------------------------------------------------------
# Report


def fmt(x, digits=2):
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def med(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def row_stats(runs, key):
    ok = [r for r in runs if "error" not in r]
    vals = [r[key] for r in ok]
    if not vals:
        return None, None, None, ok
    return statistics.median(vals), min(vals), max(vals), ok


def cpu_cell(ok, per):
    """Median translator CPU per unit of work, with its user/sys split."""
    user = [r["cpu_user"] / per(r) for r in ok if "cpu_user" in r and per(r)]
    sys_ = [r["cpu_sys"] / per(r) for r in ok if "cpu_sys" in r and per(r)]
    if not user:
        return "—"
    u, s = statistics.median(user), statistics.median(sys_)
    return f"{fmt(u + s)} ({fmt(u)} usr + {fmt(s)} sys)"


def failures(runs):
    bad = [r for r in runs if "error" in r]
    if not bad:
        return ""
    lines = [x for x in bad[0]["error"].splitlines() if "syslog" not in x]
    why = (lines[-1] if lines else "?")[:80].replace("|", "/")
    return f" ({len(bad)}/{len(runs)} failed: {why})"


def throughput_table(results, systems, key, title, base_sys):
    out = [f"### {title}\n",
           f"| system | Gbit/s median | min–max | vs {base_sys} | stalls | retransmits "
           "(median) | translator CPU s/GiB |",
           "|---|---:|---:|---:|---:|---:|---|"]
    base = row_stats(results[base_sys][key], "gbps")[0] if base_sys in systems else None
    for s in systems:
        runs = results[s][key]
        m, lo, hi, ok = row_stats(runs, "gbps")
        ratio = f"{m / base:.2f}×" if m is not None and base else "—"
        n_int = sum(r["intervals"] for r in ok)
        stalls = f"{100.0 * sum(r['stalls'] for r in ok) / n_int:.0f}%" if n_int else "—"
        retr = med([r.get("retransmits") for r in ok])
        cpu = cpu_cell(ok, lambda r: r["bytes"] / GIB) if s != base_sys else "— (kernel)"
        rng = f"{fmt(lo)}–{fmt(hi)}" if m is not None else "—"
        out.append(f"| {s}{failures(runs)} | {fmt(m)} | {rng} | {ratio} | {stalls} | "
                   f"{fmt(retr, 0)} | {cpu} |")
    out.append("")
    return out


def rr_table(results, systems, key, title, base_sys):
    out = [f"### {title}\n",
           f"| system | transactions/s median | min–max | vs {base_sys} | p50 µs | p99 µs | "
           "translator CPU µs/transaction |",
           "|---|---:|---:|---:|---:|---:|---|"]
    base = row_stats(results[base_sys][key], "rate")[0] if base_sys in systems else None
    for s in systems:
        runs = results[s][key]
        m, lo, hi, ok = row_stats(runs, "rate")
        ratio = f"{m / base:.2f}×" if m is not None and base else "—"
        p50 = med([r["p50_us"] for r in ok])
        p99 = med([r["p99_us"] for r in ok])
        cpu = cpu_cell(ok, lambda r: r["transactions"] / 1e6) if s != base_sys else \
            "— (kernel)"
        rng = f"{lo:.0f}–{hi:.0f}" if m is not None else "—"
        mtxt = f"{m:.0f}" if m is not None else "—"
        out.append(f"| {s}{failures(runs)} | {mtxt} | {rng} | {ratio} | {fmt(p50)} | "
                   f"{fmt(p99)} | {cpu} |")
    out.append("")
    return out


def udp_table(results, systems, key, title, base_sys):
    out = [f"### {title}\n",
           "| offered | system | sent Gbit/s median | received Gbit/s median | min–max | "
           f"vs {base_sys} | loss % (median, min–max) | translator CPU s/GiB |",
           "|---|---|---:|---:|---:|---:|---:|---|"]
    for rate, size in UDP_LADDER:
        k = udp_key(key, rate, size)
        base = row_stats(results[base_sys][k], "gbps")[0] if base_sys in systems else None
        for s in systems:
            runs = results[s][k]
            m, lo, hi, ok = row_stats(runs, "gbps")
            ratio = f"{m / base:.2f}×" if m is not None and base else "—"
            losses = [r["loss"] for r in ok if r.get("loss") is not None]
            loss = (f"{fmt(med(losses), 1)} ({fmt(min(losses), 1)}–{fmt(max(losses), 1)})"
                    if losses else "—")
            cpu = cpu_cell(ok, lambda r: r["bytes"] / GIB) if s != base_sys else "— (kernel)"
            rng = f"{fmt(lo)}–{fmt(hi)}" if m is not None else "—"
            sent = fmt(med([r.get("sent_gbps") for r in ok]))
            out.append(f"| {rate}bit/s × {size} B | {s}{failures(runs)} | {sent} | {fmt(m)} | "
                       f"{rng} | {ratio} | {loss} | {cpu} |")
    out.append("")
    return out


def report(results, systems, reps):
    out = []
    tap_systems = [s for s in systems if s != "loopback"]
    splice_systems = [s for s in systems if s in SPLICE_SYSTEMS]
    for key, title, _ in THROUGHPUT_TESTS:
        out += throughput_table(results, tap_systems, key, title, "veth")
    for key, title, _, _ in RR_TESTS:
        out += rr_table(results, tap_systems, key, title, "veth")
    for key, title, _ in UDP_TESTS:
        out += udp_table(results, tap_systems, key, title, "veth")
    for key, title, _ in SPLICE_THROUGHPUT_TESTS:
        out += throughput_table(results, splice_systems, key, title, "loopback")
    for key, title, _, _ in SPLICE_RR_TESTS:
        out += rr_table(results, splice_systems, key, title, "loopback")
    return "\n".join(out)


def machine_facts(build):
    def first_line(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def deb_version(pkg):
        return first_line(["dpkg-query", "-W", "-f=${Version}", pkg])

    src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = first_line(["git", "-C", src, "log", "-1", "--format=%h %s"])
    dirty = subprocess.run(["git", "-C", src, "status", "--porcelain", "--", "daemon", "tap",
                            "netlink", "splice"], capture_output=True, text=True).stdout.strip()
    if dirty:
        commit += " plus uncommitted changes in the work tree"
    return [
        f"- CPU: {cpu}, {os.cpu_count()} CPUs (nproc)",
        f"- Kernel: {platform.release()}",
        f"- pastad: commit {commit} (Release build in {os.path.relpath(build, src)})",
        f"- pasta: Debian passt {deb_version('passt')}; slirp4netns {deb_version('slirp4netns')} "
        f"(libslirp {deb_version('libslirp0')}); iperf3 {deb_version('iperf3')}",
    ]


def write_results(path, text):
    """Replaces the generated block of `path`, keeping hand-written notes around it."""
    begin, end = "<!-- generated by bench/run.sh: begin -->", "<!-- generated by bench/run.sh: end -->"
    block = f"{begin}\n{text}\n{end}\n"
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end) + 1:]
    else:
        new = "# pastad end-to-end benchmark results\n\n" + block + old
    with open(path, "w") as f:
        f.write(new)


# ---------------------------------------------------------------------------


def main():
    global THROUGHPUT_TESTS, RR_TESTS, UDP_TESTS, SPLICE_THROUGHPUT_TESTS, SPLICE_RR_TESTS
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--tests", default="up1,up4,down1,down4,rr,crr,udp-up,udp-down,"
                    "lo-up1,lo-up4,lo-down1,lo-down4,lo-rr,lo-crr")
    ap.add_argument("--build", required=True)
    ap.add_argument("--run-id", required=True)
    ap.add_argument("--write", metavar="FILE")
    ap.add_argument("--command", default="bench/run.sh")
    ap.add_argument("--raw", metavar="FILE", help="also dump every run's numbers as JSON")
    a = ap.parse_args()

    systems = [s for s in a.systems.split(",") if s]
    for s in systems:
        if s not in SYSTEMS:
            sys.exit(f"unknown system {s}; known: {', '.join(SYSTEMS)}")
    tests = set(a.tests.split(","))
    known = {t[0] for t in THROUGHPUT_TESTS + RR_TESTS + UDP_TESTS + SPLICE_THROUGHPUT_TESTS +
             SPLICE_RR_TESTS}
    for t in tests:
        if t not in known:
            sys.exit(f"unknown test {t}; known: {', '.join(sorted(known))}")
    # The translators forward the splice tests' ports only when those run.
    splice_ports = {LO_IPERF_PORT for t in SPLICE_THROUGHPUT_TESTS if t[0] in tests}
    splice_ports |= {t[3] for t in SPLICE_RR_TESTS if t[0] in tests}
    forwards = ",".join(str(p) for p in sorted(splice_ports)) or "none"
    # Systems with no test to run are not started at all.
    systems = [s for s in systems if any(runs_test(s, k) for k in tests)]
    secs = int(a.seconds) if a.seconds == int(a.seconds) else a.seconds

    # SIGTERM/SIGINT become an exception so that `finally` cleans up.
    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    world = World(a.run_id, os.path.abspath(a.build))
    all_keys = [t[0] for t in THROUGHPUT_TESTS + SPLICE_THROUGHPUT_TESTS] + \
        [t[0] for t in RR_TESTS + SPLICE_RR_TESTS] + \
        [udp_key(t[0], rate, size) for t in UDP_TESTS for rate, size in UDP_LADDER]
    results = {s: {k: [] for k in all_keys} for s in systems}
    mtus = {}
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        world.make_sandbox()
        for rep in range(a.reps):
            # Round-robin over systems, so drift on a shared machine spreads
            # over all of them instead of hitting one.
            for s in systems:
                log(f"rep {rep + 1}/{a.reps}: {s}")
                system = System(world, s, forwards)
                try:
                    prefix = system.start()
                    if s != "loopback":
                        mtus[s] = system.mtu(prefix)
                    for key, _, extra in THROUGHPUT_TESTS:
                        if key in tests and runs_test(s, key):
                            r = run_iperf(world, system, prefix, extra, secs)
                            results[s][key].append(r)
                            log(f"  {key}: {r.get('error') or fmt(r['gbps']) + ' Gbit/s'}")
                    for key, _, mode, port in RR_TESTS:
                        if key in tests and runs_test(s, key):
                            r = run_rr(world, system, prefix, mode, port, secs)
                            results[s][key].append(r)
                            log(f"  {key}: {r.get('error') or str(round(r['rate'])) + '/s'}")
                    for key, _, extra in UDP_TESTS:
                        if key not in tests or not runs_test(s, key):
                            continue
                        for rate, size in UDP_LADDER:
                            k = udp_key(key, rate, size)
                            r = run_iperf(world, system, prefix,
                                          ["-u", "-b", rate, "-l", str(size)] + extra, secs,
                                          udp=True)
                            results[s][k].append(r)
                            log(f"  {k}: " + (r.get("error") or
                                              f"{fmt(r['gbps'])} Gbit/s, loss {r['loss']}%"))
                    # Splice rows: the client stays on <id>-host's loopback.
                    lo_prefix = ["ip", "netns", "exec", world.host]
                    for key, _, extra in SPLICE_THROUGHPUT_TESTS:
                        if key in tests and runs_test(s, key):
                            t = splice_target(world, system, LO_IPERF_PORT)
                            r = run_iperf(world, system, lo_prefix, extra, secs, t)
                            results[s][key].append(r)
                            log(f"  {key}: {r.get('error') or fmt(r['gbps']) + ' Gbit/s'}")
                    for key, _, mode, port in SPLICE_RR_TESTS:
                        if key in tests and runs_test(s, key):
                            t = splice_target(world, system, port)
                            r = run_rr(world, system, lo_prefix, mode, port, secs, t)
                            results[s][key].append(r)
                            log(f"  {key}: {r.get('error') or str(round(r['rate'])) + '/s'}")
                except RuntimeError as e:
                    log(f"  {s} failed: {e}")
                    for key in all_keys:
                        if key.split(":")[0] in tests and runs_test(s, key) and \
                                len(results[s][key]) <= rep:
                            results[s][key].append({"error": str(e)})
                finally:
                    system.stop()
    finally:
        world.close()

    # Leave out tests that were not asked for.
    THROUGHPUT_TESTS = [t for t in THROUGHPUT_TESTS if t[0] in tests]
    RR_TESTS = [t for t in RR_TESTS if t[0] in tests]
    UDP_TESTS = [t for t in UDP_TESTS if t[0] in tests]
    SPLICE_THROUGHPUT_TESTS = [t for t in SPLICE_THROUGHPUT_TESTS if t[0] in tests]
    SPLICE_RR_TESTS = [t for t in SPLICE_RR_TESTS if t[0] in tests]
    table = report(results, systems, a.reps)
    mtu_line = ", ".join(f"{s} {mtus.get(s) or '?'}" for s in systems if s != "loopback")
    head = [
        f"Run {started.strftime('%Y-%m-%d %H:%M UTC')}: {a.reps} repetition(s) of "
        f"{secs} s per test, systems interleaved round-robin in each repetition.",
        "",
        *machine_facts(a.build),
        f"- MTU of the client namespace's interface: {mtu_line}",
        "",
        f"Reproduce (as root, from the repository root): `{a.command}`",
        "",
        "Median and min–max over repetitions; \"vs veth\" is the ratio of medians. "
        "\"stalls\": share of all 0.5 s iperf3 intervals (over all repetitions) below 10% of "
        "the best interval of their own run. Retransmits are the sender's (iperf3 "
        "`sum_sent.retransmits`). Translator CPU is the translator process's utime+stime "
        "(/proc/PID/stat, all threads) during the test divided by the data received; for "
        "veth the work is in the kernel and not attributed.",
        "",
        "UDP rows: iperf3 -u at a fixed offered rate and datagram size. \"sent\" is what the "
        "sending iperf3 achieved (`sum_sent`; below the offered rate when the sender itself is "
        "short of CPU); \"received\" and loss are the receiver's (`sum_received`: bytes that "
        "arrived over the test's duration, lost datagrams by sequence number, including those "
        "the receiving iperf3's socket buffer overflowed on); CPU is per GiB received.",
        "",
        "Splice rows (\"Splice: ...\"): the client is on the host namespace's loopback and "
        "connects to 127.0.0.1 at a port the translator forwards (`-t PORT`) to the server in "
        "its target namespace; \"-R\" rows send from that server to the client. "
        "\"loopback\" is client and server both on the host's loopback, no translator: the "
        "limit, and the reference of \"vs loopback\".",
        "",
    ]
    text = "\n".join(head) + "\n" + table
    print(text)
    if a.write:
        write_results(a.write, text)
        log(f"wrote {a.write}")
    if a.raw:
        with open(a.raw, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

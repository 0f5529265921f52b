#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/run.sh - end-to-end TCP and UDP comparison: veth, pastad (uring, epoll), pasta,
# slirp4netns (tap path), and of the loopback forwarding (splice) path against plain loopback
#
# Usage (as root, from anywhere):
#   bench/run.sh [--reps N] [--quick] [--write] [--seconds S]
#                [--systems LIST] [--tests LIST] [--raw FILE]
#
# --systems, comma-separated (default: all):
#   veth, pastad-uring, pastad-epoll, pasta, slirp4netns, loopback
# --tests, comma-separated (default: all):
#   tap path, every system but loopback (reference: veth):
#     up1, up4, down1, down4   TCP throughput, 1 or 4 streams, -R for down
#     rr, crr                  request/response, connect/request/response/close
#     udp-up, udp-down         UDP (iperf3 -u) at a ladder of fixed offered
#                              rates: received rate, loss, CPU
#   splice path, client on the host's loopback to a -t forwarded port; only
#   loopback (the reference), pastad-uring, pastad-epoll and pasta:
#     lo-up1, lo-up4, lo-down1, lo-down4, lo-rr, lo-crr
#
# Installs what it needs (scripts/install-deps.sh bench), builds pastad and
# the benchmark tools in Release in build-bench when needed, then runs
# bench/compare.py, which makes its own throw-away namespaces, runs iperf3
# and rr_tool through each system and prints a Markdown table. --write also
# stores it in bench/RESULTS.md (hand-written notes there are kept).
# --quick: 1 repetition of 3 s per test, for smoke testing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build="$root/build-bench"

reps=3
seconds=8
write=0
extra=()
orig_args=("$@")
while (($#)); do
    case "$1" in
    --reps) reps=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --quick) reps=1; seconds=3; shift ;;
    --write) write=1; shift ;;
    --systems | --tests | --raw) extra+=("$1" "$2"); shift 2 ;;
    -h | --help) sed -n '3,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done

if [[ $(id -u) -ne 0 ]]; then
    echo "run.sh: needs root (network namespaces)" >&2
    exit 1
fi

"$root/scripts/install-deps.sh" bench

if [[ ! -f "$build/CMakeCache.txt" ]]; then
    cmake -S "$root" -B "$build" -G "Unix Makefiles" -DCMAKE_BUILD_TYPE=Release \
        -DPASTAD_BUILD_BENCH=ON -DPASTAD_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j2 --target pastad rr_tool checksum_bench frame_bench >/dev/null

# Namespace and interface names carry this id; it must stay short, because
# interface names are limited to 15 characters ("<id>h").
run_id="pb$$"
cleanup() {
    local ns
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${run_id}-" || true); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -f /tmp/"${run_id}"-*.pid
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cmd="bench/run.sh ${orig_args[*]}"
args=(--reps "$reps" --seconds "$seconds" --build "$build" --run-id "$run_id"
      --command "${cmd% }" "${extra[@]}")
if ((write)); then
    args+=(--write "$here/RESULTS.md")
fi
# Not exec: the trap above must still run when compare.py ends.
/usr/bin/python3 "$here/compare.py" "${args[@]}"

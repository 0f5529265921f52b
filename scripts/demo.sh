#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/demo.sh - pastad wiring a new namespace and carrying a download through it
#
# Usage: scripts/demo.sh PATH/TO/pastad
# Builds a two-namespace sandbox ("host" with an uplink, "up" as the outside
# world), runs pastad in "host" with a command in a new namespace, and shows
# that the command sees the host's addresses and routes and downloads a file
# from a server in "up" intact. Nothing leaves the sandbox.
set -euo pipefail

pastad=$(realpath "$1")
id=$$
host=pd-host-$id
up=pd-up-$id
tmp=$(mktemp -d)

cleanup() {
    for ns in "$host" "$up"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add "$host"
ip netns add "$up"
ip link add pdh$id type veth peer name pdu$id
ip link set pdh$id netns "$host" name uplink0
ip link set pdu$id netns "$up" name down0
ip -n "$host" link set lo up
ip -n "$up" link set lo up
ip -n "$host" addr add 198.51.100.2/24 dev uplink0
ip -n "$host" addr add 2001:db8::2/64 dev uplink0 nodad
ip -n "$host" link set uplink0 up
ip -n "$host" route add default via 198.51.100.1
ip -n "$host" -6 route add default via 2001:db8::1
ip -n "$up" addr add 198.51.100.1/24 dev down0
ip -n "$up" addr add 2001:db8::1/64 dev down0 nodad
ip -n "$up" addr add 203.0.113.10/32 dev lo
ip -n "$up" link set down0 up

# A 64 MiB file served from the outside world.
head -c $((64 << 20)) /dev/urandom >"$tmp/blob"
want=$(sha256sum <"$tmp/blob" | cut -d' ' -f1)
ip netns exec "$up" socat -u OPEN:"$tmp/blob",rdonly TCP-LISTEN:8080,reuseaddr,fork \
    </dev/null >/dev/null 2>&1 &
for _ in $(seq 50); do
    ip netns exec "$up" ss -ltn | grep -q ':8080 ' && break
    sleep 0.1
done

echo "== the host's uplink (namespace $host)"
ip -n "$host" -br addr show uplink0
ip -n "$host" route show
ip -n "$host" -6 route show default

echo
echo "== a command in a new namespace wired by pastad --config-net"
ip netns exec "$host" "$pastad" --config-net -- sh -c '
    ip -br addr show
    ip route show
    ip -6 route show default
    echo
    echo "downloading 64 MiB from 203.0.113.10:8080 ..."
    start=$(date +%s.%N)
    got=$(socat -u TCP:203.0.113.10:8080 - | sha256sum | cut -d" " -f1)
    end=$(date +%s.%N)
    echo "sha256 $got"
    echo "$got" >'"$tmp"'/got
    awk -v s="$start" -v e="$end" "BEGIN { printf \"%.2f s, %.0f Mbit/s\n\", e - s, 64 * 8 * 1.048576 / (e - s) }"
'
got=$(cat "$tmp/got")
echo "expected $want"
if [[ "$got" == "$want" ]]; then
    echo "demo: OK, the download arrived intact through pastad"
else
    echo "demo: FAILED, the download differs" >&2
    exit 1
fi

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/install-deps.sh - install what building, testing and benchmarking need
#
# Usage: scripts/install-deps.sh [build|demo|test|bench]
# Installs only the Debian packages that are missing, so a second run is quick.
set -euo pipefail

level=${1:-test}

build_pkgs=(cmake g++ make pkg-config libmnl-dev liburing-dev libboost-dev
            libspdlog-dev libfmt-dev iproute2 procps)
test_pkgs=(libgtest-dev libgmock-dev nlohmann-json3-dev clang libclang-rt-14-dev socat busybox
           tcpdump util-linux iputils-ping)
bench_pkgs=(libbenchmark-dev iperf3 passt slirp4netns python3)

wanted=("${build_pkgs[@]}")
case "$level" in
build) ;;
demo) wanted+=(socat) ;;
test) wanted+=("${test_pkgs[@]}") ;;
bench) wanted+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
*) echo "install-deps.sh: unknown level '$level' (build, demo, test or bench)" >&2; exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-deps.sh: missing packages: ${missing[*]} (run as root to install them)" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

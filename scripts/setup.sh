#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/setup.sh - install what is missing, build, and run the demo or the tests
#
# Usage: scripts/setup.sh demo    pastad carries a download for a command in a new namespace
#        scripts/setup.sh test    every test: unit, integration, sanitizers, fuzzing
# Run as root on Debian 12: it installs packages and creates network namespaces.
set -euo pipefail

cd "$(dirname "$0")/.."
what=${1:-}
jobs=$(nproc)

build() {  # build DIR [cmake args...]; TARGETS="a b" limits what is built
    local dir=$1
    shift
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    # shellcheck disable=SC2086
    cmake --build "$dir" -j"$jobs" ${TARGETS:+--target $TARGETS}
}

case "$what" in
demo)
    scripts/install-deps.sh demo
    build build
    exec scripts/demo.sh build/daemon/pastad
    ;;
test)
    scripts/install-deps.sh test
    echo "== build (warnings are errors)"
    build build -DPASTAD_WERROR=ON
    echo "== unit tests"
    ctest --test-dir build -L unit -j"$jobs" --output-on-failure
    echo "== integration tests"
    ctest --test-dir build -L integration --output-on-failure
    echo "== address and undefined-behaviour sanitizers"
    build build-asan -DPASTAD_SANITIZE=address,undefined -DPASTAD_WERROR=ON
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir build-asan -j1 --output-on-failure
    echo "== fuzzing the frame, DHCP and resolv.conf parsers (bounded)"
    CC=clang CXX=clang++ TARGETS="frame_fuzz frame_fuzz_seed resolv_fuzz" build build-fuzz \
        -DPASTAD_BUILD_FUZZ=ON
    ctest --test-dir build-fuzz -R 'frame_fuzz|resolv_fuzz' --output-on-failure
    ;;
*)
    echo "usage: scripts/setup.sh demo|test" >&2
    exit 2
    ;;
esac

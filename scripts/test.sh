#!/usr/bin/env bash
# Installs what is missing, builds everything (the tests run the built `sauti`), and runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
swift build
# The tests bind fixed loopback UDP ports in 30000-45999 and 61000-61999. Most of that lies
# in Linux's ephemeral range (32768-60999), where any socket the suite's tools open (ffmpeg,
# curl, resolvers) may be given one of them first. Reserving the ranges keeps the kernel from
# handing them out as ephemeral ports; binding them by number still works. (Root only; a
# machine that refuses just runs without it.)
if [ -w /proc/sys/net/ipv4/ip_local_reserved_ports ]; then
    echo "30000-45999,61000-61999" > /proc/sys/net/ipv4/ip_local_reserved_ports || true
fi
swift test "$@"

#!/usr/bin/env bash
# Installs what is missing, builds everything (the tests run the built `sauti`), and runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
swift build
swift test "$@"

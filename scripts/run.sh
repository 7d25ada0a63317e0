#!/usr/bin/env bash
# Installs what is missing and runs the main job: the daemon, sautid, with its embedded
# defaults (the API on 127.0.0.1:8080, SQLite and recordings in ./sauti-data, tokens
# generated there). Arguments go to sautid (`scripts/run.sh --help`); to run the command
# line tool instead: `scripts/run.sh sauti replay call.pcap --out out/`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
if [ "${1:-}" = "sauti" ]; then
  shift
  swift build -c release --product sauti
  exec .build/release/sauti "$@"
fi
swift build -c release --product sautid
exec .build/release/sautid "$@"

#!/usr/bin/env bash
# Installs what is missing and runs the main job. Until the daemon exists, that is a replay
# of a captured call: `scripts/run.sh` replays the fixture capture into out/; pass your own
# arguments to replay something else, e.g. `scripts/run.sh replay call.pcap --out out/`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product sauti
if [ $# -eq 0 ]; then
  set -- replay audio-fixtures/captures/imp_g_rfc4733_events.pcap --out out
fi
exec .build/release/sauti "$@"

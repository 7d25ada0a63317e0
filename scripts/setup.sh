#!/usr/bin/env bash
# Installs what the project needs from Debian's archive, if it is missing.
# Idempotent: with everything present it installs nothing and does not touch the network.
set -euo pipefail

# The C libraries the package links (pkg-config finds them) and the real peers the
# tests and benchmarks run: tshark (Wireshark's analysis), sox (WAV checks, G.711 peer),
# ffmpeg (an RTP peer that sends to and receives from a leg), python3 (the test HTTP
# servers); libcurl4 is what the toolchain's FoundationNetworking (play URLs) loads;
# python3-jsonschema checks docs/voice-actions.schema.json against the parser; libssl-dev
# (HMAC), libsqlite3-dev (the store) and libopus-dev (Opus legs) are linked; curl and wrk
# are the HTTP tests' client and load generator; opus-tools' opusdec reads back Ogg Opus.
packages=(pkg-config libsndfile1-dev libspeexdsp-dev libopus-dev libespeak-ng-dev libssl-dev libsqlite3-dev libcurl4 python3 python3-jsonschema curl wrk tshark sox ffmpeg opus-tools)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  # tshark asks whether non-root users may capture; the default (no) is fine here.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# schemathesis (from PyPI) checks the daemon against its OpenAPI document in the tests.
if ! python3 -c "import schemathesis" >/dev/null 2>&1; then
  echo "setup: installing schemathesis from PyPI" >&2
  python3 -m pip install --quiet schemathesis >/dev/null 2>&1 \
    || python3 -m pip install --quiet --break-system-packages schemathesis >/dev/null 2>&1 \
    || echo "setup: could not install schemathesis; its test will be skipped" >&2
fi

if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    echo "setup: add /opt/swift/usr/bin to PATH" >&2
  else
    echo "setup: the Swift 6.3 toolchain is not installed (expected at /opt/swift)" >&2
    exit 1
  fi
fi

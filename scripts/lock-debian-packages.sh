#!/usr/bin/env bash
# Writes sip-edge/debian-packages.lock: each package of sip-edge/debian-packages.txt with the version installed
# here (a Debian bookworm machine after `make system-deps`, the release the image is built from). The image
# installs exactly these versions; run this again (and commit the lock) when Debian publishes a point release,
# or the image build stops finding them.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# sip-edge/debian-packages.txt with versions, written by scripts/lock-debian-packages.sh: the image installs these"
  grep -v '^#' sip-edge/debian-packages.txt | while read -r name; do
    [ -n "$name" ] || continue
    version=$(dpkg-query -W -f='${Version}' "$name")
    echo "$name=$version"
  done
} > sip-edge/debian-packages.lock

#!/usr/bin/env bash
# Renders the announcements of messages.txt with Debian's espeak-ng into WAV files (16-bit mono; rtpengine's
# player decodes and resamples them to the call's codec) in the target directory (default sip-edge/.announcements;
# the image: /opt/sip-edge/announcements). Run by scripts/install-system-deps.sh and the Dockerfile; again only
# when messages.txt changed. Usage: render.sh [target-dir]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${1:-$here/../.announcements}"
stamp="$target/.messages.txt"
if [ -f "$stamp" ] && cmp -s "$stamp" "$here/messages.txt"; then
  exit 0
fi
mkdir -p "$target"
while read -r language message text; do
  case "$language" in ''|'#'*) continue ;; esac
  espeak-ng -v "$language" -s 150 -w "$target/$language-$message.wav" "$text"
done < "$here/messages.txt"
cp "$here/messages.txt" "$stamp"
